"""Sliding-window unit (FINN's ConvolutionInputGenerator): image stream -> window stream."""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..streams import check_int, late_choice, next_is_last, next_mod, ram_attrs

__all__ = ["SlidingWindow", "buffer_rows", "check_geometry", "window_cycles"]


def _pair(name: str, value, minimum: int) -> tuple[int, int]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair of integers, not {value!r}")
    return tuple(check_int(f"{name}[{k}]", v, minimum=minimum) for k, v in enumerate(value))


def check_geometry(in_shape, kernel, stride, pad):
    """Validated ``((H, W, C), (KH, KW), (SH, SW), (top, left, bottom, right))`` of a window
    unit: positive sizes, each padding side smaller than the kernel, the kernel inside the
    padded image."""
    if not isinstance(in_shape, (tuple, list)) or len(in_shape) != 3:
        raise TypeError(f"in_shape must be (H, W, C), not {in_shape!r}")
    h, w, c = (check_int(f"in_shape[{k}]", v) for k, v in enumerate(in_shape))
    kh, kw = _pair("kernel", kernel, 1)
    sh, sw = _pair("stride", stride, 1)
    if not isinstance(pad, (tuple, list)) or len(pad) != 4:
        raise TypeError(f"pad must be (top, left, bottom, right), not {pad!r}")
    pt, pl, pb, pr = (check_int(f"pad[{k}]", v, minimum=0) for k, v in enumerate(pad))
    if max(pt, pb) >= kh or max(pl, pr) >= kw:
        raise ValueError(f"pad must be smaller than the kernel {(kh, kw)} on each side, "
                         f"not {tuple(pad)!r}")
    if kh > h + pt + pb or kw > w + pl + pr:
        raise ValueError(f"kernel must fit the padded image {(h + pt + pb, w + pl + pr)}, "
                         f"not {(kh, kw)}")
    return (h, w, c), (kh, kw), (sh, sw), (pt, pl, pb, pr)


def _out_size(size: int, kernel: int, stride: int, lo: int, hi: int) -> int:
    return (size + lo + hi - kernel) // stride + 1


def buffer_rows(height: int, kernel_h: int, stride_h: int, pad_top: int = 0, pad_bottom: int = 0) -> int:
    """Image rows the line buffer holds.

    ``max(KH + SH, H - (OH-1)*SH + KH) + 1``: the KH rows of the current window plus the
    SH rows of the next one (so writing overlaps reading inside a frame), or, at the end of
    a frame, the rows still held for the last output row plus the first KH rows of the next
    frame (so frames overlap); the extra row lets the writer run one row ahead when writer
    and reader are equally fast, so neither ever waits on the other in steady state.
    """
    out_h = _out_size(height, kernel_h, stride_h, pad_top, pad_bottom)
    return max(kernel_h + stride_h, height - (out_h - 1) * stride_h + kernel_h) + 1


