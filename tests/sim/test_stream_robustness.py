"""Stream robustness of generated designs in the bulk Verilator harness.

* idle and backpressure from 0 to 95 % of the cycles and long stalls (hundreds of cycles);
* synchronous reset in the middle of a frame, on the input side (while words enter) and
  on the output side (while the sink stalls a pending output word), after which the
  frames sent after the reset must come out exactly as the golden model says: no stale,
  lost or duplicated data;
* 100,000 frames through the digits demo and FINN's TFC-w1a1 at FINN's folding;
* the steady-state timing statistics (median, mean, longest gap) and a design that
  stalls every third frame or has a mis-sized FIFO failing the measured == ideal check.

Designs are the bundled examples built as the other tests build them, so their
Verilator builds are shared through the cache.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from bitsmith.generator.build import BuildOptions, io_of, load_model, prepare, write_bundle
from bitsmith.generator.cli import main
from bitsmith.generator.estimate import graph_cycles
from bitsmith.generator.execute import frames_to_bytes, run_amaranth, words_to_frames
from bitsmith.sim.golden import run_graph
from bitsmith.sim.rtl import FrameTiming, ResetAt, build, frame_timing, run
from frame_dut import STALL3_CYCLES, expected_frames, stream_io
from tests import rtl_checks

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "generator" / "examples"
MNIST = dict(input_dtype="UINT8", input_scale=1 / 255, topk=1)
DESIGNS = {
    "digits": (EXAMPLES / "digits" / "digits.yaml", dict(topk=1)),
    "tfc_w1a1": (ROOT / "tests" / "models" / "TFC_1W1A.onnx",
                 dict(MNIST, fold=str(EXAMPLES / "tfc" / "finn_folding.json"))),
    "digits_cnn": (EXAMPLES / "digits_cnn" / "digits_cnn.yaml", dict(topk=1)),
    "digits_sparse": (EXAMPLES / "digits_sparse" / "digits_sparse.yaml", dict(topk=1)),
}


@dataclass
class Design:
    graph: object
    io: dict
    exe: Path

    @property
    def sio(self):
        return io_of(self.io)

    def frames(self, count: int, seed: int = 0) -> np.ndarray:
        """``count`` random frames of the design's input datatype."""
        rng = np.random.default_rng(seed)
        dt = self.graph.in_dtype
        shape = (count,) + tuple(self.graph.in_shape)
        if dt.name == "BIPOLAR":
            return rng.choice(np.array([-1, 1], dtype=np.int8), shape)
        return rng.integers(int(dt.min()), int(dt.max()) + 1, shape, dtype=np.int16)

    def run(self, x: np.ndarray, **kwargs):
        return run(self.exe, self.sio, frames_to_bytes(x, self.io), **kwargs)


@pytest.fixture(scope="module")
def designs(tmp_path_factory):
    built = {}

    def get(name: str) -> Design:
        if name not in built:
            model, options = DESIGNS[name]
            opts = BuildOptions(**options)
            graph = prepare(load_model(model, opts), opts)
            bundle = write_bundle(graph, tmp_path_factory.mktemp(name) / graph.name)
            exe = build(bundle.out_dir / bundle.io["verilog"], io_of(bundle.io))
            built[name] = Design(graph, bundle.io, exe)
        return built[name]
    return get


def check_outputs(design: Design, x: np.ndarray, result) -> int:
    return rtl_checks.check_outputs(design.graph, design.io, x, result)


# --------------------------------------------------------------------------- idle / backpressure

PATTERN_PAIRS = ([(f"random:{p}", "none") for p in (10, 50, 90, 95)]
                 + [("none", f"random:{p}") for p in (10, 50, 90, 95)]
                 + [(f"random:{p}", f"random:{p}") for p in (25, 75, 95)]
                 + [("stall:64:400", "none"), ("none", "stall:5:300"), ("stall:17:250", "stall:3:700"),
                    ("random:0", "random:0")])
FRAMES = {"digits": 2000, "tfc_w1a1": 300, "digits_cnn": 40, "digits_sparse": 150}


