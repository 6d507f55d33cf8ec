"""Lowered pooling, upsampling, 1-D and window-parallel conv layers vs the golden model.

Each layer runs in the Amaranth simulator (hw.top.Dataflow of its stages): outputs equal
``bitsmith.sim.golden`` exactly, and with an always-valid source and always-ready sink
the steady-state spacing of output frames equals ``bitsmith.generator.estimate``'s ideal
cycles.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator.build import sized
from bitsmith.generator.estimate import node_cycles, node_resources
from bitsmith.generator.ir import Graph
from bitsmith.generator.ir.conv import MaxPool
from bitsmith.generator.ir.pool import AvgPool
from bitsmith.generator.ir.resize import Upsample
from bitsmith.generator.lowering import lower_node
from tests.hw.test_conv_layers import conv, run_layer, steady_period

DT = DataType


def check(node, seed=0):
    node.check()
    run_layer(node, idle="random", backpressure="random", seed=seed)
    assert steady_period(node) == node_cycles(node)


# --- SIMD across the im2col window ---------------------------------------------------------------

@pytest.mark.parametrize("case", [
    dict(in_shape=(7, 7, 1), oc=6, kernel=(5, 5), pe=6, simd=25),                      # LeNet-5 style
    dict(in_shape=(7, 7, 1), oc=6, kernel=(5, 5), pe=2, simd=5),                       # MVAU bound
    dict(in_shape=(6, 6, 3), oc=4, pad=(1, 1, 1, 1), pe=4, simd=27),                   # window bound
    dict(in_shape=(6, 6, 3), oc=4, pad=(1, 1, 1, 1), pe=1, simd=9),                    # MVAU bound
    dict(in_shape=(7, 6, 3), oc=4, kernel=(5, 5), stride=(2, 2), pad=(2, 2, 2, 2), pe=2, simd=5),
    dict(in_shape=(7, 6, 3), oc=2, kernel=(5, 5), stride=(2, 2), pad=(2, 2, 2, 2), pe=2, simd=25),
    dict(in_shape=(6, 6, 2), oc=4, wdt="BIPOLAR", xdt="BIPOLAR", pe=1, simd=6),        # XNOR
    dict(in_shape=(9, 1, 2), oc=4, kernel=(3, 1), stride=(2, 1), pad=(1, 0, 1, 0), pe=2, simd=3),  # 1-D
    dict(in_shape=(5, 5, 2), oc=3, thr=False, pe=3, simd=18),                          # raw accumulator
], ids=["lenet_pe6", "lenet_pe2", "whole_window", "row_pe1", "5x5_s2_straddle", "5x5_s2_rows", "xnor",
        "conv1d", "raw"])
def test_window_parallel_conv(case):
    node = conv(np.random.default_rng(21), **case)
    assert node.window_parallel
    check(node, seed=22)


def test_window_parallel_conv_reaches_below_the_channel_bound():
    """LeNet-5's first layer (28x28x1, 5x5, 6 maps): SIMD=1 cannot go under 24*24*25 cycles,
    SIMD=25 across the window takes one input pixel per cycle."""
    rng = np.random.default_rng(0)
    by_channel = conv(rng, (28, 28, 1), 6, kernel=(5, 5), pe=6, simd=1)
    across = conv(rng, (28, 28, 1), 6, kernel=(5, 5), pe=6, simd=25)
    assert node_cycles(by_channel) == 24 * 24 * 25
    assert node_cycles(across) == 28 * 28
    assert node_resources(across).luts > 0


@pytest.mark.parametrize("case, less", [
    (dict(in_shape=(7, 6, 3), oc=4, kernel=(5, 5), stride=(2, 2), pad=(2, 2, 2, 2), pe=2, simd=5), 1),
    (dict(in_shape=(7, 7, 1), oc=6, kernel=(5, 5), pe=1, simd=5), 2),
], ids=["5x5_s2_straddle", "lenet_pe1"])
def test_schedule_sizes_the_parallel_window_fifo(case, less):
    """The FIFO into the MVAU holds the windows the MVAU starts while the window unit walks
    padding, skipped rows and the next frame's first rows: the schedule's depth keeps the
    ideal rate and ``less`` words fewer do not (the straddling case is exact; without
    padding the 5 words the model asks of a memory FIFO also fit a 4-word register
    slice, whose room comes a cycle sooner). The closed formula this replaced gave 48
    and 23 words."""
    node = conv(np.random.default_rng(21), **case)
    graph = sized(Graph(name="layer", in_shape=node.in_shape, in_dtype=node.in_dtype, nodes=(node,)))
    into = next(f for f in graph.fifos if f.dst == node.name)
    assert into.src == f"{node.name}_swu" and into.depth > 3

    def period(depth):
        fifos = tuple(replace(f, depth=depth) if f is into else f for f in graph.fifos)
        return steady_period(node, frames=5, graph=graph.replace(fifos=fifos))

    assert period(into.depth) == node_cycles(node)
    assert period(into.depth - less) > node_cycles(node)


# --- pooling -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dt, kernel, stride, pad, ceil_mode, pe", [
    ("INT4", (3, 3), (2, 2), (1, 1, 1, 1), False, 2),      # the ResNet stem's pool
    ("UINT3", (3, 3), (2, 2), (1, 1, 1, 1), True, 4),
    ("BIPOLAR", (2, 2), (2, 2), (0, 0, 0, 0), True, 2),    # ceil mode: -1 overhang
    ("TERNARY", (2, 3), (1, 2), (1, 0, 0, 1), False, 1),
    ("INT2", (3, 1), (2, 1), (1, 0, 1, 0), True, 4),       # MaxPool1d on (L, 1, C)
])
def test_padded_maxpool_layer(dt, kernel, stride, pad, ceil_mode, pe):
    node = MaxPool(name="p", in_shape=(7, 5, 4), in_dtype=DT[dt], kernel=kernel, stride=stride, pad=pad,
                   ceil_mode=ceil_mode, pe=pe)
    check(node, seed=3)


@pytest.mark.parametrize("kwargs", [
    dict(in_dtype="UINT4", kernel=(2, 2), stride=(2, 2), pe=2),
    dict(in_dtype="INT3", kernel=(3, 3), stride=(1, 1), pad=(1, 1, 1, 1), pe=4),
    dict(in_dtype="BIPOLAR", kernel=(3, 2), stride=(2, 2), pe=1),
    dict(in_dtype="UINT2", kernel=(3, 3), stride=(2, 2), pad=(1, 1, 1, 1), ceil_mode=True, pe=2),
    dict(in_dtype="INT4", kernel=(2, 2), stride=(2, 2), shift=2, rounding="ROUND", pe=4),   # TruncAvgPool2d
    dict(in_dtype="UINT8", kernel=(3, 3), stride=(3, 3), shift=3, trunc_dtype="UINT4", pe=2),
    dict(in_dtype="INT4", kernel=(2, 2), stride=(1, 1), shift=1, rounding="HALF_DOWN",
         trunc_dtype="INT3", narrow=True, pe=1),
    dict(in_dtype="UINT4", kernel=(1, 1), stride=(1, 1), shift=2, rounding="CEIL", pe=4),  # no window
    dict(in_dtype="INT3", kernel=(3, 1), stride=(1, 1), pad=(1, 0, 1, 0), pe=2),        # AvgPool1d
], ids=["2x2", "3x3_pad", "bipolar", "ceil", "trunc_round", "trunc_clip", "narrow", "1x1_shift", "1d"])
def test_avgpool_layer(kwargs):
    kwargs = dict(kwargs)
    kwargs["in_dtype"] = DT[kwargs["in_dtype"]]
    if "trunc_dtype" in kwargs:
        kwargs["trunc_dtype"] = DT[kwargs["trunc_dtype"]]
    node = AvgPool(name="a", in_shape=(6, 5, 4), **kwargs)
    check(node, seed=4)


def test_identity_pools_lower_to_nothing():
    for node in (MaxPool(name="p", in_shape=(4, 4, 2), in_dtype=DT["INT4"], kernel=(1, 1), stride=(1, 1)),
                 AvgPool(name="a", in_shape=(4, 4, 2), in_dtype=DT["INT4"], kernel=(1, 1), stride=(1, 1)),
                 Upsample(name="u", in_shape=(4, 4, 2), in_dtype=DT["INT4"], scale=(1, 1))):
        node.check()
        assert lower_node(node) == [] and node_cycles(node) == 0
        assert node_resources(node).luts == 0


# --- upsampling --------------------------------------------------------------------------------

@pytest.mark.parametrize("in_shape, scale, pe, dt", [
    ((3, 4, 4), (2, 2), 2, "INT4"), ((2, 3, 2), (3, 1), 1, "BIPOLAR"), ((3, 2, 6), (1, 2), 3, "UINT2"),
    ((6, 1, 2), (2, 1), 2, "INT8"),                       # 1-D: a sequence repeated along L
])
def test_upsample_layer(in_shape, scale, pe, dt):
    node = Upsample(name="u", in_shape=in_shape, in_dtype=DT[dt], scale=scale, pe=pe)
    check(node, seed=5)