def window_cycles(in_shape, kernel, stride, pad, simd) -> int:
    """Steady-state cycles per frame with an always-valid source and always-ready sink.

    ``max(H*W*C/SIMD, OH*OW*KH*KW*C/SIMD)``: the unit writes one input word and reads one
    window word per cycle, concurrently, and the larger of the two counts wins.
    """
    h, w, c = in_shape
    kh, kw = kernel
    sh, sw = stride
    pt, pl, pb, pr = pad
    oh, ow = _out_size(h, kh, sh, pt, pb), _out_size(w, kw, sw, pl, pr)
    return max(h * w, oh * ow * kh * kw) * (c // simd)


class SlidingWindow(wiring.Component):
    """Turns an NHWC image stream into the stream of its KHxKW windows, one per output pixel.

    For output pixel ``(oh, ow)`` (row-major), the unit emits the window's words in the
    order ``(kh, kw, cg)`` -- kernel row, kernel column, then channel group of SIMD
    channels, the MVAU column order of :mod:`bitsmith.generator.ir.conv`. With ``depthwise`` the
    order is ``(cg, kh, kw)``: all kernel positions of one channel group together, as the
    VVAU and the pooling units consume them. The window element at ``(kh, kw, c)`` is input
    pixel ``(oh*SH - pad_top + kh, ow*SW - pad_left + kw)``, channel ``c``, or the code
    ``pad_value`` when that lies in the padding (0: zero padding; a max-pool pads with
    its datatype's minimum).

    Input rows are written, one word per cycle, into a circular line buffer of
    :func:`buffer_rows` rows (one :class:`~amaranth.lib.memory.Memory` of
    ``rows*W*C/SIMD`` words); a reader walks the windows concurrently. The writer only
    starts a row when a row slot is free; the reader only starts an output row when all
    image rows it covers are complete, and, at the last word of an output row, waits for
    the rows it then releases.

    Parameters
    ----------
    in_shape : tuple of int
        ``(H, W, C)`` of the input image.
    kernel, stride : tuple of int
        ``(KH, KW)`` and ``(SH, SW)``, each >= 1.
    pad : tuple of int
        ``(top, left, bottom, right)`` zero padding, each side smaller than the kernel.
    simd : int
        Channels per word (divides C).
    elem_bits : int
        Bits per element.
    depthwise : bool
        Emit windows in ``(cg, kh, kw)`` order.
    pad_value : int
        Element code of a padding element, ``0 <= pad_value < 2**elem_bits`` (default 0).

    Members
    -------
    i : In(stream.Signature(unsigned(simd * elem_bits)))
        ``H*W*C/SIMD`` words per frame, NHWC.
    o : Out(stream.Signature(unsigned(simd * elem_bits)))
        ``OH*OW*KH*KW*C/SIMD`` words per frame; ``OH = (H + top + bottom - KH)//SH + 1``,
        likewise ``OW``.

    Latency and throughput
    ----------------------
    One input and one output word per cycle, concurrently: :func:`window_cycles` =
    ``max(H*W, OH*OW*KH*KW) * C/SIMD`` cycles per frame in steady state. The first window
    word is valid 2 cycles after the reader may start (the line buffer read is
    synchronous and its data registered), i.e. 3 cycles after the last word of image row
    ``KH - 1 - pad_top`` is written. ``o.valid`` and ``i.ready`` are register functions only.
    """

    def __init__(self, *, in_shape, kernel, stride=(1, 1), pad=(0, 0, 0, 0), simd, elem_bits,
                 depthwise=False, pad_value=0):
        (self.h, self.w, self.c), (self.kh, self.kw), (self.sh, self.sw), pad = check_geometry(
            in_shape, kernel, stride, pad)
        self.pt, self.pl, self.pb, self.pr = pad
        self.simd = check_int("simd", simd)
        if self.c % self.simd:
            raise ValueError(f"simd must divide C={self.c}, not {simd!r}")
        self.elem_bits = check_int("elem_bits", elem_bits)
        if not isinstance(depthwise, bool):
            raise TypeError(f"depthwise must be a bool, not {depthwise!r}")
        self.depthwise = depthwise
        self.pad_value = check_int("pad_value", pad_value, minimum=0)
        if self.pad_value >> self.elem_bits:
            raise ValueError(f"pad_value must be an element code of {self.elem_bits} bits, not {pad_value!r}")
        self.cg = self.c // self.simd
        self.oh = _out_size(self.h, self.kh, self.sh, self.pt, self.pb)
        self.ow = _out_size(self.w, self.kw, self.sw, self.pl, self.pr)
        self.rows = buffer_rows(self.h, self.kh, self.sh, self.pt, self.pb)
        self.row_words = self.w * self.cg
        self.in_words = self.h * self.w * self.cg
        self.out_words = self.oh * self.ow * self.kh * self.kw * self.cg
        self.cycles = window_cycles((self.h, self.w, self.c), (self.kh, self.kw),
                                    (self.sh, self.sw), (self.pt, self.pl, self.pb, self.pr), self.simd)
        width = self.simd * self.elem_bits
        super().__init__({"i": In(stream.Signature(width)), "o": Out(stream.Signature(width))})

    def elaborate(self, platform):
        m = Module()
        rows, row_words = self.rows, self.row_words
        # the reader reads only complete rows (or pads, discarding the data); the writer
        # fills a slot no complete row holds, so a read never sees a colliding write
        m.submodules.lines = lines = Memory(
            shape=len(self.i.payload), depth=rows * row_words, init=[],
            attrs=ram_attrs(rows * row_words, collisions_unused=True))
        wr, rd = lines.write_port(), lines.read_port()

        # Row bookkeeping shared by writer and reader.
        held = Signal(range(rows + 1))       # row slots in use (incl. the one being written)
        complete = Signal(range(rows + 1))   # fully written rows not yet released
        start_row = Signal()
        end_row = Signal()

        # --- writer: input words into the circular line buffer ------------------------------
        w_ptr = Signal(range(rows * row_words))
        w_col = Signal(range(row_words))
        # whether the column is the row's first or last word: registers stepped with it,
        # so that ``start_row`` and ``end_row`` are a gate of the handshake and a flip-flop,
        # not of a compare (ECP5 Winograd: the column compare, the row counts' and the
        # flags' choices and ``rows_ok`` in series, 6.7-6.9 ns)
        w_first = Signal(init=1, name="w_first")
        w_last = Signal(init=int(row_words == 1), name="w_last")
        m.d.comb += self.i.ready.eq(~w_first | (held < rows))
        write = self.i.valid & self.i.ready
        m.d.comb += [wr.addr.eq(w_ptr), wr.data.eq(self.i.payload), wr.en.eq(write),
                     start_row.eq(write & w_first), end_row.eq(write & w_last)]
        with m.If(write):
            m.d.sync += [w_ptr.eq(next_mod(w_ptr, rows * row_words)),
                         w_col.eq(next_mod(w_col, row_words)),
                         w_first.eq(w_last), w_last.eq(next_is_last(w_col, row_words))]

        # --- reader: window words out of the line buffer ------------------------------------
        # The read address ``slot(iy) * row_words + ix * C/SIMD + cg`` is kept in two
        # registers, ``base`` (the line-buffer row of window row ky) and ``col`` (the word
        # in that row), stepped with the loop counters: a read address is one adder from
        # registers, never the slot arithmetic of a whole chain of adders (the unit's
        # critical path when it computed the address from the counters). Everything that
        # depends only on the output row (its buffer needs, the rows it releases, the
        # line-buffer offset of its top row) comes from constant tables per row, loaded
        # into registers when the row before it ends.
        total = rows * row_words
        span = max(self.h, self.w) + max(self.kh, self.kw) + max(self.sh * self.oh, self.sw * self.ow)
        coord = signed(span.bit_length() + 1)
        top = Signal(coord, init=-self.pt)    # oh*SH - pad_top
        left = Signal(coord, init=-self.pl)   # ow*SW - pad_left
        oy = Signal(range(self.oh))
        ox = Signal(range(self.ow))
        ky = Signal(range(self.kh))
        kx = Signal(range(self.kw))
        cg = Signal(range(self.cg))

        loops = [(cg, self.cg), (ky, self.kh), (kx, self.kw)] if self.depthwise else \
            [(ky, self.kh), (kx, self.kw), (cg, self.cg)]
        # how far ``col`` moves per step of each loop (ky moves ``base`` instead)
        col_step = [{id(ky): 0, id(kx): self.cg, id(cg): 1}[id(sig)] for sig, _ in loops]
        # ``<counter>_last`` are registered copies of ``counter == n - 1``, kept with the
        # counters, so that the end-of-pixel, -row and -frame conditions (enables of the
        # position and address registers) are one LUT of flip-flops, not compares
        at_max = [Signal(init=int(n == 1), name=f"{sig.name}_last") for sig, n in loops]
        ox_last = Signal(init=int(self.ow == 1), name="ox_last")
        oy_last = Signal(init=int(self.oh == 1), name="oy_last")
        # the end of a pixel (every inner loop at its last value) is a register as well,
        # set with the flags (below), so the pixel- and row-level enables are ``fire`` and
        # two flip-flops (ECP5 Winograd: the flags' AND between the read enable and the
        # row registers' enables, 6.7 ns)
        pixel_done = Signal(init=int(all(n == 1 for _, n in loops)), name="pixel_done")
        # the end of an output row is a register too, set a cycle ahead from what the flags
        # become when the reader steps (the read enable is then a LUT of it, the buffer
        # flags below and the handshake, not of the four flags it ANDs: ECP5 digits CNN,
        # 6.8-7.4 ns from a flag to the loop registers' enables on its slowest seeds)
        row_done = Signal(init=int(self.ow == 1 and all(n == 1 for _, n in loops)), name="row_done")
        carry, after = Const(1, 1), []
        for (sig, n), last in reversed(list(zip(loops, at_max))):
            after.append(Mux(carry, next_is_last(sig, n), last))
            carry = carry & last
        pixel_done_after_step = Cat(*after).all()
        row_done_after_step = pixel_done_after_step & Mux(pixel_done, next_is_last(ox, self.ow), ox_last)
        frame_done = row_done & oy_last

        # Per output row ``oy_`` (window top t = oy_*SH - pad_top, oldest row held
        # lo = max(t, 0)): the complete rows the reader needs before a read, counted from
        # lo -- mid-row (up to the window's last row), at the row's end (also every row then
        # released) and at the frame's end; the rows released after it; and the offset of
        # its window's top row from the oldest row held (<= 0: padding rows above).
        def row_table(oy_: int) -> dict[str, int]:
            t = oy_ * self.sh - self.pt
            lo = max(t, 0)
            last = min(t + self.kh, self.h)                                     # exclusive
            release_to = self.h if oy_ == self.oh - 1 else max(t + self.sh, 0)
            return {"need_mid": last - lo, "need_row_end": max(max(t + self.sh, 0), last) - lo,
                    "need_frame_end": self.h - lo, "gone": release_to - lo, "top_off": min(t, 0)}

        table = [row_table(y) for y in range(self.oh)]
        following = table[1:] + table[:1]            # after the last row: the next frame's first
        # line-buffer words from the oldest held row's first word to the next row's window top
        # and, per need, the bounds that ``complete`` must reach for the need to hold next
        # cycle: ``complete + written - released >= need`` with ``written`` 0 or 1 (a row's
        # last word written this cycle) and ``released`` the row's ``gone`` when the reader
        # leaves the row this cycle (the need then being the next row's)
        needs = ("need_mid", "need_row_end", "need_frame_end")
        for here, after in zip(table, following):
            here["next_top_words"] = (here["gone"] + after["top_off"]) * row_words
            here["gone_words"] = here["gone"] * row_words
            for k in needs:
                here[f"{k}_m1"] = here[k] - 1
                here[f"{k}_step"] = after[k] + here["gone"]
                here[f"{k}_step_m1"] = after[k] + here["gone"] - 1
        words = signed((2 * total + 1).bit_length() + 1)
        kinds = {"need_mid": coord, "need_row_end": coord, "need_frame_end": coord,
                 "gone": range(rows + 1), "gone_words": words, "next_top_words": words}
        kinds.update({f"{k}{tail}": coord for k in needs for tail in ("_m1", "_step", "_step_m1")})
        row = {k: Signal(shape, init=table[0][k], name=k) for k, shape in kinds.items()}
        # the next output row's table entries (after the last row: the first's)
        upcoming = {k: Array(Const(entry[k], sig.shape()) for entry in following)[oy]
                    for k, sig in row.items()}
        # each need compared on its own, then chosen: the compares are registers, made a
        # cycle ahead (``complete`` against the bounds above, registers against registers,
        # chosen by whether a row's last word is written and whether the reader leaves its
        # row), so the read enable is one LUT of flip-flops and no compare's carry chain is
        # on the path into its fan-out (ECP5 digits CNN: the compare, then the enable routed
        # to the loop registers, 128-136 MHz; the next values summed before the compare,
        # 113-119)
        # The reader's two stages (below) and its read enable ``fire``. Whether the rows a
        # read needs are complete, ``rows_ok``, is a register too, so ``fire`` is one LUT
        # of four flip-flops (the two stages' valid flags, the consumer's ready and
        # ``rows_ok``) in front of its fan-out; and every register it steps that is not a
        # plain enable (the row counts and the flags below) has its next value made for
        # both values of ``fire`` and only chosen by it (ECP5 Winograd: the output valid,
        # the handshake, the row step and the flags' choices in series, 6.8-7.5 ns).
        read_valid = Signal()
        out_valid = Signal()
        # behind the output register a skid register (as in an output queue,
        # ``bitsmith.hw.streams.add_output_queue``): it copies the output word while empty
        # and keeps it when ``o`` stalls, so the output register moves whenever the two
        # are not both full, a function of registers; the consumer's ready reaches only
        # the skid flag and ``o.valid`` (ECP5 Winograd: the FIFO's ready, the read enable
        # and the counters' enables in series, 6.8-7.4 ns)
        skid_valid = Signal()
        valid = Signal()                         # out_valid | skid_valid, a register
        # ~(out_valid & skid_valid), a register of its own: it is the output register's
        # enable, and the ECP5 flow moves that register into the block RAM only when its
        # enable is a plain net (Yosys maps the inverted AND as an inverted enable)
        room = Signal(init=1)
        advance_out = room
        advance = ~read_valid | advance_out
        ok_init = {k: int(table[0][k] <= 0) for k in needs}
        row_done_init, oy_last_init = row_done.init, oy_last.init
        rows_ok = Signal(name="rows_ok", init=(
            (ok_init["need_frame_end"] if oy_last_init else ok_init["need_row_end"])
            if row_done_init else ok_init["need_mid"]))
        fire = advance & rows_ok
        steps_if_fire = pixel_done & row_done      # the reader leaves its row if it fires
        gone = row["gone"]

        # held + start_row - released and complete + end_row - released, the sums made
        # from registers beside the read enable and only chosen by it (ECP5 Winograd: the
        # enable, then the released rows' subtraction and an adder into ``held``, 7.1 ns)
        def count_rows(count, step):
            """Step ``count`` (``step``: a row starts or ends on the writer's side)."""
            still = Mux(step, count + 1, count)
            fired = Mux(steps_if_fire, Mux(step, count - gone + 1, count - gone), still)
            m.d.sync += count.eq(late_choice(m, fire, fired, still, count.name))

        count_rows(held, start_row)
        count_rows(complete, end_row)
        ok = {k: Signal(init=ok_init[k], name=f"{k}_ok") for k in needs}
        ok_fired, ok_still = {}, {}
        for k in needs:
            ge = {tail: complete >= row[f"{k}{tail}"] for tail in ("", "_m1", "_step", "_step_m1")}
            ok_still[k] = Mux(end_row, ge["_m1"], ge[""])
            ok_fired[k] = Mux(steps_if_fire, Mux(end_row, ge["_step_m1"], ge["_step"]), ok_still[k])
            m.d.sync += ok[k].eq(late_choice(m, fire, ok_fired[k], ok_still[k], ok[k].name))

        def rows_ok_of(flags, done, last):
            return Mux(done, Mux(last, flags["need_frame_end"], flags["need_row_end"]), flags["need_mid"])

        m.d.sync += rows_ok.eq(late_choice(
            m, fire,
            rows_ok_of(ok_fired, row_done_after_step,
                       Mux(steps_if_fire, next_is_last(oy, self.oh), oy_last)),
            rows_ok_of(ok_still, row_done, oy_last), "rows_ok"))

        def wrap(value):
            """``value`` modulo the line buffer's words, for ``-total <= value < 2*total``."""
            return Mux(value < 0, value + total, Mux(value >= total, value - total, value))

        top_words = (table[0]["top_off"] * row_words) % total
        lo_base = Signal(range(total))               # first word of the oldest held row
        top_base = Signal(range(total), init=top_words)   # first word of the window's top row
        base = Signal(range(total), init=top_words)  # first word of image row top + ky
        # the next row's window top, wrap(lo_base + next_top_words), and its oldest held
        # row, wrap(lo_base + gone_words): registers computed a cycle after their terms
        # change (they change only when a row ends), when a row takes two reads or more,
        # so the row's end loads them (ECP5 Winograd: the sum and its wrap in series
        # before ``base``, 7.3 ns; before ``lo_base``, 6.7 ns)
        def ahead(words_key: str, name: str) -> Value:
            value = wrap(lo_base + row[words_key])
            if self.ow * self.kh * self.kw * self.cg < 2:
                return value
            reg = Signal(range(total), init=table[0][words_key] % total, name=name)
            m.d.sync += reg.eq(value)
            return reg

        next_top = ahead("next_top_words", "next_top")
        next_lo = ahead("gone_words", "next_lo")
        col_range = (-self.pl * self.cg, (self.w + self.pr) * self.cg)
        left_col = Signal(range(*col_range), init=-self.pl * self.cg)   # left * C/SIMD
        col = Signal(range(*col_range), init=-self.pl * self.cg)        # (left + kx) * C/SIMD + cg

        # Two stages: the line buffer's read (``read_valid``: its data, or a pad, is a
        # window word) and the output register, so the block RAM's slow clock-to-output
        # ends at a register, not in the next unit. Either stage moves when the one after
        # it can take its word; a read is enabled only when its stage moves, so stalled
        # read data is held.
        # The output register takes the read data alone (the padding code is chosen after
        # it, from a registered flag), so it is a plain register with one enable, which the
        # ECP5 flow makes the block RAM's own output register (a choice before it became
        # the flip-flops' set/reset and kept it in the fabric, the RAM's 5.8 ns
        # clock-to-output on the path).
        pad_zero = Signal()
        out_pad = Signal()
        out = Signal(len(self.o.payload), reset_less=True)
        pad_word = Const(sum(self.pad_value << (k * self.elem_bits) for k in range(self.simd)),
                         len(self.o.payload))
        out_word = Mux(out_pad, pad_word, out)
        skid = Signal(len(self.o.payload), reset_less=True)
        m.d.comb += [self.o.valid.eq(valid), self.o.payload.eq(Mux(skid_valid, skid, out_word))]
        with m.If(advance):
            m.d.sync += read_valid.eq(rows_ok)
        out_next = Mux(advance_out, read_valid, out_valid)
        skid_next = valid & ~self.o.ready
        m.d.sync += [out_valid.eq(out_next), skid_valid.eq(skid_next),
                     valid.eq(out_next | skid_next), room.eq(~(out_next & skid_next))]
        with m.If(advance_out):
            m.d.sync += [out_pad.eq(pad_zero), out.eq(rd.data)]
        with m.If(~skid_valid):
            m.d.sync += skid.eq(out_word)

        iy = top + ky
        ix = left + kx
        inside = (iy >= 0) & (iy < self.h) & (ix >= 0) & (ix < self.w)
        # outside the image the address is any word: the padding code replaces the data
        m.d.comb += [rd.en.eq(fire), rd.addr.eq(base + col)]

        next_row_base = wrap(base + row_words)
        with m.If(fire):
            m.d.sync += [pad_zero.eq(~inside), row_done.eq(row_done_after_step),
                         pixel_done.eq(pixel_done_after_step)]
            carry = 1
            for (sig, n), last in reversed(list(zip(loops, at_max))):
                with m.If(carry):
                    m.d.sync += [sig.eq(next_mod(sig, n)), last.eq(next_is_last(sig, n))]
                carry = carry & last
            with m.If(pixel_done):
                next_left_col = Mux(ox_last, -self.pl * self.cg, left_col + self.sw * self.cg)
                m.d.sync += [ox.eq(next_mod(ox, self.ow)), ox_last.eq(next_is_last(ox, self.ow)),
                             left.eq(Mux(ox_last, -self.pl, left + self.sw)),
                             left_col.eq(next_left_col), col.eq(next_left_col)]
                with m.If(row_done):
                    m.d.sync += [lo_base.eq(next_lo),
                                 top_base.eq(next_top), base.eq(next_top)]
                    m.d.sync += [sig.eq(upcoming[k]) for k, sig in row.items()]
                    m.d.sync += oy_last.eq(next_is_last(oy, self.oh))
                    with m.If(frame_done):
                        m.d.sync += [oy.eq(0), top.eq(-self.pt)]
                    with m.Else():
                        m.d.sync += [oy.eq(oy + 1), top.eq(top + self.sh)]
                with m.Else():
                    m.d.sync += base.eq(top_base)
            for p, (sig, n) in enumerate(loops):
                inner = loops[p + 1:]
                advances = ~at_max[p]
                for q in range(p + 1, len(loops)):
                    advances = advances & at_max[q]
                # col's move when loop p advances and the loops inside it wrap to 0
                delta = col_step[p] - sum((k - 1) * col_step[q] for q, (_, k) in enumerate(loops) if q > p)
                with m.Elif(advances):
                    if delta:
                        m.d.sync += col.eq(col + delta)
                    if sig is ky:
                        m.d.sync += base.eq(next_row_base)
                    elif any(s is ky for s, _ in inner):
                        m.d.sync += base.eq(top_base)
        return m
