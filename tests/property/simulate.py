"""Run a generated graph in the Amaranth simulator, at the AXI4-Stream top, against the golden model."""

from __future__ import annotations

import numpy as np

from bitsmith.generator.build import elaborate
from bitsmith.generator.estimate import graph_cycles
from bitsmith.generator.execute import frames_to_words, words_to_frames
from bitsmith.sim.golden import run_graph
from tests.hw.util import port, run_streams


def first_mismatch(want: np.ndarray, got: np.ndarray) -> str | None:
    """'frame f, index (h, w, c): expected e, got a' for the first difference, else None."""
    bad = np.argwhere(got != want)
    if not bad.size:
        return None
    where = tuple(int(i) for i in bad[0])
    return f"frame {where[0]}, index {where[1:]}: expected {want[where]}, got {got[where]}"


def check_graph_in_amaranth(graph, x: np.ndarray, *, idle: str = "none",
                            backpressure: str = "none", seed: int = 0) -> None:
    """Elaborate ``graph`` as the generated top, stream ``x`` through it and assert that
    every output element equals the golden model and ``tlast`` marks each frame's end."""
    want = run_graph(graph, x)
    elab = elaborate(graph)
    top, io = elab.top, elab.io
    words = [w for frame in frames_to_words(x, io) for w in frame]
    per_frame = io["out"]["words_per_frame"]
    s = port(top.s_axis_tvalid, top.s_axis_tready, top.s_axis_tdata)
    m = port(top.m_axis_tvalid, top.m_axis_tready, top.m_axis_tdata)
    # patterns pause at most 3 cycles in 4: budget 4x the folding bound per frame, plus fill
    budget = 20 * (len(words) + len(x) * per_frame) + 4 * (len(x) + 2) * graph_cycles(graph) + 500
    _, (cap,) = run_streams(top, [(s, words)], [(m, len(x) * per_frame)], idle=idle,
                            backpressure=backpressure, seed=seed, extras=[top.m_axis_tlast],
                            max_cycles=budget)
    got = words_to_frames([cap.words[i:i + per_frame] for i in range(0, len(cap.words), per_frame)],
                          io)
    problem = first_mismatch(want, got)
    assert problem is None, problem
    assert [e[0] for e in cap.extras] == ([0] * (per_frame - 1) + [1]) * len(x), "tlast"


def check_graph_reset_in_amaranth(graph, x: np.ndarray, word: int, *, delay: int = 0,
                                  reset_cycles: int = 2) -> None:
    """Reset the generated top in the middle of the traffic, then check what follows.

    ``reset_after = 1 + (word - 1) mod W`` input words are sent, ``W`` the words of all
    frames but the last (outputs drain freely); the next word is offered for a cycle, the
    input then idles ``delay`` cycles while the design works on what it holds, and ``rst``
    is held for ``reset_cycles`` cycles. The frames from the next frame boundary on are
    sent afresh and their outputs -- every word after the reset -- must equal the golden
    model: nothing stale, lost or duplicated.
    """
    from amaranth.hdl import ClockDomain, Module
    from amaranth.sim import Simulator

    elab = elaborate(graph)
    top, io = elab.top, elab.io
    words = [w for frame in frames_to_words(x, io) for w in frame]
    per_in, per_out = io["in"]["words_per_frame"], io["out"]["words_per_frame"]
    reset_after = 1 + (word - 1) % ((len(x) - 1) * per_in)
    resumed = -(-reset_after // per_in)
    after = words[resumed * per_in:]
    expected = (len(x) - resumed) * per_out
    budget = 20 * (len(words) + len(x) * per_out) + 4 * (len(x) + 2) * graph_cycles(graph) + 500
    m = Module()
    m.domains.sync = domain = ClockDomain("sync")
    m.submodules.top = top
    got: list[int] = []

    async def bench(ctx):
        ctx.set(top.m_axis_tready, 1)
        sent = cycles = 0
        while sent <= reset_after:            # the last round offers the word cut off by the reset
            ctx.set(top.s_axis_tdata, words[sent] if sent < len(words) else 0)
            ctx.set(top.s_axis_tvalid, int(sent < len(words)))
            if sent == reset_after:
                await ctx.tick()
                break
            _, _, ready = await ctx.tick().sample(top.s_axis_tready)
            sent += int(ready)
            cycles += 1
            assert cycles < budget, "the input stalled before the reset"
        ctx.set(top.s_axis_tvalid, 0)
        for _ in range(delay):
            await ctx.tick()
        ctx.set(domain.rst, 1)
        for _ in range(reset_cycles):
            await ctx.tick()
        ctx.set(domain.rst, 0)
        k = cycles = 0
        while len(got) < expected or cycles < 2 * per_out + 20:   # and a few cycles for extras
            ctx.set(top.s_axis_tdata, after[k] if k < len(after) else 0)
            ctx.set(top.s_axis_tvalid, int(k < len(after)))
            _, _, ready, valid, data = await ctx.tick().sample(top.s_axis_tready, top.m_axis_tvalid,
                                                                top.m_axis_tdata)
            k += int(ready and k < len(after))
            if valid:
                got.append(int(data))
            cycles += 1
            assert cycles < budget, f"got {len(got)} of {expected} words after the reset"

    sim = Simulator(m)
    sim.add_clock(1e-6, domain="sync")
    sim.add_testbench(bench)
    sim.run()
    assert len(got) == expected, f"{len(got)} words after the reset, expected {expected}"
    frames = [got[i:i + per_out] for i in range(0, len(got), per_out)]
    problem = first_mismatch(run_graph(graph, x[resumed:]), words_to_frames(frames, io))
    assert problem is None, f"after a reset following input word {reset_after}: {problem}"
