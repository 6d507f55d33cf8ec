"""``bitsmith run [OUT] --board NAME --port DEV --input X.npy --output Y.npy``.

Streams the frames of ``X.npy`` through the UART shell of a programmed board and writes
the core's outputs. ``OUT`` (default: the current directory) is the build whose
``design.json`` says how to pack the frames; the board must hold its bitstream.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from generator.errors import InputDataError, OptionError


def _run(args: argparse.Namespace) -> int:
    from boards import get_board
    from boards.bundle import read_core_io
    from boards.host import Link, board_baud, default_timeout, open_port, run_frames
    from boards.synth import DEFAULT_BAUD

    board = get_board(args.board)
    if board.flow != "open" and board.family != "xc7":
        raise OptionError(f"--board {board.name}: no UART shell on this board "
                          f"(use the generated PYNQ driver on the board itself)")
    core = read_core_io(Path(args.out))
    try:
        x = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputDataError(f"{args.input}: {exc}") from None
    baud = args.baud or board_baud(Path(args.out), board.name, DEFAULT_BAUD)
    timeout = args.timeout or default_timeout(core, baud)
    with open_port(args.port, baud) as port:
        link = Link(port, timeout_s=timeout, retries=args.retries)
        y = run_frames(core, link, x, where=args.input)
    np.save(args.output, y)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("run", help="run frames on a board through its UART shell")
    parser.add_argument("out", metavar="OUT", nargs="?", default=".",
                        help="the build output (default: current directory)")
    parser.add_argument("--board", required=True, metavar="NAME")
    parser.add_argument("--port", required=True, metavar="DEV", help="serial device")
    parser.add_argument("--input", required=True, metavar="X.npy")
    parser.add_argument("--output", required=True, metavar="Y.npy")
    parser.add_argument("--baud", type=int, default=None,
                        help="default: the rate synth built the shell with, else 115200")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds allowed per response (default from frame sizes and baud)")
    parser.add_argument("--retries", type=int, default=3,
                        help="re-sends of a frame after a detected error (default 3)")
    parser.set_defaults(func=_run)
