"""Stream FIFO: :class:`amaranth.lib.fifo.SyncFIFOBuffered` behind stream ports."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ..streams import check_int

__all__ = ["StreamFifo"]


class StreamFifo(wiring.Component):
    """First-in first-out buffer of ``depth`` words of ``width`` bits.

    Parameters
    ----------
    width : int
        Payload bits (>= 1).
    depth : int
        Words held (>= 2); one of them is the registered output.

    Members
    -------
    i : In(stream.Signature(unsigned(width)))
    o : Out(stream.Signature(unsigned(width)))

    Latency and throughput
    ----------------------
    One word per cycle in and out. A word written into an empty FIFO is valid on ``o``
    2 cycles after its input transfer. ``i.ready`` and ``o.valid`` are register outputs,
    so the FIFO also cuts every combinational ready/valid path between its neighbours.
    """

    def __init__(self, *, width: int, depth: int):
        self.width = check_int("width", width)
        self.depth = check_int("depth", depth, minimum=2)
        self.latency = 2
        super().__init__({
            "i": In(stream.Signature(self.width)),
            "o": Out(stream.Signature(self.width)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=self.width, depth=self.depth)
        m.d.comb += [
            fifo.w_data.eq(self.i.payload),
            fifo.w_en.eq(self.i.valid),
            self.i.ready.eq(fifo.w_rdy),
            self.o.payload.eq(fifo.r_data),
            self.o.valid.eq(fifo.r_rdy),
            fifo.r_en.eq(self.o.ready),
        ]
        return m
