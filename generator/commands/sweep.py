"""``bitsmith sweep MODEL``: fold for a list of cycle targets and show the Pareto front."""

from __future__ import annotations

from ._common import add_build_options, build_options, check_plot_path, finish, positive_int, progress


def register(sub) -> None:
    p = sub.add_parser("sweep", help="design-space exploration: cycles vs LUTs over cycle targets",
                       description="Folds MODEL for every cycle target (as `build --target-cycles T` "
                                   "would), estimates cycles and resources, and reports the Pareto "
                                   "front of cycles per frame against LUTs. Points run in a local "
                                   "process pool, or on a Dask cluster with --scheduler.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--targets", metavar="N,N,...",
                   help="cycle targets (default: powers of two from the fully unrolled to the fully "
                        "folded bound, at most 8)")
    p.add_argument("--jobs", type=positive_int, default=2, metavar="J",
                   help="local worker processes (default: 2; 1 runs in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the points on this Dask scheduler (needs `pip install dask distributed`)")
    p.add_argument("--verify", type=positive_int, metavar="N",
                   help="also run N random frames through Verilator for each Pareto design")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="FILE.png",
                   help="draw the points and the Pareto front against each board's LUT capacity "
                        "(--board: that board only), frames/s at the board's clock (PNG)")
    add_build_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..sweep import parse_targets, sweep
    from ..sweep import plot_boards, sweep_plot
    opts = build_options(args)
    targets = parse_targets(args.targets) if args.targets is not None else None
    plot = check_plot_path(args.plot)
    boards = plot_boards(opts.board) if plot is not None else None
    with progress(args) as step:
        res = sweep(args.model, opts, targets=targets, jobs=args.jobs, scheduler=args.scheduler,
                    verify_frames=args.verify or 0, progress=step)
    if plot is not None:
        plot.write_bytes(sweep_plot(res, boards))
    return finish(res, args.json, print_summary)


def print_summary(res) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..estimate import UNITS
    verified = any(p.verify is not None for p in res.points)
    table = Table(title=f"bitsmith sweep: {res.name} (bounds {res.unrolled_cycles}..{res.folded_cycles} "
                        f"cycles/frame; {res.executor})")
    for col in ("target", "cycles/frame", *(f"est. {UNITS[k]}" for k in ("luts", "ffs", "brams", "dsps"))):
        table.add_column(col, justify="right")
    table.add_column("Pareto", justify="center")
    if verified:
        table.add_column("RTL (measured cycles)", justify="right")
    for p in res.points:
        r = p.resources
        cycles = str(p.cycles) if p.meets_target else f"[red]{p.cycles}"
        row = [str(p.target), cycles, str(r.luts), str(r.ffs), f"{r.brams:g}", str(r.dsps),
               "[green]*" if p.pareto else ""]
        if verified:
            v = p.verify
            row.append("" if v is None else
                       f"[green]ok[/] ({_cycles(v['cycles_per_frame'])})" if v["passed"] else
                       f"[red]{v['mismatches']} mismatches")
        table.add_row(*row)
    console = Console()
    console.print(table)
    if res.board_fit is not None:
        f = res.board_fit
        fits = [p.target for p in res.points if p.board and p.board["fits"]]
        console.print(f"{f['board']}: targets that fit {fits or 'none'}; `build --board {f['board']}` "
                      f"chooses {f['cycles']} cycles/frame"
                      f"{' with the first layer in SPRAM' if f['spram_weights'] else ''} ({f['budget_text']})",
                      soft_wrap=True)
    b = res.baseline
    console.print(f"the model's own folding: {b.cycles} cycles/frame, {b.resources.luts} {UNITS['luts']} "
                  f"(rebuild a point with `bitsmith build {res.model} --target-cycles T`)")


def _cycles(value) -> str:
    return "n/a, < 3 frames" if value is None else f"{value:g}"
