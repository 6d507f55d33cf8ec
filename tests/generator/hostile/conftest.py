"""The hostile-input corpus: every case must be refused cleanly.

A case runs the command line in-process (``bitsmith.generator.cli.main``) inside a fresh
work folder (the current folder too) with a private temporary folder, and asserts:
exit code 2, exactly one line on stderr matching the case's anchored pattern, no
traceback, the work folder's tree unchanged to the byte (every entry's type, size,
modification time and content), and the temporary folder empty afterwards.

The corpus runs ``bitsmith --quiet``, so stderr holds the error alone. Without it, stderr
is not a terminal here and each step that finished before the failure prints its progress
line first (``[   0.1 s] reading m.yaml (0.1 s)``); :meth:`Sandbox.rejects` with
``quiet=False`` allows exactly those before the one error line, which must be the last.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from bitsmith.generator.cli import main


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry below ``root`` (links not followed): type, size, mtime and content hash."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            st = path.lstat()
            digest = None
            if stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                digest = os.readlink(path)
            out[str(path.relative_to(root))] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns, digest)
    return out


class Sandbox:
    """A work folder (also the current folder) and a private temporary folder."""

    def __init__(self, work: Path, tmp: Path, capsys):
        self.work, self.tmp, self.capsys = work, tmp, capsys
        self.stderr_lines: list[str] = []       # of the last :meth:`rejects`

    def path(self, name: str) -> Path:
        return self.work / name

    # ------------------------------------------------------------------ files
    def npz(self, name: str = "w.npz", **arrays) -> Path:
        np.savez(self.work / name, **arrays)
        return self.work / name

    def yaml(self, data, name: str = "m.yaml") -> Path:
        (self.work / name).write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
        return self.work / name

    def native(self, layers=None, *, file: str = "m.yaml", npz: dict | None = None, **top) -> Path:
        """A small valid dense network unless ``layers``, the ``npz`` arrays or the top-level
        keys ``top`` say otherwise."""
        rng = np.random.default_rng(0)
        if npz is None:
            npz = {"w0": rng.choice([-1, 1], size=(8, 16)).astype(np.int8),
                      "t0": np.zeros((1, 1), dtype=np.int64),
                      "w1": rng.integers(-2, 2, size=(4, 8)).astype(np.int8)}
        self.npz("w.npz", **npz)
        if layers is None:
            layers = [{"name": "fc0", "op": "dense", "weights": "w0", "weight_dtype": "BIPOLAR",
                       "thresholds": "t0", "out_dtype": "BIPOLAR"},
                      {"name": "fc1", "op": "dense", "weights": "w1", "weight_dtype": "INT2"}]
        data = {"name": "net", "input": {"shape": [16], "dtype": "BIPOLAR"}, "arrays": "w.npz",
                "layers": layers}
        data.update(top)
        data = {k: v for k, v in data.items() if v is not DROP}
        return self.yaml(data, file)

    def fifo(self, name: str) -> Path:
        os.mkfifo(self.work / name)
        return self.work / name

    # ------------------------------------------------------------------ running
    def run(self, *argv) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([str(a) for a in argv])
        cap = self.capsys.readouterr()
        return code, cap.out, cap.err

    def rejects(self, argv, pattern: str, *, quiet: bool = True) -> str:
        """Run ``bitsmith --quiet argv`` (``quiet=False``: without ``--quiet``); assert the
        clean refusal described in the module docstring. Returns the error line."""
        before = snapshot(self.work)
        code, out, err = self.run(*(("--quiet",) if quiet else ()), *argv)
        lines = self.stderr_lines = err.splitlines()
        assert code == 2, f"exit {code}, stderr: {err!r}"
        assert lines and err.endswith("\n"), err
        assert "Traceback" not in err
        progress = [line for line in lines[:-1] if not PROGRESS_LINE.match(line)]
        assert not (progress if not quiet else lines[:-1]), f"more than the error line on stderr: {err!r}"
        assert re.match(pattern, lines[-1]), f"{lines[-1]!r} does not match {pattern!r}"
        assert snapshot(self.work) == before, "the work folder changed"
        assert not list(self.tmp.iterdir()), f"left in the temporary folder: {list(self.tmp.iterdir())}"
        print(lines[-1])        # with -s: the corpus's messages, for reading
        return lines[-1]


PROGRESS_LINE = re.compile(r"^\[ *\d+\.\d s\] \S.* \(\d+\.\d s\)$")
"""A progress line of a finished step (``generator/commands/_progress.py``, plain mode)."""

DROP = object()
"""A value for :meth:`Sandbox.native` keyword arguments: leave that top-level key out."""


@pytest.fixture
def sandbox(tmp_path, monkeypatch, capsys) -> Sandbox:
    work, tmp = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    tmp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return Sandbox(work, tmp, capsys)
