"""ParallelWindow vs the numpy im2col of the golden model, under idle/backpressure, and its cycles."""

import random

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.hw.compute.parallel_window import ParallelWindow, parallel_window_cycles
from bitsmith.sim.golden.conv import windows
from bitsmith.sim.packing import pack
from tests.hw.util import PATTERNS, assert_rejects, assert_words_equal, run_stream

INT4 = DataType["INT4"]


def check_window(in_shape, kernel, stride=(1, 1), pad=(0, 0, 0, 0), simd=1, pad_value=0, frames=2,
                 idle="none", backpressure="none", seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(-8, 8, size=(frames,) + tuple(in_shape))
    dut = ParallelWindow(in_shape=in_shape, kernel=kernel, stride=stride, pad=pad, simd=simd, elem_bits=4,
                         pad_value=pad_value)
    value = pad_value - 16 if pad_value >= 8 else pad_value        # the INT4 value of the code
    want = pack(windows(x, kernel, stride, pad, value).reshape(-1), INT4, simd)
    _, cap = run_stream(dut, pack(x.reshape(-1), INT4, in_shape[2]), len(want),
                        idle=idle, backpressure=backpressure, seed=seed)
    assert_words_equal(cap.words, want)
    return dut, cap


@pytest.mark.parametrize("idle", PATTERNS)
@pytest.mark.parametrize("backpressure", PATTERNS)
def test_padded_5x5_under_idle_and_backpressure(idle, backpressure):
    check_window((6, 5, 1), (5, 5), pad=(2, 2, 2, 2), simd=5, idle=idle, backpressure=backpressure, seed=3)


@pytest.mark.parametrize("cfg", [
    dict(in_shape=(7, 7, 1), kernel=(5, 5), simd=25),                         # LeNet-5's first layer
    dict(in_shape=(6, 6, 3), kernel=(3, 3), pad=(1, 1, 1, 1), simd=27),       # whole window per word
    dict(in_shape=(6, 6, 3), kernel=(3, 3), pad=(1, 1, 1, 1), simd=9),        # a kernel row per word
    dict(in_shape=(5, 7, 3), kernel=(5, 5), stride=(2, 2), pad=(2, 2, 2, 2), simd=5),  # straddles pixels
    dict(in_shape=(5, 7, 3), kernel=(5, 5), stride=(2, 2), pad=(2, 2, 2, 2), simd=25),  # straddles rows
    dict(in_shape=(9, 1, 2), kernel=(3, 1), stride=(2, 1), pad=(1, 0, 1, 0), simd=6),  # 1-D (L, 1, C)
    dict(in_shape=(4, 6, 2), kernel=(1, 3), stride=(1, 3), simd=3),           # KH = 1: no line buffer
    dict(in_shape=(3, 3, 2), kernel=(3, 3), simd=18),                         # one output pixel
    dict(in_shape=(4, 4, 2), kernel=(2, 2), pad=(1, 1, 1, 1), simd=4, pad_value=8),   # INT4 minimum
], ids=["lenet", "whole", "row", "px_straddle", "row_straddle", "1d", "kh1", "one_pixel", "pad_min"])
def test_configurations(cfg):
    check_window(**cfg, idle="random", backpressure="random", seed=5)


def random_configs(count, seed=1):
    rnd = random.Random(seed)
    while count:
        h, w, c = rnd.randint(1, 6), rnd.randint(1, 6), rnd.choice([1, 2, 3])
        kh, kw = rnd.randint(1, 3), rnd.randint(1, 3)
        pad = (rnd.randint(0, kh - 1), rnd.randint(0, kw - 1), rnd.randint(0, kh - 1), rnd.randint(0, kw - 1))
        if kh > h + pad[0] + pad[2] or kw > w + pad[1] + pad[3]:
            continue
        count -= 1
        window = kh * kw * c
        yield dict(in_shape=(h, w, c), kernel=(kh, kw), stride=(rnd.randint(1, 3), rnd.randint(1, 3)),
                   pad=pad, simd=rnd.choice([d for d in range(1, window + 1) if window % d == 0]))


@pytest.mark.parametrize("cfg", list(random_configs(16)), ids=lambda cfg: "-".join(
    f"{v}" for v in (cfg["in_shape"], cfg["kernel"], cfg["stride"], cfg["pad"], cfg["simd"])).replace(" ", ""))
def test_random_geometries_outputs_and_cycles(cfg):
    check_window(**cfg, idle="random", backpressure="cycle", seed=7)
    dut, cap = check_window(**cfg, frames=5)
    starts = cap.cycles[::dut.out_words]
    formula = parallel_window_cycles(cfg["in_shape"], cfg["kernel"], cfg["stride"], cfg["pad"], cfg["simd"])
    assert np.diff(starts)[-2:].tolist() == [formula, formula]


def test_cycle_formula_value():
    # LeNet-5 conv1 on 28x28: 784 pixels, one window word each (SIMD = 25)
    assert parallel_window_cycles((28, 28, 1), (5, 5), (1, 1), (0, 0, 0, 0), 25) == 784
    assert parallel_window_cycles((28, 28, 1), (5, 5), (1, 1), (0, 0, 0, 0), 5) == 784 + 576 * 4


@pytest.mark.parametrize("kwargs, exc, msg", [
    (dict(simd=4), ValueError, "simd must divide KH*KW*C=27, not 4"),
    (dict(pad=(3, 0, 0, 0)), ValueError, "pad must be smaller than the kernel (3, 3) on each side, "
                                         "not (3, 0, 0, 0)"),
    (dict(kernel=(5, 3)), ValueError, "kernel must fit the padded image (4, 4), not (5, 3)"),
    (dict(pad_value=16), ValueError, "pad_value must be an element code of 4 bits, not 16"),
    (dict(elem_bits=0), ValueError, "elem_bits must be a positive integer, not 0"),
])
def test_constructor_validation(kwargs, exc, msg):
    args = dict(in_shape=(4, 4, 3), kernel=(3, 3), simd=9, elem_bits=4) | kwargs
    assert_rejects(lambda: ParallelWindow(**args), exc, msg)
