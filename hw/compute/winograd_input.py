"""Input transform of Winograd F(2x2, 3x3): 4x4 patches -> ``V = B^T d B``, additions only."""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from qonnx.core.datatype import BaseDataType

from ..streams import (add_output_queue, check_dtype, check_int, delay, element_value, elements,
                       is_bipolar, next_mod, ram_attrs, times_const)

__all__ = ["WinogradInput", "ROW_TERMS"]

#: Row ``i`` of ``B^T`` as its two non-zero terms ``(r_a, sign_a, r_b, sign_b)``, with
#: ``r_a`` in {0, 1} and ``r_b`` in {2, 3} (so each term comes from its own memory half).
ROW_TERMS = ((0, 1, 2, -1), (1, 1, 2, 1), (1, -1, 2, 1), (1, 1, 3, -1))


def _address(slot: Value, offset: Value, words: int) -> Value:
    """``slot * words + offset`` (``slot`` < 8), without a multiplier."""
    return times_const(slot, words, 8) + offset


def _signed_sum(x: Value, y: Value, neg_x: Value, neg_y: Value) -> Value:
    """``+-x +-y`` for signs never both negative (``ROW_TERMS``): one adder, its operands
    inverted by the signs and a carry in of 1 for a subtraction."""
    x, y = (v if v.shape().signed else Cat(v, Const(0, 1)).as_signed() for v in (x, y))
    width = max(len(x), len(y)) + 1
    return (Mux(neg_x, ~x, x) + Mux(neg_y, ~y, y) + (neg_x | neg_y))[:width].as_signed()


assert not any(t[1] < 0 and t[3] < 0 for t in ROW_TERMS), "a row of B^T with two negative terms"


