"""Amaranth-simulator stream drivers shared by the ``hw`` tests.

A source offers words under an *idle* pattern, a sink accepts them under a
*backpressure* pattern (cocotbext-axi style), both drawn per clock cycle from:

* ``"none"``   -- always active,
* ``"cycle"``  -- ``cycle([1, 1, 1, 0])``,
* ``"random"`` -- active with probability 1/2 from a seeded generator.

A source never withdraws ``valid`` once offered (AXI rule); the pattern is only drawn
while it holds no word. Every driver counts clock edges from 0, so the recorded cycle
numbers of transfers on different ports are comparable.
"""

from __future__ import annotations

import gc
import itertools
import random
import re
import warnings
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Iterator, Sequence

import pytest
from amaranth.hdl import Module, Signal, UnusedElaboratable
from amaranth.sim import Simulator

PATTERNS = ("none", "cycle", "random")


def activity(pattern: str, seed: int = 0) -> Iterator[bool]:
    """Endless per-cycle activity flags for ``pattern``."""
    if pattern == "none":
        return itertools.repeat(True)
    if pattern == "cycle":
        return itertools.cycle([True, True, True, False])
    if pattern == "random":
        rng = random.Random(seed)
        return iter(lambda: bool(rng.getrandbits(1)), None)
    raise ValueError(f"pattern must be one of {PATTERNS}, not {pattern!r}")


def port(valid, ready, payload) -> SimpleNamespace:
    """A stream-like view of flat signals (e.g. AXI ``tvalid``/``tready``/``tdata``)."""
    return SimpleNamespace(valid=valid, ready=ready, payload=payload)


@dataclass
class Capture:
    """What one sink saw: payloads, extra sampled signals, and the cycle of each transfer."""

    words: list[int] = field(default_factory=list)
    extras: list[tuple[int, ...]] = field(default_factory=list)
    cycles: list[int] = field(default_factory=list)


def run_streams(dut, sources: Sequence[tuple[object, Sequence[int]]],
                sinks: Sequence[tuple[object, int]], *, idle: str = "none",
                backpressure: str = "none", seed: int = 0, max_cycles: int | None = None,
                extras: Sequence = ()) -> tuple[list[list[int]], list[Capture]]:
    """Simulate ``dut`` feeding each source its words and draining ``count`` words per sink.

    Returns ``(source_cycles, captures)``: for each source the cycle of every input
    transfer, for each sink a :class:`Capture` (``extras`` are sampled with each word of
    the first sink). Fails if any driver is still busy after ``max_cycles`` cycles.
    """
    if max_cycles is None:
        total = sum(len(w) for _, w in sources) + sum(n for _, n in sinks)
        max_cycles = 20 * total + 500
    source_cycles = [[] for _ in sources]
    captures = [Capture() for _ in sinks]

    def make_source(k, stream, words):
        async def source(ctx):
            act = activity(idle, seed * 7919 + 2 * k)
            cycle = 0
            for word in words:
                while not next(act):
                    ctx.set(stream.valid, 0)
                    await ctx.tick()
                    cycle += 1
                ctx.set(stream.payload, word)
                ctx.set(stream.valid, 1)
                while True:
                    _, _, ready = await ctx.tick().sample(stream.ready)
                    cycle += 1
                    if ready:
                        source_cycles[k].append(cycle - 1)
                        break
                    assert cycle < max_cycles, f"source {k} stalled after {cycle} cycles"
                assert cycle < max_cycles, f"source {k} stalled after {cycle} cycles"
            ctx.set(stream.valid, 0)
        return source

    def make_sink(k, stream, count):
        sampled = tuple(extras) if k == 0 else ()

        async def sink(ctx):
            act = activity(backpressure, seed * 7919 + 2 * k + 1)
            cap = captures[k]
            cycle = 0
            while len(cap.words) < count:
                ready = next(act)
                ctx.set(stream.ready, ready)
                _, _, valid, payload, *more = await ctx.tick().sample(stream.valid, stream.payload,
                                                                      *sampled)
                if ready and valid:
                    cap.words.append(int(payload))
                    cap.extras.append(tuple(int(v) for v in more))
                    cap.cycles.append(cycle)
                cycle += 1
                assert cycle < max_cycles, (f"sink {k} got {len(cap.words)} of {count} words "
                                            f"in {cycle} cycles")
            ctx.set(stream.ready, 0)
        return sink

    top = Module()  # a free-running register keeps the sync domain alive for wire-only DUTs
    top.submodules.dut = dut
    heartbeat = Signal()
    top.d.sync += heartbeat.eq(~heartbeat)
    sim = Simulator(top)
    sim.add_clock(1e-6)
    for k, (stream, words) in enumerate(sources):
        sim.add_testbench(make_source(k, stream, list(words)))
    for k, (stream, count) in enumerate(sinks):
        sim.add_testbench(make_sink(k, stream, count))
    sim.run()
    return source_cycles, captures


def run_stream(dut, words: Sequence[int], count: int, **kwargs) -> tuple[list[int], Capture]:
    """:func:`run_streams` for a component with stream ports ``i`` and ``o``."""
    src, caps = run_streams(dut, [(dut.i, words)], [(dut.o, count)], **kwargs)
    return src[0], caps[0]


def accepted_while_blocked(dut, cycles: int) -> int:
    """Words ``dut.i`` accepts in ``cycles`` cycles of an always-valid input while
    ``dut.o.ready`` stays low."""
    accepted = []

    async def tb(ctx):
        ctx.set(dut.i.valid, 1)
        for k in range(cycles):
            ctx.set(dut.i.payload, k)
            _, _, ready = await ctx.tick().sample(dut.i.ready)
            accepted.append(ready)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return sum(accepted)


def assert_words_equal(actual: Sequence[int], expected: Sequence[int], what: str = "word") -> None:
    """Exact equality of two word lists, naming the first differing index."""
    assert len(actual) == len(expected), f"got {len(actual)} {what}s, expected {len(expected)}"
    for k, (a, e) in enumerate(zip(actual, expected)):
        assert a == e, f"{what} {k}: expected {e:#x}, got {a:#x}"


def assert_rejects(factory, error: type[Exception], message: str) -> None:
    """``factory()`` raises ``error`` with exactly ``message`` (anchored match).

    The half-built component would warn "created but never used" when collected; that
    warning is expected here and silenced.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(error, match=f"^{re.escape(message)}$"):
            factory()
        gc.collect()
