"""``bitsmith golden MODEL --input X --output Y``: the numpy model only."""

from __future__ import annotations

from pathlib import Path

from ._common import add_build_options, build_options, output_path, progress


def register(sub) -> None:
    p = sub.add_parser("golden", help="run the numpy golden model (host-pre, integer core, host-post)")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--input", required=True, metavar="X.npy")
    p.add_argument("--output", required=True, metavar="Y.npy")
    add_build_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from bitsmith import api
    from ..build import model_inputs
    from ..dataio import load_npy, save_npy
    opts = build_options(args)
    protect = model_inputs(args.model, opts) + (args.input,)
    output_path(args.output, "--output", protect)
    with progress(args) as step:
        design = api.fold(args.model, opts, progress=step)
        x = load_npy(args.input, "--input")
        y = api.golden(design, x, x_name=args.input, progress=step).outputs
    save_npy(args.output, y, protect)
    print(f"{len(y)} frames -> {args.output} (shape {y.shape[1:]}, {y.dtype})")
    return 0
