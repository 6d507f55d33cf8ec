"""Add: elementwise sum of two streams on true values, under idle/backpressure."""

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.hw.plumbing.add import Add
from bitsmith.sim.packing import pack
from tests.hw.util import PATTERNS, assert_rejects, assert_words_equal, run_streams

DT = DataType


def values(rng, dt, n):
    if dt.name == "BIPOLAR":
        return rng.choice([-1, 1], size=n)
    return rng.integers(int(dt.min()), int(dt.max()) + 1, size=n)


def check_add(adt, bdt, odt, pe, idle="none", backpressure="none", seed=0, n=24, ka=1, kb=1):
    rng = np.random.default_rng(seed)
    adt, bdt, odt = DT[adt], DT[bdt], DT[odt]
    a, b = values(rng, adt, n * pe), values(rng, bdt, n * pe)
    dut = Add(a_dtype=adt, b_dtype=bdt, out_dtype=odt, pe=pe, scale_a=ka, scale_b=kb)
    src, caps = run_streams(dut, [(dut.a, pack(a, adt, pe)), (dut.b, pack(b, bdt, pe))],
                            [(dut.o, n)], idle=idle, backpressure=backpressure, seed=seed)
    assert_words_equal(caps[0].words, pack(ka * a + kb * b, odt, pe))
    return src


@pytest.mark.parametrize("idle", PATTERNS)
@pytest.mark.parametrize("backpressure", PATTERNS)
def test_idle_backpressure(idle, backpressure):
    check_add("INT4", "UINT3", "INT5", 3, idle=idle, backpressure=backpressure, seed=1)


@pytest.mark.parametrize("adt, bdt, odt, pe", [
    ("BIPOLAR", "BIPOLAR", "INT3", 4), ("BIPOLAR", "INT2", "INT3", 2), ("UINT2", "UINT2", "UINT3", 1),
    ("INT2", "INT2", "INT8", 2),     # a wider sum than needed is sign-extended
])
def test_types(adt, bdt, odt, pe):
    check_add(adt, bdt, odt, pe, idle="random", backpressure="random", seed=2)


@pytest.mark.parametrize("adt, bdt, ka, kb, odt", [
    ("UINT2", "UINT2", 2, -1, "INT4"), ("BIPOLAR", "UINT3", 3, 1, "INT5"), ("INT4", "INT4", -1, -3, "INT7"),
])
def test_integer_scales(adt, bdt, ka, kb, odt):
    check_add(adt, bdt, odt, 2, idle="random", backpressure="random", seed=3, ka=ka, kb=kb)


def test_one_word_per_cycle():
    src = check_add("INT4", "INT4", "INT5", 2)
    assert src[0][-1] - src[0][0] + 1 == len(src[0])


def test_constructor_validation():
    i4 = DT["INT4"]
    assert_rejects(lambda: Add(a_dtype=i4, b_dtype=i4, out_dtype=i4, pe=1), ValueError,
                   "out_dtype must hold the sums -16..14, not INT4")
    assert_rejects(lambda: Add(a_dtype=i4, b_dtype=i4, out_dtype=DT["BIPOLAR"], pe=1), ValueError,
                   "out_dtype must hold the sums -16..14, not BIPOLAR")
    assert_rejects(lambda: Add(a_dtype=i4, b_dtype=i4, out_dtype=DT["INT5"], pe=1, scale_a=2), ValueError,
                   "out_dtype must hold the sums -24..21, not INT5")
    assert_rejects(lambda: Add(a_dtype=i4, b_dtype=i4, out_dtype=DT["INT8"], pe=1, scale_b=0), ValueError,
                   "scale_b must be a nonzero integer, not 0")
