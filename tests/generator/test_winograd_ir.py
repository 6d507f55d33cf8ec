"""Winograd F(2x2, 3x3): transform math, golden == direct conv golden, refusals, widths."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from qonnx.core.datatype import DataType

from bitsmith.generator.errors import FoldingError, ModelError
from bitsmith.generator.ir import Thresholds
from bitsmith.generator.ir.conv import Conv
from bitsmith.generator.ir.winograd import (AT, BT, G2, INPUT_TRANSFORM, MAX_U_BITS, OUTPUT_TRANSFORM,
                                            WinogradConv, transform_weights, winograd_refusal)
from bitsmith.sim.golden import run_node
from bitsmith.sim.golden.winograd import winograd_accumulator

DT = DataType
WEIGHT_DTYPES = ("INT2", "TERNARY", "INT3", "INT4", "UINT2", "BINARY")
INPUT_DTYPES = ("UINT2", "UINT4", "INT3", "INT4", "UINT8", "INT8")


def values(rng, dt, shape):
    return rng.integers(int(dt.min()), int(dt.max()) + 1, size=shape)


def make(rng, *, h=6, w=6, ic=3, oc=4, pad=(1, 1, 1, 1), wdt="INT4", xdt="UINT4",
         thresholds=False, cls=WinogradConv, pe=1, simd=1, weights=None):
    wdt, xdt = DT[wdt], DT[xdt]
    wts = values(rng, wdt, (oc, 3, 3, ic)) if weights is None else weights
    th = None
    if thresholds:
        acc = Conv.minimal_acc_dtype(wts, wdt, xdt)
        lo, hi = int(acc.min()) // 4, int(acc.max()) // 4
        th = Thresholds(values=np.sort(rng.integers(lo, hi + 1, size=(oc, 3)), axis=1),
                        out_dtype=DT["UINT2"])
    node = cls(name="c", in_shape=(h, w, ic), in_dtype=xdt, weights=wts, weight_dtype=wdt,
               kernel=(3, 3), stride=(1, 1), pad=pad, acc_dtype=Conv.minimal_acc_dtype(wts, wdt, xdt),
               thresholds=th, pe=pe, simd=simd)
    node.check()
    return node


def direct(node: WinogradConv) -> Conv:
    return Conv(**{f.name: getattr(node, f.name) for f in dataclasses.fields(node)})


def test_transform_is_4x_direct_on_one_tile():
    """A^T [(G2 g G2^T) * (B^T d B)] A == 4 * the 2x2 correlation of d with g."""
    rng = np.random.default_rng(1)
    for _ in range(50):
        d = rng.integers(-50, 50, size=(4, 4))
        g = rng.integers(-50, 50, size=(3, 3))
        y = AT @ ((G2 @ g @ G2.T) * (BT @ d @ BT.T)) @ AT.T
        ref = np.array([[(d[i:i + 3, j:j + 3] * g).sum() for j in range(2)] for i in range(2)])
        np.testing.assert_array_equal(y, 4 * ref)


def test_transforms_are_additions_only():
    for m in (BT, AT, INPUT_TRANSFORM, OUTPUT_TRANSFORM):
        assert set(np.unique(m).tolist()) <= {-1, 0, 1}
    assert (np.abs(INPUT_TRANSFORM) > 0).sum(axis=1).max() == 4      # each V: 4 inputs
    assert (np.abs(OUTPUT_TRANSFORM) > 0).sum(axis=1).tolist() == [9, 9, 9, 9]


def test_transformed_weights_are_integers_in_order():
    g = np.arange(2 * 3 * 3 * 5).reshape(2, 3, 3, 5) - 40
    u = transform_weights(g)
    assert u.shape == (16, 2, 5) and u.dtype == np.int64
    for o in range(2):
        for c in range(5):
            np.testing.assert_array_equal(u[:, o, c].reshape(4, 4), G2 @ g[o, :, :, c] @ G2.T)


@pytest.mark.parametrize("shape,pad", [((6, 6), (1, 1, 1, 1)), ((5, 7), (1, 1, 1, 1)),
                                       ((5, 5), (0, 0, 0, 0)), ((4, 9), (2, 0, 1, 2)),
                                       ((3, 3), (0, 0, 0, 0)), ((8, 3), (0, 2, 0, 0))])
def test_golden_equals_direct(shape, pad):
    rng = np.random.default_rng(sum(shape) + sum(pad))
    node = make(rng, h=shape[0], w=shape[1], pad=pad, thresholds=True)
    x = values(rng, node.in_dtype, (3, *node.in_shape))
    np.testing.assert_array_equal(winograd_accumulator(node, x), run_node(direct(node).replace(thresholds=None), x))
    np.testing.assert_array_equal(run_node(node, x), run_node(direct(node), x))
    assert run_node(node, x).shape == (3, *node.out_shape)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_golden_equals_direct_random_layers(data):
    """Winograd golden == direct golden, bit for bit, on random layers and extreme inputs."""
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    h, w = data.draw(st.integers(1, 9)), data.draw(st.integers(1, 9))
    pad = tuple(data.draw(st.integers(0, 2)) for _ in range(4))
    if h + pad[0] + pad[2] < 3 or w + pad[1] + pad[3] < 3:
        return
    wdt = data.draw(st.sampled_from(("INT2", "TERNARY", "INT3", "INT4")))
    xdt = data.draw(st.sampled_from(INPUT_DTYPES))
    node = make(rng, h=h, w=w, ic=data.draw(st.integers(1, 5)), oc=data.draw(st.integers(1, 4)),
                pad=pad, wdt=wdt, xdt=xdt, thresholds=data.draw(st.booleans()))
    xd = node.in_dtype
    x = values(rng, xd, (2, *node.in_shape))
    x[0] = rng.choice([int(xd.min()), int(xd.max())], size=node.in_shape)   # extremes
    np.testing.assert_array_equal(run_node(node, x), run_node(direct(node), x))


def test_widths_hold_every_intermediate():
    """U, V, M and Y datatypes hold the values reached on extreme inputs."""
    rng = np.random.default_rng(7)
    node = make(rng, ic=6, oc=5, wdt="INT4", xdt="INT4")
    u = node.transformed_weights()
    assert node.u_dtype.min() <= u.min() and u.max() <= node.u_dtype.max()
    assert node.u_dtype.bitwidth() <= 8
    vlo, vhi = node.v_ranges()
    assert (vlo.min(), vhi.max()) == (-32, 30)            # 4 x -8; 2 x 7 - 2 x -8
    assert node.v_dtype.name == "INT6"
    # M: every position's products over the whole V range fit m_dtype
    vdt = node.v_dtype
    for t in range(16):
        a, b = u[t] * int(vdt.min()), u[t] * int(vdt.max())
        assert np.minimum(a, b).sum(1).min() >= node.m_dtype.min()
        assert np.maximum(a, b).sum(1).max() <= node.m_dtype.max()
    acc = node.acc_dtype                                  # the narrowest: 4x needs 2 more bits
    assert node.y_dtype.bitwidth() == acc.bitwidth() + 2


def test_tiles_and_cycles():
    rng = np.random.default_rng(0)
    node = make(rng, h=7, w=10, ic=4, oc=6, pad=(1, 1, 1, 1), pe=2, simd=2)
    assert node.out_hw == (7, 10)
    assert node.tiles == (4, 5)
    assert node.tile_padding == (1, 1, 2, 1)
    assert node.cycles_per_tile() == 16 * 3 * 2
    assert node.cycles_per_frame() == 20 * 96
    assert direct(node).cycles_per_pixel() * 4 == 36 * 3 * 2           # 2.25x the products


@pytest.mark.parametrize("change,message", [
    (dict(stride=(2, 2)), r"the stride must be 1, not \(2, 2\)"),
    (dict(kernel=(5, 5)), r"the kernel must be 3x3, not 5x5"),
    (dict(depthwise=True), r"a depthwise convolution has no channel sum to share"),
    (dict(weight_dtype="BIPOLAR"), r"weights of 1 bit \(BIPOLAR\) run on XNOR/AND gates, which a "
                                   r"transform with products of several bits would not save"),
    (dict(in_dtype="BINARY"), r"inputs of 1 bit \(BINARY\) run on XNOR/AND gates, which a "
                              r"transform with products of several bits would not save"),
    (dict(in_dtype="INT16"), r"the transformed inputs B\^T d B need INT18, wider than the 16 bits "
                             r"a matrix unit multiplies"),
])
def test_refusals(change, message):
    rng = np.random.default_rng(0)
    kernel = change.get("kernel", (3, 3))
    depthwise = change.get("depthwise", False)
    wdt = DT[change.get("weight_dtype", "INT4")]
    xdt = DT[change.get("in_dtype", "UINT4")]
    ic = 4
    if wdt.name == "BIPOLAR":
        wts = rng.choice([-1, 1], size=(4, *kernel, ic))
    else:
        wts = values(rng, wdt, (ic if depthwise else 4, *kernel, 1 if depthwise else ic))
    conv = Conv(name="c", in_shape=(8, 8, ic), in_dtype=xdt, weights=wts, weight_dtype=wdt,
                kernel=kernel, stride=change.get("stride", (1, 1)), pad=(0, 0, 0, 0),
                acc_dtype=Conv.minimal_acc_dtype(wts, wdt, xdt), depthwise=depthwise)
    conv.check()
    assert re.fullmatch(message, winograd_refusal(conv))
    with pytest.raises(ModelError, match=rf"^layer 'c': no Winograd F\(2x2,3x3\): {message}$"):
        WinogradConv.from_conv(conv).check()


def test_int8_weights_transform_to_at_most_12_bits():
    """Full-range INT8 weights: U needs INT12 (|U| <= 9*128), still bit-exact."""
    rng = np.random.default_rng(3)
    wts = rng.integers(-128, 128, size=(2, 3, 3, 3))
    wts[0] = -128
    node = make(rng, wdt="INT8", xdt="UINT8", weights=wts)
    assert node.u_dtype.name == "INT12" and MAX_U_BITS == 12
    x = values(rng, node.in_dtype, (2, *node.in_shape))
    x[0] = 255
    np.testing.assert_array_equal(run_node(node, x), run_node(direct(node), x))


def test_simd_must_divide_input_channels():
    rng = np.random.default_rng(0)
    with pytest.raises(FoldingError, match=r"^layer 'c': SIMD=9 does not divide in_channels=3 \(a "
                                           r"Winograd layer folds SIMD over input channels\)$"):
        make(rng, ic=3, simd=9)
