"""Nearest-neighbour upsampling by integer factors: pixels and rows repeated from a row buffer."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..streams import check_int, next_mod, ram_attrs

__all__ = ["Upsample"]


class Upsample(wiring.Component):
    """Repeats each pixel ``FW`` times along its row and each row ``FH`` times.

    The input is an NHWC image stream, ``pixel_words`` words per pixel (``C/PE``), rows of
    ``width`` pixels. The output is the upsampled image in the same word format:
    output pixel ``(y, x)`` is input pixel ``(y // FH, x // FW)``. Frames need no
    marking: every input row becomes ``FH`` output rows on its own.

    A row is written, one word per cycle, into one of two slots of a buffer while the
    other slot's row is read out ``FH`` times, each pixel ``FW`` times; a slot is read
    only once complete and written only once read out. With ``FH == 1`` a "row" is one
    pixel (no row need be replayed), so the buffer holds two pixels.

    Parameters
    ----------
    width : int
        Pixels per input row (W).
    pixel_words : int
        Words per pixel (C/PE).
    scale : tuple of int
        ``(FH, FW)``, each >= 1, ``FH*FW >= 2``.
    word_bits : int
        Bits per word (PE * element bits).

    Members
    -------
    i : In(stream.Signature(unsigned(word_bits)))
        ``H*W*pixel_words`` words per frame.
    o : Out(stream.Signature(unsigned(word_bits)))
        ``H*FH*W*FW*pixel_words`` words per frame.

    Latency and throughput
    ----------------------
    One output word per cycle in steady state (a row is written in ``1/(FH*FW)`` of the
    time its replay takes, so the next row is always ready): ``H*FH*W*FW*pixel_words``
    cycles per frame. The first output word is valid 2 cycles after the transfer of the
    last word of the first row (``FH == 1``: pixel). ``o.valid`` and ``i.ready`` are
    register functions only.
    """

    def __init__(self, *, width, pixel_words, scale, word_bits):
        self.width = check_int("width", width)
        self.pixel_words = check_int("pixel_words", pixel_words)
        if not isinstance(scale, (tuple, list)) or len(scale) != 2:
            raise TypeError(f"scale must be a pair of integers, not {scale!r}")
        self.fh, self.fw = (check_int(f"scale[{k}]", v) for k, v in enumerate(scale))
        if self.fh * self.fw < 2:
            raise ValueError(f"scale must repeat pixels or rows (FH*FW >= 2), not {tuple(scale)!r}")
        self.word_bits = check_int("word_bits", word_bits)
        self.row_pixels = self.width if self.fh > 1 else 1
        self.row_words = self.row_pixels * self.pixel_words
        super().__init__({"i": In(stream.Signature(self.word_bits)),
                          "o": Out(stream.Signature(self.word_bits))})

    def elaborate(self, platform):
        m = Module()
        row_words, pixel_words = self.row_words, self.pixel_words
        depth = 2 * row_words
        m.submodules.rows = rows = Memory(shape=self.word_bits, depth=depth, init=[],
                                          attrs=ram_attrs(depth, collisions_unused=True))
        wr, rd = rows.write_port(), rows.read_port()
        full = [Signal(name=f"full{k}") for k in range(2)]

        # --- writer: a row into the free slot -----------------------------------------------
        w_col = Signal(range(row_words))
        w_slot = Signal()
        m.d.comb += self.i.ready.eq(Mux(w_slot, ~full[1], ~full[0]))
        write = self.i.valid & self.i.ready
        m.d.comb += [wr.addr.eq(Mux(w_slot, row_words, 0) + w_col), wr.data.eq(self.i.payload),
                     wr.en.eq(write)]
        with m.If(write):
            m.d.sync += w_col.eq(next_mod(w_col, row_words))
            with m.If(w_col == row_words - 1):
                m.d.sync += w_slot.eq(~w_slot)
                for k in range(2):
                    with m.If(w_slot == k):
                        m.d.sync += full[k].eq(1)

        # --- reader: the full slot's row, FH times, each pixel FW times ----------------------
        r_slot = Signal()
        pixel = Signal(range(depth))           # address of the current pixel's first word
        word = Signal(range(pixel_words))
        rep_x = Signal(range(self.fw))
        col = Signal(range(self.row_pixels))
        rep_y = Signal(range(self.fh))
        out_valid = Signal()
        fire = (~out_valid | self.o.ready) & Mux(r_slot, full[1], full[0])
        m.d.comb += [self.o.valid.eq(out_valid), self.o.payload.eq(rd.data),
                     rd.en.eq(fire), rd.addr.eq(pixel + word)]
        with m.If(fire):
            m.d.sync += out_valid.eq(1)
        with m.Elif(self.o.ready):
            m.d.sync += out_valid.eq(0)

        pixel_done = word == pixel_words - 1
        repeat_done = pixel_done & (rep_x == self.fw - 1)
        row_done = repeat_done & (col == self.row_pixels - 1)
        slot_done = row_done & (rep_y == self.fh - 1)
        slot_base = Mux(r_slot, row_words, 0)
        with m.If(fire):
            m.d.sync += word.eq(next_mod(word, pixel_words))
            with m.If(pixel_done):
                m.d.sync += rep_x.eq(next_mod(rep_x, self.fw))
            with m.If(repeat_done):
                m.d.sync += [col.eq(next_mod(col, self.row_pixels)), pixel.eq(pixel + pixel_words)]
            with m.If(row_done):
                m.d.sync += [rep_y.eq(next_mod(rep_y, self.fh)), pixel.eq(slot_base)]
            with m.If(slot_done):
                m.d.sync += [r_slot.eq(~r_slot), pixel.eq(Mux(r_slot, 0, row_words))]
                for k in range(2):
                    with m.If(r_slot == k):
                        m.d.sync += full[k].eq(0)
        return m
