"""The bulk Verilator harness against a tiny Amaranth DUT (and broken variants of it)."""

from __future__ import annotations

import logging
import random
import re
import subprocess
from pathlib import Path

import pytest

from frame_dut import expected_frames, stream_io
from bitsmith.generator.errors import CheckFailed, ToolError
from bitsmith.sim.rtl import PATTERNS, StreamIO, build, run, steady_state_cycles_per_frame
from bitsmith.sim.rtl import harness as harness_module

pytestmark = pytest.mark.verilator

WIDTHS = [(16, 24), (72, 136)]  # scalar ports, and VlWide ports on both sides
FRAMES = {16: 10_000, 72: 2_000}

# Frame k completes at first + period*k for the deterministic patterns (worked out from
# the DUT: 3 input cycles per frame, sum word the cycle after the third input word; the
# "cycle" pattern pauses at cycles 0,1,2 of every 4).
SCHEDULE = {
    ("none", "none"): (4, 3),
    ("none", "cycle"): (7, 8),
    ("cycle", "none"): (13, 12),
    ("cycle", "cycle"): (19, 12),
}


def random_frames(count: int, bits: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.getrandbits(bits) for _ in range(3)] for _ in range(count)]


def check_outputs(result, frames, out_bits):
    expected = expected_frames(frames, out_bits)
    assert len(result.out_frames) == len(expected)
    for index, (want, got) in enumerate(zip(expected, result.out_frames)):
        assert got == want, f"frame {index}: expected {want}, got {got}"


@pytest.fixture(scope="module")
def executables(dut_verilog, sim_cache):
    return {in_bits: build(dut_verilog(in_bits, out_bits), stream_io(in_bits, out_bits),
                           sim_cache)
            for in_bits, out_bits in WIDTHS}


@pytest.mark.parametrize("backpressure", PATTERNS)
@pytest.mark.parametrize("idle", PATTERNS)
@pytest.mark.parametrize("in_bits, out_bits", WIDTHS)
def test_frames_exact_under_idle_and_backpressure(executables, in_bits, out_bits, idle,
                                                  backpressure):
    io = stream_io(in_bits, out_bits)
    frames = random_frames(FRAMES[in_bits], in_bits, seed=in_bits)
    result = run(executables[in_bits], io, frames, idle, backpressure, seed=5)
    check_outputs(result, frames, out_bits)
    assert result.ok, result
    assert len(result.frame_done_cycles) == len(frames)
    assert result.total_cycles == result.frame_done_cycles[-1] + 1
    if (idle, backpressure) in SCHEDULE:
        first, period = SCHEDULE[idle, backpressure]
        assert result.frame_done_cycles == [first + period * k for k in range(len(frames))]
        assert steady_state_cycles_per_frame(result) == period
    else:
        # Pauses only ever delay a frame against the unstalled schedule.
        assert all(done >= 4 + 3 * k for k, done in enumerate(result.frame_done_cycles))
        assert steady_state_cycles_per_frame(result) >= 3


def test_random_patterns_follow_the_seed(executables):
    io = stream_io(16, 24)
    frames = random_frames(200, 16, seed=1)
    first = run(executables[16], io, frames, "random", "random", seed=11)
    again = run(executables[16], io, frames, "random", "random", seed=11)
    other = run(executables[16], io, frames, "random", "random", seed=12)
    assert first.frame_done_cycles == again.frame_done_cycles
    assert first.frame_done_cycles != other.frame_done_cycles
    assert first.out_frames == other.out_frames == expected_frames(frames, 24)


def test_no_frames(executables):
    result = run(executables[16], stream_io(16, 24), [])
    assert (result.out_frames, result.frame_done_cycles, result.total_cycles) == ([], [], 0)
    assert result.ok


def test_timeout_cycles_stops_the_run(executables):
    io = stream_io(16, 24)
    frames = random_frames(100, 16, seed=2)
    result = run(executables[16], io, frames, timeout_cycles=50)
    assert result.timed_out and result.total_cycles == 50
    assert result.frame_done_cycles == [4 + 3 * k for k in range(16)]  # done by cycle 49
    assert result.out_frames[:16] == expected_frames(frames[:16], 24)
    with pytest.raises(CheckFailed, match=r"^RTL run failed: timed out after 50 cycles with "
                                          r"16 complete output frames$"):
        result.check()


