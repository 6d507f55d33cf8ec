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
    p.add_argument("--waves", metavar="FILE", help="write a VCD waveform")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..build import read_bundle
    from ..dataio import hardware_input, load_npy, save_npy
    from ..execute import run_amaranth, run_verilator
    from ..ir.host import run_stages
    from ..safeio import check_output_file, is_vcd, output_file
    protect = (args.input, Path(args.out) / "design.json")
    output_path(args.output, "--output", protect)
    if args.waves:
        check_output_file(args.waves, "--waves", suffix_ok=is_vcd, protect=protect + (args.output,))
    graph, design = read_bundle(args.out)
    x = hardware_input(graph, load_npy(args.input, "--input"), args.input)
    with progress() as step, (output_file(args.waves, "--waves", suffix_ok=is_vcd, protect=protect)
                              if args.waves else contextlib.nullcontext()) as waves:
        step(f"simulating {len(x)} frames in {args.simulator}")
        if args.simulator == "verilator":
            res = run_verilator(Path(args.out), design["io"], x, waves=waves)
        else:
            res = run_amaranth(graph, x, waves=waves)
    y = run_stages(graph.host_post, res.outputs)
    save_npy(args.output, y, protect)
    cpf = f", {res.cycles_per_frame:g} cycles/frame" if res.cycles_per_frame else ""
    print(f"{len(y)} frames -> {args.output} ({res.total_cycles} cycles{cpf})")
    return 0
