"""``bitsmith boards``: the boards, devices, clocks and resources."""

from __future__ import annotations

import argparse
import sys


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from bitsmith.boards import BOARDS

    table = Table(title="bitsmith boards")
    for column, justify in (("board", "left"), ("device / part", "left"), ("MHz", "right"),
                            ("LUTs", "right"), ("FFs", "right"), ("BRAMs", "right"),
                            ("DSPs", "right"), ("flow", "left")):
        table.add_column(column, justify=justify, no_wrap=True)
    for board in BOARDS.values():
        res = board.resources
        cells = ["-"] * 4 if res is None else [f"{res.luts:,}", f"{res.ffs:,}",
                                               f"{res.brams}", f"{res.dsps}"]
        clock = "-" if board.clock_mhz is None else f"{board.clock_mhz:g}"
        table.add_row(board.name, board.part, clock, *cells, board.flow)
    # piped, rich would assume 80 columns and cut the figures (as bench does)
    console = Console(width=None if sys.stdout.isatty() else 100)
    console.print(table)
    for board in BOARDS.values():
        console.print(f"[bold]{board.name}[/]: {board.title}. {board.notes}")
    console.print("LUTs: LUT4 (iCE40, ECP5), LUT6 (7-series). BRAMs: iCE40 EBR 4 kbit, "
                  "ECP5 DP16KD 18 kbit, 7-series RAMB36.")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("boards", help="list the boards, devices, clocks and resources")
    parser.set_defaults(func=_run)
