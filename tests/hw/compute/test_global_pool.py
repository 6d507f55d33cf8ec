"""GlobalAccPool vs numpy sums, under idle/backpressure."""

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.hw.compute.global_pool import GlobalAccPool
from bitsmith.sim.packing import pack
from tests.hw.util import PATTERNS, assert_rejects, assert_words_equal, run_stream

DT = DataType


def check_global(in_dtype, out_dtype, channels, pe, pixels, frames=2, idle="none",
                 backpressure="none", seed=0):
    rng = np.random.default_rng(seed)
    dt, odt = DT[in_dtype], DT[out_dtype]
    if dt.name == "BIPOLAR":
        x = rng.choice([-1, 1], size=(frames, pixels, channels))
    else:
        x = rng.integers(int(dt.min()), int(dt.max()) + 1, size=(frames, pixels, channels))
    expected = pack(x.sum(axis=1).reshape(-1), odt, pe)
    dut = GlobalAccPool(in_dtype=dt, out_dtype=odt, channels=channels, pe=pe, pixels=pixels)
    src, cap = run_stream(dut, pack(x.reshape(-1), dt, pe), len(expected), idle=idle,
                          backpressure=backpressure, seed=seed)
    assert_words_equal(cap.words, expected)
    return src


@pytest.mark.parametrize("idle", PATTERNS)
@pytest.mark.parametrize("backpressure", PATTERNS)
def test_idle_backpressure(idle, backpressure):
    check_global("INT4", "INT8", 4, 2, 5, idle=idle, backpressure=backpressure, seed=6)


@pytest.mark.parametrize("in_dtype, out_dtype, channels, pe, pixels", [
    ("BIPOLAR", "INT5", 3, 3, 9),    # one group: back-to-back read-modify-write of one word
    ("UINT2", "UINT6", 4, 1, 7),
    ("INT8", "INT16", 2, 1, 16),
    ("BINARY", "UINT3", 2, 2, 4),
])
def test_types(in_dtype, out_dtype, channels, pe, pixels):
    check_global(in_dtype, out_dtype, channels, pe, pixels, idle="random", backpressure="random", seed=7)


@pytest.mark.parametrize("channels, pe, pixels", [(4, 1, 4), (4, 4, 6), (6, 2, 3)])
def test_cycles_equal_formula(channels, pe, pixels):
    frames = 3
    src = check_global("INT4", "INT8", channels, pe, pixels, frames=frames)
    assert src[-1] - src[0] + 1 == frames * pixels * channels // pe


def test_constructor_validation():
    i4 = DT["INT4"]
    assert_rejects(lambda: GlobalAccPool(in_dtype=i4, out_dtype=DT["INT6"], channels=2, pe=1, pixels=9),
                   ValueError, "out_dtype must hold the sums -72..63, not INT6")
    assert_rejects(lambda: GlobalAccPool(in_dtype=i4, out_dtype=DT["INT8"], channels=3, pe=2, pixels=4),
                   ValueError, "pe must divide channels=3, not 2")
