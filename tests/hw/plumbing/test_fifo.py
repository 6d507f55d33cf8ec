"""StreamFifo: order, full throughput at every depth, no loss under backpressure."""

from __future__ import annotations

import pytest

from bitsmith.hw.plumbing.fifo import StreamFifo
from tests.hw.util import PATTERNS, accepted_while_blocked, assert_rejects, run_stream

MATRIX = [(i, b) for i in PATTERNS for b in PATTERNS]


@pytest.mark.parametrize("idle,backpressure", MATRIX, ids=[f"{i}-{b}" for i, b in MATRIX])
@pytest.mark.parametrize("depth", [2, 3, 5, 6, 17, 37])
def test_fifo_keeps_order(depth, idle, backpressure):
    words = [(k * 2654435761) % 1024 for k in range(40)]
    _, cap = run_stream(StreamFifo(width=10, depth=depth), words, len(words), idle=idle,
                        backpressure=backpressure, seed=depth)
    assert cap.words == words


@pytest.mark.parametrize("depth,latency", [(2, 1), (3, 1), (4, 1), (5, 3), (8, 3), (35, 3), (36, 4), (40, 4)])
def test_fifo_full_throughput(depth, latency):
    """Latency: the register slice alone (1), or memory write, read and slice (3), and
    one more register after a block RAM (storage of >= 32 words, from depth 36)."""
    fifo = StreamFifo(width=8, depth=depth)
    assert fifo.latency == latency
    src, cap = run_stream(fifo, list(range(30)), 30)
    assert src == list(range(30))
    assert cap.cycles == [k + latency for k in range(30)]


@pytest.mark.parametrize("depth,held", [(2, 2), (3, 3), (4, 4), (5, 5), (9, 9), (35, 35), (40, 40)])
def test_fifo_holds_depth_words_when_blocked(depth, held):
    """With the sink never ready the FIFO accepts exactly ``depth`` words."""
    assert accepted_while_blocked(StreamFifo(width=8, depth=depth), depth + 8) == held


@pytest.mark.parametrize("kw,error,message", [
    (dict(width=0, depth=4), ValueError, "width must be a positive integer, not 0"),
    (dict(width=8, depth=1), ValueError, "depth must be an integer >= 2, not 1"),
    (dict(width=8, depth="4"), TypeError, "depth must be an integer, not '4'"),
])
def test_fifo_rejects(kw, error, message):
    assert_rejects(lambda: StreamFifo(**kw), error, message)


@pytest.mark.parametrize("entries,error,message", [
    (1, ValueError, "entries must be an integer >= 2, not 1"),
    (5, ValueError, "entries must be 2 to 4, not 5"),
])
def test_register_slice_rejects(entries, error, message):
    from bitsmith.hw.plumbing.register_slice import RegisterSlice
    assert_rejects(lambda: RegisterSlice(width=8, entries=entries), error, message)


@pytest.mark.parametrize("entries", [2, 3, 4])
def test_register_slice_word_enables_ignore_valid(entries):
    """The free word next in turn takes the payload while ``i.valid`` is low (its clock
    enable is a LUT of the slice's registers only), yet is neither counted nor offered:
    ``o.valid`` stays low and the next valid word lands in that same register."""
    from amaranth.sim import Simulator

    from bitsmith.hw.plumbing.register_slice import RegisterSlice
    from bitsmith.sim.formal.harness import Internals

    dut = RegisterSlice(width=8, entries=entries)
    parts = Internals(dut)
    word0 = parts["word0"]
    seen = {}

    async def bench(ctx):
        ctx.set(dut.o.ready, 0)
        ctx.set(dut.i.valid, 0)
        ctx.set(dut.i.payload, 0xA5)
        await ctx.tick()
        seen["idle"] = (ctx.get(word0), ctx.get(dut.o.valid))
        ctx.set(dut.i.payload, 0x3C)
        ctx.set(dut.i.valid, 1)
        await ctx.tick()
        ctx.set(dut.i.valid, 0)
        ctx.set(dut.i.payload, 0x77)
        await ctx.tick()
        seen["put"] = (ctx.get(word0), ctx.get(dut.o.valid), ctx.get(dut.o.payload))

    sim = Simulator(parts.elaboratable)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == {"idle": (0xA5, 0), "put": (0x3C, 1, 0x3C)}
