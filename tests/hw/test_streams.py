"""bitsmith.hw.streams.add_output_queue: credits bound the queue, order is kept, no word is lost."""

from __future__ import annotations

import pytest
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from bitsmith.hw.streams import add_output_queue, delay
from tests.hw.util import PATTERNS, accepted_while_blocked, run_stream

MATRIX = [(i, b) for i in PATTERNS for b in PATTERNS]


class _Pipeline(wiring.Component):
    """Takes an input word whenever it holds a credit and writes it into the output queue
    ``latency`` cycles later, never stalling in between (as the MVAU does)."""

    def __init__(self, *, depth, latency, registered_return):
        self.depth, self.latency, self.registered_return = depth, latency, registered_return
        super().__init__({"i": In(stream.Signature(8)), "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        credit_ok, take, w_en, w_data = add_output_queue(
            m, self.o, depth=self.depth, registered_return=self.registered_return)
        m.d.comb += [self.i.ready.eq(credit_ok), take.eq(self.i.valid & credit_ok),
                     w_en.eq(delay(m, take, self.latency, "w_en")),
                     w_data.eq(delay(m, self.i.payload, self.latency, "w_data"))]
        return m


@pytest.mark.parametrize("registered_return", [False, True])
@pytest.mark.parametrize("idle,backpressure", MATRIX, ids=[f"{i}-{b}" for i, b in MATRIX])
@pytest.mark.parametrize("depth,latency", [(2, 1), (3, 4), (5, 2)])
def test_output_queue_keeps_every_word_in_order(depth, latency, registered_return, idle,
                                                backpressure):
    words = [(k * 97) % 256 for k in range(60)]
    dut = _Pipeline(depth=depth, latency=latency, registered_return=registered_return)
    _, cap = run_stream(dut, words, len(words), idle=idle, backpressure=backpressure,
                        seed=depth + latency)
    assert cap.words == words


@pytest.mark.parametrize("registered_return", [False, True])
@pytest.mark.parametrize("depth", [1, 2, 4, 7])
def test_blocked_output_takes_exactly_depth_words(depth, registered_return):
    """With the consumer never ready the pipeline starts ``depth`` words, no more (the
    queue holds ``depth``) and no fewer (every credit is usable)."""
    dut = _Pipeline(depth=depth, latency=3, registered_return=registered_return)
    assert accepted_while_blocked(dut, depth + 10) == depth