@pytest.mark.verilator
@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_idle_and_backpressure_up_to_95_percent_and_long_stalls(designs, name):
    design = designs(name)
    x = design.frames(FRAMES[name], seed=1)
    for k, (idle, backpressure) in enumerate(PATTERN_PAIRS):
        result = design.run(x, idle=idle, backpressure=backpressure, seed=k)
        assert check_outputs(design, x, result) == len(x), (idle, backpressure)


@pytest.mark.verilator
def test_patterns_pause_as_specified(dut_verilog, sim_cache):
    """The tiny frame DUT (3 input words, 2 output words per frame) under the new patterns."""
    io = stream_io(16, 24)
    exe = build(dut_verilog(16, 24), io, sim_cache)
    rng = random.Random(0)
    frames = [[rng.getrandbits(16) for _ in range(3)] for _ in range(60)]
    # 3 words, then 300 idle cycles: one frame every 303 cycles
    result = run(exe, io, frames, "stall:3:300", "none")
    assert result.out_frames == expected_frames(frames, 24)
    assert set(np.diff(result.frame_done_cycles).tolist()) == {303}
    # the sink takes 2 words, then stalls 200 cycles: one frame every 202 cycles
    result = run(exe, io, frames, "none", "stall:2:200")
    assert set(np.diff(result.frame_done_cycles[1:]).tolist()) == {202}
    # random:0 never pauses (the unstalled schedule); random:95 pauses most cycles
    assert run(exe, io, frames, "random:0", "random:0").frame_done_cycles == [4 + 3 * k for k in range(60)]
    slow = run(exe, io, frames, "random:95", "none", seed=4)
    assert slow.out_frames == expected_frames(frames, 24)
    assert 0.9 < 1 - 3 * len(frames) / slow.total_cycles < 0.99       # the source idles ~95 %


# --------------------------------------------------------------------------- reset mid-frame

