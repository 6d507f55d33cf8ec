"""``bitsmith synth OUT --board NAME``: real synthesis / place-and-route for a board."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import positive_float, positive_int, progress


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from bitsmith import api

    with progress(args) as step:
        result = api.synthesise(Path(args.out), args.board, clock_mhz=args.clock_mhz,
                                progress=step, baud=args.baud, seeds=args.seeds).figures

    units = result.get("units") or {}
    table = Table(title=f"{result['board']} ({result['part']}): the core alone, then the board design")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("unit")
    keys = ("luts", "ffs", "brams", "dsps", "fmax_mhz", "clock_mhz", "fits", "timing_met", "seed",
            "cells", "flops", "nand2_equivalent", "bitstream", "project")
    extra_units = {"fmax_mhz": "MHz", "clock_mhz": "MHz"}
    for key in keys:
        if key in result and result[key] is not None:
            table.add_row(key, str(result[key]), units.get(key) or extra_units.get(key, ""))
    for key, value in (result.get("system") or {}).items():
        table.add_row(f"board design {key}", f"{value['used']} / {value['available']}",
                      value.get("unit", ""))
    table.add_row("tool time", str(result["tool_seconds"]["total"]), "s")
    Console().print(table)
    if result.get("note"):
        print(result["note"])
    out = Path(args.out)
    print(f"wrote {out / 'board' / result['board'] / 'synth.json'}"
          + (f"; report: {out / 'report.html'}" if (out / "report.html").is_file() else ""))
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("synth", help="synthesise (and place and route) for a board")
    parser.add_argument("out", metavar="OUT", help="a bitsmith build output directory")
    parser.add_argument("--board", required=True, metavar="NAME", help="see `bitsmith boards`")
    parser.add_argument("--clock-mhz", type=positive_float, default=None,
                        help="core clock (default: the board's oscillator; a PLL makes others)")
    parser.add_argument("--baud", type=positive_int, default=115200, help="UART shell baud rate")
    parser.add_argument("--seeds", type=int, default=1, metavar="N",
                        help="iCE40/ECP5: place and route with nextpnr seeds 1..N and keep "
                             "the fastest core clock (default 1)")
    parser.set_defaults(func=_run)
