"""MaxPool window reducer vs numpy, under idle/backpressure, at every element type."""

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.hw.compute.maxpool import MaxPool
from bitsmith.sim.packing import pack
from tests.hw.util import PATTERNS, assert_rejects, assert_words_equal, run_stream

DT = DataType


def check_pool(dtype, pe, window, groups=2, windows=3, idle="none", backpressure="none", seed=0):
    rng = np.random.default_rng(seed)
    dt = DT[dtype]
    if dt.name == "BIPOLAR":
        x = rng.choice([-1, 1], size=(windows, groups, window, pe))
    else:
        x = rng.integers(int(dt.min()), int(dt.max()) + 1, size=(windows, groups, window, pe))
    expected = pack(x.max(axis=2).reshape(-1), dt, pe)
    dut = MaxPool(dtype=dt, pe=pe, window=window)
    src, cap = run_stream(dut, pack(x.reshape(-1), dt, pe), len(expected), idle=idle,
                          backpressure=backpressure, seed=seed)
    assert_words_equal(cap.words, expected)
    return src


@pytest.mark.parametrize("idle", PATTERNS)
@pytest.mark.parametrize("backpressure", PATTERNS)
def test_idle_backpressure(idle, backpressure):
    check_pool("INT4", 2, 4, idle=idle, backpressure=backpressure, seed=2)


@pytest.mark.parametrize("dtype, pe, window", [
    ("BIPOLAR", 4, 4), ("BINARY", 3, 9), ("UINT8", 1, 2), ("INT8", 2, 6), ("TERNARY", 2, 1)])
def test_types(dtype, pe, window):
    check_pool(dtype, pe, window, idle="random", backpressure="random", seed=3)


def test_one_word_per_cycle():
    src = check_pool("INT4", 2, 4, groups=3, windows=4)
    assert src[-1] - src[0] + 1 == len(src)


def test_constructor_validation():
    assert_rejects(lambda: MaxPool(dtype="INT4", pe=1, window=4), TypeError,
                   "dtype must be a qonnx DataType, not 'INT4'")
    assert_rejects(lambda: MaxPool(dtype=DT["INT4"], pe=0, window=4), ValueError,
                   "pe must be a positive integer, not 0")
    assert_rejects(lambda: MaxPool(dtype=DT["INT4"], pe=1, window=2.0), TypeError,
                   "window must be an integer, not 2.0")
