"""Signals mid-run: SIGTERM or SIGINT to a running ``bitsmith`` leaves nothing behind.

Each case starts the command line in a subprocess (``-v``, so it logs when the work
starts) with a private TMPDIR and Verilator cache, waits for the log line that says the
long step is running, sends the signal, and asserts: exit 128+N with one
``bitsmith: stopped by SIG...`` line and no traceback, the work folder unchanged, the
temporary folder empty, and no half-built entry in the Verilator cache (checked again a
moment later: nothing the tool started keeps writing).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import Sandbox, snapshot

pytestmark = pytest.mark.slow


def start(sandbox: Sandbox, cache: Path, *argv) -> subprocess.Popen:
    env = {**os.environ, "TMPDIR": str(sandbox.tmp), "BITSMITH_CACHE": str(cache)}
    return subprocess.Popen([sys.executable, "-m", "bitsmith", "-v", *argv], cwd=sandbox.work, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(proc: subprocess.Popen, text: str, timeout: float = 300) -> list[str]:
    """Read stderr lines until one contains ``text``; the lines read."""
    lines, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([proc.stderr], [], [], 1.0)
        if ready:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if text in line:
                return lines
    proc.kill()
    raise AssertionError(f"never saw {text!r}; stderr so far: {''.join(lines)}")


def stop(proc: subprocess.Popen, signum: int, after: float = 1.0) -> tuple[int, list[str]]:
    time.sleep(after)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=300)
    return proc.returncode, [line for line in err.splitlines() if line.startswith("bitsmith")]


def half_built(cache: Path) -> list[str]:
    return sorted(str(p.relative_to(cache)) for p in cache.rglob(".*")) if cache.exists() else []


def big_model(sandbox: Sandbox) -> None:
    """A dense layer whose hardware takes many seconds to emit."""
    n = 512
    sandbox.native([{"name": "fc", "op": "dense", "weights": "w", "weight_dtype": "BIPOLAR", "pe": 64, "simd": 64}],
                   npz={"w": np.random.default_rng(0).choice([-1, 1], size=(n, n)).astype(np.int8)},
                   input={"shape": [n], "dtype": "BIPOLAR"})


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_build(sandbox, tmp_path, signum):
    big_model(sandbox)
    before = snapshot(sandbox.work)
    proc = start(sandbox, tmp_path / "cache", "build", "m.yaml", "-o", "out")
    wait_for(proc, "building m.yaml into out")
    code, lines = stop(proc, signum)
    assert code == 128 + signum, lines
    assert lines == [f"bitsmith: stopped by {signal.Signals(signum).name}"]
    assert snapshot(sandbox.work) == before
    assert not list(sandbox.tmp.iterdir())


@pytest.mark.verilator
def test_sigterm_during_verify_compile(sandbox, tmp_path):
    sandbox.native()
    np.save(sandbox.path("x.npy"), np.ones((4, 16), dtype=np.int8))
    before = snapshot(sandbox.work)
    cache = tmp_path / "cache"             # empty: Verilator must compile, and is stopped doing it
    proc = start(sandbox, cache, "verify", "m.yaml", "--input", "x.npy")
    wait_for(proc, "building the Verilator harness")
    code, lines = stop(proc, signal.SIGTERM, after=2.0)
    assert code == 143 and lines == ["bitsmith: stopped by SIGTERM"], lines
    assert snapshot(sandbox.work) == before
    assert not list(sandbox.tmp.iterdir())
    assert half_built(cache) == []
    time.sleep(2)                           # a compiler left running would recreate files
    assert half_built(cache) == [] and not list(sandbox.tmp.iterdir())


@pytest.mark.verilator
def test_sigterm_during_sweep_workers(sandbox, tmp_path):
    sandbox.native()
    before = snapshot(sandbox.work)
    cache = tmp_path / "cache"
    proc = start(sandbox, cache, "sweep", "m.yaml", "--targets", "16,64", "--jobs", "2", "--verify", "3")
    wait_for(proc, "building the Verilator harness")
    code, lines = stop(proc, signal.SIGTERM, after=2.0)
    assert code == 143 and lines == ["bitsmith: stopped by SIGTERM"], lines
    time.sleep(2)
    assert snapshot(sandbox.work) == before
    assert not list(sandbox.tmp.iterdir())
    assert half_built(cache) == []
