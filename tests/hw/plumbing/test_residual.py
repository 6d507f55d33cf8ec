"""ResidualBlock with a 3x3 same-size window-max body: x + maxpool3x3(pad 1)(x)."""

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.hw.compute.maxpool import MaxPool
from bitsmith.hw.compute.sliding_window import SlidingWindow
from bitsmith.hw.plumbing.residual import ResidualBlock
from bitsmith.hw.top import Dataflow, Stage
from bitsmith.sim.golden.conv import windows
from bitsmith.sim.packing import pack
from tests.hw.util import PATTERNS, assert_rejects, assert_words_equal, run_stream

INT4, INT5 = DataType["INT4"], DataType["INT5"]


def body(shape, simd):
    swu = SlidingWindow(in_shape=shape, kernel=(3, 3), pad=(1, 1, 1, 1), simd=simd, elem_bits=4,
                        depthwise=True)
    pool = MaxPool(dtype=INT4, pe=simd, window=9)
    return Dataflow([Stage(component=swu, name="swu", in_elem_bits=4, in_elems=simd,
                           out_elem_bits=4, out_elems=simd),
                     Stage(component=pool, name="pool", in_elem_bits=4, in_elems=simd,
                           out_elem_bits=4, out_elems=simd)])


def check_residual(shape=(4, 4, 2), pe=2, simd=1, depth=64, frames=2, idle="none",
                   backpressure="none", seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(-8, 8, size=(frames,) + shape)
    y = x + windows(x, (3, 3), (1, 1), (1, 1, 1, 1)).max(axis=(3, 4))
    dut = ResidualBlock(body=body(shape, simd), in_dtype=INT4, body_dtype=INT4, out_dtype=INT5,
                        pe=pe, body_in_elems=simd, body_out_elems=simd, bypass_depth=depth)
    expected = pack(y.reshape(-1), INT5, pe)
    _, cap = run_stream(dut, pack(x.reshape(-1), INT4, pe), len(expected), idle=idle,
                        backpressure=backpressure, seed=seed)
    assert_words_equal(cap.words, expected)


@pytest.mark.parametrize("idle", PATTERNS)
@pytest.mark.parametrize("backpressure", PATTERNS)
def test_idle_backpressure(idle, backpressure):
    check_residual(idle=idle, backpressure=backpressure, seed=4)


def test_width_converters_on_both_sides():
    check_residual(shape=(3, 5, 4), pe=4, simd=2, idle="random", backpressure="random", seed=5)


def test_constructor_validation():
    assert_rejects(lambda: ResidualBlock(body=body((4, 4, 2), 1), in_dtype=INT4, body_dtype=INT4,
                                         out_dtype=INT5, pe=2, body_in_elems=2, body_out_elems=1,
                                         bypass_depth=8),
                   ValueError, "body port 'i' must have 2*4 payload bits, not 4")
    assert_rejects(lambda: ResidualBlock(body=body((4, 4, 2), 1), in_dtype=INT4, body_dtype=INT4,
                                         out_dtype=INT5, pe=2, body_in_elems=1, body_out_elems=1,
                                         bypass_depth=2),
                   ValueError, "bypass_depth must be an integer >= 3, not 2")
