"""Top-K label selection (FINN's LabelSelect)."""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from qonnx.core.datatype import BaseDataType, DataType

from ..streams import check_dtype, check_int, element_value, elements, next_mod

__all__ = ["LabelSelect"]


class LabelSelect(wiring.Component):
    """The indices of the ``k`` largest of ``channels`` values, largest first.

    Consumes one frame of C values (PE per word, channel order) and emits K words of one
    index each. Ties go to the lower index. The running top-K list is kept sorted. Each registered input word goes
    through two stages: A computes its candidates (the keys, see below) and registers
    them, and for K = 1 reduces them to the word's first largest by a balanced tree of
    ceil(log2 PE) comparisons; B inserts the registered candidates into the kept list
    (for K = 1 one comparison; for K > 1 a combinational chain of PE insertions, so the
    critical path grows with PE). With K = 1 and PE = 1 (a running maximum) each value
    takes two cycles, compare then update, so that the loop through the kept value has a
    register in it (see :meth:`frame_cycles`).

    Parameters
    ----------
    channels : int
        C, the values per frame.
    in_dtype : DataType
        Integer type of the values (compared by true value; BIPOLAR -1 < +1).
    k : int
        1 <= K <= C.
    pe : int
        Values per input word; must divide C.
    key_scale, key_bias : tuple of int, optional
        C integers each (scales positive): rank class ``c`` by the key
        ``key_scale[c]*x[c] + key_bias[c]`` instead of ``x[c]`` (a classifier's per-class
        scale and bias, exactly). The key is computed from the registered input word, so
        latency and throughput are unchanged; the kept values are keys.

    Members
    -------
    i : In(stream.Signature(unsigned(pe * in_dtype.bitwidth())))
    o : Out(stream.Signature(unsigned(index_bits)))
        ``index_bits = max(1, ceil(log2(C)))``, :attr:`out_dtype` = ``UINT{index_bits}``.

    Latency and throughput
    ----------------------
    The K indices follow one per cycle. Each input word is first registered (so the
    comparisons start from flip-flops, not from the upstream FIFO's output multiplexer),
    its candidates are registered the cycle after (stage A) and inserted the cycle after
    that (B). The next frame's words are accepted while a result is being emitted,
    except its last word, whose candidates wait in stage A until the previous result has
    been fully sent: in steady state a frame takes :meth:`frame_cycles` cycles. The
    first index is valid ``latency`` = 3 cycles after the frame's last input transfer
    (the running maximum: input register, compare, update).
    """

    def __init__(self, *, channels: int, in_dtype: BaseDataType, k: int, pe: int,
                 key_scale: tuple | None = None, key_bias: tuple | None = None):
        self.channels = check_int("channels", channels)
        self.in_dtype = check_dtype("in_dtype", in_dtype)
        self.k = check_int("k", k)
        if self.k > self.channels:
            raise ValueError(f"k must be at most channels={self.channels}, not {k!r}")
        self.pe = check_int("pe", pe)
        if self.channels % self.pe:
            raise ValueError(f"pe must divide channels={self.channels}, not {pe!r}")
        self.folds = self.channels // self.pe
        self.key_scale, self.key_bias, self.value_dtype = self._keys(key_scale, key_bias)
        self.index_bits = max(1, (self.channels - 1).bit_length())
        self.out_dtype = DataType[f"UINT{self.index_bits}"]
        self.running_max = self.k == 1 and self.pe == 1
        self.latency = 3
        self.cycles_per_frame = self.frame_cycles(self.channels, self.k, self.pe)
        super().__init__({
            "i": In(stream.Signature(self.pe * self.in_dtype.bitwidth())),
            "o": Out(stream.Signature(self.index_bits)),
        })

    def _keys(self, key_scale, key_bias):
        """Validated keys and the datatype of the compared values (the keys, or the input)."""
        if key_scale is None and key_bias is None:
            return None, None, self.in_dtype
        for name, value in (("key_scale", key_scale), ("key_bias", key_bias)):
            if not isinstance(value, tuple) or len(value) != self.channels:
                raise TypeError(f"{name} must be a tuple of {self.channels} integers, not {value!r}")
            for v in value:
                check_int(name, v, minimum=-(1 << 31) if name == "key_bias" else 1)
        lo, hi = (-1, 1) if self.in_dtype.name == "BIPOLAR" else (int(self.in_dtype.min()), int(self.in_dtype.max()))
        lo = min(m * lo + b for m, b in zip(key_scale, key_bias))
        hi = max(m * hi + b for m, b in zip(key_scale, key_bias))
        bits = max(2, (max(-lo, hi + 1) - 1).bit_length() + 1)
        if bits > 32:
            raise ValueError(f"keys {lo}..{hi} must fit 32 bits")
        return tuple(int(v) for v in key_scale), tuple(int(v) for v in key_bias), DataType[f"INT{bits}"]

    def _key_word(self, m, word, base):
        """The registered input word as PE keys (element ``p`` is class ``base + p``)."""
        if self.key_scale is None:
            return word
        bits = self.value_dtype.bitwidth()
        keys = []
        for p, code in enumerate(elements(word, self.pe, self.in_dtype.bitwidth())):
            value = element_value(code, self.in_dtype)
            scale = Const(self.key_scale[0]) if len(set(self.key_scale)) == 1 else \
                Array(Const(v) for v in self.key_scale)[base + p]
            bias = Const(self.key_bias[0], signed(bits)) if len(set(self.key_bias)) == 1 else \
                Array(Const(v, signed(bits)) for v in self.key_bias)[base + p]
            key = Signal(signed(bits), name=f"key{p}")
            m.d.comb += key.eq(value * scale + bias)
            keys.append(key)
        return Cat(*keys)

    @staticmethod
    def frame_cycles(channels: int, k: int, pe: int) -> int:
        """Steady-state cycles per frame: ``max(C/PE, K+1)``, or ``2*C`` for the running
        maximum (K = PE = 1), which compares in one cycle and updates in the next."""
        if k == 1 and pe == 1:
            return 2 * channels
        return max(channels // pe, k + 1)

    def _insert_code(self, m, slots, code, index, step):
        """``slots`` (sorted (code, index, occupied) triples) with ``code`` at ``index`` inserted.

        The new value goes before the first slot that is empty or holds a strictly smaller
        value: equal values already in the list have lower indices and stay ahead.
        """
        value = element_value(code, self.value_dtype)
        before = [~occ | (value > element_value(c, self.value_dtype)) for c, _, occ in slots]
        new = []
        for j, (c, idx, occ) in enumerate(slots):
            if j == 0:
                new.append((Mux(before[0], code, c), Mux(before[0], index, idx), occ | before[0]))
                continue
            here = before[j] & ~before[j - 1]
            pc, pidx, pocc = slots[j - 1]
            new.append((Mux(here, code, Mux(before[j], pc, c)),
                        Mux(here, index, Mux(before[j], pidx, idx)),
                        here | Mux(before[j], pocc, occ)))
        # name every intermediate list so the chain stays linear (no re-expanded expressions)
        named = []
        for j, (c, idx, occ) in enumerate(new):
            sigs = (Signal(len(code), name=f"ins{step}_val{j}"),
                    Signal(self.index_bits, name=f"ins{step}_idx{j}"),
                    Signal(name=f"ins{step}_occ{j}"))
            m.d.comb += [sigs[0].eq(c), sigs[1].eq(idx), sigs[2].eq(occ)]
            named.append(sigs)
        return named

    def _largest(self, m, candidates):
        """The first largest of ``(code, index)`` pairs, by a balanced tree of comparisons
        (ties to the lower index: a right operand wins only when strictly larger)."""
        level = 0
        while len(candidates) > 1:
            merged = []
            for j in range(0, len(candidates) - 1, 2):
                (lc, li), (rc, ri) = candidates[j], candidates[j + 1]
                right = element_value(rc, self.value_dtype) > element_value(lc, self.value_dtype)
                code = Signal(len(lc), name=f"max{level}_{j // 2}_val")
                index = Signal(self.index_bits, name=f"max{level}_{j // 2}_idx")
                m.d.comb += [code.eq(Mux(right, rc, lc)), index.eq(Mux(right, ri, li))]
                merged.append((code, index))
            if len(candidates) % 2:
                merged.append(candidates[-1])
            candidates, level = merged, level + 1
        return candidates[0]

    def _running_max(self, m, word, code, idx, occ, out, *, pending, last, base, busy, sent):
        """K = PE = 1: keep the first largest value and its index, two cycles per value.

        The comparison is registered (``bigger``) and applied the cycle after, so neither
        the comparator's carry chain nor the register enables are in a one-cycle loop
        through the kept value. Returns ``insert`` (the word leaves the input register).
        """
        # value > kept  <=>  kept - value < 0: the sign of a subtraction, which maps onto
        # the carry chain (a compare became a 5-LUT chain on iCE40)
        bits = self.value_dtype.bitwidth() + 2
        difference = Signal(signed(bits), name="kept_minus_value")
        m.d.comb += difference.eq(element_value(code, self.value_dtype)
                                  - element_value(word, self.value_dtype))
        larger = difference[-1]
        compared, bigger = Signal(name="compared"), Signal(name="bigger")
        insert = Signal(name="insert")
        m.d.comb += insert.eq(pending & compared & ~(last & busy))
        with m.If(pending & ~compared):
            m.d.sync += [compared.eq(1), bigger.eq(~occ | larger)]
        with m.If(insert):
            m.d.sync += compared.eq(0)
            with m.If(bigger):
                m.d.sync += [code.eq(word), idx.eq(base)]
            with m.If(last):
                m.d.sync += [base.eq(0), busy.eq(1), sent.eq(0), occ.eq(0),
                             out.eq(Mux(bigger, base, idx))]
            with m.Else():
                m.d.sync += [base.eq(base + 1), occ.eq(1)]
        return insert

    def elaborate(self, platform):
        m = Module()
        bits = self.value_dtype.bitwidth()
        codes = [Signal(bits, name=f"val{j}") for j in range(self.k)]
        idxs = [Signal(self.index_bits, name=f"idx{j}") for j in range(self.k)]
        occs = [Signal(name=f"occ{j}") for j in range(self.k)]
        fold = Signal(range(self.folds))
        base = Signal(range(self.channels), name="base")
        out = Array(Signal(self.index_bits, name=f"out{j}") for j in range(self.k))
        busy = Signal()
        sent = Signal(range(self.k))
        last_fold = fold == self.folds - 1

        # input register: the word and whether it is the frame's last
        word = Signal(len(self.i.payload), name="word", reset_less=True)
        pending, word_last = Signal(name="pending"), Signal(name="word_last")
        keys = self._key_word(m, word, base)
        if self.running_max:
            insert = self._running_max(m, keys, codes[0], idxs[0], occs[0], out[0],
                                       pending=pending, last=word_last, base=base, busy=busy,
                                       sent=sent)
        else:
            insert = Signal(name="insert")      # the word moves on to stage A (below)
        m.d.comb += self.i.ready.eq(~pending | insert)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [word.eq(self.i.payload), pending.eq(1), word_last.eq(last_fold),
                         fold.eq(next_mod(fold, self.folds))]
        with m.Elif(insert):
            m.d.sync += pending.eq(0)

        if not self.running_max:
            # stage A: the word's candidates (its keys; for K = 1 only its largest, from a
            # balanced tree), registered; stage B inserts them into the kept list
            candidates = [(code, base + p) for p, code in enumerate(elements(keys, self.pe, bits))]
            if self.k == 1:
                candidates = [self._largest(m, candidates)]
            a_codes = [Signal(bits, name=f"cand{j}_val") for j in range(len(candidates))]
            a_idxs = [Signal(self.index_bits, name=f"cand{j}_idx") for j in range(len(candidates))]
            a_valid, a_last = Signal(name="cand_valid"), Signal(name="cand_last")
            take = Signal(name="take")          # stage B inserts the candidates
            m.d.comb += [take.eq(a_valid & ~(a_last & busy)),
                         insert.eq(pending & (~a_valid | take))]
            with m.If(insert):
                m.d.sync += [a_valid.eq(1), a_last.eq(word_last)]
                m.d.sync += [a.eq(c) for a, (c, _) in zip(a_codes, candidates)]
                m.d.sync += [a.eq(i) for a, (_, i) in zip(a_idxs, candidates)]
                m.d.sync += base.eq(Mux(word_last, 0, base + self.pe))
            with m.Elif(take):
                m.d.sync += a_valid.eq(0)
            slots = list(zip(codes, idxs, occs))
            for j, (code, index) in enumerate(zip(a_codes, a_idxs)):
                slots = self._insert_code(m, slots, code, index, j)
            with m.If(take):
                with m.If(a_last):
                    m.d.sync += [busy.eq(1), sent.eq(0)]
                    m.d.sync += [o.eq(idx) for o, (_, idx, _) in zip(out, slots)]
                    m.d.sync += [occ.eq(0) for occ in occs]
                with m.Else():
                    for (code, idx, occ), (new_code, new_idx, new_occ) in zip(zip(codes, idxs, occs), slots):
                        m.d.sync += [code.eq(new_code), idx.eq(new_idx), occ.eq(new_occ)]

        m.d.comb += [self.o.valid.eq(busy), self.o.payload.eq(out[sent])]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += sent.eq(next_mod(sent, self.k))
            with m.If(sent == self.k - 1):
                m.d.sync += busy.eq(0)
        return m
