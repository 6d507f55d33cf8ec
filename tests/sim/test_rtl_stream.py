"""Fast tests of sim.rtl: StreamIO, word files, results, argument checks, the sim bundle."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from bitsmith.generator.errors import CheckFailed
from bitsmith.sim.rtl import RunResult, StreamIO, run, steady_state_cycles_per_frame, write_sim_bundle
from bitsmith.sim.rtl.bundle import BUNDLE_FILES
from bitsmith.sim.rtl.stream import decode_words, encode_words, read_result, write_input
from bitsmith.sim.rtl.toolchain import cache_root


def make_io(**changes) -> StreamIO:
    fields = dict(top="dut_top", in_bits=16, out_bits=24, in_words_per_frame=3,
                  out_words_per_frame=2)
    fields.update(changes)
    return StreamIO(**fields)


@pytest.mark.parametrize("changes, error, message", [
    (dict(top=3), TypeError, r"^top must be a string, not 3$"),
    (dict(top="1top"), ValueError, r"^top must be a Verilog identifier, not '1top'$"),
    (dict(in_bits=12), ValueError, r"^in_bits must be a positive multiple of 8, not 12$"),
    (dict(out_bits=0), ValueError, r"^out_bits must be a positive multiple of 8, not 0$"),
    (dict(in_bits=8.0), TypeError, r"^in_bits must be an integer, not 8\.0$"),
    (dict(out_words_per_frame=True), TypeError,
     r"^out_words_per_frame must be an integer, not True$"),
    (dict(in_words_per_frame=0), ValueError, r"^in_words_per_frame must be positive, not 0$"),
])
def test_stream_io_rejects(changes, error, message):
    with pytest.raises(error, match=message):
        make_io(**changes)


def test_stream_io_json_round_trip():
    io = make_io(in_bits=72, out_bits=136)
    assert StreamIO.from_json(json.loads(json.dumps(io.to_json()))) == io


@pytest.mark.parametrize("bits", [8, 16, 24, 56, 64, 72, 136])
def test_words_round_trip_little_endian(bits):
    rng = random.Random(bits)
    words = [0, (1 << bits) - 1] + [rng.getrandbits(bits) for _ in range(50)]
    data = encode_words(words, bits)
    assert data == b"".join(word.to_bytes(bits // 8, "little") for word in words)
    assert decode_words(data, bits) == words


def test_words_from_numpy_array():
    import numpy as np

    words = np.array([1, 2, 65535], dtype=np.int64)
    assert encode_words(words, 16) == bytes([1, 0, 2, 0, 255, 255])


@pytest.mark.parametrize("words, bits, error, message", [
    ([1, 1 << 16], 16, ValueError, r"^word 1 must fit in 16 unsigned bits, not 65536$"),
    ([-1], 64, ValueError, r"^word 0 must fit in 64 unsigned bits, not -1$"),
    ([1 << 72], 72, ValueError,
     r"^word 0 must fit in 72 unsigned bits, not 4722366482869645213696$"),
    ([1.5], 16, TypeError, r"^word 0 must be an integer, not 1\.5$"),
])
def test_words_rejects(words, bits, error, message):
    with pytest.raises(error, match=message):
        encode_words(words, bits)


def test_write_input_checks_frame_length(tmp_path):
    with pytest.raises(ValueError, match=r"^frame 1 must hold 3 words, not 2$"):
        write_input(tmp_path / "in.bin", make_io(), [[1, 2, 3], [4, 5]])


def test_read_result_splits_frames(tmp_path):
    io = make_io(out_bits=136)
    words = [5, 1 << 130, 7]
    (tmp_path / "out.bin").write_bytes(encode_words(words, 136))
    stats = dict(in_bits=16, out_bits=136, in_words_per_frame=3, out_words_per_frame=2,
                 total_cycles=9, protocol_errors=0, tlast_errors=1, extra_words=0,
                 timed_out=True, frame_done_cycles=[4])
    (tmp_path / "stats.json").write_text(json.dumps(stats))
    result = read_result(tmp_path / "out.bin", tmp_path / "stats.json", io)
    assert result == RunResult(out_frames=[[5, 1 << 130], [7]], frame_done_cycles=[4],
                               total_cycles=9, protocol_errors=0, tlast_errors=1,
                               extra_words=0, timed_out=True)
    # A simulation built for another stream shape is refused.
    with pytest.raises(ValueError, match=r"^the simulation was built for \{'in_bits': 16, "
                                         r"'out_bits': 136, .*\}, not for StreamIO\(.*\)$"):
        read_result(tmp_path / "out.bin", tmp_path / "stats.json", make_io(out_bits=24))


def test_steady_state_is_median_of_frame_intervals():
    result = RunResult(out_frames=[], frame_done_cycles=[0, 10, 13, 16, 40, 43],
                       total_cycles=44, protocol_errors=0)
    assert steady_state_cycles_per_frame(result) == 3.0
    with pytest.raises(ValueError, match=r"^steady state needs at least 2 complete frames, not 1$"):
        steady_state_cycles_per_frame(RunResult([[1, 2]], [4], 5, 0))


def test_check_lists_every_problem():
    RunResult([[1, 2]], [4], 5, 0).check()
    bad = RunResult([[1]], [], 77, protocol_errors=2, tlast_errors=1, extra_words=3,
                    timed_out=True)
    assert not bad.ok
    with pytest.raises(CheckFailed, match=(
            r"^RTL run failed: timed out after 77 cycles with 0 complete output frames; "
            r"2 AXI4-Stream protocol violations on m_axis; 1 output words with a wrong tlast; "
            r"3 output words beyond the expected frames$")):
        bad.check()


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(idle="sometimes"), ValueError,
     r"^idle must be one of none, cycle, random, random:P \(P in 0\.\.99\) or stall:RUN:PAUSE "
     r"\(RUN >= 1\), not 'sometimes'$"),
    (dict(idle="random:100"), ValueError, r"^idle must be one of .*, not 'random:100'$"),
    (dict(backpressure="stall:0:5"), ValueError, r"^backpressure must be one of .*, not 'stall:0:5'$"),
    (dict(resets=["in:3"]), TypeError, r"^resets must be ResetAt events, not \['in:3'\]$"),
    (dict(backpressure=1), TypeError, r"^backpressure must be a string, not 1$"),
    (dict(seed=-1), ValueError, r"^seed must be a non-negative 64-bit integer, not -1$"),
    (dict(timeout_cycles=0), ValueError, r"^timeout_cycles must be positive, not 0$"),
    (dict(timeout_cycles=2.5), TypeError,
     r"^timeout_cycles must be an integer or None, not 2\.5$"),
])
def test_run_rejects_arguments(kwargs, error, message, tmp_path):
    with pytest.raises(error, match=message):
        run(tmp_path / "missing", make_io(), [[1, 2, 3]], **kwargs)


def test_cache_root(monkeypatch, tmp_path):
    monkeypatch.delenv("BITSMITH_CACHE", raising=False)
    assert cache_root(None) == Path.home() / ".cache" / "bitsmith" / "verilator"
    monkeypatch.setenv("BITSMITH_CACHE", str(tmp_path))
    assert cache_root(None) == tmp_path / "verilator"
    assert cache_root(tmp_path / "x") == tmp_path / "x"


def test_sim_bundle_files(tmp_path):
    io = make_io(in_bits=72, out_bits=136, in_words_per_frame=5, out_words_per_frame=7)
    written = write_sim_bundle(tmp_path / "sim", "rtl/dut_top.v", io)
    assert [path.name for path in written] == list(BUNDLE_FILES)
    harness = (tmp_path / "sim" / "harness.cpp").read_text()
    for line in ("constexpr int IN_BYTES = 9;", "constexpr int OUT_BYTES = 17;",
                 "constexpr uint64_t IN_WORDS_PER_FRAME = 5;",
                 "constexpr uint64_t OUT_WORDS_PER_FRAME = 7;"):
        assert line in harness
    for script in ("run_harness.py", "run_cocotb.py", "cocotb_tb.py"):
        compile((tmp_path / "sim" / script).read_text(), script, "exec")
    assert 'VERILOG = HERE / "../rtl/dut_top.v"' in (tmp_path / "sim" / "run_cocotb.py").read_text()
    readme = (tmp_path / "sim" / "README.md").read_text()
    command = r"^verilator --cc .* --top-module dut_top .* harness\.cpp \.\./rtl/dut_top\.v$"
    assert re.search(command, readme, re.MULTILINE)


@pytest.mark.parametrize("path, error, message", [
    ("/abs/top.v", ValueError,
     r"^verilog_rel_path must be a relative POSIX path, not '/abs/top\.v'$"),
    ("", ValueError, r"^verilog_rel_path must be a relative POSIX path, not ''$"),
    (Path("top.v"), TypeError, r"^verilog_rel_path must be a string, not PosixPath\('top\.v'\)$"),
])
def test_sim_bundle_rejects_paths(path, error, message, tmp_path):
    with pytest.raises(error, match=message):
        write_sim_bundle(tmp_path, path, make_io())


def test_write_input_from_array(tmp_path):
    import numpy as np

    io = make_io()
    write_input(tmp_path / "a.bin", io, np.array([[1, 2, 3], [4, 5, 65535]], dtype=np.uint16))
    write_input(tmp_path / "b.bin", io, [[1, 2, 3], [4, 5, 65535]])
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()
    with pytest.raises(ValueError, match=r"^frames must have 3 words per row, not 2$"):
        write_input(tmp_path / "c.bin", io, np.zeros((4, 2), dtype=np.int64))


def test_cocotb_bench_shares_the_harness_conventions():
    # sim/cocotb_tb.py is copied into build outputs, so it cannot import sim.rtl;
    # its copies of the shared constants must agree with the harness.
    import bitsmith.sim.cocotb_tb as bench
    from bitsmith.sim.rtl import cocotb_run, harness, stream, toolchain

    assert bench.CONFIG_ENV == cocotb_run.CONFIG_ENV
    assert bench.RESET_CYCLES == toolchain.RESET_CYCLES
    assert bench.PATTERNS == stream.PATTERNS
    text = harness.render_harness(make_io())
    assert f"constexpr int RESET_CYCLES = {bench.RESET_CYCLES};" in text
    assert f"seed ^ {bench.SINK_SEED_SALT:#x}ULL" in text
