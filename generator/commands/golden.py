"""``bitsmith golden MODEL --input X --output Y``: the numpy model only."""

from __future__ import annotations

from ._common import add_build_options, build_options, output_path


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
    graph = prepare(load_model(args.model, opts), opts)
    x = load_npy(args.input, "--input")
    y = run_stages(graph.host_post, run_graph(graph, hardware_input(graph, x, args.input)))
    save_npy(args.output, y, protect)
    print(f"{len(y)} frames -> {args.output} (shape {y.shape[1:]}, {y.dtype})")
    return 0
