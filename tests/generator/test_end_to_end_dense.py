"""Golden == Amaranth simulation == Verilator on random dense networks.

Every configuration runs >= 1,000 random frames through the Verilator bulk harness under
each source-idle x sink-backpressure pair, through the Amaranth simulator, and a subset
through the cocotb testbench; steady-state cycles per frame must equal the folding bound.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator.build import write_bundle
from bitsmith.generator.ir import LabelSelect
from bitsmith.generator.estimate import graph_cycles
from bitsmith.generator.execute import compare, frames_to_words, run_amaranth, run_verilator, words_to_frames
from bitsmith.generator.ir import Graph, MatrixVector, Thresholds
from bitsmith.generator.ir.host import ToNHWC
from bitsmith.sim.golden import run_graph

B = DataType["BIPOLAR"]
PATTERNS = ("none", "cycle", "random")


def random_bnn(rng, sizes, folds, *, topk=None, name="net"):
    """An XNOR MLP: BIPOLAR hidden layers with random popcount thresholds, raw last layer."""
    nodes = []
    for k, ((mw, mh), (pe, simd)) in enumerate(zip(zip(sizes[:-1], sizes[1:]), folds)):
        w = rng.choice([-1, 1], (mh, mw))
        last = k == len(sizes) - 2
        th = None if last else Thresholds(values=rng.integers(0, mw + 1, (mh, 1)), out_dtype=B,
                                          out_scale=2, out_bias=-1)
        nodes.append(MatrixVector(name=f"fc{k}", in_shape=(1, 1, mw), in_dtype=B, weights=w,
                                  weight_dtype=B, acc_dtype=MatrixVector.minimal_acc_dtype(w, B, B),
                                  thresholds=th, pe=pe, simd=simd))
    if topk:
        nodes.append(LabelSelect(name="topk", in_shape=(1, 1, sizes[-1]), in_dtype=nodes[-1].out_dtype,
                                 k=topk, pe=1))
    g = Graph(name=name, in_shape=(1, 1, sizes[0]), in_dtype=B, nodes=tuple(nodes),
              host_pre=(ToNHWC(shape=(1, 1, sizes[0])),))
    g.check()
    return g


def random_values(rng, dt, shape):
    if dt.name == "BIPOLAR":
        return rng.choice([-1, 1], shape)
    return rng.integers(dt.min(), dt.max() + 1, shape)


def random_thresholds(rng, acc_lo, acc_hi, channels, out_dtype, bias):
    """Sorted random thresholds inside the accumulator range, one output level per step."""
    steps = 1 if out_dtype.name == "BIPOLAR" else int(out_dtype.max() - out_dtype.min())
    t = np.sort(rng.integers(acc_lo, acc_hi + 1, (channels, steps)), axis=1)
    if out_dtype.name == "BIPOLAR":
        return Thresholds(values=t, out_dtype=out_dtype, out_scale=2, out_bias=-1)
    return Thresholds(values=t, out_dtype=out_dtype, out_scale=1, out_bias=bias)


def random_int_net(rng, in_dtype, layers, *, name):
    """layers: (kind, features, weight dtype or None, out dtype or None, out bias, pe, simd)."""
    from bitsmith.generator.ir import MultiThreshold, accumulator_range
    nodes, shape, dt = [], (1, 1, layers[0][1] if layers[0][0] == "thr" else None), in_dtype
    channels = None
    for k, (kind, features, wdt, odt, bias, pe, simd) in enumerate(layers):
        if kind == "thr":
            channels = features
            th = random_thresholds(rng, dt.min(), dt.max(), 1 if k % 2 else channels, odt, bias)
            nodes.append(MultiThreshold(name=f"thr{k}", in_shape=(1, 1, channels), in_dtype=dt,
                                        thresholds=th, pe=pe))
        else:
            mw = channels
            w = random_values(rng, wdt, (features, mw))
            lo, hi = accumulator_range(w, wdt, dt)
            th = None if odt is None else random_thresholds(rng, lo, hi, features, odt, bias)
            nodes.append(MatrixVector(name=f"fc{k}", in_shape=(1, 1, mw), in_dtype=dt, weights=w,
                                      weight_dtype=wdt, acc_dtype=MatrixVector.minimal_acc_dtype(w, wdt, dt),
                                      thresholds=th, pe=pe, simd=simd))
            channels = features
        dt = nodes[-1].out_dtype
    first = layers[0][1]
    g = Graph(name=name, in_shape=(1, 1, first), in_dtype=in_dtype, nodes=tuple(nodes),
              host_pre=(ToNHWC(shape=(1, 1, first)),))
    g.check()
    return g


D = DataType
INT_CONFIGS = {
    # standalone thresholds INT8 -> UINT3, INT4 x UINT3 MACs, TERNARY x UINT3 -> INT2 (bias -2),
    # BIPOLAR weights x INT2 inputs -> raw accumulator
    "int_mixed": (D["INT8"], [("thr", 12, None, D["UINT3"], 0, 4, None),
                              ("fc", 9, D["INT4"], D["UINT3"], 0, 3, 4),
                              ("fc", 6, D["TERNARY"], D["INT2"], -2, 2, 3),
                              ("fc", 5, D["BIPOLAR"], None, 0, 5, 2)]),
    # 8-bit x 8-bit MACs, fully folded, BIPOLAR output thresholds, then BINARY-input layer
    "int8_folded": (D["INT8"], [("thr", 4, None, D["INT8"], -128, 1, None),
                                ("fc", 3, D["INT8"], D["BIPOLAR"], 0, 1, 1),
                                ("fc", 4, D["UINT2"], None, 0, 1, 3)]),
}

CONFIGS = {
    # name: (sizes, folds)
    "fully_folded": ((15, 6, 4), ((1, 1), (1, 1))),
    "fully_unrolled": ((16, 8, 5), ((8, 16), (5, 8))),
    "non_power_of_two": ((15, 6, 9), ((3, 5), (3, 2))),
    "mixed": ((64, 32, 10), ((4, 16), (5, 8))),
}


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    out = {}
    for i, (name, (sizes, folds)) in enumerate(CONFIGS.items()):
        rng = np.random.default_rng(100 + i)
        g = random_bnn(rng, sizes, folds, topk=2 if name == "mixed" else None, name=name)
        d = tmp_path_factory.mktemp(name)
        out[name] = (g, write_bundle(g, d / "out"))
    for i, (name, (in_dtype, layers)) in enumerate(INT_CONFIGS.items()):
        g = random_int_net(np.random.default_rng(200 + i), in_dtype, layers, name=name)
        out[name] = (g, write_bundle(g, tmp_path_factory.mktemp(name) / "out"))
    return out


def random_frames(g, n, seed):
    return random_values(np.random.default_rng(seed), g.in_dtype, (n,) + tuple(g.in_shape))


ALL = list(CONFIGS) + list(INT_CONFIGS)


@pytest.mark.verilator
@pytest.mark.parametrize("config", ALL)
def test_verilator_matches_golden_under_all_idle_and_backpressure(builds, config):
    g, built = builds[config]
    x = random_frames(g, 1000, seed=7)
    golden = run_graph(g, x)
    for idle in PATTERNS:
        for bp in PATTERNS:
            run = run_verilator(built.out_dir, built.io, x, idle=idle, backpressure=bp, seed=3)
            assert run.protocol_errors == 0, (idle, bp)
            assert compare(golden, run.outputs) == [], (idle, bp)


@pytest.mark.verilator
@pytest.mark.parametrize("config", ALL)
def test_steady_state_cycles_equal_the_folding_bound(builds, config):
    g, built = builds[config]
    run = run_verilator(built.out_dir, built.io, random_frames(g, 300, seed=1))
    bound = max((n.out_features // n.pe) * (n.in_features // n.simd)
                if isinstance(n, MatrixVector) else n.in_shape[2] // n.pe for n in g.nodes)
    assert graph_cycles(g) == bound
    assert (run.cycles_per_frame, run.mean_cycles_per_frame, run.longest_frame_gap) == (bound,) * 3


@pytest.mark.parametrize("config", ALL)
def test_amaranth_simulation_matches_golden(builds, config):
    g, _ = builds[config]
    x = random_frames(g, 1000, seed=11)
    run = run_amaranth(g, x)
    assert compare(run_graph(g, x), run.outputs) == []


@pytest.mark.verilator
@pytest.mark.parametrize("idle,bp", [("none", "none"), ("cycle", "random"), ("random", "cycle")])
def test_cocotb_testbench_matches_golden(builds, idle, bp):
    from bitsmith.sim.rtl import run_cocotb
    from bitsmith.generator.build import io_of
    g, built = builds["non_power_of_two"]
    x = random_frames(g, 150, seed=5)
    res = run_cocotb(built.out_dir / built.io["verilog"], io_of(built.io), frames_to_words(x, built.io),
                     idle=idle, backpressure=bp, seed=2)
    assert res.protocol_errors == 0
    assert compare(run_graph(g, x), words_to_frames(res.out_frames, built.io)) == []
