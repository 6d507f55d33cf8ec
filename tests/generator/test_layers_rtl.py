"""Networks of every new layer kind (:mod:`layer_nets`): golden == Amaranth simulation ==
Verilator, and the measured steady-state cycles per frame == the folding's ideal cycles
(FIFOs sized by the units' schedules), at several foldings."""

from __future__ import annotations

import numpy as np
import pytest

from bitsmith.generator.build import BuildOptions, prepare, write_bundle
from bitsmith.generator.estimate import graph_cycles
from bitsmith.generator.execute import run_amaranth, run_verilator
from bitsmith.sim.golden import run_graph

from layer_nets import NETS, inputs


@pytest.mark.parametrize("net, target", [("image", 4096), ("image", 150), ("sequence", 512),
                                         ("sequence", 40)])
def test_golden_equals_amaranth(net, target):
    graph = prepare(NETS[net](), BuildOptions(target_cycles=target))
    graph.check()
    x = inputs(graph, 2, 1)
    run = run_amaranth(graph, x)
    np.testing.assert_array_equal(run.outputs, run_graph(graph, x))


@pytest.mark.verilator
@pytest.mark.parametrize("net, target", [("image", 4096), ("image", 150), ("sequence", 512),
                                         ("sequence", 40)])
def test_golden_equals_verilator_at_the_ideal_rate(net, target, tmp_path):
    graph = prepare(NETS[net](), BuildOptions(target_cycles=target))
    graph.check()
    if target == 150:
        assert graph.nodes[0].window_parallel         # the first conv folds across its window
    built = write_bundle(graph, tmp_path / net)
    x = inputs(graph, 6, 2)
    golden = run_graph(graph, x)
    rtl = run_verilator(tmp_path / net, built.io, x, idle="none", backpressure="none")
    assert rtl.protocol_errors == 0
    bad = np.argwhere(rtl.outputs != golden)
    assert bad.size == 0, (f"frame {bad[0][0]}, index {tuple(bad[0][1:])}: expected "
                           f"{golden[tuple(bad[0])]}, got {rtl.outputs[tuple(bad[0])]}")
    assert rtl.cycles_per_frame == graph_cycles(graph)
    again = run_verilator(tmp_path / net, built.io, x, idle="random", backpressure="random", seed=5)
    np.testing.assert_array_equal(again.outputs, golden)
