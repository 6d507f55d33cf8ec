"""VVAU (depthwise engine) vs an independent numpy reference, under idle/backpressure."""

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.hw.compute.vvau import VVAU
from bitsmith.sim.packing import pack
from tests.hw.util import PATTERNS, assert_rejects, assert_words_equal, run_stream

DT = DataType


def values(rng, dt, shape):
    if dt.name == "BIPOLAR":
        return rng.choice([-1, 1], size=shape)
    return rng.integers(int(dt.min()), int(dt.max()) + 1, size=shape)


def acc_dtype(lo, hi):
    if lo >= 0:
        return DT[f"UINT{max(1, hi.bit_length())}"]
    return DT[f"INT{max(2, (max(-lo, hi + 1) - 1).bit_length() + 1)}"]


def check_vvau(wdt, xdt, channels, k, pe, thr=None, pixels=3, idle="none", backpressure="none",
               seed=0):
    rng = np.random.default_rng(seed)
    wdt, xdt = DT[wdt], DT[xdt]
    w = values(rng, wdt, (channels, k))
    x = values(rng, xdt, (pixels, channels // pe, k, pe))      # the depthwise window order
    xc = x.transpose(0, 2, 1, 3).reshape(pixels, k, channels)  # (pixel, k, channel)
    if wdt.name == "BIPOLAR" and xdt.name == "BIPOLAR":
        acc = (w.T[None] == xc).sum(axis=1)
        lo, hi = 0, k
    else:
        acc = (w.T[None] * xc).sum(axis=1)
        a, b = w * int(xdt.min()), w * int(xdt.max())
        lo, hi = int(np.minimum(a, b).sum(1).min()), int(np.maximum(a, b).sum(1).max())
    adt = acc_dtype(lo, hi)
    kwargs, want, odt = {}, acc, adt
    if thr is not None:
        t = np.sort(rng.integers(lo, hi + 2, size=(channels, 3)), axis=1)
        want = (acc[:, :, None] >= t[None]).sum(axis=2)
        odt = DT["UINT2"]
        kwargs = dict(thresholds=t, out_dtype=odt)
    dut = VVAU(weights=w, weight_dtype=wdt, in_dtype=xdt, acc_dtype=adt, pe=pe, **kwargs)
    expected = pack(want.reshape(-1), odt, pe)
    src, cap = run_stream(dut, pack(x.reshape(-1), xdt, pe), len(expected), idle=idle,
                          backpressure=backpressure, seed=seed)
    assert_words_equal(cap.words, expected)
    return dut, src, cap


@pytest.mark.parametrize("idle", PATTERNS)
@pytest.mark.parametrize("backpressure", PATTERNS)
def test_idle_backpressure(idle, backpressure):
    check_vvau("INT3", "UINT4", 4, 9, 2, thr=True, idle=idle, backpressure=backpressure, seed=1)


@pytest.mark.parametrize("wdt, xdt, channels, k, pe, thr", [
    ("BIPOLAR", "BIPOLAR", 4, 9, 4, None),
    ("BIPOLAR", "BIPOLAR", 6, 4, 2, True),
    ("BIPOLAR", "INT4", 3, 3, 1, None),
    ("INT2", "BIPOLAR", 4, 9, 1, None),
    ("TERNARY", "INT8", 2, 6, 2, True),
    ("UINT3", "UINT2", 2, 1, 2, None),
    ("INT4", "UINT10", 4, 9, 2, None),      # wide inputs: a pool's sum without a quantizer
    ("INT8", "INT16", 2, 4, 1, True),
])
def test_precisions(wdt, xdt, channels, k, pe, thr):
    check_vvau(wdt, xdt, channels, k, pe, thr, idle="random", backpressure="random", seed=4)


@pytest.mark.parametrize("channels, k, pe", [(4, 9, 1), (4, 9, 2), (4, 4, 4), (6, 1, 3)])
def test_cycles_equal_formula(channels, k, pe):
    """(C/PE)*K cycles per output pixel: input transfers are back to back."""
    pixels = 4
    dut, src, _ = check_vvau("INT2", "INT2", channels, k, pe, thr=True, pixels=pixels)
    assert src[-1] - src[0] + 1 == pixels * dut.cycles_per_pixel
    assert dut.cycles_per_pixel == channels // pe * k


def test_constructor_validation():
    w = np.ones((4, 9), dtype=np.int64)
    i2 = DT["INT2"]
    assert_rejects(lambda: VVAU(weights=w, weight_dtype=i2, in_dtype=i2, acc_dtype=DT["INT8"], pe=3),
                   ValueError, "pe must divide C=4, not 3")
    assert_rejects(lambda: VVAU(weights=w, weight_dtype=i2, in_dtype=i2, acc_dtype=DT["INT4"], pe=1),
                   ValueError, "acc_dtype must hold the accumulator range -18..9, not INT4")
    assert_rejects(lambda: VVAU(weights=w * 2, weight_dtype=i2, in_dtype=i2, acc_dtype=DT["INT8"], pe=1),
                   ValueError, "weights must be values of INT2, not 2")
    assert_rejects(lambda: VVAU(weights=w.tolist(), weight_dtype=i2, in_dtype=i2, acc_dtype=DT["INT8"],
                                pe=1), TypeError, "weights must be a numpy array, not list")
    assert_rejects(lambda: VVAU(weights=w, weight_dtype=i2, in_dtype=i2, acc_dtype=DT["INT8"], pe=1,
                                thresholds=np.zeros((4, 1), dtype=np.int64)),
                   TypeError, "out_dtype must be a qonnx DataType when thresholds are given, not None")
