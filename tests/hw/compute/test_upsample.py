"""Upsample (nearest neighbour) vs numpy repeat, under idle/backpressure, and its rate."""

import numpy as np
import pytest

from tests.hw.util import PATTERNS, assert_rejects, assert_words_equal, run_stream
from bitsmith.hw.compute.upsample import Upsample


def check_upsample(h, w, pixel_words, scale, frames=2, idle="none", backpressure="none", seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << 12, size=(frames, h, w, pixel_words))
    fh, fw = scale
    want = np.repeat(np.repeat(x, fh, axis=1), fw, axis=2).reshape(-1).tolist()
    dut = Upsample(width=w, pixel_words=pixel_words, scale=scale, word_bits=12)
    _, cap = run_stream(dut, x.reshape(-1).tolist(), len(want), idle=idle, backpressure=backpressure,
                        seed=seed)
    assert_words_equal(cap.words, want)
    return cap


@pytest.mark.parametrize("idle", PATTERNS)
@pytest.mark.parametrize("backpressure", PATTERNS)
def test_idle_backpressure(idle, backpressure):
    check_upsample(3, 4, 2, (2, 2), idle=idle, backpressure=backpressure, seed=1)


@pytest.mark.parametrize("h, w, pixel_words, scale", [
    (2, 3, 1, (1, 2)), (3, 2, 2, (3, 1)), (2, 1, 1, (2, 3)), (1, 5, 3, (2, 1)), (4, 4, 1, (1, 4))])
def test_shapes(h, w, pixel_words, scale):
    check_upsample(h, w, pixel_words, scale, idle="random", backpressure="random", seed=2)


@pytest.mark.parametrize("h, w, pixel_words, scale", [
    (3, 4, 2, (2, 2)), (2, 3, 1, (1, 2)), (3, 2, 2, (2, 1)), (2, 2, 1, (3, 3))])
def test_one_output_word_per_cycle(h, w, pixel_words, scale):
    """Steady state: the output frames follow each other every H*FH*W*FW*words cycles."""
    per = h * scale[0] * w * scale[1] * pixel_words
    cap = check_upsample(h, w, pixel_words, scale, frames=4)
    starts = cap.cycles[::per]
    assert np.diff(starts).tolist()[-2:] == [per, per]


def test_constructor_validation():
    args = dict(width=4, pixel_words=2, scale=(2, 2), word_bits=8)
    assert_rejects(lambda: Upsample(**(args | dict(scale=(1, 1)))), ValueError,
                   "scale must repeat pixels or rows (FH*FW >= 2), not (1, 1)")
    assert_rejects(lambda: Upsample(**(args | dict(scale=2))), TypeError,
                   "scale must be a pair of integers, not 2")
    assert_rejects(lambda: Upsample(**(args | dict(scale=(0, 2)))), ValueError,
                   "scale[0] must be a positive integer, not 0")
    assert_rejects(lambda: Upsample(**(args | dict(width=0))), ValueError,
                   "width must be a positive integer, not 0")
