"""Deliberately broken stream components, to show that each proof can fail.

:class:`Mutant` wraps a component with streams ``i`` and ``o`` and adds one bug at its
ports, so the result looks, from outside, like the component written wrong. A mutation
test proves the contract on the mutant with only the targeted property asserted and
expects a counterexample from reset.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring

__all__ = ["BUGS", "Mutant"]

BUGS = {
    "drop_on_simultaneous": "loses the input word of a cycle in which a word also leaves",
    "duplicate": "sends every word twice",
    "glitch_stalled_payload": "flips payload bit 0 on every other cycle of a stall",
    "drop_stalled_valid": "lowers valid on every other cycle, also while stalled",
    "valid_from_ready": "offers a word only while the sink is ready",
    "half_rate": "lets a word leave only on every other cycle (valid still held)",
    "extra_register": "holds one word more (a skid register after the output)",
}
"""The mutations and what each does."""


class Mutant(wiring.Component):
    """``inner`` (streams ``i`` and ``o``) with the bug ``bug`` (a key of :data:`BUGS`)."""

    def __init__(self, inner: wiring.Component, bug: str):
        if bug not in BUGS:
            raise ValueError(f"bug must be one of {sorted(BUGS)}, not {bug!r}")
        self.inner, self.bug = inner, bug
        super().__init__(inner.signature)

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = self.inner
        i, o = self.i, self.o
        toggle = Signal(name="toggle")
        m.d.sync += toggle.eq(~toggle)
        m.d.comb += [inner.i.payload.eq(i.payload), inner.i.valid.eq(i.valid),
                     i.ready.eq(inner.i.ready), o.payload.eq(inner.o.payload),
                     o.valid.eq(inner.o.valid), inner.o.ready.eq(o.ready)]
        if self.bug == "drop_on_simultaneous":
            m.d.comb += inner.i.valid.eq(i.valid & ~(o.valid & o.ready))
        elif self.bug == "duplicate":
            again = Signal(name="again")
            with m.If(o.valid & o.ready):
                m.d.sync += again.eq(~again)
            m.d.comb += inner.o.ready.eq(o.ready & again)
        elif self.bug == "glitch_stalled_payload":
            stalled = Signal(name="stalled")
            m.d.sync += stalled.eq(o.valid & ~o.ready)
            m.d.comb += o.payload.eq(inner.o.payload ^ (stalled & toggle))
        elif self.bug == "drop_stalled_valid":
            m.d.comb += [o.valid.eq(inner.o.valid & toggle), inner.o.ready.eq(o.ready & toggle)]
        elif self.bug == "valid_from_ready":
            m.d.comb += o.valid.eq(inner.o.valid & o.ready)
        elif self.bug == "half_rate":
            shown = Signal(name="shown")
            m.d.sync += shown.eq(o.valid & ~o.ready)
            gate = toggle | shown
            m.d.comb += [o.valid.eq(inner.o.valid & gate), inner.o.ready.eq(o.ready & gate)]
        elif self.bug == "extra_register":
            full = Signal(name="full")
            word = Signal.like(o.payload, name="word")
            m.d.comb += [o.valid.eq(full), o.payload.eq(word),
                         inner.o.ready.eq(~full | o.ready)]
            with m.If(inner.o.valid & inner.o.ready):
                m.d.sync += [full.eq(1), word.eq(inner.o.payload)]
            with m.Elif(o.ready):
                m.d.sync += full.eq(0)
        return m
