"""``bitsmith sim OUT --input X --output Y``: run a built design in RTL simulation."""

from __future__ import annotations

import contextlib
from pathlib import Path

from ._common import output_path, progress


def register(sub) -> None:
    p = sub.add_parser("sim", help="run a built design (OUT/) in Verilator or the Amaranth simulator")
    p.add_argument("out", metavar="OUT")
    p.add_argument("--input", required=True, metavar="X.npy", help="the model's own input, batch first")
    p.add_argument("--output", required=True, metavar="Y.npy")
    p.add_argument("--simulator", choices=("verilator", "amaranth"), default="verilator")
    p.add_argument("--waves", metavar="FILE.vcd",
                   help="write a VCD waveform of the named signals (not the $<n> temporaries)")
    p.add_argument("--waves-all", action="store_true",
                   help="with --waves: every signal, the tools' temporaries too")
    p.add_argument("--waves-frames", metavar="A:B",
                   help="with --waves: only frames A..B-1 (A: from frame A on)")
    p.set_defaults(func=run)


def run(args) -> int:
    from bitsmith import api
    from ..dataio import load_npy, save_npy
    from ..errors import OptionError
    from ..execute import Waves, parse_frame_window
    from ..safeio import check_output_file, is_vcd, output_file
    if not args.waves and (args.waves_all or args.waves_frames):
        raise OptionError("--waves-all and --waves-frames go with --waves FILE.vcd")
    window = parse_frame_window(args.waves_frames) if args.waves_frames else None
    protect = (args.input, Path(args.out) / "design.json")
    output_path(args.output, "--output", protect)
    if args.waves:
        check_output_file(args.waves, "--waves", suffix_ok=is_vcd, protect=protect + (args.output,))
    built = api.open_build(args.out)
    x = load_npy(args.input, "--input")
    with progress(args) as step, (output_file(args.waves, "--waves", suffix_ok=is_vcd, protect=protect)
                                  if args.waves else contextlib.nullcontext()) as vcd:
        waves = Waves(Path(vcd), all_signals=args.waves_all, frames=window) if vcd else None
        res = api.simulate(built, x, simulator=args.simulator, waves=waves, x_name=args.input, progress=step)
    save_npy(args.output, res.outputs, protect)
    cpf = f", {res.cycles_per_frame:g} cycles/frame" if res.cycles_per_frame else ""
    print(f"{len(res.outputs)} frames -> {args.output} ({res.total_cycles} cycles{cpf})")
    return 0