def test_wrong_tlast_is_reported(dut_verilog, sim_cache):
    io = stream_io(16, 24)
    exe = build(dut_verilog(16, 24, bug="tlast"), io, sim_cache)
    frames = random_frames(50, 16, seed=3)
    result = run(exe, io, frames, "cycle", "random", seed=1)
    check_outputs(result, frames, 24)  # the data are right, only tlast is wrong
    assert result.tlast_errors == 100  # both words of every frame
    with pytest.raises(CheckFailed, match=r"^RTL run failed: 100 output words with a wrong tlast$"):
        result.check()


def test_dropped_word_is_reported(dut_verilog, sim_cache):
    io = stream_io(16, 24)
    exe = build(dut_verilog(16, 24, bug="drop"), io, sim_cache)
    frames = random_frames(20, 16, seed=4)
    result = run(exe, io, frames, stall_cycles=200)
    assert result.timed_out
    assert sum(len(frame) for frame in result.out_frames) == 2 * len(frames) - 1
    assert result.out_frames[0] == expected_frames(frames[:1], 24)[0]
    assert result.out_frames[1] != expected_frames(frames[1:2], 24)[0]
    # frame 1's sum carries tlast early, after it every word sits one place off
    assert result.tlast_errors == 1 + 2 * (len(frames) - 2)
    assert len(result.frame_done_cycles) == len(frames) - 1


@pytest.mark.parametrize("backpressure", PATTERNS)
def test_unstable_master_is_reported(dut_verilog, sim_cache, backpressure):
    io = stream_io(16, 24)
    exe = build(dut_verilog(16, 24, bug="unstable"), io, sim_cache)
    result = run(exe, io, random_frames(40, 16, seed=5), "none", backpressure, seed=9)
    if backpressure == "none":
        assert result.protocol_errors == 0
    else:
        assert result.protocol_errors > 0
        with pytest.raises(CheckFailed, match=r"^RTL run failed: \d+ AXI4-Stream protocol "
                                              r"violations on m_axis$"):
            result.check()


def test_second_build_does_not_run_verilator(dut_verilog, sim_cache, executables, monkeypatch,
                                             caplog):
    def refuse(args, cwd):
        raise AssertionError(f"Verilator was invoked: {args}")

    monkeypatch.setattr(harness_module, "_invoke_verilator", refuse)
    with caplog.at_level(logging.INFO, logger="bitsmith.sim.rtl.harness"):
        again = build(dut_verilog(16, 24), stream_io(16, 24), sim_cache)
    assert again == executables[16]
    assert "harness cache hit for dut_top" in caplog.text


def test_cache_key_covers_verilog_shape_and_trace(dut_verilog, tmp_path, monkeypatch):
    calls = []

    def fake_verilator(args, cwd):  # record the call, leave an "executable" where it belongs
        calls.append(args)
        (cwd / "obj").mkdir()
        (cwd / "obj" / "harness").write_text("")

    monkeypatch.setattr(harness_module, "_invoke_verilator", fake_verilator)
    verilog = dut_verilog(16, 24)
    io = stream_io(16, 24)
    first = build(verilog, io, tmp_path)
    assert build(verilog, io, tmp_path) == first and len(calls) == 1
    other_shape = StreamIO(top="dut_top", in_bits=16, out_bits=24, in_words_per_frame=6,
                           out_words_per_frame=4)
    other_text = tmp_path / "other.v"
    other_text.write_text(verilog.read_text() + "\n// changed\n")
    builds = {first, build(verilog, other_shape, tmp_path), build(other_text, io, tmp_path),
              build(verilog, io, tmp_path, trace="named")}
    assert len(builds) == 4 and len(calls) == 4
    assert "--trace" in calls[-1] and "--trace" not in calls[0]
    assert sorted(path.name for path in tmp_path.iterdir() if path.is_dir()) == sorted(
        path.parents[1].name for path in builds)


