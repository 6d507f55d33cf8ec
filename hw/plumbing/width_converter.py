"""Stream width converter between any two element counts per word."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..streams import check_int, elements

__all__ = ["WidthConverter"]


class WidthConverter(wiring.Component):
    """Re-packs a stream of ``in_elems``-element words into ``out_elems``-element words.

    Elements keep their order (element 0 of the first input word becomes element 0 of the
    first output word, and so on). The converter does not see frame boundaries: it moves
    one continuous element stream, so a frame must be a multiple of ``lcm(in_elems,
    out_elems)`` elements for output words not to straddle two frames (every frame in a
    bitsmith dataflow is, since it holds a whole number of words on both sides).

    Parameters
    ----------
    elem_bits : int
        Bits per element.
    in_elems, out_elems : int
        Elements per input / output word; any positive pair (not only multiples).

    Members
    -------
    i : In(stream.Signature(unsigned(in_elems * elem_bits)))
    o : Out(stream.Signature(unsigned(out_elems * elem_bits)))

    Latency and throughput
    ----------------------
    With ``in_elems == out_elems`` the converter is a wire (latency 0). Otherwise it is a
    shift buffer of ``in_elems + out_elems + max(in_elems, out_elems) - 1`` elements:
    an output word is valid the cycle after the input transfer that completes it, and
    the wider side runs at one word per cycle (input at ``min(1, out_elems/in_elems)``
    words per cycle, output at ``min(1, in_elems/out_elems)``). ``i.ready`` and ``o.valid``
    depend on the element count register only.
    """

    def __init__(self, *, elem_bits: int, in_elems: int, out_elems: int):
        self.elem_bits = check_int("elem_bits", elem_bits)
        self.in_elems = check_int("in_elems", in_elems)
        self.out_elems = check_int("out_elems", out_elems)
        self.capacity = in_elems + out_elems + max(in_elems, out_elems) - 1
        self.latency = 0 if in_elems == out_elems else 1
        super().__init__({
            "i": In(stream.Signature(self.in_elems * self.elem_bits)),
            "o": Out(stream.Signature(self.out_elems * self.elem_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        n_in, n_out, cap = self.in_elems, self.out_elems, self.capacity
        if n_in == n_out:
            wiring.connect(m, wiring.flipped(self.i), wiring.flipped(self.o))
            return m

        buf = [Signal(self.elem_bits, name=f"buf{j}") for j in range(cap)]
        count = Signal(range(cap + 1))
        m.d.comb += [
            self.o.valid.eq(count >= n_out),
            self.o.payload.eq(Cat(buf[:n_out])),
            self.i.ready.eq(count <= cap - n_in),
        ]
        out_fire = self.o.valid & self.o.ready
        in_fire = self.i.valid & self.i.ready
        base = Signal(range(cap + 1))  # where the incoming elements land
        m.d.comb += base.eq(count - Mux(out_fire, n_out, 0))
        m.d.sync += count.eq(base + Mux(in_fire, n_in, 0))

        new = elements(self.i.payload, n_in, self.elem_bits)
        for j in range(cap):
            value = Mux(out_fire, buf[j + n_out] if j + n_out < cap else Const(0, self.elem_bits), buf[j])
            for k in range(n_in):
                if 0 <= j - k <= cap - n_in:
                    value = Mux(in_fire & (base == j - k), new[k], value)
            m.d.sync += buf[j].eq(value)
        return m
