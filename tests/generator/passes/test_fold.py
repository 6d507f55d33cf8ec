"""The folding pass picks the cheapest folding that meets the target."""

from __future__ import annotations

import json

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator.errors import FoldingError, OptionError
from bitsmith.generator.estimate import graph_cycles, node_cycles
from bitsmith.generator.ir import Graph, MatrixVector
from bitsmith.generator.passes.fold import Fold, divisors

B = DataType["BIPOLAR"]


def mvau(name, mw, mh, pe=0, simd=0):
    w = np.ones((mh, mw), dtype=np.int64)
    return MatrixVector(name=name, in_shape=(1, 1, mw), in_dtype=B, weights=w, weight_dtype=B,
                        acc_dtype=DataType["UINT16"], thresholds=None, pe=pe, simd=simd)


def graph(*nodes):
    return Graph(name="g", in_shape=nodes[0].in_shape, in_dtype=B, nodes=nodes)


@pytest.mark.parametrize("target", [1, 7, 16, 60, 100, 784 * 10])
def test_auto_folding_meets_target_with_fewest_lanes(target):
    node = mvau("a", 784, 10)
    folded = Fold(target_cycles=target).apply(graph(node)).nodes[0]
    assert node_cycles(folded) <= target
    best = min(p * s for p in divisors(10) for s in divisors(784) if (10 // p) * (784 // s) <= target)
    assert folded.pe * folded.simd == best


def test_auto_layers_follow_the_slowest_fixed_layer():
    g = graph(mvau("a", 64, 64, pe=4, simd=8), mvau("b", 64, 32))
    out = Fold().apply(g)
    assert node_cycles(out.nodes[0]) == (64 // 4) * (64 // 8) == 128
    assert node_cycles(out.nodes[1]) <= 128
    assert graph_cycles(out) == 128


def test_fold_file_overrides_and_rejects_unknown_layers(tmp_path):
    g = graph(mvau("a", 64, 64, pe=1, simd=1))
    f = tmp_path / "fold.json"
    f.write_text(json.dumps({"a": {"pe": 8, "simd": 16}}))
    assert node_cycles(Fold(fold_file=f).apply(g).nodes[0]) == 8 * 4
    f.write_text(json.dumps({"zz": {"pe": 8}}))
    with pytest.raises(OptionError, match=r"^--fold .*fold\.json: no layer named 'zz' \(layers: a\)$"):
        Fold(fold_file=f).apply(g)
    f.write_text(json.dumps({"a": {"pe": 8, "bananas": 2}}))
    with pytest.raises(FoldingError, match=r"layer 'a' takes \['pe', 'simd'\]"):
        Fold(fold_file=f).apply(g)


def test_unreachable_target_is_reported(caplog):
    from bitsmith.generator.ir import LabelSelect
    fc = mvau("a", 8, 4)
    top = LabelSelect(name="top", in_shape=(1, 1, 4), in_dtype=DataType["UINT16"], k=3, pe=0)
    g = Graph(name="g", in_shape=(1, 1, 8), in_dtype=B, nodes=(fc, top))
    with caplog.at_level("WARNING"):
        out = Fold(target_cycles=1).apply(g)
    assert (out.nodes[0].pe, out.nodes[0].simd) == (4, 8)      # the MVAU meets 1 cycle
    # top-K sends K=3 indices per frame: max(C/PE, K+1) = 4 cycles at best
    assert [r.getMessage() for r in caplog.records] == [
        "layer 'top' cannot reach 1 cycles per frame; its fastest folding takes 4"]


def lenet_conv1(pe=0, simd=0):
    from bitsmith.generator.ir.conv import Conv

    w = np.ones((6, 5, 5, 1), dtype=np.int64)
    return Conv(name="c1", in_shape=(28, 28, 1), in_dtype=DataType["UINT8"], weights=w,
                weight_dtype=DataType["INT2"], kernel=(5, 5),
                acc_dtype=Conv.minimal_acc_dtype(w, DataType["INT2"], DataType["UINT8"]), pe=pe, simd=simd)


@pytest.mark.parametrize("target, pe, simd", [
    (14400, 6, 1),          # the channel bound, 24*24*25 cycles, with 6 lanes
    (14399, 2, 5),          # below it only SIMD across the window: a kernel row per word
    (17280, 1, 5),          # 5 lanes beat 6
    (2880, 2, 25),          # a whole window per word
    (1000, 6, 25),          # 28*28 pixels in, one per cycle
])
def test_first_conv_folds_simd_across_the_window(target, pe, simd):
    folded = Fold(target_cycles=target).apply(Graph(name="g", in_shape=(28, 28, 1), in_dtype=DataType["UINT8"],
                                                  nodes=(lenet_conv1(),))).nodes[0]
    folded.check()
    assert (folded.pe, folded.simd) == (pe, simd)
    assert node_cycles(folded) <= target


def test_equal_lanes_prefer_simd_within_a_kernel_position():
    """(PE=2, SIMD=3) and (PE=1, SIMD=6) both have 6 lanes; the line-buffer window wins."""
    from bitsmith.generator.ir.conv import Conv

    w = np.ones((4, 3, 3, 3), dtype=np.int64)
    node = Conv(name="c", in_shape=(8, 8, 3), in_dtype=DataType["UINT2"], weights=w,
                weight_dtype=DataType["INT2"], kernel=(3, 3), pad=(1, 1, 1, 1),
                acc_dtype=Conv.minimal_acc_dtype(w, DataType["INT2"], DataType["UINT2"]), pe=0, simd=0)
    target = node_cycles(node.replace(pe=2, simd=3))
    assert node_cycles(node.replace(pe=1, simd=6)) <= target
    folded = Fold(target_cycles=target).apply(Graph(name="g", in_shape=(8, 8, 3), in_dtype=DataType["UINT2"],
                                                  nodes=(node,))).nodes[0]
    assert folded.pe * folded.simd == 6 and not folded.window_parallel
