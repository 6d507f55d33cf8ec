"""``bitsmith build MODEL -o OUT``: generate the hardware bundle."""

from __future__ import annotations

from pathlib import Path

from ._common import add_build_options, board_estimate, build_options, estimate_text, progress


def register(sub) -> None:
    p = sub.add_parser("build", help="generate Verilog, design.json, testbenches and reports",
                       description="Read MODEL (.onnx or native .yaml/.json), streamline and fold it, and "
                                   "write OUT/ (design.json, rtl/, sim/, report.json, report.md) atomically.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("-o", "--out", required=True, metavar="OUT", help="output folder (replaced if it is a build)")
    add_build_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from bitsmith import api
    opts = build_options(args)
    with progress(args) as step:
        result = api.build(args.model, Path(args.out), opts, progress=step)
    r = result.report
    words, estimate = board_estimate(r, opts.board)
    print(f"built {r['name']} in {args.out}: {len(r['layers'])} layers, "
          f"{r['ideal_cycles_per_frame']} ideal cycles/frame (bottleneck {r['bottleneck']}), "
          f"{words} {estimate_text(estimate)}; report: {Path(args.out) / 'report.html'}")
    return 0
