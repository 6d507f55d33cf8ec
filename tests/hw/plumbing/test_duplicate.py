"""Duplicate: both outputs see every word, in order, under idle/backpressure."""

import pytest

from bitsmith.hw.plumbing.duplicate import Duplicate
from tests.hw.util import PATTERNS, assert_rejects, assert_words_equal, run_streams


@pytest.mark.parametrize("idle", PATTERNS)
@pytest.mark.parametrize("backpressure", PATTERNS)
def test_both_outputs_get_every_word(idle, backpressure):
    words = [(k * 37 + 11) % 256 for k in range(40)]
    dut = Duplicate(width=8)
    src, caps = run_streams(dut, [(dut.i, words)], [(dut.a, len(words)), (dut.b, len(words))],
                            idle=idle, backpressure=backpressure, seed=9)
    assert_words_equal(caps[0].words, words)
    assert_words_equal(caps[1].words, words)
    if idle == backpressure == "none":
        assert src[0][-1] - src[0][0] + 1 == len(words)      # one word per cycle


def test_constructor_validation():
    assert_rejects(lambda: Duplicate(width=0), ValueError, "width must be a positive integer, not 0")


@pytest.mark.parametrize("outputs", [3, 5])
def test_n_outputs(outputs):
    words = [(k * 29 + 3) % 256 for k in range(30)]
    dut = Duplicate(width=8, outputs=outputs)
    assert dut.names == tuple("abcde"[:outputs])
    _, caps = run_streams(dut, [(dut.i, words)], [(getattr(dut, n), len(words)) for n in dut.names],
                          idle="random", backpressure="random", seed=4)
    for cap in caps:
        assert_words_equal(cap.words, words)


def test_output_count_validation():
    assert_rejects(lambda: Duplicate(width=8, outputs=1), ValueError,
                   "outputs must be an integer >= 2, not 1")
    assert_rejects(lambda: Duplicate(width=8, outputs=27), ValueError,
                   "outputs must be an integer from 2 to 26, not 27")
