"""Global accumulating pool: per-channel sum over all pixels of a frame."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..streams import check_dtype, check_int, element_value, elements, is_bipolar

__all__ = ["GlobalAccPool"]


class GlobalAccPool(wiring.Component):
    """Sums each channel over the ``pixels`` pixels of a frame (global average pool without the divide).

    Per frame the input is ``pixels * C/PE`` words (NHWC, PE channels per word); the
    output is the ``C/PE`` words of the sums, element ``p`` of word ``cg`` being channel
    ``cg*PE + p``, coded in ``out_dtype`` (true input values are summed; BIPOLAR as ±1).
    Partial sums live in a ``C/PE``-word memory read one word ahead (transparent to its
    write port), so back-to-back words of the same group are exact.

    Parameters
    ----------
    in_dtype : DataType
    out_dtype : DataType
        Must hold ``pixels * [min(in), max(in)]`` (and 0), else ``ValueError``.
    channels : int
    pe : int
        Channels per word (divides ``channels``).
    pixels : int
        Pixels per frame (H*W).

    Members
    -------
    i : In(stream.Signature(unsigned(pe * in_dtype.bitwidth())))
    o : Out(stream.Signature(unsigned(pe * out_dtype.bitwidth())))

    Latency and throughput
    ----------------------
    One input word per cycle: ``pixels * C/PE`` cycles per frame. Output word ``cg`` is
    valid the cycle after the transfer of the frame's last word of group ``cg``.
    """

    def __init__(self, *, in_dtype, out_dtype, channels, pe, pixels):
        self.in_dtype = check_dtype("in_dtype", in_dtype)
        self.out_dtype = check_dtype("out_dtype", out_dtype)
        self.channels = check_int("channels", channels)
        self.pe = check_int("pe", pe)
        self.pixels = check_int("pixels", pixels)
        if self.channels % self.pe:
            raise ValueError(f"pe must divide channels={self.channels}, not {pe!r}")
        lo = min(0, self.pixels * int(self.in_dtype.min()))
        hi = self.pixels * int(self.in_dtype.max())
        if is_bipolar(self.out_dtype) or lo < self.out_dtype.min() or hi > self.out_dtype.max():
            raise ValueError(f"out_dtype must hold the sums {lo}..{hi}, not {self.out_dtype.name}")
        self.folds = self.channels // self.pe
        self.in_bits, self.out_bits = self.in_dtype.bitwidth(), self.out_dtype.bitwidth()
        super().__init__({
            "i": In(stream.Signature(self.pe * self.in_bits)),
            "o": Out(stream.Signature(self.pe * self.out_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        cg = Signal(range(self.folds))
        pix = Signal(range(self.pixels))
        out = Signal(len(self.o.payload))
        out_valid = Signal()
        last_pixel = pix == self.pixels - 1
        m.d.comb += [self.i.ready.eq(~last_pixel | ~out_valid | self.o.ready),
                     self.o.valid.eq(out_valid), self.o.payload.eq(out)]
        take = self.i.valid & self.i.ready
        group_end = cg == self.folds - 1
        cg_next = Mux(take, Mux(group_end, 0, cg + 1), cg)

        m.submodules.sums = sums = Memory(shape=len(self.o.payload), depth=self.folds, init=[])
        wr = sums.write_port()
        rd = sums.read_port(transparent_for=(wr,))
        m.d.comb += rd.addr.eq(cg_next)
        partial = [c.as_signed() if self.out_dtype.signed() else c
                   for c in elements(rd.data, self.pe, self.out_bits)]
        values = [element_value(c, self.in_dtype) for c in elements(self.i.payload, self.pe, self.in_bits)]
        total = Cat((Mux(pix == 0, 0, s) + v)[:self.out_bits] for s, v in zip(partial, values))
        m.d.comb += [wr.addr.eq(cg), wr.data.eq(total), wr.en.eq(take & ~last_pixel)]

        with m.If(self.o.ready):
            m.d.sync += out_valid.eq(0)
        with m.If(take):
            m.d.sync += cg.eq(Mux(group_end, 0, cg + 1))
            with m.If(group_end):
                m.d.sync += pix.eq(Mux(last_pixel, 0, pix + 1))
            with m.If(last_pixel):
                m.d.sync += [out.eq(total), out_valid.eq(1)]
        return m