def test_profile_guided_build_simulates_the_same(dut_verilog, sim_cache, executables):
    io = stream_io(72, 136)
    profiled = build(dut_verilog(72, 136), io, sim_cache, profile=True)
    assert profiled != executables[72]          # its own cache entry
    frames = random_frames(500, 72, seed=9)
    for idle, backpressure in (("none", "none"), ("random", "cycle")):
        plain = run(executables[72], io, frames, idle, backpressure, seed=3)
        fast = run(profiled, io, frames, idle, backpressure, seed=3)
        assert fast.out_frames == plain.out_frames == expected_frames(frames, 136)
        assert fast.frame_done_cycles == plain.frame_done_cycles
        assert fast.total_cycles == plain.total_cycles


def test_profile_guided_build_compiles_twice_with_the_profile(dut_verilog, tmp_path, monkeypatch):
    calls, trained = [], []

    def fake_verilator(args, cwd):
        calls.append(args)
        (cwd / "obj").mkdir(exist_ok=True)
        (cwd / "obj" / "harness").write_text("")

    monkeypatch.setattr(harness_module, "_invoke_verilator", fake_verilator)
    monkeypatch.setattr(harness_module, "_train", lambda work, io: trained.append(io))
    exe = build(dut_verilog(16, 24), stream_io(16, 24), tmp_path, profile=True)
    assert len(calls) == 2 and trained == [stream_io(16, 24)]
    assert "-fprofile-generate" in calls[0] and "-fprofile-generate" not in calls[1]
    assert any("-fprofile-use" in arg for arg in calls[1])
    assert build(dut_verilog(16, 24), stream_io(16, 24), tmp_path, profile=True) == exe
    assert len(calls) == 2
    with pytest.raises(ValueError, match="profile-guided build cannot trace"):
        build(dut_verilog(16, 24), stream_io(16, 24), tmp_path, profile=True, trace="named")


def test_profile_guided_build_falls_back_to_a_plain_build(dut_verilog, tmp_path, monkeypatch, caplog):
    calls = []

    def fake_verilator(args, cwd):
        calls.append(args)
        if "-fprofile-generate" in args:
            raise ToolError("Verilator failed (exit 2); log: build.log")
        (cwd / "obj").mkdir(exist_ok=True)
        (cwd / "obj" / "harness").write_text("")

    monkeypatch.setattr(harness_module, "_invoke_verilator", fake_verilator)
    with caplog.at_level(logging.WARNING, logger="bitsmith.sim.rtl.harness"):
        exe = build(dut_verilog(16, 24), stream_io(16, 24), tmp_path, profile=True)
    assert exe.is_file() and len(calls) == 2
    assert not any("-fprofile" in arg for arg in calls[1])
    assert "building it without a profile" in caplog.text


def test_waves(dut_verilog, sim_cache, executables, tmp_path):
    io = stream_io(16, 24)
    frames = random_frames(5, 16, seed=6)
    with pytest.raises(ToolError, match=r"^the harness .* failed \(exit 2\): harness: this "
                                        r"harness was built without --trace$"):
        run(executables[16], io, frames, waves=tmp_path / "none.vcd")
    exe = build(dut_verilog(16, 24), io, sim_cache, trace="named")
    assert exe != executables[16]
    result = run(exe, io, frames, "cycle", "cycle", waves=tmp_path / "waves.vcd")
    assert result.out_frames == expected_frames(frames, 24)
    vcd = (tmp_path / "waves.vcd").read_text()
    assert "$enddefinitions" in vcd and "s_axis_tdata" in vcd and "m_axis_tlast" in vcd


def vcd_names(path) -> list[str]:
    return [line.split()[4] for line in path.read_text().splitlines()
            if line.lstrip().startswith("$var")]


def vcd_times(path) -> list[int]:
    return [int(line[1:]) for line in path.read_text().splitlines() if line.startswith("#")]


def test_waves_hold_named_signals_unless_all_are_asked_for(dut_verilog, sim_cache, tmp_path):
    io = stream_io(16, 24)
    frames = random_frames(6, 16, seed=9)
    verilog = dut_verilog(16, 24)
    every = build(verilog, io, sim_cache, trace="all")
    named = build(verilog, io, sim_cache, trace="named")
    assert named != every
    run(every, io, frames, waves=tmp_path / "all.vcd")
    run(named, io, frames, waves=tmp_path / "named.vcd")
    all_names, named_names = vcd_names(tmp_path / "all.vcd"), vcd_names(tmp_path / "named.vcd")
    temporaries = [n for n in all_names if n.startswith("$")]
    assert temporaries                          # the DUT's Verilog has Yosys's $<n> wires
    assert sorted(named_names) == sorted(n for n in all_names if not n.startswith("$"))
    assert vcd_times(tmp_path / "all.vcd") == vcd_times(tmp_path / "named.vcd")


