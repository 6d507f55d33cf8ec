"""Lowered conv/pool layers (hw.top.Dataflow of their stages, FIFOs sized by their schedules)
vs the golden model.

Each layer runs in the Amaranth simulator on a few frames: outputs must equal
``bitsmith.sim.golden`` exactly, and with an always-valid source and always-ready sink the
spacing of output frames in steady state must equal ``bitsmith.generator.estimate`` ideal cycles.
"""

from __future__ import annotations

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator.build import netlist
from bitsmith.generator.estimate import node_cycles
from bitsmith.generator.ir import Graph, Thresholds
from bitsmith.generator.ir.conv import Conv, GlobalAccPool, MaxPool
from bitsmith.hw.top import Dataflow
from bitsmith.sim.golden import run_node
from bitsmith.sim.packing import pack, unpack
from tests.hw.util import PATTERNS, run_stream

DT = DataType


def values(rng, dt, shape):
    if dt.name == "BIPOLAR":
        return rng.choice([-1, 1], size=shape)
    return rng.integers(int(dt.min()), int(dt.max()) + 1, size=shape)


def conv(rng, in_shape, oc, kernel=(3, 3), stride=(1, 1), pad=(0, 0, 0, 0), wdt="INT2", xdt="UINT2",
         pe=1, simd=1, depthwise=False, thr=True, name="c"):
    wdt, xdt = DT[wdt], DT[xdt]
    ic = in_shape[2]
    w = values(rng, wdt, (ic, *kernel, 1) if depthwise else (oc, *kernel, ic))
    acc = Conv.minimal_acc_dtype(w, wdt, xdt)
    th = None
    if thr:
        lo, hi = int(acc.min()), int(acc.max())
        mid = (lo + hi) // 2
        if wdt.name == xdt.name == "BIPOLAR":
            th = Thresholds(values=rng.integers(mid - 2, mid + 3, size=(w.shape[0], 1)),
                            out_dtype=DT["BIPOLAR"], out_scale=2, out_bias=-1)
        else:
            th = Thresholds(values=np.sort(rng.integers(-4, 5, size=(w.shape[0], 3)), axis=1),
                            out_dtype=DT["UINT2"])
    node = Conv(name=name, in_shape=in_shape, in_dtype=xdt, weights=w, weight_dtype=wdt, kernel=kernel,
                stride=stride, pad=pad, acc_dtype=acc, thresholds=th, pe=pe, simd=simd,
                depthwise=depthwise)
    node.check()
    return node


def run_layer(node, frames=2, idle="none", backpressure="none", seed=0, graph=None):
    """Simulate the lowered layer (``graph``: a one-node graph of it with its FIFOs, else
    sized here); check every output; return the output transfer cycles."""
    rng = np.random.default_rng(seed)
    x = values(rng, node.in_dtype, (frames,) + tuple(node.in_shape))
    want = run_node(node, x)
    graph = graph or Graph(name="layer", in_shape=tuple(node.in_shape), in_dtype=node.in_dtype, nodes=(node,))
    flow = Dataflow(*netlist(graph))
    out_dt = node.out_dtype
    src, cap = run_stream(flow, pack(x.reshape(-1), node.in_dtype, flow.in_elems),
                          want.size // flow.out_elems, idle=idle, backpressure=backpressure, seed=seed)
    got = unpack(cap.words, out_dt, flow.out_elems).reshape(want.shape)
    bad = np.argwhere(got != want)
    assert bad.size == 0, (f"frame {bad[0][0]}, index {tuple(bad[0][1:])}: expected "
                           f"{want[tuple(bad[0])]}, got {got[tuple(bad[0])]}")
    return cap.cycles, want[0].size // flow.out_elems


def steady_period(node, frames=4, graph=None) -> int:
    cycles, per_frame = run_layer(node, frames=frames, graph=graph)
    starts = cycles[::per_frame]
    periods = np.diff(starts).tolist()
    assert periods[-1] == periods[-2], periods
    return periods[-1]


@pytest.mark.parametrize("idle", PATTERNS)
@pytest.mark.parametrize("backpressure", PATTERNS)
def test_conv_idle_backpressure(idle, backpressure):
    node = conv(np.random.default_rng(1), (4, 4, 2), 4, pad=(1, 1, 1, 1), pe=2, simd=2)
    run_layer(node, idle=idle, backpressure=backpressure, seed=2)


@pytest.mark.parametrize("case", [
    dict(in_shape=(5, 5, 4), oc=2, kernel=(1, 3), stride=(2, 1), pad=(0, 1, 0, 0), pe=1, simd=4),
    dict(in_shape=(4, 4, 3), oc=4, kernel=(1, 1), pe=4, simd=3),                      # pointwise
    dict(in_shape=(5, 4, 8), oc=4, wdt="BIPOLAR", xdt="BIPOLAR", pe=2, simd=4),        # XNOR
    dict(in_shape=(5, 5, 2), oc=2, stride=(2, 2), pad=(1, 1, 1, 1), thr=False, pe=2, simd=1),
    dict(in_shape=(4, 5, 4), oc=4, depthwise=True, pad=(1, 1, 1, 1), pe=2),
    dict(in_shape=(4, 4, 4), oc=4, depthwise=True, wdt="BIPOLAR", xdt="BIPOLAR", pe=4),
], ids=["1x3_s2", "pointwise", "xnor", "raw_s2", "depthwise", "dw_xnor"])
def test_conv_variants(case):
    run_layer(conv(np.random.default_rng(3), **case), idle="random", backpressure="random", seed=4)


@pytest.mark.parametrize("case", [
    dict(in_shape=(4, 4, 2), oc=4, pad=(1, 1, 1, 1), pe=1, simd=1),   # MVAU bound, NF=4
    dict(in_shape=(4, 4, 2), oc=4, pad=(1, 1, 1, 1), pe=4, simd=1),   # NF=1: MVAU at the SWU's rate
    dict(in_shape=(4, 4, 2), oc=4, pad=(1, 1, 1, 1), pe=2, simd=2),
    dict(in_shape=(5, 5, 2), oc=2, stride=(2, 2), pe=2, simd=2),      # SWU bound by its writer
    dict(in_shape=(4, 4, 4), oc=4, depthwise=True, pad=(1, 1, 1, 1), pe=1),
    dict(in_shape=(4, 4, 4), oc=4, depthwise=True, pe=4),
], ids=["pe1_simd1", "pe4_simd1", "pe2_simd2", "s2", "dw_pe1", "dw_pe4"])
def test_conv_cycles_equal_formula(case):
    node = conv(np.random.default_rng(5), **case)
    assert steady_period(node) == node_cycles(node)


@pytest.mark.parametrize("dt, kernel, stride, pe", [
    ("INT4", (2, 2), (2, 2), 2), ("BIPOLAR", (2, 2), (2, 2), 4), ("UINT3", (3, 3), (2, 2), 1),
    ("INT2", (1, 2), (1, 2), 2)])
def test_maxpool_layer(dt, kernel, stride, pe):
    node = MaxPool(name="p", in_shape=(4, 6, 4), in_dtype=DT[dt], kernel=kernel, stride=stride, pe=pe)
    node.check()
    run_layer(node, idle="random", backpressure="random", seed=6)
    assert steady_period(node) == node_cycles(node)


@pytest.mark.parametrize("pe", [1, 2, 4])
def test_global_pool_layer(pe):
    node = GlobalAccPool(name="g", in_shape=(3, 3, 4), in_dtype=DT["UINT2"], pe=pe)
    run_layer(node, idle="random", backpressure="random", seed=7)
    assert steady_period(node) == node_cycles(node)
