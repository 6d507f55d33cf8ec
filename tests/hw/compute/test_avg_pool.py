"""AvgPool window-sum reducer (with qonnx Trunc) vs numpy, under idle/backpressure."""

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.hw.compute.avg_pool import ROUNDING, AvgPool, divide_rounded
from bitsmith.sim.packing import pack
from tests.hw.util import PATTERNS, assert_rejects, assert_words_equal, run_stream

DT = DataType


def reference(sums, shift, rounding, clip):
    """qonnx Trunc in float64 (exact for these small integers), independent of the DUT."""
    y = sums / 2.0 ** shift
    if clip is not None:
        y = np.clip(y, *clip)
    fn = {"ROUND": np.round, "HALF_EVEN": np.round, "CEIL": np.ceil, "FLOOR": np.floor,
          "UP": lambda v: np.sign(v) * np.ceil(np.abs(v)), "DOWN": np.fix,
          "HALF_UP": lambda v: np.sign(v) * np.floor(np.abs(v) + 0.5),
          "HALF_DOWN": lambda v: np.sign(v) * np.ceil(np.abs(v) - 0.5)}[rounding]
    return fn(y).astype(np.int64)


def check_avg(in_dtype, out_dtype, pe, window, shift=0, rounding="FLOOR", clip=None, groups=2,
              windows=4, idle="none", backpressure="none", seed=0):
    rng = np.random.default_rng(seed)
    dt, odt = DT[in_dtype], DT[out_dtype]
    if dt.name == "BIPOLAR":
        x = rng.choice([-1, 1], size=(windows, groups, window, pe))
    else:
        x = rng.integers(int(dt.min()), int(dt.max()) + 1, size=(windows, groups, window, pe))
    x[0] = int(dt.max())       # the extreme sums
    x[1] = int(dt.min())
    expected = pack(reference(x.sum(axis=2), shift, rounding, clip).reshape(-1), odt, pe)
    dut = AvgPool(in_dtype=dt, out_dtype=odt, pe=pe, window=window, shift=shift, rounding=rounding,
                  clip=clip)
    src, cap = run_stream(dut, pack(x.reshape(-1), dt, pe), len(expected), idle=idle,
                          backpressure=backpressure, seed=seed)
    assert_words_equal(cap.words, expected)
    return src


@pytest.mark.parametrize("idle", PATTERNS)
@pytest.mark.parametrize("backpressure", PATTERNS)
def test_idle_backpressure(idle, backpressure):
    check_avg("INT4", "INT8", 2, 9, idle=idle, backpressure=backpressure, seed=2)


@pytest.mark.parametrize("in_dtype, out_dtype, pe, window", [
    ("BIPOLAR", "INT4", 4, 4), ("BINARY", "UINT4", 3, 9), ("UINT8", "UINT9", 1, 2),
    ("INT8", "INT11", 2, 6), ("TERNARY", "TERNARY", 2, 1), ("UINT4", "UINT8", 2, 16)])
def test_exact_sums(in_dtype, out_dtype, pe, window):
    check_avg(in_dtype, out_dtype, pe, window, idle="random", backpressure="random", seed=3)


@pytest.mark.parametrize("rounding", ROUNDING)
@pytest.mark.parametrize("shift", [1, 3])
def test_trunc_rounding_modes(rounding, shift):
    """Signed sums through every qonnx rounding mode, exact ties included."""
    check_avg("INT3", "INT6", 2, 4, shift=shift, rounding=rounding, windows=24, seed=shift)


@pytest.mark.parametrize("out_dtype, clip", [("INT3", (-4, 3)), ("INT3", (-3, 3)), ("UINT2", (0, 2))])
def test_trunc_clips(out_dtype, clip):
    check_avg("INT4", out_dtype, 2, 4, shift=1, rounding="ROUND", clip=clip, windows=12, seed=9)


def test_divide_rounded_matches_reference():
    v = np.arange(-40, 41)
    for rounding in ROUNDING:
        for shift in range(4):
            got = [divide_rounded(int(a), shift, rounding) for a in v]
            assert got == reference(v, shift, rounding, None).tolist(), (rounding, shift)


def test_one_word_per_cycle():
    src = check_avg("INT4", "INT7", 2, 4, groups=3, windows=4)
    assert src[-1] - src[0] + 1 == len(src)


def test_constructor_validation():
    i4 = DT["INT4"]
    assert_rejects(lambda: AvgPool(in_dtype=i4, out_dtype=DT["INT5"], pe=1, window=4), ValueError,
                   "out_dtype must hold the results -32..28, not INT5")
    assert_rejects(lambda: AvgPool(in_dtype=i4, out_dtype=DT["INT3"], pe=1, window=4, shift=2,
                                   rounding="CEIL"), ValueError,
                   "out_dtype must hold the results -8..7, not INT3")
    assert_rejects(lambda: AvgPool(in_dtype=i4, out_dtype=DT["INT8"], pe=1, window=4, rounding="NEAR"),
                   ValueError, "rounding must be one of ROUND, HALF_EVEN, CEIL, FLOOR, UP, DOWN, HALF_UP, "
                               "HALF_DOWN, not 'NEAR'")
    assert_rejects(lambda: AvgPool(in_dtype=i4, out_dtype=DT["INT8"], pe=1, window=4, shift=-1),
                   ValueError, "shift must be an integer >= 0, not -1")
    assert_rejects(lambda: AvgPool(in_dtype=i4, out_dtype=DT["INT8"], pe=1, window=4, clip=(3, 1)),
                   TypeError, "clip must be a pair of integers (lo, hi) with lo <= hi, not (3, 1)")
    assert_rejects(lambda: AvgPool(in_dtype=i4, out_dtype=DT["INT8"], pe=0, window=4), ValueError,
                   "pe must be a positive integer, not 0")
