"""Elementwise scaled add of two streams (the join of a residual connection)."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..streams import check_dtype, check_int, element_value, elements, is_bipolar

__all__ = ["Add"]


class Add(wiring.Component):
    """``o = scale_a*a + scale_b*b`` element by element, on the true values (BIPOLAR as ±1).

    Both inputs carry ``pe`` elements per word in the same order; a word is taken from
    each when both are valid and the output register is free.

    Parameters
    ----------
    a_dtype, b_dtype : DataType
        Element types of the two inputs.
    out_dtype : DataType
        Must hold every ``scale_a*a + scale_b*b`` (not BIPOLAR), else ``ValueError``.
    pe : int
        Elements per word.
    scale_a, scale_b : int
        Nonzero integer constants (default 1).

    Members
    -------
    a : In(stream.Signature(unsigned(pe * a_dtype.bitwidth())))
    b : In(stream.Signature(unsigned(pe * b_dtype.bitwidth())))
    o : Out(stream.Signature(unsigned(pe * out_dtype.bitwidth())))

    Latency and throughput
    ----------------------
    One word per cycle; the sum is valid the cycle after the input transfer.
    ``o.valid`` is a register.
    """

    def __init__(self, *, a_dtype, b_dtype, out_dtype, pe, scale_a=1, scale_b=1):
        self.a_dtype = check_dtype("a_dtype", a_dtype)
        self.b_dtype = check_dtype("b_dtype", b_dtype)
        self.out_dtype = check_dtype("out_dtype", out_dtype)
        self.pe = check_int("pe", pe)
        for name, k in (("scale_a", scale_a), ("scale_b", scale_b)):
            if isinstance(k, bool) or not isinstance(k, int) or k == 0:
                raise ValueError(f"{name} must be a nonzero integer, not {k!r}")
        self.scale_a, self.scale_b = scale_a, scale_b
        ends = [(scale_a * int(a_dtype.min()), scale_a * int(a_dtype.max())),
                (scale_b * int(b_dtype.min()), scale_b * int(b_dtype.max()))]
        lo = sum(min(e) for e in ends)
        hi = sum(max(e) for e in ends)
        if is_bipolar(self.out_dtype) or lo < self.out_dtype.min() or hi > self.out_dtype.max():
            raise ValueError(f"out_dtype must hold the sums {lo}..{hi}, not {self.out_dtype.name}")
        self.out_bits = self.out_dtype.bitwidth()
        super().__init__({
            "a": In(stream.Signature(self.pe * self.a_dtype.bitwidth())),
            "b": In(stream.Signature(self.pe * self.b_dtype.bitwidth())),
            "o": Out(stream.Signature(self.pe * self.out_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        out = Signal(len(self.o.payload))
        out_valid = Signal()
        fire = self.a.valid & self.b.valid & (~out_valid | self.o.ready)
        m.d.comb += [self.a.ready.eq(fire), self.b.ready.eq(fire),
                     self.o.valid.eq(out_valid), self.o.payload.eq(out)]
        a = elements(self.a.payload, self.pe, self.a_dtype.bitwidth())
        b = elements(self.b.payload, self.pe, self.b_dtype.bitwidth())
        sums = []
        for p, (x, y) in enumerate(zip(a, b)):
            lane = Signal(signed(self.out_bits), name=f"sum{p}")   # sign-extends narrow sums
            m.d.comb += lane.eq(element_value(x, self.a_dtype) * self.scale_a
                                + element_value(y, self.b_dtype) * self.scale_b)
            sums.append(lane)
        total = Cat(sums)
        with m.If(fire):
            m.d.sync += [out.eq(total), out_valid.eq(1)]
        with m.Elif(self.o.ready):
            m.d.sync += out_valid.eq(0)
        return m
