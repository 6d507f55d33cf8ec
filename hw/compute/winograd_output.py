"""Output transform of Winograd F(2x2, 3x3): ``A^T M A``, the exact rescale, and the
re-order of 2x2 output tiles into raster order."""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from qonnx.core.datatype import BaseDataType

from ..streams import (add_output_queue, in_block_ram, check_dtype, check_int, delay,
                       element_value, elements, is_bipolar, next_mod, ram_attrs, replicas)

__all__ = ["WinogradOutput", "OUTPUT_TERMS"]

#: ``A^T`` (2x4): output row ``a`` takes transform row ``r`` with coefficient ``[a][r]``.
_AT = ((1, 1, 1, 0), (0, 1, -1, -1))

#: ``OUTPUT_TERMS[q][t]``: coefficient (0, ±1) of ``M[t]`` in ``Y[q]``, ``q = 2a + b``,
#: ``t = 4r + c`` (``kron(A^T, A^T)``).
OUTPUT_TERMS = tuple(tuple(_AT[q >> 1][t >> 2] * _AT[q & 1][t & 3] for t in range(16)) for q in range(4))

#: ``Y = 4 * direct``: the rescale is an arithmetic shift right by this.
SCALE_SHIFT = 2


def _registered(m: Module, value, bits: int, name: str) -> Signal:
    """A register of ``value`` modulo ``2**bits``, signed."""
    reg = Signal(signed(bits), name=name, reset_less=True)
    m.d.sync += reg.eq(value)
    return reg