def reset_plans(design: Design) -> dict[str, list[ResetAt]]:
    win, wout = design.io["in"]["words_per_frame"], design.io["out"]["words_per_frame"]
    mid_in = win // 2 if win > 1 else 0
    stall = 3 * graph_cycles(design.graph) + 50     # long enough for the next output word
    return {
        "input_mid_frame": [ResetAt("in", 3 * win + max(1, mid_in))],
        "output_stalled": [ResetAt("out", 5 * wout + wout // 2 if wout > 1 else 5, stall=stall)],
        "three": [ResetAt("in", 2 * win + max(1, mid_in)), ResetAt("out", 10 * wout, stall=37),
                  ResetAt("in", 20 * win + max(1, mid_in))],
    }


@pytest.mark.verilator
@pytest.mark.parametrize("patterns", [("none", "none"), ("random:30", "random:30")], ids=["steady", "random"])
@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_reset_in_the_middle_of_the_traffic(designs, name, patterns):
    design = designs(name)
    x = design.frames(40, seed=2)
    win = design.io["in"]["words_per_frame"]
    for plan, events in reset_plans(design).items():
        result = design.run(x, idle=patterns[0], backpressure=patterns[1], seed=5, resets=events)
        rtl_checks.check_resets(design.graph, design.io, x, result, events)
        first = result.resets[0]
        if plan == "input_mid_frame" and patterns[0] == "none":
            assert first["input_holding"], first            # the source offered the next word
            assert win == 1 or first["in_words"] % win, first   # inside a frame
        if plan == "output_stalled":
            assert first["output_pending"], first           # m_axis held a word under the stall


# --------------------------------------------------------------------------- 100,000 frames

@pytest.mark.verilator
@pytest.mark.parametrize("name", ["digits", "tfc_w1a1"])
def test_100k_frames_through_the_bulk_harness(designs, name):
    design = designs(name)
    frames, chunk = 100_000, 10_000
    start = time.perf_counter()
    x = design.frames(frames, seed=7)
    words = np.concatenate([frames_to_bytes(x[k:k + chunk], design.io) for k in range(0, frames, chunk)])
    packed = time.perf_counter()
    result = run(design.exe, design.sio, words)
    simulated = time.perf_counter()
    result.check()
    assert len(result.out_frames) == frames
    got = words_to_frames(result.out_frames, design.io)
    for k in range(0, frames, chunk):
        want = run_graph(design.graph, x[k:k + chunk])
        bad = np.argwhere(got[k:k + chunk] != want)
        assert bad.size == 0, f"frame {k + bad[0][0]}: expected {want[tuple(bad[0])]}"
    ideal = graph_cycles(design.graph)
    assert frame_timing(result.frame_done_cycles) == FrameTiming(ideal, ideal, ideal)
    print(f"{name}: {frames} frames, {result.total_cycles} cycles, pack {packed - start:.1f} s, "
          f"Verilator {simulated - packed:.1f} s, check {time.perf_counter() - simulated:.1f} s")


# --------------------------------------------------------------------------- timing statistics

def test_frame_timing_over_the_steady_part():
    assert frame_timing([100, 116, 132, 148, 164]) == FrameTiming(16.0, 16.0, 16)
    # the pipeline fill (first quarter of the frames) is not part of the steady state
    assert frame_timing([10, 50, 66, 82, 98, 114, 130, 146]) == FrameTiming(16.0, 16.0, 16)
    # a stall every third frame: the median stays at 16, the mean and longest gap do not
    stalled = np.cumsum([100] + [16, 16, 32] * 8).tolist()     # 25 frames: 6 gaps of fill
    assert frame_timing(stalled) == FrameTiming(16.0, pytest.approx(64 / 3), 32)
    with pytest.raises(ValueError, match=r"^frame timing needs at least 3 complete frames, not 2$"):
        frame_timing([1, 2])


@pytest.mark.verilator
def test_a_design_that_stalls_every_third_frame_fails_the_timing_check(dut_verilog, sim_cache):
    io = stream_io(16, 24)
    rng = random.Random(1)
    # 89 frames: the steady part is the last 66 gaps, 22 whole periods of 3 frames
    frames = [[rng.getrandbits(16) for _ in range(3)] for _ in range(89)]
    good = run(build(dut_verilog(16, 24), io, sim_cache), io, frames)
    stalled = run(build(dut_verilog(16, 24, bug="stall3"), io, sim_cache), io, frames)
    assert stalled.out_frames == good.out_frames == expected_frames(frames, 24)   # right data
    ideal = 3                                      # 3 input words per frame, one per cycle
    assert frame_timing(good.frame_done_cycles) == FrameTiming(ideal, ideal, ideal)
    timing = frame_timing(stalled.frame_done_cycles)
    assert timing.median == ideal                  # a median-only check would pass ...
    assert (timing.mean, timing.longest_gap) == (pytest.approx(ideal + STALL3_CYCLES / 3),
                                                 ideal + STALL3_CYCLES)   # ... these do not
    assert timing != FrameTiming(ideal, ideal, ideal)


def test_a_mis_sized_fifo_fails_the_timing_check():
    """TFC-w1a1 at FINN's folding: the FIFO in front of MVAU0 (which reads its whole input
    vector in its first neuron fold) cut to 3 words slows every frame from 64 to 88 cycles."""
    model, options = DESIGNS["tfc_w1a1"]
    opts = BuildOptions(**options)
    graph = prepare(load_model(model, opts), opts)
    x = np.random.default_rng(3).integers(0, 256, (16,) + tuple(graph.in_shape))
    sized = run_amaranth(graph, x)
    assert (sized.cycles_per_frame, sized.mean_cycles_per_frame, sized.longest_frame_gap) == (64,) * 3
    first = graph.fifos[0]                         # the FIFO into the second stage, MVAU0
    assert first.dst == graph.nodes[1].name and first.depth > 3
    small = run_amaranth(graph.replace(fifos=(replace(first, depth=3),) + graph.fifos[1:]), x)
    assert np.array_equal(small.outputs, sized.outputs)
    assert (small.cycles_per_frame, small.mean_cycles_per_frame, small.longest_frame_gap) == (88,) * 3


@pytest.mark.verilator
def test_verify_json_reports_median_mean_and_longest_gap(tmp_path, capsys):
    model, _ = DESIGNS["digits"]
    x = np.where(np.random.default_rng(4).random((50, 64)) < 0.5, -1, 1).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert main(["verify", str(model), "--input", str(tmp_path / "x.npy"), "--topk", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ideal_cycles_per_frame"] == 16
    assert (report["cycles_per_frame"], report["mean_cycles_per_frame"], report["longest_frame_gap"]) == \
        (16, 16, 16)
