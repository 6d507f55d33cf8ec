"""Register slice (2 to 4 words): cuts the ready and valid paths of a stream."""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..streams import check_int, next_mod, occupancy

__all__ = ["RegisterSlice"]


class RegisterSlice(wiring.Component):
    """A queue of ``entries`` word registers with registered ready and valid.

    Word registers are written in turn straight from ``i.payload`` (a clock enable, no
    multiplexer in front of them; the free word next in turn takes the payload every
    cycle, valid or not, so its enable depends on the slice's registers only) and read
    in turn onto ``o.payload`` through an ``entries``:1 multiplexer. ``i.ready`` ("not full") and ``o.valid`` ("not empty")
    are register outputs, so a consumer's ready logic reaches no further than the slice,
    and a block RAM read port in front of it (a FIFO's) drives flip-flops directly: on
    ECP5 the DP16KD's 5.8 ns clock-to-out leaves no room for a LUT at 150 MHz.

    Parameters
    ----------
    width : int
        Payload bits.
    entries : int
        Words held, 2 to 4 (two already give one word per cycle).

    Members
    -------
    i : In(stream.Signature(width))
    o : Out(stream.Signature(width))

    Latency and throughput
    ----------------------
    Latency 1; one word per cycle.
    """

    def __init__(self, *, width: int, entries: int = 2):
        self.width = check_int("width", width)
        self.entries = check_int("entries", entries, minimum=2)
        if self.entries > 4:
            raise ValueError(f"entries must be 2 to 4, not {entries!r}")
        self.latency = 1
        super().__init__({"i": In(stream.Signature(self.width)),
                          "o": Out(stream.Signature(self.width))})

    def elaborate(self, platform):
        m = Module()
        n = self.entries
        words = Array(Signal(self.width, reset_less=True, name=f"word{k}") for k in range(n))
        wr_sel = Signal(range(n), name="wr_sel")
        rd_sel = Signal(range(n), name="rd_sel")
        put = Signal(name="put")
        # the consumer's ready arrives late (its own logic, maybe far away): every next
        # state is computed for both of its values and it only chooses, one LUT before
        # the registers
        # ``i.ready`` and ``o.valid`` are copies of the flags, so neither neighbour's
        # handshake gate is shared with this slice's own next-state logic
        not_empty, not_full, valid, ready = occupancy(
            m, size=n, inc=put, dec=None, late=self.o.ready, name="slice",
            offered=("nonempty", "not_full"))
        m.d.comb += [self.i.ready.eq(ready), self.o.valid.eq(valid),
                     self.o.payload.eq(words[rd_sel]),
                     put.eq(self.i.valid & not_full)]
        # the free word at ``wr_sel`` takes the payload whether or not it is valid (it is
        # only counted, and ``wr_sel`` only moves, on ``put``): the words' clock enables
        # are a LUT of this slice's own registers, not of the producer's ``valid``, which
        # may come from far away (ECP5 Winograd: a unit's output valid routed to the
        # slice's word enables, 7.1-7.6 ns)
        with m.If(not_full):
            m.d.sync += words[wr_sel].eq(self.i.payload)
        with m.If(put):
            m.d.sync += wr_sel.eq(next_mod(wr_sel, n))
        rd_next = Signal.like(rd_sel, name="rd_sel_if_ready", attrs={"keep": 1})
        m.d.comb += rd_next.eq(Mux(not_empty, next_mod(rd_sel, n), rd_sel))
        m.d.sync += rd_sel.eq(Mux(self.o.ready, rd_next, rd_sel))
        return m
