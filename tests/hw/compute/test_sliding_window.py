"""SlidingWindow vs the numpy im2col of the golden model, under idle/backpressure."""


import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.hw.compute.sliding_window import SlidingWindow, buffer_rows, window_cycles
from bitsmith.sim.golden.conv import windows
from bitsmith.sim.packing import pack
from tests.hw.util import PATTERNS, assert_rejects, assert_words_equal, run_stream

INT4 = DataType["INT4"]


def expected_words(x, kernel, stride, pad, simd, depthwise, pad_value=0):
    """Window words of frames ``x`` (N, H, W, C) in the unit's output order."""
    win = windows(x, kernel, stride, pad, pad_value)            # N, OH, OW, KH, KW, C
    n, oh, ow, kh, kw, c = win.shape
    if depthwise:                                               # (cg, kh, kw, simd)
        win = win.reshape(n, oh, ow, kh, kw, c // simd, simd).transpose(0, 1, 2, 5, 3, 4, 6)
    return pack(win.reshape(-1), INT4, simd)


def check_window(in_shape, kernel, stride=(1, 1), pad=(0, 0, 0, 0), simd=1, depthwise=False,
                 frames=2, idle="none", backpressure="none", seed=0, pad_value=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(-8, 8, size=(frames,) + tuple(in_shape))
    dut = SlidingWindow(in_shape=in_shape, kernel=kernel, stride=stride, pad=pad, simd=simd,
                        elem_bits=4, depthwise=depthwise, pad_value=pad_value)
    value = pad_value - 16 if pad_value >= 8 else pad_value        # the INT4 value of the code
    want = expected_words(x, kernel, stride, pad, simd, depthwise, value)
    _, cap = run_stream(dut, pack(x.reshape(-1), INT4, simd), len(want),
                        idle=idle, backpressure=backpressure, seed=seed)
    assert_words_equal(cap.words, want)
    return dut, cap


@pytest.mark.parametrize("idle", PATTERNS)
@pytest.mark.parametrize("backpressure", PATTERNS)
def test_padded_3x3_under_idle_and_backpressure(idle, backpressure):
    check_window((4, 5, 2), (3, 3), pad=(1, 1, 1, 1), simd=1, idle=idle, backpressure=backpressure,
                 seed=3)


@pytest.mark.parametrize("cfg", [
    dict(in_shape=(5, 6, 4), kernel=(3, 2), stride=(2, 1), pad=(2, 0, 1, 1), simd=2),
    dict(in_shape=(3, 7, 2), kernel=(1, 3), stride=(1, 2), simd=2),
    dict(in_shape=(6, 6, 3), kernel=(2, 2), stride=(3, 3), simd=3),          # stride > kernel
    dict(in_shape=(5, 5, 4), kernel=(3, 3), stride=(2, 2), simd=1, depthwise=True),
    dict(in_shape=(4, 4, 4), kernel=(2, 2), stride=(2, 2), pad=(1, 1, 1, 1), simd=2, depthwise=True),
    dict(in_shape=(3, 3, 2), kernel=(3, 3), simd=2),                         # one output pixel
    # one read per output row (a row's end every read), two reads per row
    dict(in_shape=(4, 1, 2), kernel=(1, 1), simd=2),
    dict(in_shape=(5, 3, 1), kernel=(2, 1), stride=(1, 3), pad=(1, 0, 0, 0)),
    dict(in_shape=(4, 2, 1), kernel=(1, 1)),
], ids=["3x2_s21_pad", "1x3_s12", "2x2_s33", "dw_3x3_s2", "dw_pad", "whole_image", "row_of_one_read",
        "row_of_two_reads_pad", "row_of_two_reads"])
def test_configurations(cfg):
    check_window(**cfg, idle="random", backpressure="random", seed=5)


@pytest.mark.parametrize("pad_value", [8, 5])
def test_pad_value(pad_value):
    """A max-pool pads with its datatype's minimum (INT4: code 8), in every lane."""
    check_window((4, 5, 4), (3, 3), stride=(2, 2), pad=(1, 1, 1, 2), simd=2, depthwise=True,
                 pad_value=pad_value, idle="random", backpressure="random", seed=4)


@pytest.mark.parametrize("cfg", [
    dict(in_shape=(4, 4, 2), kernel=(3, 3), pad=(1, 1, 1, 1), simd=1),      # reader bound
    dict(in_shape=(4, 4, 2), kernel=(3, 3), simd=2),                          # reader bound, no pad
    dict(in_shape=(4, 6, 2), kernel=(2, 2), stride=(2, 2), simd=2),           # balanced
    dict(in_shape=(5, 5, 2), kernel=(1, 1), stride=(2, 2), simd=1),           # writer bound
    dict(in_shape=(4, 5, 4), kernel=(1, 3), stride=(1, 1), pad=(0, 1, 0, 1), simd=2, depthwise=True),
], ids=["3x3_pad", "3x3", "2x2_s2", "1x1_s2", "dw_1x3"])
def test_cycles_equal_formula(cfg):
    """Steady state: the spacing of frames on the output equals window_cycles exactly."""
    frames = 4
    dut, cap = check_window(**cfg, frames=frames)
    per = dut.out_words
    starts = cap.cycles[::per]
    periods = np.diff(starts).tolist()
    assert periods[-1] == periods[-2] == window_cycles(cfg["in_shape"], cfg["kernel"],
                                                       cfg.get("stride", (1, 1)),
                                                       cfg.get("pad", (0, 0, 0, 0)), cfg["simd"])


def test_buffer_rows():
    assert buffer_rows(32, 3, 1) == 7          # 3 window + 3 next frame rows + 1
    assert buffer_rows(32, 3, 1, 1, 1) == 5    # KH + SH + 1
    assert buffer_rows(32, 2, 2) == 5


@pytest.mark.parametrize("kwargs, exc, msg", [
    (dict(in_shape=(4, 4)), TypeError, "in_shape must be (H, W, C), not (4, 4)"),
    (dict(kernel=(0, 3)), ValueError, "kernel[0] must be a positive integer, not 0"),
    (dict(kernel=3), TypeError, "kernel must be a pair of integers, not 3"),
    (dict(stride=(1, 1.5)), TypeError, "stride[1] must be an integer, not 1.5"),
    (dict(pad=(3, 0, 0, 0)), ValueError,
     "pad must be smaller than the kernel (3, 3) on each side, not (3, 0, 0, 0)"),
    (dict(pad=(1, 1)), TypeError, "pad must be (top, left, bottom, right), not (1, 1)"),
    (dict(kernel=(5, 3)), ValueError, "kernel must fit the padded image (4, 4), not (5, 3)"),
    (dict(simd=3), ValueError, "simd must divide C=4, not 3"),
    (dict(elem_bits=0), ValueError, "elem_bits must be a positive integer, not 0"),
    (dict(depthwise=1), TypeError, "depthwise must be a bool, not 1"),
    (dict(pad_value=16), ValueError, "pad_value must be an element code of 4 bits, not 16"),
    (dict(pad_value=-1), ValueError, "pad_value must be an integer >= 0, not -1"),
])
def test_constructor_validation(kwargs, exc, msg):
    args = dict(in_shape=(4, 4, 4), kernel=(3, 3), simd=1, elem_bits=4) | kwargs
    assert_rejects(lambda: SlidingWindow(**args), exc, msg)


def random_configs(count, seed=1):
    """Random small geometries: every kernel/stride/pad/simd/order combination is fair game."""
    import random
    rnd = random.Random(seed)
    while count:
        h, w, c = rnd.randint(1, 6), rnd.randint(1, 6), rnd.choice([1, 2, 4])
        kh, kw = rnd.randint(1, 3), rnd.randint(1, 3)
        pad = (rnd.randint(0, kh - 1), rnd.randint(0, kw - 1), rnd.randint(0, kh - 1), rnd.randint(0, kw - 1))
        if kh > h + pad[0] + pad[2] or kw > w + pad[1] + pad[3]:
            continue
        count -= 1
        yield dict(in_shape=(h, w, c), kernel=(kh, kw), stride=(rnd.randint(1, 3), rnd.randint(1, 3)),
                   pad=pad, simd=rnd.choice([d for d in (1, 2, 4) if c % d == 0]),
                   depthwise=rnd.random() < 0.3)


@pytest.mark.parametrize("cfg", list(random_configs(60)), ids=lambda cfg: "-".join(
    f"{v}" for v in (cfg["in_shape"], cfg["kernel"], cfg["stride"], cfg["pad"], cfg["simd"])).replace(" ", ""))
def test_random_geometries_outputs_and_cycles(cfg):
    check_window(**cfg, idle="random", backpressure="cycle", seed=7)
    frames = 5
    dut, cap = check_window(**cfg, frames=frames)
    starts = cap.cycles[::dut.out_words]
    formula = window_cycles(cfg["in_shape"], cfg["kernel"], cfg["stride"], cfg["pad"], cfg["simd"])
    assert np.diff(starts)[-2:].tolist() == [formula, formula]


def test_sliding_window_address_has_no_multiplier():
    """A row of W*C/SIMD words that is not a power of two (here 8*3) addresses the line
    buffer without a ``$mul``, which Yosys would put on a DSP block in the address path."""
    from amaranth.back import rtlil
    unit = SlidingWindow(in_shape=(8, 8, 12), kernel=(4, 4), stride=(2, 2), pad=(1, 1, 1, 1), simd=4,
                         elem_bits=8)
    assert "$mul" not in rtlil.convert(unit)
