"""``bitsmith bench``: the benchmark suite of DESIGN.md §7, measured on this machine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import check_plot_path, finish, positive_int, progress


def register(sub) -> None:
    p = sub.add_parser("bench", help="the benchmark suite: cycles, frames/s, generation time, resources",
                       description="For each network of the suite: generation time (model -> Verilog), "
                                   "measured vs ideal cycles per frame in Verilator, simulated and "
                                   "golden-model frames/s, and with --synth LUT/FF/BRAM from Yosys and "
                                   "Fmax from nextpnr. Exit 1 if RTL differs from golden anywhere or a "
                                   "network fails to build or simulate.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quick", action="store_true", help="leave out the slow networks (CNV, SqueezeNet, "
                   "the single-layer engine comparisons)")
    p.add_argument("--synth", action=argparse.BooleanOptionalAction, default=True,
                   help="synthesise for Artix-7 35T (Yosys), iCE40 UP5K and ECP5-85F (Yosys + "
                        "nextpnr); slow (default: --synth)")
    p.add_argument("--networks", metavar="NAME,...",
                   help="run only these (digits, tfc-w1a1, tfc-w2a2, digits-sparse, cnv-w1a1; squeezenet "
                        "a SqueezeNet-class CIFAR-sized net (train extra); "
                        "mvau-int8 and shift-int8 compare the integer and the shift unit on one layer, "
                        "dense-256x64 and hashed-256x64 a dense and a HashedNets layer, conv3x3-direct and "
                        "conv3x3-winograd a 3x3 conv direct and as Winograd F(2x2,3x3))")
    p.add_argument("--frames", type=positive_int, metavar="N",
                   help="frames per network (default: 1000; CNV 12)")
    p.add_argument("-o", "--out", metavar="DIR", help="keep the builds in DIR/<network>/")
    p.add_argument("--plot", metavar="FILE.png",
                   help="draw measured against ideal cycles per frame per network (PNG)")
    p.add_argument("--plot-fps", metavar="FILE.png",
                   help="draw frames/s against LUTs across foldings, one panel per board, with the "
                        "synthesised designs and FINN's published points (PNG)")
    p.add_argument("--board", metavar="NAME",
                   help="fold every network for this board (the fastest folding whose estimate "
                        "fits it, as `build --board` does) and synthesise for it alone")
    p.add_argument("--seeds", type=positive_int, default=1, metavar="N",
                   help="place and route each iCE40/ECP5 design with nextpnr seeds 1..N and report "
                        "the median seed's Fmax (frames/s use it) beside the worst and best "
                        "(default: 1; at most 20)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..bench import bench, parse_networks, select_networks
    names = parse_networks(args.networks) if args.networks is not None else None
    networks = select_networks(names, quick=args.quick)
    plot = check_plot_path(args.plot)
    plot_fps = check_plot_path(args.plot_fps)
    with progress(args, total=len(networks), unit="networks") as prog:
        res = bench(networks, synth=args.synth, frames=args.frames, quick=args.quick,
                    out_dir=Path(args.out) if args.out else None, progress=prog,
                    finished=lambda result: prog.advance(), board=args.board, seeds=args.seeds)
    if plot is not None:
        from ..plots import bench_cycles
        rows = [n.as_json() for n in res.networks]
        if any(r["ideal_cycles_per_frame"] and r["cycles_per_frame"] for r in rows):
            plot.write_bytes(bench_cycles(rows))
    if plot_fps is not None:
        from ..bench import versus_finn
        from ..plots import bench_fps_luts
        rows = [n.as_json() for n in res.networks if n.sweep]
        if rows:
            plot_fps.write_bytes(bench_fps_luts(rows, versus_finn(res)))
    return finish(res, args.json, print_tables)


def print_tables(res) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..estimate import UNITS
    console = Console(width=None if sys.stdout.isatty() else 132)
    table = Table(title="bitsmith bench: measured on this machine (wall times vary, cycle counts do not)",
                  caption="gen. s: model -> Verilog bundle, cold (wall / CPU incl. Yosys); sim Mcycles/s: "
                          "wall / CPU (harness and packing); c/f: cycles per frame, ideal = folding bound, "
                          "measured = Verilator steady state")
    for col in ("network", "gen. s", "ideal c/f", "measured c/f", "ratio", "RTL == golden",
                "frames", "sim frames/s", "sim Mcycles/s", "golden frames/s", f"est. {UNITS['luts']}",
                f"est. {UNITS['brams']}"):
        table.add_column(col, justify="left" if col == "network" else "right", no_wrap=col == "network")
    for n in res.networks:
        if n.status.startswith("skipped") or n.status == "error":
            table.add_row(n.name, f"[yellow]{n.status}" if n.status != "error" else "[red]error (below)")
            continue
        est = n.estimate or {}
        table.add_row(n.name, f"{_num(n.generation_s, '.2f')} / {_num(n.generation_cpu_s, '.2f')}", str(n.ideal_cycles_per_frame),
                      _num(n.cycles_per_frame, "g"), _num(n.cycle_ratio, ".3f"),
                      "[green]yes" if n.status == "ok" else f"[red]NO ({n.mismatches})",
                      str(n.frames), _num(n.sim_fps, ",.0f"),
                      f"{_mega(n.sim_cycles_per_s)} / {_mega(n.sim_cycles_per_cpu_s)}",
                      _num(n.golden_fps, ",.0f"),
                      str(est.get("luts")), f"{est.get('brams', 0):g}")
    console.print(table)
    if res.synth_boards:
        console.print(synth_table(res))
        for n in res.networks:
            for board, fig in n.synth.items():
                if fig.get("error"):
                    console.print(f"{n.name} on {fig['device']}: {fig['error']}", soft_wrap=True)
    console.print(finn_table(res))
    for n in res.networks:
        if n.fit:
            f = n.fit
            console.print(f"{n.name}: folded for {f['board']}: {f['cycles']} cycles/frame"
                          f"{', first layer weights in SPRAM' if f['spram_weights'] else ''} "
                          f"({f['budget_text']})", soft_wrap=True)
            for r in f.get("refused", ()):
                console.print(f"{n.name}: the board's tools refused {r['cycles']} cycles/frame ({r['reason']})",
                              soft_wrap=True)
    for n in res.networks:
        if n.note:
            console.print(f"{n.name}: {n.note}")
        for d in n.details[:5]:
            console.print(f"{n.name}: {d}")


def synth_table(res):
    from rich.table import Table
    from bitsmith.boards.registry import get_board
    table = Table(title="synthesis (core alone: Yosys; Fmax: nextpnr, board design)")
    table.add_column("network", no_wrap=True)
    from bitsmith.boards.flows.counts import units
    for board in res.synth_boards:
        u = units(get_board(board).family)
        table.add_column(f"{get_board(board).device}\n{u['luts']} / {u['ffs']} / {u['brams']}, Fmax",
                         justify="right")
    for n in res.networks:
        if n.synth:
            table.add_row(n.name, *[_synth_cell(n.synth.get(board)) for board in res.synth_boards])
    return table


def _synth_cell(fig: dict | None) -> str:
    if fig is None:
        return ""
    if fig.get("error"):
        return "[red]tool failed (below)"
    if fig.get("fits") is False:
        return "[yellow]does not fit"
    text = f"{fig['luts']} / {fig['ffs']} / {fig['brams']:g}"
    if fig.get("fmax_worst_mhz") is not None:
        return text + (f", {fig['fmax_mhz']:g} MHz median of {len(fig['fmax_seeds'])} seeds "
                       f"(worst {fig['fmax_worst_mhz']:g})")
    return text + (f", {fig['fmax_mhz']:g} MHz" if fig.get("fmax_mhz") is not None else "")


def _num(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _mega(value) -> str:
    return _num(None if value is None else value / 1e6, ".2f")


def finn_table(res):
    """bitsmith against FINN's published figures (``bench.versus_finn``)."""
    from rich.table import Table
    from ..bench import versus_finn
    table = Table(title="bitsmith against FINN (same network where FINN published one)",
                  caption="frames/s at the achieved Fmax and the measured cycles/frame; ops = 2 per "
                          "weight use; LUTs: Yosys (bitsmith) and Vivado (FINN) count differently")
    for col in ("network", "implementation", "device", "MHz", "cycles/frame", "frames/s", "LUTs",
                "ops/cycle", "ops/cycle/LUT"):
        table.add_column(col, justify="left" if col in ("network", "implementation", "device") else "right")
    for r in versus_finn(res):
        table.add_row(r["network"], r["implementation"], str(r["device"]), _num(r["clock_mhz"], "g"),
                      _num(r["cycles_per_frame"], "g"), _num(r["frames_per_s"], ",.0f"),
                      "n/a" if r["luts"] is None else f"{r['luts']:,} {r['lut_unit']}",
                      _num(r["ops_per_cycle"], ",.1f"), _num(r["ops_per_cycle_per_lut"], ".3f"))
    return table
