"""Stand-alone copies of the simulation set-up for a build output (``OUT/sim/``)."""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

from .harness import render_harness, verilator_args
from .stream import StreamIO
from .toolchain import render

BUNDLE_FILES = ("harness.cpp", "run_harness.py", "cocotb_tb.py", "run_cocotb.py", "README.md")
"""What :func:`write_sim_bundle` writes."""

COCOTB_TB = Path(__file__).resolve().parents[1] / "cocotb_tb.py"
"""The generic testbench module, copied as is (it needs only cocotb)."""


def write_sim_bundle(out_sim_dir: Path, verilog_rel_path: str, io: StreamIO) -> list[Path]:
    """Write the harness, the cocotb testbench and their run scripts into ``out_sim_dir``.

    Parameters
    ----------
    out_sim_dir : Path
        ``OUT/sim`` of a build output ``OUT``; created if missing.
    verilog_rel_path : str
        The top's Verilog relative to ``OUT`` (the parent of ``out_sim_dir``), in POSIX
        form, e.g. ``"rtl/top.v"``. The scripts refer to it as ``../rtl/top.v``, so the
        bundle keeps working when ``OUT`` is moved.
    io : StreamIO
        The top's stream shape.

    Returns
    -------
    list of Path
        The files written (:data:`BUNDLE_FILES`, in that order).
    """
    if not isinstance(verilog_rel_path, str):
        raise TypeError(f"verilog_rel_path must be a string, not {verilog_rel_path!r}")
    path = verilog_rel_path
    if not path or PurePosixPath(path).is_absolute() or "\\" in path:
        raise ValueError(f"verilog_rel_path must be a relative POSIX path, not {path!r}")
    if not isinstance(io, StreamIO):
        raise TypeError(f"io must be a StreamIO, not {io!r}")
    out_sim_dir = Path(out_sim_dir)
    out_sim_dir.mkdir(parents=True, exist_ok=True)
    args = verilator_args(io, jobs=2)
    context = {"io": io, "io_json": io.to_json(), "verilator_args": args,
               "verilog_from_sim": str(PurePosixPath("..") / path)}
    texts = {
        "harness.cpp": render_harness(io),
        "run_harness.py": render("run_harness.py", **context),
        "run_cocotb.py": render("run_cocotb.py", **context),
        "README.md": render("README.md", **context),
    }
    written = []
    for name in BUNDLE_FILES:
        path = out_sim_dir / name
        if name == "cocotb_tb.py":
            shutil.copyfile(COCOTB_TB, path)
        else:
            path.write_text(texts[name])
        written.append(path)
    return written
