"""StreamCrossing: every word arrives once, in order, between unrelated clocks."""

import random

import pytest
from amaranth import ClockDomain, Module
from amaranth.sim import Simulator

from bitsmith.boards.shell.crossing import StreamCrossing

# (write period, read period) in ns: slow->fast, fast->slow, near-equal and drifting
PERIODS = [(83.3, 16.7), (6.7, 40.0), (10.0, 10.3)]


@pytest.mark.parametrize("w_period,r_period", PERIODS, ids=[f"{a}-{b}" for a, b in PERIODS])
def test_words_cross_in_order_under_random_valid_and_ready(w_period, r_period):
    dut = StreamCrossing(width=12, w_domain="wr", r_domain="rd")
    m = Module()
    m.submodules.dut = dut
    m.domains.wr, m.domains.rd = ClockDomain("wr"), ClockDomain("rd")
    rng = random.Random(int(w_period * 10 + r_period))
    words = [rng.randrange(1 << 12) for _ in range(60)]
    got, held_while_stalled = [], []
    sim = Simulator(m)
    sim.add_clock(w_period * 1e-9, domain="wr")
    sim.add_clock(r_period * 1e-9, domain="rd", phase=r_period * 0.37e-9)

    async def writer(ctx):
        for word in words:
            while rng.random() < 0.3:                       # idle cycles
                await ctx.tick("wr")
            ctx.set(dut.i.payload, word)
            ctx.set(dut.i.valid, 1)
            await ctx.tick("wr").until(dut.i.ready)
            ctx.set(dut.i.valid, 0)
            ctx.set(dut.i.payload, 0xFFF ^ word)             # a changed payload must not leak

    async def reader(ctx):
        previous = None
        while len(got) < len(words):
            ready = rng.random() < 0.6
            ctx.set(dut.o.ready, ready)
            _, _, valid, payload = await ctx.tick("rd").sample(dut.o.valid, dut.o.payload)
            if previous is not None:                        # stalled word stays put
                held_while_stalled.append(previous == (valid, payload))
            previous = (valid, payload) if valid and not ready else None
            if valid and ready:
                got.append(payload)
        for _ in range(20):                                  # nothing extra arrives
            ctx.set(dut.o.ready, 1)
            _, _, valid = await ctx.tick("rd").sample(dut.o.valid)
            assert not valid

    sim.add_testbench(writer)
    sim.add_testbench(reader)
    sim.run_until(len(words) * 12 * max(w_period, r_period) * 1e-9)
    assert got == words
    assert held_while_stalled and all(held_while_stalled)


def test_rejects_a_bad_width():
    with pytest.raises(ValueError, match=r"^width must be a positive integer, not 0$"):
        StreamCrossing(width=0, w_domain="sync", r_domain="core")
