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
import json
from pathlib import Path

from ._common import nonnegative_int, output_path, positive_float, positive_int


def _run(args: argparse.Namespace) -> int:
    from bitsmith.boards import get_board
    from bitsmith.boards.bundle import read_core_io
    from bitsmith.boards.host import Link, board_baud, default_timeout, open_port, run_frames
    from bitsmith.boards.synth import DEFAULT_BAUD

    from ..dataio import load_npy, save_npy
    from ..errors import OptionError

    board = get_board(args.board)
    if board.flow != "open" and board.family != "xc7":
        raise OptionError(f"--board {board.name}: no UART shell on this board "
                          f"(use the generated PYNQ driver on the board itself)")
    out = Path(args.out)
    protect = (args.input, out / "design.json")
    output_path(args.output, "--output", protect)
    core = read_core_io(out)
    x = load_npy(args.input, "--input")
    host_post = None
    if "graph" in json.loads((out / "design.json").read_bytes()):
        from ..build import read_bundle
        from ..dataio import hardware_input
        from ..ir.host import run_stages
        graph, _ = read_bundle(out)
        x = hardware_input(graph, x, args.input)
        host_post = lambda y: run_stages(graph.host_post, y)   # noqa: E731

    # weights in SPRAM: their loading frames go first (after a reset they load the
    # weights; once loaded they are ordinary frames), and their outputs are dropped
    from ..execute import with_preload
    x, skip = with_preload(out, json.loads((out / "design.json").read_bytes())["io"], x)
    baud = args.baud or board_baud(out, board.name, DEFAULT_BAUD)
    timeout = args.timeout or default_timeout(core, baud)
    with open_port(args.port, baud) as port:
        link = Link(port, timeout_s=timeout, retries=args.retries)
        y = run_frames(core, link, x, where=args.input)[skip:]
    save_npy(args.output, y if host_post is None else host_post(y), protect)
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
