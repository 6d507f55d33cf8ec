"""Run a bitsmith top under the generic cocotb testbench (:mod:`bitsmith.sim.cocotb_tb`) in Verilator.

Slower than the bulk harness (Python runs every cycle) but independent of it: the same
stimulus, patterns and cycle convention, driven from cocotb through VPI by cocotbext-axi's
AXI-Stream source and sink. The tests use it
as the protocol tier; its cycle numbers match :func:`bitsmith.sim.rtl.run` for the ``none`` and
``cycle`` patterns.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from xml.etree import ElementTree

from bitsmith.generator.errors import ToolError

from .primitives import with_models
from .stream import RunResult, StreamIO, check_run_args, read_result, write_input
from .toolchain import cache_key, cache_root, verilator_on_path, verilator_version

log = logging.getLogger(__name__)

TEST_MODULE = "bitsmith.sim.cocotb_tb"
CONFIG_ENV = "BITSMITH_TB_CONFIG"
"""Equals ``bitsmith.sim.cocotb_tb.CONFIG_ENV``, not imported: that module must load only under cocotb."""
STALL_CYCLES = 10_000
BUILD_STAMP = "bitsmith-build.ok"


def build_key(text: str, top: str) -> str:
    """The cache key of a cocotb build of Verilog ``text`` (see :func:`cocotb_build`)."""
    from cocotb_tools import config
    return cache_key("cocotb", text, top, verilator_version(), metadata.version("cocotb"),
                     str(Path(config.libs_dir).resolve()))


def cocotb_build(verilog: Path, io: StreamIO, build_dir: Path | None = None) -> Path:
    """Compile ``verilog`` for cocotb once; return the build directory.

    The directory is ``build_dir/<key>`` (default root: :func:`cache_root` ``/cocotb``),
    the key a hash of the Verilog text, the top name, the tool versions and the folder of
    cocotb's libraries: the simulator finds ``libcocotbvpi_verilator.so`` there by the
    path compiled into it, so a build made from another environment (a deleted venv or
    clone) would not start (exit 127).
    """
    from cocotb_tools.runner import get_runner

    text = with_models(Path(verilog).read_text())      # + models of vendor primitives (SPRAM)
    key = build_key(text, io.top)
    root = Path(build_dir) if build_dir is not None else cache_root(None) / "cocotb"
    directory = root / key
    if (directory / BUILD_STAMP).is_file():
        log.info("cocotb build cache hit for %s: %s", io.top, directory)
        return directory
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=root))
    try:
        source = work / "design.v"
        source.write_text(text)
        runner = get_runner("verilator")
        log.info("building %s for cocotb from %s", io.top, verilog)
        with verilator_on_path():
            try:
                runner.build(sources=[source], hdl_toplevel=io.top, build_args=["-Wno-fatal"],
                             build_dir=work, log_file=work / "build.log")
            except (RuntimeError, SystemExit) as error:
                failed_log = root / f"{key}.failed.log"
                shutil.copyfile(work / "build.log", failed_log)
                raise ToolError(f"cocotb/Verilator could not build {io.top!r} from {verilog} "
                                f"({error}); log: {failed_log}") from None
        (work / BUILD_STAMP).write_text(key)
        try:
            work.rename(directory)
        except OSError:  # another process finished the same build first
            if not (directory / BUILD_STAMP).is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return directory


@contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    # cocotb's runner copies os.environ over extra_env, so the config must be set here.
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


def results_passed(results_xml: Path) -> bool:
    """True if the cocotb results XML exists and records no failure or error."""
    if not results_xml.is_file():
        return False
    root = ElementTree.parse(results_xml).getroot()
    cases = list(root.iter("testcase"))
    return bool(cases) and not any(case.find("failure") is not None
                                   or case.find("error") is not None for case in cases)


def run_cocotb(verilog: Path, io: StreamIO, frames: Sequence[Sequence[int]],
               idle: str = "none", backpressure: str = "none", seed: int = 0,
               build_dir: Path | None = None, *, timeout_cycles: int | None = None,
               stall_cycles: int = STALL_CYCLES, keep_dir: Path | None = None) -> RunResult:
    """Run frames through the cocotb testbench; the arguments mean what they do in :func:`run`.

    Parameters
    ----------
    build_dir : Path, optional
        Root of the cached cocotb builds (see :func:`cocotb_build`).
    stall_cycles : int
        Give up after this many cycles without a handshake (cocotb is slow: keep small).
    keep_dir : Path, optional
        Run here and keep the config, word files, log and results XML. Default: a
        temporary directory, removed after a run that produced results and kept (its
        path is in the error) otherwise.

    Returns
    -------
    RunResult
        As from :func:`run`. Timeouts and protocol errors are in it (and make the cocotb
        test itself fail); :class:`ToolError` is raised only when the simulation produced
        no results at all.
    """
    from cocotb_tools.runner import get_runner

    if not isinstance(io, StreamIO):
        raise TypeError(f"io must be a StreamIO, not {io!r}")
    check_run_args(idle=idle, backpressure=backpressure, seed=seed,
                   timeout_cycles=timeout_cycles, stall_cycles=stall_cycles)
    directory = cocotb_build(verilog, io, build_dir)
    work = Path(tempfile.mkdtemp(prefix="bitsmith-cocotb-")) if keep_dir is None else Path(keep_dir)
    work.mkdir(parents=True, exist_ok=True)
    write_input(work / "in.bin", io, frames)
    for stale in ("out.bin", "stats.json"):
        (work / stale).unlink(missing_ok=True)
    config = {"io": io.to_json(), "input": "in.bin", "output": "out.bin",
              "stats": "stats.json", "idle": idle, "backpressure": backpressure,
              "seed": seed, "timeout_cycles": timeout_cycles, "stall_cycles": stall_cycles}
    (work / "config.json").write_text(json.dumps(config, indent=1))
    results_xml = work / "results.xml"
    log_path = work / "bitsmith.sim.log"
    runner = get_runner("verilator")
    with verilator_on_path(), _environ(CONFIG_ENV, str(work / "config.json")):
        try:
            runner.test(test_module=TEST_MODULE, hdl_toplevel=io.top,
                        hdl_toplevel_lang="verilog", build_dir=directory, test_dir=work,
                        results_xml=str(results_xml), log_file=log_path)
        except SystemExit:
            pass  # raised on failure under pytest; the files decide below
    passed = results_passed(results_xml)
    if not (work / "stats.json").is_file():
        raise ToolError(f"the cocotb run of {io.top!r} produced no results; log: {log_path}")
    result = read_result(work / "out.bin", work / "stats.json", io)
    if passed != result.ok:
        raise ToolError(f"cocotb reported {'a pass' if passed else 'a failure'} for {io.top!r} "
                        f"but its stats disagree; log: {log_path}")
    if keep_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return result
