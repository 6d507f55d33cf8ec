"""WidthConverter: element order for any (in, out) pair, throughput of the wider side."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bitsmith.hw.plumbing.width_converter import WidthConverter
from tests.hw.util import PATTERNS, assert_rejects, run_stream

PAIRS = [(3, 2), (2, 3), (1, 8), (8, 1), (4, 6), (5, 3), (2, 2)]
MATRIX = [(i, b) for i in PATTERNS for b in PATTERNS]
BITS = 3


def words_of(elems, per_word):
    return [sum(int(e) << (k * BITS) for k, e in enumerate(elems[j:j + per_word]))
            for j in range(0, len(elems), per_word)]


@pytest.mark.parametrize("idle,backpressure", MATRIX, ids=[f"{i}-{b}" for i, b in MATRIX])
@pytest.mark.parametrize("n_in,n_out", PAIRS, ids=[f"{a}to{b}" for a, b in PAIRS])
def test_width_converter_order(n_in, n_out, idle, backpressure):
    total = 4 * math.lcm(n_in, n_out)
    elems = np.random.default_rng(n_in * 10 + n_out).integers(0, 1 << BITS, total)
    dut = WidthConverter(elem_bits=BITS, in_elems=n_in, out_elems=n_out)
    _, cap = run_stream(dut, words_of(elems, n_in), total // n_out, idle=idle,
                        backpressure=backpressure, seed=n_in + n_out)
    assert cap.words == words_of(elems, n_out)


@pytest.mark.parametrize("n_in,n_out", PAIRS, ids=[f"{a}to{b}" for a, b in PAIRS])
def test_width_converter_throughput(n_in, n_out):
    """The narrower side runs every cycle; the first output word of an lcm-element block is
    valid ``latency`` cycles (1 if one width divides the other, else 2) after the block."""
    total = 6 * math.lcm(n_in, n_out)
    dut = WidthConverter(elem_bits=BITS, in_elems=n_in, out_elems=n_out)
    src, cap = run_stream(dut, words_of(np.arange(total) % 8, n_in), total // n_out)
    if n_in <= n_out:
        assert src == list(range(total // n_in))
    else:
        assert cap.cycles == [cap.cycles[0] + k for k in range(total // n_out)]
    # output word j is complete once input word ceil((j+1)*out/in)-1 has arrived
    for j, c in enumerate(cap.cycles):
        done = src[-(-(j + 1) * n_out // n_in) - 1]
        assert c >= done + dut.latency
    block = math.lcm(n_in, n_out)
    assert dut.latency == (0 if n_in == n_out else 1 if block in (n_in, n_out) else 2)
    assert cap.cycles[0] == src[block // n_in - 1] + dut.latency


@pytest.mark.parametrize("kw,error,message", [
    (dict(elem_bits=0, in_elems=1, out_elems=2), ValueError, "elem_bits must be a positive integer, not 0"),
    (dict(elem_bits=4, in_elems=2.0, out_elems=2), TypeError, "in_elems must be an integer, not 2.0"),
    (dict(elem_bits=4, in_elems=2, out_elems=-1), ValueError, "out_elems must be a positive integer, not -1"),
])
def test_width_converter_rejects(kw, error, message):
    assert_rejects(lambda: WidthConverter(**kw), error, message)
