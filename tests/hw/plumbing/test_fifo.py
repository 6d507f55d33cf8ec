"""StreamFifo: order, full throughput from depth 3, no loss under backpressure."""

from __future__ import annotations

import pytest

from hw.plumbing.fifo import StreamFifo
from tests.hw.util import PATTERNS, assert_rejects, run_stream

MATRIX = [(i, b) for i in PATTERNS for b in PATTERNS]


@pytest.mark.parametrize("idle,backpressure", MATRIX, ids=[f"{i}-{b}" for i, b in MATRIX])
@pytest.mark.parametrize("depth", [2, 3, 5])
def test_fifo_keeps_order(depth, idle, backpressure):
    words = [(k * 2654435761) % 1024 for k in range(40)]
    _, cap = run_stream(StreamFifo(width=10, depth=depth), words, len(words), idle=idle,
                        backpressure=backpressure, seed=depth)
    assert cap.words == words


@pytest.mark.parametrize("depth", [3, 4, 8])
def test_fifo_full_throughput(depth):
    fifo = StreamFifo(width=8, depth=depth)
    src, cap = run_stream(fifo, list(range(30)), 30)
    assert src == list(range(30))
    assert cap.cycles == [k + fifo.latency for k in range(30)]


def test_fifo_depth_2_alternates():
    src, cap = run_stream(StreamFifo(width=8, depth=2), list(range(10)), 10)
    assert src == list(range(0, 20, 2))


def test_fifo_holds_depth_words_when_blocked():
    """With the sink never ready the FIFO accepts exactly ``depth`` words."""
    from amaranth.sim import Simulator

    fifo = StreamFifo(width=8, depth=5)
    accepted = []

    async def tb(ctx):
        ctx.set(fifo.i.valid, 1)
        for k in range(12):
            ctx.set(fifo.i.payload, k)
            _, _, ready = await ctx.tick().sample(fifo.i.ready)
            accepted.append(ready)

    sim = Simulator(fifo)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert sum(accepted) == 5


@pytest.mark.parametrize("kw,error,message", [
    (dict(width=0, depth=4), ValueError, "width must be a positive integer, not 0"),
    (dict(width=8, depth=1), ValueError, "depth must be an integer >= 2, not 1"),
    (dict(width=8, depth="4"), TypeError, "depth must be an integer, not '4'"),
])
def test_fifo_rejects(kw, error, message):
    assert_rejects(lambda: StreamFifo(**kw), error, message)
