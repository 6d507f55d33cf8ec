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
    from bitsmith.sim.golden import run_graph
    from ..build import load_model, model_inputs, prepare
    from ..dataio import hardware_input, load_npy, save_npy
    from ..ir.host import run_stages
    opts = build_options(args)
    protect = model_inputs(args.model, opts) + (args.input,)
    output_path(args.output, "--output", protect)
    with progress(args) as step:
        step(f"reading {Path(args.model).name}")
        graph = prepare(load_model(args.model, opts), opts)
        x = load_npy(args.input, "--input")
        xi = hardware_input(graph, x, args.input)
        step(f"golden model on {len(xi)} frames")
        y = run_stages(graph.host_post, run_graph(graph, xi))
    save_npy(args.output, y, protect)
    print(f"{len(y)} frames -> {args.output} (shape {y.shape[1:]}, {y.dtype})")
    return 0
