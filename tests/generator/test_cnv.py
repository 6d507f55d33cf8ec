"""FINN's CNV topology (issue 3 item 8): golden model checks, and RTL == golden in Verilator."""

from __future__ import annotations

import numpy as np
import pytest

from bitsmith.generator.estimate import graph_cycles, node_cycles
from bitsmith.generator.examples.cnv import cnv_graph, cnv_inputs
from bitsmith.generator.ir import MatrixVector
from bitsmith.generator.ir.conv import Conv, MaxPool
from bitsmith.sim.golden import run_graph

SHAPES = [(30, 30, 64), (28, 28, 64), (14, 14, 64), (12, 12, 128), (10, 10, 128), (5, 5, 128),
          (3, 3, 256), (1, 1, 256), (1, 1, 512), (1, 1, 512), (1, 1, 10)]


@pytest.mark.parametrize("precision", ["w1a1", "w2a2"])
def test_topology_and_folding(precision):
    graph = cnv_graph(precision)
    assert [tuple(n.out_shape) for n in graph.nodes] == SHAPES
    kinds = [type(n) for n in graph.nodes]
    assert kinds == [Conv, Conv, MaxPool, Conv, Conv, MaxPool, Conv, Conv] + [MatrixVector] * 3
    assert graph_cycles(graph) <= 65536
    assert all(node_cycles(n) <= 65536 for n in graph.nodes)
    if precision == "w1a1":
        assert all(n.xnor for n in graph.nodes[1:] if isinstance(n, (Conv, MatrixVector)))


@pytest.mark.parametrize("precision", ["w1a1", "w2a2"])
def test_outputs_differ_between_images(precision):
    """The calibrated thresholds keep the random network from collapsing to a constant."""
    y = run_graph(cnv_graph(precision), cnv_inputs(6, seed=3)).reshape(6, -1)
    assert len({tuple(row) for row in y.tolist()}) == 6


@pytest.mark.verilator
@pytest.mark.parametrize("precision", ["w1a1", "w2a2"])
def test_rtl_equals_golden(precision, tmp_path):
    from bitsmith.generator.build import write_bundle
    from bitsmith.generator.execute import run_verilator

    graph = cnv_graph(precision)
    built = write_bundle(graph, tmp_path / graph.name)
    x = cnv_inputs(4, seed=7)
    golden = run_graph(graph, x)
    rtl = run_verilator(tmp_path / graph.name, built.io, x)
    assert rtl.protocol_errors == 0
    bad = np.argwhere(rtl.outputs != golden)
    assert bad.size == 0, (f"frame {bad[0][0]}, index {tuple(bad[0][1:])}: expected "
                           f"{golden[tuple(bad[0])]}, got {rtl.outputs[tuple(bad[0])]}")
    # steady state at the folding bound: median, mean and longest gap
    assert (rtl.cycles_per_frame, rtl.mean_cycles_per_frame, rtl.longest_frame_gap) == \
        (graph_cycles(graph),) * 3


def small_conv_net():
    """Every conv layer kind in one small net: conv(pad), maxpool, depthwise, a residual
    subgraph (fork, two convs, add), global pool."""
    from bitsmith.generator.ir import Add, Fork, Graph, Thresholds
    from bitsmith.generator.ir.conv import GlobalAccPool
    from qonnx.core.datatype import DataType as DT

    rng = np.random.default_rng(11)

    def conv(name, shape, oc, kernel, pad, pe, simd, depthwise=False, thresholds=True):
        ic = shape[2]
        w = rng.integers(-2, 2, size=(ic, *kernel, 1) if depthwise else (oc, *kernel, ic))
        th = Thresholds(values=np.sort(rng.integers(-3, 4, size=(w.shape[0], 3)), axis=1),
                        out_dtype=DT["UINT2"]) if thresholds else None
        return Conv(name=name, in_shape=shape, in_dtype=DT["UINT2"], weights=w, weight_dtype=DT["INT2"],
                    kernel=kernel, pad=pad, acc_dtype=Conv.minimal_acc_dtype(w, DT["INT2"], DT["UINT2"]),
                    thresholds=th, pe=pe, simd=simd, depthwise=depthwise)

    c0 = conv("c0", (6, 6, 3), 4, (3, 3), (1, 1, 1, 1), 2, 3)
    p0 = MaxPool(name="p0", in_shape=(6, 6, 4), in_dtype=DT["UINT2"], kernel=(2, 2), stride=(2, 2), pe=2)
    dw = conv("dw", (3, 3, 4), 4, (3, 3), (1, 1, 1, 1), 2, 1, depthwise=True)
    fork = Fork(name="res_fork", in_shape=(3, 3, 4), in_dtype=DT["UINT2"], pe=2)
    ra = conv("ra", (3, 3, 4), 4, (1, 3), (0, 1, 0, 1), 1, 4)
    rb = conv("rb", (3, 3, 4), 4, (1, 1), (0, 0, 0, 0), 2, 2)
    res = Add(name="res", in_shape=(3, 3, 4), in_dtype=rb.out_dtype, in_dtype_b=DT["UINT2"],
              inputs=("rb", "res_fork"), pe=2)
    gp = GlobalAccPool(name="gp", in_shape=(3, 3, 4), in_dtype=res.out_dtype, pe=4)
    graph = Graph(name="small_conv", in_shape=(6, 6, 3), in_dtype=DT["UINT2"],
                  nodes=(c0, p0, dw, fork, ra, rb, res, gp))
    graph.check()
    return graph


@pytest.mark.verilator
def test_small_conv_net_rtl_under_idle_and_backpressure(tmp_path):
    from bitsmith.generator.build import write_bundle
    from bitsmith.generator.execute import run_verilator

    graph = small_conv_net()
    built = write_bundle(graph, tmp_path / graph.name)
    x = np.random.default_rng(12).integers(0, 4, size=(6, 6, 6, 3))
    golden = run_graph(graph, x)
    for idle in ("none", "cycle", "random"):
        for backpressure in ("none", "cycle", "random"):
            rtl = run_verilator(tmp_path / graph.name, built.io, x, idle=idle, backpressure=backpressure)
            assert rtl.protocol_errors == 0
            bad = np.argwhere(rtl.outputs != golden)
            assert bad.size == 0, (idle, backpressure, f"frame {bad[0][0]}: expected "
                                   f"{golden[tuple(bad[0])]}, got {rtl.outputs[tuple(bad[0])]}")
            if idle == backpressure == "none":
                assert (rtl.cycles_per_frame, rtl.mean_cycles_per_frame, rtl.longest_frame_gap) == \
                    (graph_cycles(graph),) * 3
