"""A stream across two clock domains: a request/acknowledge handshake of toggles."""

from __future__ import annotations

from amaranth import DomainRenamer, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from bitsmith.hw.plumbing.register_slice import RegisterSlice
from bitsmith.hw.streams import check_int


class StreamCrossing(wiring.Component):
    """Moves a stream from ``w_domain`` into ``r_domain``, one word at a time.

    The board top runs the shell on the board's oscillator and the core on the PLL's
    clock; two of these join them, so the UART logic never limits the core's clock.

    The write side captures a word in a holding register and toggles ``req``; the read
    side sees the toggle through an :class:`~amaranth.lib.cdc.FFSynchronizer`, copies the
    (by then stable) holding register into a
    :class:`~hw.plumbing.register_slice.RegisterSlice` and toggles ``ack``, which returns
    the same way and frees the holding register. Every path within either
    domain is one flip-flop to one or two LUTs to a flip-flop. (An
    :class:`~amaranth.lib.fifo.AsyncFIFO` was the first choice; its gray-code pointer
    update is six LUT levels and held an iCE40 core clock to 47 MHz.)

    Parameters
    ----------
    width : int
        Payload bits.
    w_domain, r_domain : str
        Clock domains of ``i`` and ``o``. Both must leave reset together (the board top
        derives both resets from one power-on reset).

    Members
    -------
    i : In(stream.Signature(width))
        In ``w_domain``; ``i.ready`` is a register.
    o : Out(stream.Signature(width))
        In ``r_domain``; ``o.valid`` and ``o.payload`` are registers.

    Latency and throughput
    ----------------------
    A word is valid on ``o`` 4 ``r_domain`` cycles (at most 5) after its input transfer;
    the next word can enter about 3 ``w_domain`` cycles after the read side took it.
    Far above the UART's rate, which is what the shell needs.
    """

    def __init__(self, *, width: int, w_domain: str, r_domain: str):
        self.width = check_int("width", width)
        self.w_domain, self.r_domain = w_domain, r_domain
        super().__init__({"i": In(stream.Signature(self.width)),
                          "o": Out(stream.Signature(self.width))})

    def elaborate(self, platform):
        m = Module()
        w, r = m.d[self.w_domain], m.d[self.r_domain]
        held = Signal(self.width, reset_less=True)
        req, busy, ack = Signal(), Signal(), Signal()
        req_r, ack_w = Signal(), Signal()
        m.submodules.req_sync = FFSynchronizer(req, req_r, o_domain=self.r_domain)
        m.submodules.ack_sync = FFSynchronizer(ack, ack_w, o_domain=self.w_domain)

        # write side: hold the word until the read side acknowledges it
        m.d.comb += self.i.ready.eq(~busy)
        with m.If(self.i.valid & ~busy):
            w += [held.eq(self.i.payload), req.eq(~req), busy.eq(1)]
        with m.Elif(busy & (ack_w == req)):
            w += busy.eq(0)

        # read side: copy the word into a register slice when it has room; the slice
        # faces the consumer, so its ready (on a board: a wire across the chip to the
        # core) reaches only the slice's own flags, never the handshake
        m.submodules.out = out = DomainRenamer(self.r_domain)(RegisterSlice(width=self.width))
        copy = (req_r != ack) & out.i.ready
        with m.If(copy):
            r += ack.eq(~ack)
        m.d.comb += [out.i.payload.eq(held), out.i.valid.eq(req_r != ack)]
        wiring.connect(m, out.o, wiring.flipped(self.o))
        return m
