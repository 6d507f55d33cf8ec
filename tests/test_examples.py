"""``examples/``: the quickstart notebook (jupytext percent format) runs end to end as a
script: network from numpy arrays, two foldings, golden, Verilator, verify, report."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_is_a_percent_notebook():
    text = (EXAMPLES / "quickstart.py").read_text()
    assert "format_name: percent" in text.split("# ---")[1]
    assert text.count("\n# %% [markdown]") >= 6 and text.count("\n# %%\n") >= 6


@pytest.mark.verilator
def test_quickstart_runs(tmp_path):
    env = {**os.environ, "QUICKSTART_OUT": str(tmp_path / "out"), "QUICKSTART_FRAMES": "40", "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "VerifyResult(passed=True, frames=40, mismatches=0, expected_mismatches=0" in out
    # measured == ideal cycles per frame for both foldings, the fast one within its target
    figures = dict((k, (int(m), int(i))) for k, m, i in
                   re.findall(r"^(small|fast): (\d+) cycles/frame measured, (\d+) ideal;", out, re.M))
    assert set(figures) == {"small", "fast"} and all(m == i for m, i in figures.values())
    assert figures["fast"][1] <= 128 < figures["small"][1]
    accuracy = float(re.search(r"accuracy ([\d.]+)%", out).group(1))
    assert accuracy > 60                                 # the classifier is real, not chance (10 %)
    assert (tmp_path / "out" / "cycles.png").stat().st_size > 1000
    assert (tmp_path / "out" / "fast" / "rtl" / "digits.v").is_file()