def test_waves_frame_window(dut_verilog, sim_cache, tmp_path):
    io = stream_io(16, 24)
    frames = random_frames(8, 16, seed=10)
    exe = build(dut_verilog(16, 24), io, sim_cache, trace="named")
    whole = run(exe, io, frames, "cycle", "none", waves=tmp_path / "whole.vcd")
    part = run(exe, io, frames, "cycle", "none", waves=tmp_path / "part.vcd", waves_frames=(2, 4))
    assert part.frame_done_cycles == whole.frame_done_cycles
    times = vcd_times(tmp_path / "part.vcd")
    # time 2*RESET_CYCLES + 2c is the low phase of cycle c, one more its rising edge; the
    # window opens once frame 1 is in and closes at the edge that completes frame 3
    reset_half_cycles = 8
    assert times[-1] == reset_half_cycles + 2 * whole.frame_done_cycles[3] + 1
    assert reset_half_cycles + 2 * whole.frame_done_cycles[0] < times[0] < times[-1]
    assert vcd_times(tmp_path / "whole.vcd")[0] == 0
    with pytest.raises(ValueError, match=r"^waves_frames must satisfy 0 <= a < b <= 8 \(the "
                                         r"frames run\), not \(3, 9\)$"):
        run(exe, io, frames, waves=tmp_path / "bad.vcd", waves_frames=(3, 9))


def test_bad_trace_mode():
    with pytest.raises(ValueError, match=r"^trace must be None, 'named' or 'all', not True$"):
        build(Path("x.v"), stream_io(16, 24), trace=True)


def test_bad_verilog_raises_tool_error_with_log(tmp_path):
    verilog = tmp_path / "broken.v"
    verilog.write_text("module dut_top(input clk; endmodule\n")
    with pytest.raises(ToolError, match=r"^Verilator could not build the harness for 'dut_top' "
                                        r"from .*broken\.v; log: (.*\.failed\.log)$") as info:
        build(verilog, stream_io(16, 24), tmp_path / "cache")
    log_path = info.value.args[0].rsplit("log: ", 1)[1]
    assert "%Error" in open(log_path).read()


@pytest.mark.parametrize("args, message", [
    (["--in", "{tmp}/bad.bin"], r"^harness: .*bad\.bin does not hold whole frames of 3 words "
                                r"of 2 bytes$"),
    (["--in", "{tmp}/in.bin", "--idle", "often"],
     r"^harness: --idle must be none, cycle, random, random:P \(P in 0\.\.99\) or "
     r"stall:RUN:PAUSE \(RUN >= 1\), not 'often'$"),
    (["--in", "{tmp}/in.bin", "--backpressure", "random:100"],
     r"^harness: --backpressure must be none, .*, not 'random:100'$"),
    (["--in", "{tmp}/in.bin", "--resets", "in:0"],
     r"^harness: --resets: K must be at least 1 in 'in:0'$"),
    (["--in", "{tmp}/in.bin", "--resets", "out:3"],
     r"^harness: --resets takes in:K or out:K:S events separated by commas, not 'out:3'$"),
    (["--in", "{tmp}/in.bin", "--seed", "-3"],
     r"^harness: --seed must be a non-negative integer, not '-3'$"),
])
def test_harness_command_line_errors(executables, tmp_path, args, message):
    (tmp_path / "bad.bin").write_bytes(bytes(8))
    (tmp_path / "in.bin").write_bytes(bytes(6))
    command = [str(executables[16]), "--out", str(tmp_path / "o.bin"),
               "--stats", str(tmp_path / "s.json"), *(a.format(tmp=tmp_path) for a in args)]
    completed = subprocess.run(command, capture_output=True, text=True)
    assert completed.returncode == 2
    assert re.match(message, completed.stderr.strip())


def test_harness_for_another_shape_is_refused(executables):
    wide = stream_io(72, 136)
    with pytest.raises(ValueError, match=r"^the simulation was built for \{'in_bits': 16, "):
        run(executables[16], wide, random_frames(2, 72, seed=7))
