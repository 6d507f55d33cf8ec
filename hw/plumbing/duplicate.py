"""Stream duplicate (fork): every word goes to both outputs, for residual connections."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..streams import check_int

__all__ = ["Duplicate"]


class Duplicate(wiring.Component):
    """Copies each input word to ``a`` and ``b``; each output drains at its own pace.

    A word is taken when both output registers are empty or being emptied, so the two
    copies stay in order and the slower branch sets the pace. For a residual block,
    ``b`` (the bypass) needs a FIFO deep enough to hold the words the body consumes
    before it emits the matching output (see :func:`bitsmith.generator.lowering.conv.bypass_depth`),
    else the block runs at the body's latency-bound rate or, for a body with a sliding
    window, deadlocks.

    Parameters
    ----------
    width : int
        Payload bits.

    Members
    -------
    i : In(stream.Signature(unsigned(width)))
    a, b : Out(stream.Signature(unsigned(width)))

    Latency and throughput
    ----------------------
    One word per cycle when both outputs are ready; a word is valid on both outputs the
    cycle after its input transfer. ``a.valid``/``b.valid`` are registers.
    """

    def __init__(self, *, width):
        self.width = check_int("width", width)
        super().__init__({
            "i": In(stream.Signature(self.width)),
            "a": Out(stream.Signature(self.width)),
            "b": Out(stream.Signature(self.width)),
        })

    def elaborate(self, platform):
        m = Module()
        word = Signal(self.width)
        a_valid, b_valid = Signal(), Signal()
        a_free = ~a_valid | self.a.ready
        b_free = ~b_valid | self.b.ready
        m.d.comb += [self.i.ready.eq(a_free & b_free),
                     self.a.valid.eq(a_valid), self.a.payload.eq(word),
                     self.b.valid.eq(b_valid), self.b.payload.eq(word)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [word.eq(self.i.payload), a_valid.eq(1), b_valid.eq(1)]
        with m.Else():
            with m.If(self.a.ready):
                m.d.sync += a_valid.eq(0)
            with m.If(self.b.ready):
                m.d.sync += b_valid.eq(0)
        return m
