"""Window max: the reduction half of a streaming max-pool (FINN's Pool_batch, max)."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..streams import check_dtype, check_int, elements, is_bipolar

__all__ = ["MaxPool"]


class MaxPool(wiring.Component):
    """Per-channel maximum over each window of a depthwise window stream.

    A max-pool layer is :class:`~hw.compute.sliding_window.SlidingWindow` (depthwise
    order, no padding) followed by this unit. Per output pixel the input holds, for each
    channel group of PE channels, ``window`` consecutive words (the KH*KW kernel
    positions); the unit emits one word per group with the largest element of each lane.
    Codes are compared by the value they stand for: two's complement for signed types,
    plain for unsigned ones and for BIPOLAR (bit 1 = +1 > bit 0 = -1, so the max of a
    BIPOLAR window is the OR of its bits). Output codes are input codes (same datatype).

    Parameters
    ----------
    dtype : DataType
        Element type (1..32 bits, BIPOLAR allowed).
    pe : int
        Channels per word.
    window : int
        Words per channel group and output pixel (KH*KW).

    Members
    -------
    i : In(stream.Signature(unsigned(pe * dtype.bitwidth())))
    o : Out(stream.Signature(unsigned(pe * dtype.bitwidth())))
        One word per ``window`` input words.

    Latency and throughput
    ----------------------
    One input word per cycle, ``window`` cycles per output word; the output word is valid
    the cycle after the transfer of the group's last input word. ``o.valid`` is a register.
    """

    def __init__(self, *, dtype, pe, window):
        self.dtype = check_dtype("dtype", dtype)
        self.pe = check_int("pe", pe)
        self.window = check_int("window", window)
        self.bits = self.dtype.bitwidth()
        super().__init__({
            "i": In(stream.Signature(self.pe * self.bits)),
            "o": Out(stream.Signature(self.pe * self.bits)),
        })

    def _greater(self, a, b):
        if self.dtype.signed() and not is_bipolar(self.dtype):
            return a.as_signed() > b.as_signed()
        return a > b

    def elaborate(self, platform):
        m = Module()
        k = Signal(range(self.window))
        best = Signal(len(self.i.payload))       # running max of the current group
        out = Signal(len(self.i.payload))
        out_valid = Signal()
        last = k == self.window - 1
        m.d.comb += [self.i.ready.eq(~last | ~out_valid | self.o.ready),
                     self.o.valid.eq(out_valid), self.o.payload.eq(out)]
        take = self.i.valid & self.i.ready
        new = Cat(Mux((k == 0) | self._greater(x, b), x, b)
                  for x, b in zip(elements(self.i.payload, self.pe, self.bits),
                                  elements(best, self.pe, self.bits)))
        with m.If(self.o.ready):
            m.d.sync += out_valid.eq(0)
        with m.If(take):
            m.d.sync += [k.eq(Mux(last, 0, k + 1)), best.eq(new)]
            with m.If(last):
                m.d.sync += [out.eq(new), out_valid.eq(1)]
        return m
