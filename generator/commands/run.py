"""``bitsmith run [OUT] --board NAME --port DEV --input X.npy --output Y.npy``.

Runs the frames of ``X.npy`` on a programmed board through its UART shell, exactly as
``bitsmith sim`` runs them in Verilator: ``X`` is the model's own input; host-pre turns
it into the core's integer frames, the board computes, host-post finishes (DESIGN.md §4).
``OUT`` (default: the current directory) is the build the board was programmed from; its
``design.json`` says how frames are packed. A bundle without a ``graph`` (a bare core)
takes and returns the core's integer frames as they are.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import nonnegative_int, output_path, positive_float, positive_int


def _run(args: argparse.Namespace) -> int:
    from bitsmith import api
    from bitsmith.boards import get_board
    from bitsmith.boards.bundle import read_core_io

    from ..dataio import load_npy, save_npy

    get_board(args.board)              # an unknown board, then the paths, before any reading
    out = Path(args.out)
    protect = (args.input, out / "design.json")
    output_path(args.output, "--output", protect)
    read_core_io(out)                  # the build is checked before the input is read
    x = load_npy(args.input, "--input")
    result = api.run_on_board(out, x, board=args.board, port=args.port, baud=args.baud, timeout=args.timeout,
                              retries=args.retries, x_name=args.input, board_label="--board")
    save_npy(args.output, result.outputs, protect)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("run", help="run frames on a board through its UART shell")
    parser.add_argument("out", metavar="OUT", nargs="?", default=".",
                        help="the build output (default: current directory)")
    parser.add_argument("--board", required=True, metavar="NAME")
    parser.add_argument("--port", required=True, metavar="DEV", help="serial device")
    parser.add_argument("--input", required=True, metavar="X.npy",
                        help="the model's own input, batch first")
    parser.add_argument("--output", required=True, metavar="Y.npy")
    parser.add_argument("--baud", type=positive_int, default=None,
                        help="default: the rate synth built the shell with, else 115200")
    parser.add_argument("--timeout", type=positive_float, default=None,
                        help="seconds allowed per response (default from frame sizes and baud)")
    parser.add_argument("--retries", type=nonnegative_int, default=3,
                        help="re-sends of a frame after a detected error (default 3)")
    parser.set_defaults(func=_run)
