"""``bitsmith verify MODEL --input X``: build and check RTL == golden (== qonnx) bit for bit."""

from __future__ import annotations

from pathlib import Path

from ._common import add_build_options, build_options, finish, progress

PATTERNS = ("none", "cycle", "random")


def register(sub) -> None:
    p = sub.add_parser("verify", help="build, simulate in Verilator and check against the golden model",
                       description="Exit 0 when RTL outputs equal the golden model on every frame (and the "
                                   "golden model equals qonnx execution of an ONNX model, and --expected "
                                   "matches); exit 1 otherwise.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--input", required=True, metavar="X.npy")
    p.add_argument("--expected", metavar="Y.npy", help="expected outputs or labels")
    p.add_argument("-o", "--out", metavar="OUT", help="keep the build here (default: a temporary folder)")
    p.add_argument("--idle", choices=PATTERNS, default="none", help="source idle pattern in simulation")
    p.add_argument("--backpressure", choices=PATTERNS, default="none", help="sink backpressure pattern")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_build_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from bitsmith import api
    from ..dataio import load_npy
    opts = build_options(args)
    x = load_npy(args.input, "--input")
    expected = load_npy(args.expected, "--expected") if args.expected else None
    with progress(args) as step:
        res = api.verify(args.model, x, opts, x_name=args.input, protect=(args.input,), expected=expected,
                         out_dir=Path(args.out) if args.out else None, idle=args.idle,
                         backpressure=args.backpressure, progress=step)
    return finish(res, args.json, print_summary)


def print_summary(res) -> None:
    from rich.console import Console
    from rich.table import Table
    table = Table(title="bitsmith verify", show_header=False)
    cpf = (f"{res.cycles_per_frame:g} median, {res.mean_cycles_per_frame:g} mean, longest gap "
           f"{res.longest_frame_gap}" if res.cycles_per_frame is not None else "n/a (< 3 frames)")
    rows = [("frames", str(res.frames)), ("RTL vs golden mismatches", str(res.mismatches)),
            ("cycles/frame (measured, steady state)", cpf),
            ("cycles/frame (ideal, folding bound)", str(res.ideal_cycles_per_frame))]
    if res.reference_mismatches is not None:
        rows.append(("golden vs qonnx mismatches", str(res.reference_mismatches)))
    if res.expected_mismatches is not None:
        rows.append(("expected mismatches", str(res.expected_mismatches)))
    if res.labels is not None and len(res.labels) <= 8:
        rows.append(("labels", str(res.labels)))
    rows.append(("result", "[green]PASSED" if res.passed else "[red]FAILED"))
    for k, v in rows:
        table.add_row(k, v)
    Console().print(table)
    for d in res.details[:10]:
        print(d)
