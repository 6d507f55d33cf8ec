"""Per-lane reduction over the windows of a depthwise window stream (base of the pools)."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Shape, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..streams import check_int, elements

__all__ = ["WindowReduce"]


class WindowReduce(wiring.Component):
    """Reduces every ``window`` consecutive words, lane by lane, to one output word.

    The input is the depthwise window stream of
    :class:`~hw.compute.sliding_window.SlidingWindow`: per output pixel and channel
    group of ``pe`` channels, ``window`` words (the KH*KW kernel positions). Each lane
    keeps an accumulator: :meth:`combine` folds the next element code into it (``first``
    marks a window's first word), :meth:`finish` turns the window's final accumulator
    into the output element code. Subclasses (:class:`~hw.compute.maxpool.MaxPool`,
    :class:`~hw.compute.avg_pool.AvgPool`) define those two and their ports' widths.

    Parameters
    ----------
    pe : int
        Lanes (channels) per word.
    window : int
        Input words per output word.
    in_bits, out_bits : int
        Bits per input / output element.
    acc_shape : Shape
        Shape of a lane's accumulator.

    Members
    -------
    i : In(stream.Signature(unsigned(pe * in_bits)))
    o : Out(stream.Signature(unsigned(pe * out_bits)))
        One word per ``window`` input words.

    Latency and throughput
    ----------------------
    One input word per cycle, ``window`` cycles per output word; the output word is valid
    the cycle after the transfer of the window's last input word. ``o.valid`` is a register.
    """

    def __init__(self, *, pe: int, window: int, in_bits: int, out_bits: int, acc_shape):
        self.pe = check_int("pe", pe)
        self.window = check_int("window", window)
        self.in_bits = check_int("in_bits", in_bits)
        self.out_bits = check_int("out_bits", out_bits)
        self.acc_shape = Shape.cast(acc_shape)
        super().__init__({
            "i": In(stream.Signature(self.pe * self.in_bits)),
            "o": Out(stream.Signature(self.pe * self.out_bits)),
        })

    def combine(self, code: Value, acc: Value, first: Value) -> Value:
        """The lane's accumulator after element ``code`` (``first``: the window's first)."""
        raise NotImplementedError

    def finish(self, m: Module, acc: Value) -> Value:
        """The output value of a window's final accumulator ``acc`` (cut or sign-extended
        to ``out_bits``: its element code)."""
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        k = Signal(range(self.window))
        accs = [Signal(self.acc_shape, name=f"acc{p}") for p in range(self.pe)]
        out = Signal(len(self.o.payload))
        out_valid = Signal()
        last = k == self.window - 1
        m.d.comb += [self.i.ready.eq(~last | ~out_valid | self.o.ready),
                     self.o.valid.eq(out_valid), self.o.payload.eq(out)]
        take = self.i.valid & self.i.ready
        new, codes = [], []
        for p, (code, acc) in enumerate(zip(elements(self.i.payload, self.pe, self.in_bits), accs)):
            lane = Signal(self.acc_shape, name=f"next{p}")
            result = Signal(self.out_bits, name=f"result{p}")   # sign-extended or cut to out_bits
            m.d.comb += [lane.eq(self.combine(code, acc, k == 0)), result.eq(self.finish(m, lane))]
            new.append(lane)
            codes.append(result)
        with m.If(self.o.ready):
            m.d.sync += out_valid.eq(0)
        with m.If(take):
            m.d.sync += [k.eq(Mux(last, 0, k + 1))] + [a.eq(n) for a, n in zip(accs, new)]
            with m.If(last):
                m.d.sync += [out.eq(Cat(codes)), out_valid.eq(1)]
        return m
