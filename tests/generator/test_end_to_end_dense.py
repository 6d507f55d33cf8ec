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

from generator.build import write_bundle
from generator.ir import LabelSelect
from generator.estimate import graph_cycles
from generator.execute import compare, frames_to_words, run_amaranth, run_verilator, words_to_frames
from generator.ir import Graph, MatrixVector, Thresholds
from generator.ir.host import ToNHWC
from sim.golden import run_graph

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
    return out


def random_frames(g, n, seed):
    return np.random.default_rng(seed).choice([-1, 1], (n,) + tuple(g.in_shape))


@pytest.mark.verilator
@pytest.mark.parametrize("config", list(CONFIGS))
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
@pytest.mark.parametrize("config", list(CONFIGS))
def test_steady_state_cycles_equal_the_folding_bound(builds, config):
    g, built = builds[config]
    run = run_verilator(built.out_dir, built.io, random_frames(g, 300, seed=1))
    bound = max(n.cycles_per_vector() for n in g.nodes if isinstance(n, MatrixVector))
    assert graph_cycles(g) >= bound
    assert run.cycles_per_frame == graph_cycles(g)


@pytest.mark.parametrize("config", list(CONFIGS))
def test_amaranth_simulation_matches_golden(builds, config):
    g, _ = builds[config]
    x = random_frames(g, 1000, seed=11)
    run = run_amaranth(g, x)
    assert compare(run_graph(g, x), run.outputs) == []


@pytest.mark.verilator
@pytest.mark.parametrize("idle,bp", [("none", "none"), ("cycle", "random"), ("random", "cycle")])
def test_cocotb_testbench_matches_golden(builds, idle, bp):
    from sim.rtl import run_cocotb
    from generator.build import io_of
    g, built = builds["non_power_of_two"]
    x = random_frames(g, 150, seed=5)
    res = run_cocotb(built.out_dir / built.io["verilog"], io_of(built.io), frames_to_words(x, built.io),
                     idle=idle, backpressure=bp, seed=2)
    assert res.protocol_errors == 0
    assert compare(run_graph(g, x), words_to_frames(res.out_frames, built.io)) == []
