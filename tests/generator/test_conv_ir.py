"""Conv/pool IR checks, and the golden functions vs direct nested-loop references."""

from __future__ import annotations

import re

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator.errors import FoldingError, ModelError
from bitsmith.generator.estimate import node_cycles
from bitsmith.generator.ir import Thresholds
from bitsmith.generator.ir.conv import Conv, GlobalAccPool, MaxPool
from bitsmith.sim.golden import run_node

DT = DataType


def values(rng, dt, shape):
    if dt.name == "BIPOLAR":
        return rng.choice([-1, 1], size=shape)
    return rng.integers(int(dt.min()), int(dt.max()) + 1, size=shape)


def make_conv(rng, in_shape=(5, 6, 3), oc=4, kernel=(3, 3), stride=(1, 1), pad=(0, 0, 0, 0),
              wdt="INT2", xdt="UINT3", depthwise=False, thresholds=False, **kw):
    wdt, xdt = DT[wdt], DT[xdt]
    ic = in_shape[2]
    w = values(rng, wdt, (ic, *kernel, 1) if depthwise else (oc, *kernel, ic))
    acc = Conv.minimal_acc_dtype(w, wdt, xdt)
    th = None
    if thresholds:
        th = Thresholds(values=np.sort(rng.integers(-6, 7, size=(w.shape[0], 3)), axis=1),
                        out_dtype=DT["UINT2"])
    return Conv(name="c", in_shape=in_shape, in_dtype=xdt, weights=w, weight_dtype=wdt, kernel=kernel,
                stride=stride, pad=pad, acc_dtype=acc, thresholds=th, depthwise=depthwise, **kw)


# --- independent references: direct loops over every output element -----------------------------

def naive_conv(node: Conv, x: np.ndarray) -> np.ndarray:
    n, h, w, c = x.shape
    kh, kw = node.kernel
    sh, sw = node.stride
    pt, pl, pb, pr = node.padding
    oh, ow, oc = node.out_shape
    out = np.zeros((n, oh, ow, oc), dtype=np.int64)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for o in range(oc):
                    acc = 0
                    for di in range(kh):
                        for dj in range(kw):
                            y, xx = i * sh - pt + di, j * sw - pl + dj
                            if not (0 <= y < h and 0 <= xx < w):
                                continue          # zero padding contributes nothing
                            chans = [o] if node.depthwise else range(c)
                            for ci in chans:
                                wv = node.weights[o, di, dj, 0 if node.depthwise else ci]
                                if node.xnor:
                                    acc += int(wv == x[b, y, xx, ci])
                                else:
                                    acc += int(wv) * int(x[b, y, xx, ci])
                    if node.thresholds is not None:
                        t = node.thresholds.per_channel(oc)[o]
                        acc = node.thresholds.out_scale * int((acc >= t).sum()) + node.thresholds.out_bias
                    out[b, i, j, o] = acc
    return out


def naive_maxpool(node: MaxPool, x):
    n, h, w, c = x.shape
    oh, ow, _ = node.out_shape
    out = np.empty((n, oh, ow, c), dtype=np.int64)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    out[b, i, j, ch] = max(x[b, i * node.stride[0] + di, j * node.stride[1] + dj, ch]
                                           for di in range(node.kernel[0]) for dj in range(node.kernel[1]))
    return out


@pytest.mark.parametrize("cfg", [
    dict(),
    dict(kernel=(1, 3), stride=(1, 2), pad=(0, 1, 0, 1)),
    dict(kernel=(3, 2), stride=(2, 1), pad=(2, 0, 1, 1), thresholds=True),
    dict(wdt="BIPOLAR", xdt="BIPOLAR", thresholds=True),
    dict(wdt="BIPOLAR", xdt="BIPOLAR", in_shape=(4, 4, 9)),      # XNOR, MW not a multiple of 8
    dict(wdt="BIPOLAR", xdt="INT4", pad=(1, 1, 1, 1)),
    dict(wdt="TERNARY", xdt="BIPOLAR", stride=(2, 2)),
    dict(depthwise=True, pad=(1, 1, 1, 1)),
    dict(depthwise=True, wdt="BIPOLAR", xdt="BIPOLAR", thresholds=True),
    dict(kernel=(1, 1)),
], ids=["3x3", "1x3_pad", "3x2_s21_thr", "xnor_thr", "xnor_c9", "bip_w_pad", "ternary_s2", "dw_pad",
        "dw_xnor", "1x1"])
def test_conv_golden_equals_nested_loops(cfg):
    rng = np.random.default_rng(1)
    node = make_conv(rng, **cfg)
    node.check()
    x = values(rng, node.in_dtype, (2,) + node.in_shape)
    y = run_node(node, x)
    assert y.shape == (2,) + node.out_shape
    np.testing.assert_array_equal(y, naive_conv(node, x))


@pytest.mark.parametrize("dt, kernel, stride", [("INT4", (2, 2), (2, 2)), ("BIPOLAR", (3, 3), (2, 1)),
                                                ("UINT2", (1, 3), (1, 3))])
