"""The cocotb testbench (sim/cocotb_tb.py) through cocotb's Verilator runner, and the
stand-alone sim bundle; both cross-checked against the bulk harness."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from frame_dut import expected_frames, stream_io
from bitsmith.sim.rtl import build, run, run_cocotb, write_sim_bundle
from bitsmith.sim.rtl.stream import decode_words, encode_words

pytestmark = pytest.mark.verilator

PATTERNS = ("none", "cycle", "random")
# STYLE.md's matrix: every source idle pattern against every sink backpressure pattern on
# the narrow DUT; the wide one (multi-word VPI values) on a few of them
CASES = ([(16, 24, idle, backpressure) for idle in PATTERNS for backpressure in PATTERNS]
         + [(72, 136, idle, backpressure) for idle, backpressure in
            (("none", "none"), ("cycle", "cycle"), ("none", "cycle"), ("random", "random"))])


def random_frames(count: int, bits: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.getrandbits(bits) for _ in range(3)] for _ in range(count)]


@pytest.fixture(scope="module")
def cocotb_builds():
    """Root of the cocotb builds: the product's default cache (see ``sim_cache``)."""
    return None


@pytest.mark.parametrize("in_bits, out_bits, idle, backpressure", CASES)
def test_cocotb_matches_python_and_harness(dut_verilog, sim_cache, cocotb_builds, in_bits,
                                           out_bits, idle, backpressure):
    io = stream_io(in_bits, out_bits)
    verilog = dut_verilog(in_bits, out_bits)
    frames = random_frames(12, in_bits, seed=in_bits + 1)
    result = run_cocotb(verilog, io, frames, idle, backpressure, seed=7,
                        build_dir=cocotb_builds)
    assert result.ok, result
    assert result.out_frames == expected_frames(frames, out_bits)
    assert result.total_cycles == result.frame_done_cycles[-1] + 1
    if "random" not in (idle, backpressure):
        # Same cycle convention and deterministic patterns: cycle-exact agreement.
        reference = run(build(verilog, io, sim_cache), io, frames, idle, backpressure)
        assert result.frame_done_cycles == reference.frame_done_cycles
        assert result.total_cycles == reference.total_cycles


def test_cocotb_reports_wrong_tlast(dut_verilog, cocotb_builds, tmp_path):
    io = stream_io(16, 24)
    frames = random_frames(6, 16, seed=3)
    result = run_cocotb(dut_verilog(16, 24, bug="tlast"), io, frames, "none", "cycle",
                        build_dir=cocotb_builds, keep_dir=tmp_path)
    assert result.out_frames == expected_frames(frames, 24)
    assert result.tlast_errors == 12 and not result.ok
    # The cocotb test itself failed, so a stand-alone user sees it too.
    assert "<failure" in (tmp_path / "results.xml").read_text()


def test_cocotb_reports_unstable_master(dut_verilog, cocotb_builds):
    io = stream_io(16, 24)
    verilog = dut_verilog(16, 24, bug="unstable")
    frames = random_frames(6, 16, seed=4)
    assert run_cocotb(verilog, io, frames, "none", "none", build_dir=cocotb_builds).ok
    stalled = run_cocotb(verilog, io, frames, "none", "cycle", build_dir=cocotb_builds)
    assert stalled.protocol_errors > 0 and not stalled.ok


def test_cocotb_timeout(dut_verilog, cocotb_builds):
    io = stream_io(16, 24)
    frames = random_frames(20, 16, seed=5)
    result = run_cocotb(dut_verilog(16, 24), io, frames, build_dir=cocotb_builds,
                        timeout_cycles=30)
    assert result.timed_out and result.total_cycles == 30
    assert result.frame_done_cycles == [4 + 3 * k for k in range(9)]  # done by cycle 29


def test_sim_bundle_runs_on_its_own(dut_verilog, tmp_path):
    out = tmp_path / "OUT"
    (out / "rtl").mkdir(parents=True)
    (out / "rtl" / "dut_top.v").write_text(dut_verilog(72, 136).read_text())
    io = stream_io(72, 136)
    write_sim_bundle(out / "sim", "rtl/dut_top.v", io)
    frames = random_frames(30, 72, seed=8)
    (tmp_path / "in.bin").write_bytes(encode_words([w for f in frames for w in f], 72))
    expected = [w for f in expected_frames(frames, 136) for w in f]

    for script, extra in (("run_harness.py", ["--backpressure", "random", "--seed", "3"]),
                          ("run_cocotb.py", ["--idle", "cycle"])):
        completed = subprocess.run(
            [sys.executable, str(out / "sim" / script), "--input", "in.bin",
             "--output", f"{script}.bin", "--stats", f"{script}.json", *extra],
            cwd=tmp_path, capture_output=True, text=True)
        assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
        assert decode_words((tmp_path / f"{script}.bin").read_bytes(), 136) == expected
        stats = json.loads((tmp_path / f"{script}.json").read_text())
        assert len(stats["frame_done_cycles"]) == len(frames) and not stats["timed_out"]


def test_a_build_from_another_environment_is_not_reused(monkeypatch, tmp_path):
    """The simulator loads cocotb's VPI library by the path compiled into it: a build made
    from another venv or clone (since deleted) exits 127, so that folder is in the key."""
    from cocotb_tools import config
    from bitsmith.sim.rtl.cocotb_run import build_key
    here = build_key("module top; endmodule", "top")
    assert build_key("module top; endmodule", "top") == here
    monkeypatch.setattr(config, "libs_dir", tmp_path / "elsewhere" / "cocotb" / "libs")
    assert build_key("module top; endmodule", "top") != here
