"""Window held in registers: SIMD elements of the flattened window per word, for first layers."""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..streams import check_int, next_mod, ram_attrs
from .sliding_window import check_geometry

__all__ = ["ParallelWindow", "parallel_window_cycles"]


def parallel_window_cycles(in_shape, kernel, stride, pad, simd) -> int:
    """Steady-state cycles per frame with an always-valid source and always-ready sink.

    ``Hp*Wp + OH*OW*(T - 1)``, ``Hp*Wp`` the padded image's pixels and
    ``T = KH*KW*C/SIMD`` the words per window: one pixel (or padding pixel) enters per
    cycle, and a pixel that completes a window holds the next one back for the window's
    other ``T - 1`` words.
    """
    h, w, c = in_shape
    kh, kw = kernel
    sh, sw = stride
    pt, pl, pb, pr = pad
    hp, wp = h + pt + pb, w + pl + pr
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    return hp * wp + oh * ow * (kh * kw * c // simd - 1)


class ParallelWindow(wiring.Component):
    """Turns an NHWC image stream into its KHxKW windows, SIMD window elements per word.

    The window of output pixel ``(oh, ow)`` (row-major) is the ``KH*KW*C`` elements in
    the order ``(kh, kw, c)`` -- the MVAU column order of
    :mod:`bitsmith.generator.ir.conv` -- emitted as ``T = KH*KW*C/SIMD`` words of SIMD
    consecutive elements. SIMD is any divisor of ``KH*KW*C``: unlike
    :class:`~hw.compute.sliding_window.SlidingWindow` (SIMD channels of one kernel
    position per word) a word may hold several kernel positions, which is what lets a
    first layer with 1 or 3 channels go below ``OH*OW*KH*KW`` cycles per frame (FINN's
    MVAU with SIMD across the window).

    The padded image (padding pixels hold ``pad_value`` in every channel) enters one pixel
    per cycle into a KHxKW register window that shifts left by a pixel; its new right
    column is the entering pixel under the KH-1 pixels above it, which a line buffer of
    ``Wp`` columns (KH-1 pixels each, read and rewritten as the pixel enters) keeps. A
    pixel that completes a window -- the window's bottom-right pixel, on the stride grid
    -- is followed by the window's T words; the next pixel enters with the last of them.

    Parameters
    ----------
    in_shape : tuple of int
        ``(H, W, C)`` of the input image.
    kernel, stride : tuple of int
        ``(KH, KW)`` and ``(SH, SW)``, each >= 1.
    pad : tuple of int
        ``(top, left, bottom, right)``, each side smaller than the kernel.
    simd : int
        Window elements per output word (divides ``KH*KW*C``).
    elem_bits : int
        Bits per element.
    pad_value : int
        Element code of a padding element (default 0).

    Members
    -------
    i : In(stream.Signature(unsigned(C * elem_bits)))
        ``H*W`` words per frame, one pixel each.
    o : Out(stream.Signature(unsigned(simd * elem_bits)))
        ``OH*OW*T`` words per frame.

    Latency and throughput
    ----------------------
    :func:`parallel_window_cycles` = ``Hp*Wp + OH*OW*(T-1)`` cycles per frame in steady
    state. A window's first word is valid 1 cycle after its bottom-right pixel enters.
    ``o.valid`` is a register; ``i.ready`` depends on ``o.ready`` (a pixel enters with the
    transfer of the previous window's last word).
    """

    def __init__(self, *, in_shape, kernel, stride=(1, 1), pad=(0, 0, 0, 0), simd, elem_bits, pad_value=0):
        (self.h, self.w, self.c), (self.kh, self.kw), (self.sh, self.sw), pad = check_geometry(
            in_shape, kernel, stride, pad)
        self.pt, self.pl, self.pb, self.pr = pad
        self.simd = check_int("simd", simd)
        self.window = self.kh * self.kw * self.c
        if self.window % self.simd:
            raise ValueError(f"simd must divide KH*KW*C={self.window}, not {simd!r}")
        self.elem_bits = check_int("elem_bits", elem_bits)
        self.pad_value = check_int("pad_value", pad_value, minimum=0)
        if self.pad_value >> self.elem_bits:
            raise ValueError(f"pad_value must be an element code of {self.elem_bits} bits, not {pad_value!r}")
        self.hp, self.wp = self.h + self.pt + self.pb, self.w + self.pl + self.pr
        self.oh = (self.hp - self.kh) // self.sh + 1
        self.ow = (self.wp - self.kw) // self.sw + 1
        self.words = self.window // self.simd
        self.out_words = self.oh * self.ow * self.words
        self.cycles = parallel_window_cycles((self.h, self.w, self.c), (self.kh, self.kw),
                                             (self.sh, self.sw), pad, self.simd)
        super().__init__({"i": In(stream.Signature(self.c * self.elem_bits)),
                          "o": Out(stream.Signature(self.simd * self.elem_bits))})

    def elaborate(self, platform):
        m = Module()
        pixel_bits = self.c * self.elem_bits
        word_bits = self.simd * self.elem_bits

        # --- position in the padded image, and which pixels complete a window ---------------
        yp = Signal(range(self.hp))
        xp = Signal(range(self.wp))
        y_next = Signal(range(self.hp + self.sh + self.kh), init=self.kh - 1)   # next window row
        x_next = Signal(range(self.wp + self.sw + self.kw), init=self.kw - 1)   # next window column
        inside = ((yp >= self.pt) & (yp < self.pt + self.h) & (xp >= self.pl) & (xp < self.pl + self.w))
        completes = (yp == y_next) & (xp == x_next)
        row_end = xp == self.wp - 1

        # --- emission of a window's words ---------------------------------------------------
        busy = Signal()
        t = Signal(range(self.words))
        out = Signal(word_bits)
        out_valid = Signal()
        emit_ok = ~out_valid | self.o.ready
        last_word = t == self.words - 1
        can_shift = ~busy | (last_word & emit_ok)
        m.d.comb += [self.o.valid.eq(out_valid), self.o.payload.eq(out)]

        pad_pixel = Const(sum(self.pad_value << (k * self.elem_bits) for k in range(self.c)), pixel_bits)
        pixel = Mux(inside, self.i.payload, pad_pixel)
        shift = can_shift & (~inside | self.i.valid)
        m.d.comb += self.i.ready.eq(inside & can_shift)

        # --- line buffer: the KH-1 pixels above each padded column, oldest in the low bits ---
        if self.kh > 1:
            m.submodules.lines = lines = Memory(shape=(self.kh - 1) * pixel_bits, depth=self.wp, init=[],
                                                attrs=ram_attrs(self.wp))
            wr = lines.write_port()
            rd = lines.read_port(transparent_for=(wr,))
            m.d.comb += [rd.addr.eq(Mux(shift, next_mod(xp, self.wp), xp)),
                         wr.addr.eq(xp), wr.en.eq(shift),
                         wr.data.eq(Cat(rd.data[pixel_bits:], pixel))]
            column = Cat(rd.data, pixel)
        else:
            column = pixel

        # --- the window registers, kernel row-major, (kh, kw, c) from the low bits ----------
        win = [[Signal(pixel_bits, name=f"win{r}_{c}", reset_less=True) for c in range(self.kw)]
               for r in range(self.kh)]
        with m.If(shift):
            for r in range(self.kh):
                for c in range(self.kw - 1):
                    m.d.sync += win[r][c].eq(win[r][c + 1])
                m.d.sync += win[r][self.kw - 1].eq(column[r * pixel_bits:(r + 1) * pixel_bits])
            m.d.sync += xp.eq(next_mod(xp, self.wp))
            with m.If(xp == x_next):
                m.d.sync += x_next.eq(x_next + self.sw)
            with m.If(row_end):
                m.d.sync += [yp.eq(next_mod(yp, self.hp)), x_next.eq(self.kw - 1)]
                with m.If(yp == y_next):
                    m.d.sync += y_next.eq(y_next + self.sh)
                with m.If(yp == self.hp - 1):
                    m.d.sync += y_next.eq(self.kh - 1)

        flat = Cat(win[r][c] for r in range(self.kh) for c in range(self.kw))
        words = [flat[k * word_bits:(k + 1) * word_bits] for k in range(self.words)]
        with m.If(busy & emit_ok):
            m.d.sync += [out.eq(words[0] if self.words == 1 else Array(words)[t]), out_valid.eq(1),
                         t.eq(next_mod(t, self.words))]
            with m.If(last_word):
                m.d.sync += busy.eq(0)
        with m.Elif(self.o.ready):
            m.d.sync += out_valid.eq(0)
        with m.If(shift & completes):
            m.d.sync += [busy.eq(1), t.eq(0)]
        return m
