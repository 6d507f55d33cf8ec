"""Concat: per pixel, the words of each input in turn, under idle/backpressure."""

import pytest

from bitsmith.hw.plumbing.concat import Concat
from tests.hw.util import PATTERNS, assert_rejects, assert_words_equal, run_streams


def check_concat(words, pixels=6, idle="none", backpressure="none", seed=0):
    streams = [[(k << 6) | (p * w + j) % 64 for p in range(pixels) for j in range(w)]
               for k, w in enumerate(words)]
    dut = Concat(width=8, words=words)
    src, caps = run_streams(dut, [(getattr(dut, f"i{k}"), s) for k, s in enumerate(streams)],
                            [(dut.o, pixels * sum(words))], idle=idle, backpressure=backpressure, seed=seed)
    want = [s[p * w + j] for p in range(pixels) for s, w in zip(streams, words) for j in range(w)]
    assert_words_equal(caps[0].words, want)
    return caps[0]


@pytest.mark.parametrize("idle", PATTERNS)
@pytest.mark.parametrize("backpressure", PATTERNS)
def test_idle_backpressure(idle, backpressure):
    check_concat((2, 3), idle=idle, backpressure=backpressure, seed=5)


@pytest.mark.parametrize("words", [(1, 1), (1, 4), (3, 1, 2), (2, 2, 2, 2)])
def test_word_counts(words):
    check_concat(words, idle="random", backpressure="random", seed=6)


def test_one_word_per_cycle():
    cap = check_concat((2, 3, 1))
    assert cap.cycles[-1] - cap.cycles[0] + 1 == len(cap.cycles)


def test_constructor_validation():
    assert_rejects(lambda: Concat(width=8, words=(2,)), TypeError,
                   "words must be a sequence of two or more integers, not (2,)")
    assert_rejects(lambda: Concat(width=8, words=(2, 0)), ValueError,
                   "words[1] must be a positive integer, not 0")
    assert_rejects(lambda: Concat(width=0, words=(1, 1)), ValueError,
                   "width must be a positive integer, not 0")
