"""Stream width converter between any two element counts per word."""

from __future__ import annotations

import math

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..streams import check_int, next_mod

__all__ = ["WidthConverter"]


class WidthConverter(wiring.Component):
    """Re-packs a stream of ``in_elems``-element words into ``out_elems``-element words.

    Elements keep their order (element 0 of the first input word becomes element 0 of the
    first output word, and so on). The converter does not see frame boundaries: it moves
    one continuous element stream, so a frame must be a multiple of ``lcm(in_elems,
    out_elems)`` elements for output words not to straddle two frames (every frame in a
    bitsmith dataflow is, since it holds a whole number of words on both sides).

    Structure: with ``L = lcm(in_elems, out_elems)``, a *gather* stage shifts
    ``L / in_elems`` input words into an ``L``-element register (absent when
    ``L == in_elems``) and a *scatter* stage loads that block and shifts out
    ``L / out_elems`` output words (absent when ``L == out_elems``). Every register bit
    therefore chooses between at most its neighbour ``n`` elements up, the new word and
    itself: one or two LUT levels whatever the ratio (the fast-clock requirement of
    the boards flow), for ``2 L`` elements of storage. In a dataflow ``L`` divides the
    channel count (both widths do), so the storage is at most two vectors.

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
    With ``in_elems == out_elems`` the converter is a wire (``latency`` 0). Otherwise
    the first output word of an ``L``-element block is valid ``latency`` cycles after
    the input transfer that completes the block: 1 when one width divides the other,
    2 otherwise (gather then scatter). The narrower side runs every cycle in steady state
    (``min(in_elems, out_elems)`` elements per cycle). ``o.valid`` is a register output;
    ``i.ready`` depends on register outputs and ``o.ready`` only (one LUT level).
    """

    def __init__(self, *, elem_bits: int, in_elems: int, out_elems: int):
        self.elem_bits = check_int("elem_bits", elem_bits)
        self.in_elems = check_int("in_elems", in_elems)
        self.out_elems = check_int("out_elems", out_elems)
        self.block = math.lcm(self.in_elems, self.out_elems)
        self.latency = (self.block != self.in_elems) + (self.block != self.out_elems)
        super().__init__({
            "i": In(stream.Signature(self.in_elems * self.elem_bits)),
            "o": Out(stream.Signature(self.out_elems * self.elem_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        src = wiring.flipped(self.i)
        if self.block != self.in_elems:
            gathered = stream.Signature(self.block * self.elem_bits).create(path=("gathered",))
            _gather(m, src, gathered, words=self.block // self.in_elems)
            src = gathered
        if self.block != self.out_elems:
            _scatter(m, src, wiring.flipped(self.o), words=self.block // self.out_elems)
        else:
            wiring.connect(m, src, wiring.flipped(self.o))
        return m


def _gather(m: Module, src, dst, *, words: int) -> None:
    """Shift ``words`` (>= 2) words of ``src`` into one ``dst`` word, first word lowest.

    ``dst.valid`` is a register; a new block is taken in while the finished one leaves.
    """
    width = len(src.payload)
    block = Signal(len(dst.payload), reset_less=True, name="gather_block")
    count = Signal(range(words), name="gather_count")
    full = Signal(name="gather_full")
    take = src.valid & src.ready
    m.d.comb += [dst.payload.eq(block), dst.valid.eq(full),
                 src.ready.eq(~full | dst.ready)]
    with m.If(take):
        m.d.sync += [block.eq(block[width:] | (src.payload << (len(block) - width))),
                     count.eq(next_mod(count, words))]
    with m.If(take & (count == words - 1)):
        m.d.sync += full.eq(1)
    with m.Elif(dst.ready):
        m.d.sync += full.eq(0)


def _scatter(m: Module, src, dst, *, words: int) -> None:
    """Split each ``src`` word into ``words`` (>= 2) ``dst`` words, lowest first.

    ``dst.valid`` is a register; the next block is loaded as the last word leaves.
    """
    width = len(dst.payload)
    block = Signal(len(src.payload), reset_less=True, name="scatter_block")
    left = Signal(range(words + 1), name="scatter_left")
    valid, last = Signal(name="scatter_valid"), Signal(name="scatter_last")
    give = dst.valid & dst.ready
    take = src.valid & src.ready
    m.d.comb += [dst.payload.eq(block[:width]), dst.valid.eq(valid),
                 src.ready.eq(~valid | (last & dst.ready))]
    with m.If(take):
        m.d.sync += [block.eq(src.payload), left.eq(words), valid.eq(1), last.eq(0)]
    with m.Elif(give):
        m.d.sync += [block.eq(block >> width), left.eq(left - 1),
                     valid.eq(left != 1), last.eq(left == 2)]