def test_maxpool_golden_equals_nested_loops(dt, kernel, stride):
    rng = np.random.default_rng(2)
    node = MaxPool(name="p", in_shape=(5, 7, 3), in_dtype=DT[dt], kernel=kernel, stride=stride)
    node.check()
    x = values(rng, DT[dt], (2, 5, 7, 3))
    np.testing.assert_array_equal(run_node(node, x), naive_maxpool(node, x))


def test_global_pool_golden_and_dtype():
    rng = np.random.default_rng(3)
    node = GlobalAccPool(name="g", in_shape=(3, 3, 2), in_dtype=DT["INT4"])
    assert node.out_dtype.name == "INT8"                    # 9 * [-8, 7] = [-72, 63]
    assert GlobalAccPool(name="g", in_shape=(4, 4, 1), in_dtype=DT["BIPOLAR"]).out_dtype.name == "INT6"
    assert GlobalAccPool(name="g", in_shape=(4, 4, 1), in_dtype=DT["UINT2"]).out_dtype.name == "UINT6"
    x = values(rng, DT["INT4"], (2, 3, 3, 2))
    want = np.array([[[[sum(x[b, i, j, c] for i in range(3) for j in range(3)) for c in range(2)]]]
                     for b in range(2)]).reshape(2, 1, 1, 2)
    np.testing.assert_array_equal(run_node(node, x), want)


def test_window_order_is_the_mvau_column_order():
    """matrix()[o, (kh*KW + kw)*IC + ic] == weights[o, kh, kw, ic]."""
    rng = np.random.default_rng(5)
    node = make_conv(rng, in_shape=(4, 4, 3), kernel=(2, 3))
    m = node.matrix()
    for o, kh, kw, ic in [(0, 0, 0, 0), (1, 1, 2, 2), (3, 0, 1, 2), (2, 1, 0, 1)]:
        assert m[o, (kh * 3 + kw) * 3 + ic] == node.weights[o, kh, kw, ic]


def test_cycle_formulas():
    rng = np.random.default_rng(6)
    node = make_conv(rng, in_shape=(8, 8, 4), oc=8, pad=(1, 1, 1, 1), pe=2, simd=2)
    assert node_cycles(node) == 8 * 8 * (8 // 2) * (9 * 4 // 2)
    node = make_conv(rng, in_shape=(8, 8, 4), oc=8, pe=8, simd=4)     # SWU bound: 6*6*9 words
    assert node_cycles(node) == 6 * 6 * 9
    node = make_conv(rng, in_shape=(8, 8, 4), kernel=(1, 1), oc=8, pe=1, simd=1)
    assert node_cycles(node) == 64 * 8 * 4
    dw = make_conv(rng, in_shape=(8, 8, 4), depthwise=True, pe=2)
    assert node_cycles(dw) == 6 * 6 * 2 * 9
    pool = MaxPool(name="p", in_shape=(8, 8, 4), in_dtype=DT["INT4"], kernel=(2, 2), stride=(2, 2), pe=2)
    assert node_cycles(pool) == 8 * 8 * 2
    gp = GlobalAccPool(name="g", in_shape=(8, 8, 4), in_dtype=DT["INT4"], pe=4)
    assert node_cycles(gp) == 64


CONV_ERRORS = [
    (dict(pad=(3, 0, 0, 0)), ModelError,
     "layer 'c': padding (3, 0, 0, 0) must be smaller than the kernel (3, 3) on each side"),
    (dict(xdt="BIPOLAR", wdt="BIPOLAR", pad=(1, 1, 1, 1)), ModelError,
     "layer 'c': zero padding needs an input datatype that contains 0, not BIPOLAR "
     "(binarize to BINARY first or remove the padding)"),
    (dict(kernel=(3, 3), stride=(0, 1)), ModelError, "layer 'c': stride must be >= 1, not (0, 1)"),
    (dict(in_shape=(2, 5, 3)), ModelError,
     "layer 'c': kernel (3, 3) is larger than the padded input (2, 5)"),
    (dict(simd=2), FoldingError, "layer 'c': SIMD=2 does not divide KH*KW*in_channels=27"),
    (dict(pe=3), FoldingError, "layer 'c': PE=3 does not divide out_channels=4"),
    (dict(depthwise=True, simd=3), FoldingError,
     "layer 'c': a depthwise convolution takes PE channels per word and needs SIMD=1, not 3"),
]


@pytest.mark.parametrize("cfg, exc, msg", CONV_ERRORS)
def test_conv_check_errors(cfg, exc, msg):
    node = make_conv(np.random.default_rng(7), **cfg)
    with pytest.raises(exc, match=f"^{re.escape(msg)}$"):
        node.check()


def test_conv_check_weight_errors():
    rng = np.random.default_rng(8)
    node = make_conv(rng)
    with pytest.raises(ModelError, match=r"^layer 'c': weights have kernel \(3, 3\) but kernel is \(2, 3\)$"):
        node.replace(kernel=(2, 3)).check()
    with pytest.raises(ModelError, match=r"^layer 'c': weights have 3 input channels but the layer "
                                         r"receives 2$"):
        node.replace(in_shape=(5, 6, 2)).check()
    with pytest.raises(ModelError, match=r"^layer 'c': accumulator range -\d+\.\.\d+ does not fit INT2$"):
        node.replace(acc_dtype=DT["INT2"]).check()
