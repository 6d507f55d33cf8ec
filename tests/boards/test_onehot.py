"""OneHotFSM: a flip-flop per state, transitions as written, errors for misuse."""

import numpy as np
import pytest
from amaranth import Module, Signal
from amaranth.sim import Simulator

from bitsmith.boards.shell.onehot import OneHotFSM


def counter_machine():
    """A: on ``go`` to B; B: on ``go`` to C, else back to A; C: stays while ``hold``, else to
    A. ``entered`` follows the state through ``on_goto`` (1 when the last goto was to C)."""
    m = Module()
    go, hold, entered = Signal(), Signal(), Signal()

    def follow(state):
        m.d.sync += entered.eq(state == "C")

    fsm = OneHotFSM(m, ("A", "B", "C"), init="A", name="st", on_goto=follow)
    with fsm.state("A"):
        with m.If(go):
            fsm.goto("B")
    with fsm.state("B"):
        with m.If(go):
            fsm.goto("C")
        with m.Else():
            fsm.goto("A")
    with fsm.state("C"):
        with m.If(~hold):
            fsm.goto("A")
        with m.Else():
            fsm.goto("C")
    return m, fsm, go, hold, entered


def reference(state: str, go: int, hold: int) -> str:
    if state == "A":
        return "B" if go else "A"
    if state == "B":
        return "C" if go else "A"
    return "C" if hold else "A"


def test_one_flag_set_and_transitions_as_written():
    m, fsm, go, hold, entered = counter_machine()
    rng = np.random.default_rng(3)
    stimulus = rng.integers(0, 2, (200, 2)).tolist()
    sim = Simulator(m)
    sim.add_clock(1e-6)
    seen = []

    async def bench(ctx):
        state = "A"
        for g, h in stimulus:
            flags = {s: ctx.get(f) for s, f in fsm.flags.items()}
            assert sum(flags.values()) == 1, flags
            assert flags[state] == 1
            seen.append(state)
            ctx.set(go, g)
            ctx.set(hold, h)
            await ctx.tick()
            entered_after = ctx.get(entered)
            new = reference(state, g, h)
            if state != "A" or g:          # a goto ran: ``entered`` followed it
                assert entered_after == (new == "C")
            state = new

    sim.add_testbench(bench)
    sim.run()
    assert set(seen) == {"A", "B", "C"}


def test_misuse_is_refused():
    m = Module()
    m._MustUse__silence = True         # built only to be misused, never elaborated
    with pytest.raises(ValueError, match="initial state 'X' is not one of"):
        OneHotFSM(m, ("A", "B"), init="X", name="st")
    fsm = OneHotFSM(m, ("A", "B"), init="A", name="st")
    with pytest.raises(RuntimeError, match=r"goto\('B'\) outside a state"):
        fsm.goto("B")
    with pytest.raises(RuntimeError, match="state 'B' opened inside state 'A'"):
        with fsm.state("A"):
            with fsm.state("B"):
                pass
