"""Channel concatenation of several streams (SqueezeNet fire modules)."""

from __future__ import annotations

from amaranth.hdl import Array, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..streams import check_int, next_mod

__all__ = ["Concat"]


class Concat(wiring.Component):
    """Per pixel, the words of input 0, then input 1, ...: NHWC channel concatenation.

    Input ``k`` carries ``words[k]`` words of ``pe`` elements per pixel (its channels
    divided by ``pe``); the output carries the ``sum(words)`` words of each pixel in
    input order, so its channels are input 0's followed by input 1's, and so on.

    Parameters
    ----------
    width : int
        Payload bits of every port (``pe`` elements).
    words : sequence of int
        Words per pixel of each input, at least two inputs.

    Members
    -------
    i0, i1, ... : In(stream.Signature(unsigned(width)))
    o : Out(stream.Signature(unsigned(width)))

    Latency and throughput
    ----------------------
    One word per cycle; a word is valid on ``o`` the cycle after its input transfer.
    ``o.valid`` is a register and ``i<k>.ready`` depends on registers and ``o.ready``.
    """

    def __init__(self, *, width, words):
        self.width = check_int("width", width)
        if not isinstance(words, (list, tuple)) or len(words) < 2:
            raise TypeError(f"words must be a sequence of two or more integers, not {words!r}")
        self.words = tuple(check_int(f"words[{k}]", v) for k, v in enumerate(words))
        self.names = tuple(f"i{k}" for k in range(len(self.words)))
        super().__init__({**{n: In(stream.Signature(self.width)) for n in self.names},
                          "o": Out(stream.Signature(self.width))})

    def elaborate(self, platform):
        m = Module()
        n = len(self.words)
        ports = [getattr(self, name) for name in self.names]
        sel = Signal(range(n), name="sel")
        count = Signal(range(max(self.words)), name="count")
        last = Signal(name="last", init=int(self.words[0] == 1))   # count == words[sel] - 1
        out, out_valid = Signal(self.width, name="out"), Signal(name="out_valid")
        room = ~out_valid | self.o.ready
        valid = Array(p.valid for p in ports)[sel]
        payload = Array(p.payload for p in ports)[sel]
        for k, port in enumerate(ports):
            m.d.comb += port.ready.eq((sel == k) & room)
        m.d.comb += [self.o.valid.eq(out_valid), self.o.payload.eq(out)]
        take = valid & room
        with m.If(take):
            m.d.sync += [out.eq(payload), out_valid.eq(1)]
            with m.If(last):
                following = Array(int(self.words[(k + 1) % n] == 1) for k in range(n))
                m.d.sync += [sel.eq(next_mod(sel, n)), count.eq(0), last.eq(following[sel])]
            with m.Else():
                words_less_2 = Array(max(0, w - 2) for w in self.words)
                m.d.sync += [count.eq(count + 1), last.eq(count == words_less_2[sel])]
        with m.Elif(self.o.ready):
            m.d.sync += out_valid.eq(0)
        return m
