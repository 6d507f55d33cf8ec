"""Stream FIFO: block RAM (or flip-flops) with every control signal a register."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..streams import check_int, occupancy, ram_attrs
from .register_slice import RegisterSlice

__all__ = ["StreamFifo"]


class StreamFifo(wiring.Component):
    """First-in first-out buffer of ``depth`` words of ``width`` bits.

    Up to 4 words: a :class:`~hw.plumbing.register_slice.RegisterSlice`. Deeper: a
    memory of ``depth - 3`` words (synchronous read port, so Yosys maps it to block RAM
    when it is large) in front of a 3-word slice. A read is issued while the slice's
    count plus the read in flight is below 3, so the slice never overflows and keeps
    taking a word per cycle, and the decision uses registers only. Every path of the
    FIFO starts and ends at a flip-flop after at most a few LUTs, and none passes
    through its neighbours: ``i.ready``, ``o.valid`` and ``o.payload`` (through the
    slice's multiplexer) come from registers. (This replaced
    :class:`amaranth.lib.fifo.SyncFIFOBuffered`, whose ready is a level compare and
    whose read enable runs through its level logic; on iCE40 those were the paths that
    held the core clock under 50 MHz.)

    Parameters
    ----------
    width : int
        Payload bits (>= 1).
    depth : int
        Words held (>= 2).

    Members
    -------
    i : In(stream.Signature(unsigned(width)))
    o : Out(stream.Signature(unsigned(width)))

    Latency and throughput
    ----------------------
    One word per cycle in and out at every depth. A word written into an empty FIFO is
    valid on ``o`` ``latency`` cycles after its input transfer: 1 up to 4 words, 3
    deeper (memory write, registered read, slice).
    """

    def __init__(self, *, width: int, depth: int):
        self.width = check_int("width", width)
        self.depth = check_int("depth", depth, minimum=2)
        self.latency = 1 if self.depth <= 4 else 3
        super().__init__({
            "i": In(stream.Signature(self.width)),
            "o": Out(stream.Signature(self.width)),
        })

    def elaborate(self, platform):
        m = Module()
        if self.depth <= 4:
            m.submodules.slice = out = RegisterSlice(width=self.width, entries=self.depth)
            wiring.connect(m, wiring.flipped(self.i), out.i)
            wiring.connect(m, out.o, wiring.flipped(self.o))
            return m
        m.submodules.slice = out = RegisterSlice(width=self.width, entries=3)
        wiring.connect(m, out.o, wiring.flipped(self.o))
        size = self.depth - 3
        m.submodules.storage = storage = Memory(shape=self.width, depth=size, init=[],
                                                attrs=ram_attrs(size))
        wr, rd = storage.write_port(), storage.read_port(domain="sync")
        wp = Signal(range(size), name="wp")
        rp = Signal(range(size), name="rp")
        put, issue = Signal(name="put"), Signal(name="issue")
        _, has_data, not_full = occupancy(m, size=size, inc=put, dec=issue, name="storage")
        in_flight = Signal(name="in_flight")              # read issued last cycle
        m.d.comb += [put.eq(self.i.valid & not_full),
                     issue.eq(has_data & (out.count + in_flight < 3))]
        m.d.comb += [
            self.i.ready.eq(not_full),
            wr.addr.eq(wp), wr.data.eq(self.i.payload), wr.en.eq(put),
            rd.addr.eq(rp), rd.en.eq(issue),
            out.i.payload.eq(rd.data), out.i.valid.eq(in_flight),
        ]
        with m.If(put):
            m.d.sync += wp.eq(Mux(wp == size - 1, 0, wp + 1))
        with m.If(issue):
            m.d.sync += rp.eq(Mux(rp == size - 1, 0, rp + 1))
        m.d.sync += in_flight.eq(issue)
        return m