class WinogradInput(wiring.Component):
    """Turns a stream of 4x4 patches into the transformed vectors ``V = B^T d B`` of
    Winograd F(2x2, 3x3) (:mod:`bitsmith.generator.ir.winograd`), channel by channel.

    Each patch arrives as the :class:`~.sliding_window.SlidingWindow` emits a 4x4 window:
    words in ``(r, c, cg)`` order (patch row, column, then channel group of SIMD
    channels). Each patch leaves as 16 vectors ``V[t]``, ``t = 4i + j``, of ``C/SIMD``
    words: word ``(t, cg)`` holds ``V[i, j]`` of the SIMD channels of group ``cg``,
    ``V[i, j] = sum_{r,c} B^T[i, r] B^T[j, c] d[r, c]`` (four inputs with signs).

    Storage: four memories, one per ``(r // 2, c // 2)`` quadrant of the patch, each
    holding two patches (double buffer: the next patch is written while the current one
    is read). Every row of ``B^T`` has one non-zero in rows 0..1 and one in rows 2..3 (and
    so for columns), so the four inputs of any ``V`` word lie in four different memories
    and are read in one cycle.

    Parameters
    ----------
    channels : int
        Channels ``C`` of the patch.
    simd : int
        Channels per word (divides ``channels``).
    in_dtype : DataType
        Type of the patch elements (integer, not BIPOLAR).
    out_dtype : DataType
        Signed type holding every ``V`` (the caller proves it: ``WinogradConv.v_dtype``).

    Members
    -------
    i : In(stream.Signature(unsigned(simd * in_dtype.bitwidth())))
        ``16 * C/SIMD`` words per patch.
    o : Out(stream.Signature(unsigned(simd * out_dtype.bitwidth())))
        ``16 * C/SIMD`` words per patch.

    Latency and throughput
    ----------------------
    One input and one output word per cycle, concurrently: ``16 * C/SIMD`` cycles per
    patch in steady state. The first output word of a patch is valid :attr:`latency`
    cycles after its last input word is transferred. ``i.ready`` is a register function.
    """

    def __init__(self, *, channels: int, simd: int, in_dtype: BaseDataType, out_dtype: BaseDataType):
        self.channels = check_int("channels", channels)
        self.simd = check_int("simd", simd)
        if self.channels % self.simd:
            raise ValueError(f"simd must divide channels={self.channels}, not {simd!r}")
        self.in_dtype = check_dtype("in_dtype", in_dtype, max_bits=16)
        if is_bipolar(self.in_dtype):
            raise ValueError("in_dtype must be an integer type with a zero, not BIPOLAR")
        self.out_dtype = check_dtype("out_dtype", out_dtype)
        if not self.out_dtype.signed() or is_bipolar(self.out_dtype):
            raise ValueError(f"out_dtype must be a signed integer type, not {self.out_dtype.name}")
        lo, hi = int(self.in_dtype.min()), int(self.in_dtype.max())
        need_lo, need_hi = min(4 * lo, 2 * lo - 2 * hi), max(4 * hi, 2 * hi - 2 * lo)
        if need_lo < self.out_dtype.min() or need_hi > self.out_dtype.max():
            raise ValueError(f"out_dtype must hold the transformed range {need_lo}..{need_hi}, "
                             f"not {self.out_dtype.name}")
        self.sf = self.channels // self.simd
        self.in_bits, self.out_bits = self.in_dtype.bitwidth(), self.out_dtype.bitwidth()
        # issue -> memory read -> pair sum register -> sum register -> queue
        self.write_latency = 3
        self.out_fifo_depth = self.write_latency + 4
        self.latency = self.write_latency + 3
        super().__init__({
            "i": In(stream.Signature(self.simd * self.in_bits)),
            "o": Out(stream.Signature(self.simd * self.out_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        sf_n = self.sf
        depth = 8 * sf_n                         # 2 patches x 4 positions x SF words

        # --- write side: patch position (r, c) and channel group --------------------------
        w_pos = Signal(4, name="w_pos")          # 4r + c
        w_sf = Signal(range(sf_n), name="w_sf")
        w_buf = Signal(name="w_buf")
        full = Signal(2, name="full")
        r_buf = Signal(name="r_buf")
        last_in = (w_pos == 15) & (w_sf == sf_n - 1)
        m.d.comb += self.i.ready.eq(~full.bit_select(w_buf, 1))
        took = self.i.valid & self.i.ready
        r, c = w_pos[2:4], w_pos[0:2]
        # the write address is a register stepped with the counters (from their next
        # values), so the LUT RAM's write enables decode flip-flops, not an adder's sum
        # (ECP5 Winograd: the counter, the address adder and the decode into the quadrant
        # memories' write enables, 6.9 ns)
        w_addr = Signal(range(depth), name="w_addr")
        next_sf = next_mod(w_sf, sf_n)
        next_pos = Mux(w_sf == sf_n - 1, w_pos + 1, w_pos)[:4]
        next_buf = Mux(last_in, ~w_buf, w_buf)
        quads = []
        for q in range(4):
            mem = Memory(shape=len(self.i.payload), depth=depth, init=[],
                         attrs=ram_attrs(depth, collisions_unused=True))
            m.submodules[f"quad{q}"] = mem
            wr = mem.write_port()
            m.d.comb += [wr.addr.eq(w_addr), wr.data.eq(self.i.payload),
                         wr.en.eq(took & (Cat(c[1], r[1]) == q))]
            quads.append(mem.read_port())
        with m.If(took):
            m.d.sync += [w_sf.eq(next_sf), w_pos.eq(next_pos), w_buf.eq(next_buf),
                         w_addr.eq(_address(Cat(next_pos[0], next_pos[2], next_buf), next_sf, sf_n))]

        # --- read side: transform position t = 4i + j and channel group ---------------------
        r_t = Signal(4, name="r_t")
        r_sf = Signal(range(sf_n), name="r_sf")
        credit_ok, take, w_en, w_data = add_output_queue(m, self.o, depth=self.out_fifo_depth,
                                                            registered_return=True)
        issue = Signal(name="issue")
        m.d.comb += [issue.eq(full.bit_select(r_buf, 1) & credit_ok), take.eq(issue)]
        last_out = (r_t == 15) & (r_sf == sf_n - 1)
        # the read addresses are registers holding the address of the counters' current
        # values, loaded when ``issue`` steps the counters with the address of their next
        # values (made from the counters alone): ``issue`` is the addresses' clock enable,
        # not the choice in front of the slot decode and the address adder (ECP5 Winograd:
        # the full flag, the issue, the counters' next values, the decode and the adder in
        # series into the read addresses, 6.7-6.9 ns)
        sf_end = r_sf == sf_n - 1
        n_t = Mux(sf_end, r_t + 1, r_t)[:4]
        n_sf = next_mod(r_sf, sf_n)
        n_buf = r_buf ^ last_out

        def term(k: int, t: Value) -> Value:
            """Field ``k`` of ``ROW_TERMS`` for row ``t``, as a bit: the low bit of a
            position (0, 2), whether a sign (1, 3) is negative."""
            return Array(Const((v[k] & 1) if k % 2 == 0 else v[k] < 0, 1) for v in ROW_TERMS)[t]

        # per quadrant (row half, column half): the patch position read (r_a in {0, 1},
        # r_b in {2, 3}: the low bit of each)
        for q, rd in enumerate(quads):
            row, col = 2 * (q >> 1), 2 * (q & 1)
            slot = Cat(term(col, n_t[0:2]), term(row, n_t[2:4]), n_buf)
            with m.If(issue):
                m.d.sync += rd.addr.eq(_address(slot, n_sf, sf_n))
        # the sums: V = sa * (ca * d[a, a] + cb * d[a, b]) + sb * (ca * d[b, a] + cb * d[b, b]),
        # each pair's two signs never both negative (checked below), so each sum is one
        # addition or subtraction
        i_idx, j_idx = r_t[2:4], r_t[0:2]
        # the column signs meet the read data (a cycle after the issue), the row signs the
        # pairs (a cycle later)
        neg_ca = delay(m, term(1, j_idx), 1, "neg_ca")
        neg_cb = delay(m, term(3, j_idx), 1, "neg_cb")
        neg_ra = delay(m, term(1, i_idx), 2, "neg_ra")
        neg_rb = delay(m, term(3, i_idx), 2, "neg_rb")
        with m.If(issue):
            m.d.sync += [r_sf.eq(next_mod(r_sf, sf_n)),
                         r_t.eq(Mux(r_sf == sf_n - 1, r_t + 1, r_t))]
            with m.If(last_out):
                m.d.sync += r_buf.eq(~r_buf)

        # full flags: the writer sets its buffer's at a patch's last word, the reader clears
        # its buffer's at the last read (never the same buffer in one cycle: the writer needs
        # it empty, the reader full)
        set_full = Mux(took & last_in, 1 << w_buf, 0)
        clear_full = Mux(issue & last_out, 1 << r_buf, 0)
        m.d.sync += full.eq((full | set_full) & ~clear_full)

        # --- sums: the two pairs a cycle after the read, V a cycle later -----------------------
        lanes = []
        for s in range(self.simd):
            d = [element_value(elements(quads[q].data, self.simd, self.in_bits)[s], self.in_dtype)
                 for q in range(4)]
            pairs = []
            for h in range(2):
                pair = Signal(signed(self.in_bits + 2), name=f"pair{h}_{s}", reset_less=True)
                m.d.sync += pair.eq(_signed_sum(d[2 * h], d[2 * h + 1], neg_ca, neg_cb))
                pairs.append(pair)
            reg = Signal(signed(self.out_bits), name=f"v{s}", reset_less=True)
            m.d.sync += reg.eq(_signed_sum(pairs[0], pairs[1], neg_ra, neg_rb))
            lanes.append(reg)
        m.d.comb += [w_en.eq(delay(m, issue, 3, "valid")), w_data.eq(Cat(*lanes))]
        return m