class WinogradOutput(wiring.Component):
    """Accumulates ``Y = A^T M A`` per output tile as the 16 product vectors ``M[t]`` arrive,
    shifts it right by 2 (exact: ``Y`` is 4x the direct result) and emits the outputs in
    raster order, cropping the odd last row and column.

    ``Y`` is computed modulo ``2**y_bits``, which is exact whenever the true ``Y`` fits
    ``y_dtype``: only additions and subtractions happen, so wrap-around cancels (the
    products ``M`` may even be wider than ``Y``: they enter modulo ``2**y_bits`` too). Each
    ``M`` word updates the four ``Y`` of its channels at once (a read-modify-write of a
    small memory of ``OC/PE`` words, read-during-write transparent). At a tile's last
    position the four rescaled outputs go to four re-order memories, one per tile
    position ``(a, b)``, each holding two tile rows (double buffer); a reader emits a full
    tile row as two output rows while the next tile row accumulates.

    Parameters
    ----------
    tiles : tuple of int
        ``(TH, TW)`` tiles per frame.
    out_hw : tuple of int
        ``(OH, OW)`` outputs per frame: ``2*TH - 1 <= OH <= 2*TH``, likewise ``OW``.
    channels, pe : int
        Output channels ``OC`` and channels per word (divides OC).
    in_dtype : DataType
        Signed type of the products ``M``.
    y_dtype : DataType
        Signed type holding every ``Y`` (the caller proves it: ``WinogradConv.y_dtype``).
    out_dtype : DataType
        Type of the outputs ``Y >> 2`` (the direct accumulator's; unsigned when the
        caller knows every output is non-negative).

    Members
    -------
    i : In(stream.Signature(unsigned(pe * in_dtype.bitwidth())))
        Per tile, for ``t = 0..15``, ``OC/PE`` words of ``M[t]``.
    o : Out(stream.Signature(unsigned(pe * out_dtype.bitwidth())))
        ``OH*OW*OC/PE`` words per frame, raster order, channel groups innermost.

    Latency and throughput
    ----------------------
    One input word per cycle, never stalled while the reader keeps up (it emits a tile row
    in ``4*TW*OC/PE`` cycles, the writer takes ``16*TW*OC/PE``). The first output word of a
    tile row is valid :attr:`latency` cycles after its last input word. ``i.ready`` is a
    register function.
    """

    def __init__(self, *, tiles, out_hw, channels: int, pe: int, in_dtype: BaseDataType,
                 y_dtype: BaseDataType, out_dtype: BaseDataType):
        if not isinstance(tiles, (tuple, list)) or len(tiles) != 2:
            raise TypeError(f"tiles must be (TH, TW), not {tiles!r}")
        if not isinstance(out_hw, (tuple, list)) or len(out_hw) != 2:
            raise TypeError(f"out_hw must be (OH, OW), not {out_hw!r}")
        self.th, self.tw = (check_int(f"tiles[{k}]", v) for k, v in enumerate(tiles))
        self.oh, self.ow = (check_int(f"out_hw[{k}]", v) for k, v in enumerate(out_hw))
        if not (2 * self.th - 1 <= self.oh <= 2 * self.th and 2 * self.tw - 1 <= self.ow <= 2 * self.tw):
            raise ValueError(f"out_hw must be covered by the tiles {(self.th, self.tw)} with at most "
                             f"one row and column to crop, not {tuple(out_hw)!r}")
        self.channels = check_int("channels", channels)
        self.pe = check_int("pe", pe)
        if self.channels % self.pe:
            raise ValueError(f"pe must divide channels={self.channels}, not {pe!r}")
        for name, dt in (("in_dtype", in_dtype), ("y_dtype", y_dtype), ("out_dtype", out_dtype)):
            check_dtype(name, dt)
            if is_bipolar(dt) or (name != "out_dtype" and not dt.signed()):
                raise ValueError(f"{name} must be a signed integer type, not {dt.name}")
        self.in_dtype, self.y_dtype, self.out_dtype = in_dtype, y_dtype, out_dtype
        # an unsigned output holds only non-negative Y >> 2: one bit less than a signed one
        need = y_dtype.bitwidth() - SCALE_SHIFT - (0 if out_dtype.signed() else 1)
        if out_dtype.bitwidth() < need:
            raise ValueError(f"out_dtype must hold y_dtype >> {SCALE_SHIFT} ({need} bits), "
                             f"not {out_dtype.name}")
        self.nf = self.channels // self.pe
        self.in_bits, self.y_bits = in_dtype.bitwidth(), y_dtype.bitwidth()
        self.out_bits = out_dtype.bitwidth()
        # issue -> re-order memory read -> read data register -> queue
        self.write_latency = 2
        self.out_fifo_depth = self.write_latency + 4
        # last input word -> product register -> accumulate stage -> tile register -> full
        # flag -> issue -> queue -> o
        self.latency = self.write_latency + 6
        super().__init__({
            "i": In(stream.Signature(self.pe * self.in_bits)),
            "o": Out(stream.Signature(self.pe * self.out_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        nf_n, tw_n, th_n = self.nf, self.tw, self.th
        row_words = tw_n * nf_n                      # re-order memory words per tile row
        full = Signal(2, name="full")

        # --- arrival: position t, channel group, tile column, buffer -----------------------------
        a_t = Signal(4, name="a_t")
        a_nf = Signal(range(nf_n), name="a_nf")
        a_slot = Signal(range(row_words), name="a_slot")   # tw*NF + nf, counted at t == 15
        a_bank = Signal(name="a_bank")
        # ``i.ready`` is a register, made a cycle ahead from the next values of the full
        # flags and the bank (the flag's choice by the bank and the handshake ran into the
        # arrival counters' enables: ECP5 Winograd, 4 LUT levels, 7.1 ns)
        ready = Signal(init=1, name="ready")
        m.d.comb += self.i.ready.eq(ready)
        took = self.i.valid & self.i.ready
        row_last = (a_t == 15) & (a_slot == row_words - 1)
        with m.If(took):
            m.d.sync += [a_nf.eq(next_mod(a_nf, nf_n)),
                         a_t.eq(Mux(a_nf == nf_n - 1, a_t + 1, a_t))]
            with m.If(a_t == 15):
                m.d.sync += a_slot.eq(next_mod(a_slot, row_words))
                with m.If(row_last):
                    m.d.sync += a_bank.eq(~a_bank)

        # --- accumulate Y (read-modify-write, two cycles after arrival) ----------------------
        # stage 1: the product word and its position registered; each Y read (zero at the
        # tile's first position) into a register, and each term (the word, its negation or
        # zero by the position's coefficient) into another; stage 2: their sum written
        # back, one carry chain from registers (with the position's flags in the sum, they
        # routed 2.5-2.8 ns from their registers to 4 * PE * y_bits LUTs on the ECP5)
        v1 = delay(m, took, 1, "acc_valid")
        m1 = delay(m, self.i.payload, 1, "acc_m", reset_less=True)
        t1 = delay(m, a_t, 1, "acc_t")
        nf1 = delay(m, a_nf, 1, "acc_nf")
        v2 = delay(m, v1, 1, "acc_valid")
        t2 = delay(m, t1, 1, "acc_t")
        nf2 = delay(m, nf1, 1, "acc_nf")
        slot2 = delay(m, a_slot, 2, "acc_slot")
        bank2 = delay(m, a_bank, 2, "acc_bank")
        values = [element_value(e, self.in_dtype) for e in elements(m1, self.pe, self.in_bits)]
        terms = []
        for q in range(4):
            use = Array(Const(c != 0, 1) for c in OUTPUT_TERMS[q])[t1]
            neg = Array(Const(c < 0, 1) for c in OUTPUT_TERMS[q])[t1]
            terms += [_registered(m, Mux(use, Mux(neg, -v, v), 0), self.y_bits, f"acc_term{q}_{p}")
                      for p, v in enumerate(values)]
        y_width = 4 * self.pe * self.y_bits
        if nf_n > 1:
            # read asynchronously (LUT RAM) into a register of its own, so the zeroing is
            # before it; a read of a channel group's Y never meets the write of the same
            # group: the write is the previous product word's, a different group
            ymem = Memory(shape=y_width, depth=nf_n, init=[])
            m.submodules.y_acc = ymem
            y_wr, y_rd = ymem.write_port(), ymem.read_port(domain="comb")
            m.d.comb += y_rd.addr.eq(nf1)
            old_word = _registered(m, Mux(t1 == 0, 0, y_rd.data), y_width, "acc_old").as_unsigned()
        else:
            # one channel group: Y is a register, zeroed at the tile's first position
            # through a copy of the flag per Y
            y_acc = Signal(y_width, name="y_acc", reset_less=True)
            firsts = replicas(m, t1 == 0, 4 * self.pe, "acc_first")
            old_word = Cat(Mux(firsts[k], 0, y) for k, y in enumerate(elements(y_acc, 4 * self.pe, self.y_bits)))
        olds = elements(old_word, 4 * self.pe, self.y_bits)
        news = []
        for k in range(4 * self.pe):
            new = Signal(signed(self.y_bits), name=f"y{k // self.pe}_{k % self.pe}")
            m.d.comb += new.eq(olds[k].as_signed() + terms[k])
            news.append(new)
        if nf_n > 1:
            m.d.comb += [y_wr.addr.eq(nf2), y_wr.data.eq(Cat(*news)), y_wr.en.eq(v2)]
        else:
            with m.If(v2):
                m.d.sync += y_acc.eq(Cat(*news))

        # --- the tile's last position: rescaled outputs registered (stage 3), then written
        # into the re-order memories ---------------------------------------------------------
        depth = 2 * row_words
        last2 = v2 & (t2 == 15)
        w_en3 = delay(m, last2, 1, "tile_en")
        w_addr3 = delay(m, Mux(bank2, slot2 + row_words, slot2), 1, "tile_addr")
        reads = []
        for q in range(4):
            mem = Memory(shape=self.pe * self.out_bits, depth=depth, init=[],
                         attrs=ram_attrs(depth, collisions_unused=True))
            m.submodules[f"tile{q}"] = mem
            wr = mem.write_port()
            outs = Cat((news[q * self.pe + p] >> SCALE_SHIFT)[:self.out_bits] for p in range(self.pe))
            m.d.comb += [wr.addr.eq(w_addr3), wr.data.eq(delay(m, outs, 1, f"tile{q}_data", reset_less=True)),
                         wr.en.eq(w_en3)]
            reads.append(mem.read_port())
        set_full = Mux(w_en3 & delay(m, slot2 == row_words - 1, 1, "tile_row_end"),
                       1 << delay(m, bank2, 1, "tile_bank"), 0)

        # --- reader: output row a of the tile row, tile column, b, channel group ----------------
        r_a = Signal(name="r_a")
        r_b = Signal(name="r_b")
        r_nf = Signal(range(nf_n), name="r_nf")
        r_tw = Signal(range(tw_n), name="r_tw")
        r_th = Signal(range(th_n), name="r_th")
        r_bank = Signal(name="r_bank")
        credit_ok, take, w_en, w_data = add_output_queue(m, self.o, depth=self.out_fifo_depth,
                                                            registered_return=True)
        active = full.bit_select(r_bank, 1)
        cropped = Const(0, 1)
        if self.ow % 2:
            cropped = cropped | (r_b & (r_tw == tw_n - 1))
        if self.oh % 2:
            cropped = cropped | (r_a & (r_th == th_n - 1))
        issue = Signal(name="issue")
        step = Signal(name="step")
        m.d.comb += [issue.eq(active & credit_ok & ~cropped), take.eq(issue),
                     step.eq(active & (credit_ok | cropped))]
        # the read address is a register stepping with the counters: r_bank * TW*NF +
        # r_tw * NF + r_nf
        r_addr = Signal(range(depth), name="r_addr")
        for rd in reads:
            m.d.comb += rd.addr.eq(r_addr)
        nf_last, b_last, tw_last = r_nf == nf_n - 1, r_b == 1, r_tw == tw_n - 1
        all_last = nf_last & b_last & tw_last & r_a
        # after a tile row's last tile: its start again (second output row), else the
        # other buffer's start
        row_start = Mux(r_a ^ r_bank, row_words, 0)
        with m.If(step):
            m.d.sync += r_addr.eq(Mux(nf_last & b_last & tw_last, row_start,
                                      Mux(nf_last & ~b_last, r_addr - (nf_n - 1), r_addr + 1)))
            m.d.sync += r_nf.eq(next_mod(r_nf, nf_n))
            with m.If(nf_last):
                m.d.sync += r_b.eq(~r_b)
                with m.If(b_last):
                    m.d.sync += r_tw.eq(next_mod(r_tw, tw_n))
                    with m.If(tw_last):
                        m.d.sync += r_a.eq(~r_a)
                        with m.If(r_a):
                            m.d.sync += [r_bank.eq(~r_bank), r_th.eq(next_mod(r_th, th_n))]
        clear_full = Mux(step & all_last, 1 << r_bank, 0)
        full_next = Signal(2, name="full_next")
        m.d.comb += full_next.eq((full | set_full) & ~clear_full)
        m.d.sync += [full.eq(full_next),
                     ready.eq(~full_next.bit_select(Mux(took & row_last, ~a_bank, a_bank), 1))]

        # read data registered before the queue: a block RAM's by its own output register,
        # before the choice of memory; a smaller memory's (LUT RAM) after it
        if in_block_ram(depth):
            datas = [delay(m, rd.data, 1, f"tile{q}_read", reset_less=True) for q, rd in enumerate(reads)]
            data = Array(datas)[delay(m, Cat(r_b, r_a), 2, "q_sel")]
        else:
            data = delay(m, Array(rd.data for rd in reads)[delay(m, Cat(r_b, r_a), 1, "q_sel")], 1,
                         "tile_read", reset_less=True)
        m.d.comb += [w_en.eq(delay(m, issue, 2, "valid")), w_data.eq(data)]
        return m
