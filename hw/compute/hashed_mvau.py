"""Matrix-vector unit of a HashedNets layer (arXiv 1504.04788): K stored weights, the
virtual matrix drawn from them by a hash of the loop counters."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib.memory import Memory
from qonnx.core.datatype import BaseDataType

from ..streams import check_dtype, check_int, delay, encode_int, ram_attrs, shift_add, times_const
from .mvau import MVAU

__all__ = ["HashedMVAU", "hash_constants", "hash_indices", "virtual_weights", "MAX_BUCKET_BITS"]

MAX_BUCKET_BITS = 16
"""At most 2**16 buckets."""

_MASK64 = (1 << 64) - 1


def _splitmix(state: int) -> tuple[int, int]:
    state = (state + 0x9E3779B97F4A7C15) & _MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return state, z ^ (z >> 31)


def hash_constants(seed: int, bits: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """``((a, c, d) for rows, (a, c, d) for columns)`` of the hash on ``bits`` bits: odd
    multipliers ``a``, ``d`` and an offset ``c``, drawn from ``seed`` by splitmix64."""
    mask, state, out = (1 << bits) - 1, int(seed), []
    for _ in range(2):
        state, a = _splitmix(state)
        state, c = _splitmix(state)
        state, d = _splitmix(state)
        out.append(((a & mask) | 1, c & mask, (d & mask) | 1))
    return out[0], out[1]


def _mix(x, consts: tuple[int, int, int], bits: int):
    """``v = (x*a + c) mod 2**bits; v ^= v >> ceil(bits/2); v = v*d mod 2**bits`` on numpy
    integers (the hardware computes the same on its counters)."""
    a, c, d = consts
    mask = (1 << bits) - 1
    v = (x * a + c) & mask
    v = v ^ (v >> ((bits + 1) // 2))
    return (v * d) & mask


def hash_indices(rows: int, cols: int, buckets: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(bucket, negative)``, both ``(rows, cols)``: ``v = f(i) XOR g(j)`` on ``log2(K) + 1``
    bits, ``f``/``g`` the row/column mixes of :func:`hash_constants`; the bucket is the low
    ``log2(K)`` bits of ``v``, the sign hash its top bit."""
    bits = buckets.bit_length()           # log2(K) + 1
    kr, kc = hash_constants(seed, bits)
    f = _mix(np.arange(rows, dtype=np.int64), kr, bits)
    g = _mix(np.arange(cols, dtype=np.int64), kc, bits)
    v = f[:, None] ^ g[None, :]
    return v & (buckets - 1), v >> (bits - 1)


def virtual_weights(values: np.ndarray, rows: int, cols: int, seed: int) -> np.ndarray:
    """The virtual ``(rows, cols)`` matrix ``W[i, j] = xi(i, j) * values[h(i, j)]``."""
    values = np.asarray(values, dtype=np.int64)
    bucket, negative = hash_indices(rows, cols, int(values.size), seed)
    return np.where(negative == 1, -values[bucket], values[bucket])


def _ahead(counter: Value, count: int, steps: int) -> Value:
    """``(counter + steps) mod count`` for ``0 <= counter < count``."""
    if count == 1:
        return Const(0, 1)
    total = counter + steps % count
    return Mux(total >= count, total - count, total)


def _split(const: int) -> tuple[int, int]:
    """``const`` as two constants of about half its set bits each (their sum is ``const``),
    so ``x * const`` is two half-depth shift-and-add trees and one adder."""
    ones = [k for k in range(const.bit_length()) if const >> k & 1]
    low = sum(1 << k for k in ones[:(len(ones) + 1) // 2])
    return low, const - low


HASH_STAGES = 5
"""Registers of one hash, each stage at most one half of a constant multiply (a
shift-and-add tree over half the constant's set bits) or one adder deep: the mix of a
whole multiply per stage, a 4-level adder tree after an XOR, held the ECP5 hashed-256x64
to 122-133 MHz over five seeds."""

class HashedMVAU(MVAU):
    """Folded matrix-vector unit whose weights are ``W[i, j] = xi(i, j) * w[h(i, j)]``.

    Same arithmetic, folding, cycles and latency as :class:`~.mvau.MVAU` on the virtual
    matrix (:func:`virtual_weights`); but no weight ROM of ``MH x MW`` entries exists. At
    issue, each PE ``p`` hashes its row ``nf*PE + p`` and each SIMD lane ``s`` its column
    ``sf*SIMD + s`` from the fold counters (two constant multiplies and a shift-XOR on
    ``log2(K) + 1`` bits, registered); each lane XORs its row and column hashes, reads
    bucket ``h`` (the low ``log2(K)`` bits) from its own copy of the ``K`` stored values (a
    block or LUT RAM per lane) and negates it when the sign hash (the top bit) says so.
    Storage: ``PE * SIMD * K`` weight words, against ``MH * MW`` for the dense unit.

    Parameters
    ----------
    values : numpy.ndarray
        ``(K,)`` integer bucket values, ``K`` a power of two in 2..2**16.
    weight_dtype : DataType
        Integer type holding every value and its negation (not BIPOLAR), at most 8 bits.
    out_features, in_features : int
        Size of the virtual matrix (MH, MW).
    seed : int
        Hash seed, 0..2**32-1.
    in_dtype, acc_dtype, pe, simd, thresholds, out_dtype, out_scale, out_bias
        As for :class:`~.mvau.MVAU`.

    Members
    -------
    i, o
        As for :class:`~.mvau.MVAU`.

    Latency and throughput
    ----------------------
    As :class:`~.mvau.MVAU`. Timing: the row and column hashes of the current fold counters
    are registers (computed ahead, in two stages, as the counters step), so each lane's
    bucket table is read at the issue cycle and its read data registered before the sign's
    negation and the product, like the dense unit's weight ROM.
    """

    def __init__(self, *, values: np.ndarray, weight_dtype: BaseDataType, out_features: int,
                 in_features: int, seed: int, in_dtype: BaseDataType, acc_dtype: BaseDataType,
                 pe: int, simd: int, thresholds: np.ndarray | None = None,
                 out_dtype: BaseDataType | None = None, out_scale: int = 1, out_bias: int = 0):
        if not isinstance(values, np.ndarray) or values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
            raise TypeError(f"values must be a 1-D integer numpy array, not {values!r:.80}")
        k = int(values.size)
        if k < 2 or k & (k - 1) or k > 1 << MAX_BUCKET_BITS:
            raise ValueError(f"values must hold a power of two 2..{1 << MAX_BUCKET_BITS} of buckets, not {k}")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 1 << 32:
            raise ValueError(f"seed must be an integer in 0..2**32-1, not {seed!r}")
        if getattr(weight_dtype, "name", None) == "BIPOLAR":
            raise ValueError("weight_dtype must be an integer type with a zero, not BIPOLAR")
        out_features = check_int("out_features", out_features)
        in_features = check_int("in_features", in_features)
        self.values = values.astype(np.int64)
        weight_dtype = check_dtype("weight_dtype", weight_dtype, max_bits=8)
        lo, hi = int(weight_dtype.min()), int(weight_dtype.max())
        if not ((lo <= self.values) & (self.values <= hi) & (lo <= -self.values) & (-self.values <= hi)).all():
            raise ValueError(f"weight_dtype must hold every value and its negation, not {weight_dtype.name}")
        self.seed = seed
        self.bucket_count = k
        self.hash_bits = k.bit_length()
        super().__init__(weights=virtual_weights(self.values, out_features, in_features, seed),
                         weight_dtype=weight_dtype, in_dtype=in_dtype, acc_dtype=acc_dtype, pe=pe,
                         simd=simd, thresholds=thresholds, out_dtype=out_dtype, out_scale=out_scale,
                         out_bias=out_bias)

    def _hash(self, m: Module, counter: Signal, count: int, stride: int, offset: int, consts,
              name: str, *, enable: Value) -> Signal:
        """The mix (:func:`_mix`, in hardware) of index ``counter * stride + offset`` for a
        fold counter stepping through ``0..count-1`` on ``enable``, as a register that always
        holds the current index's mix. A pipeline of :data:`HASH_STAGES` registers stepping
        together on ``enable``, stage ``j`` (1-based) holding its part of the mix of the
        index ``HASH_STAGES - j`` steps ahead: the index (a table or shift of the counter),
        ``index * a`` as two partial products (:func:`_split`), their sum ``+ c``, the
        shift-XOR and ``* d`` as two partial products, their sum. No stage waits on another
        within a cycle; the constant multiplies are shift-and-add (Yosys would put a
        ``$mul`` on a DSP block)."""
        bits = self.hash_bits
        mask = (1 << bits) - 1
        half = (bits + 1) // 2
        a, c, d = consts
        a0, a1 = _split(a)
        d0, d1 = _split(d)

        def stages(index):
            """The stage values for ``index``: Amaranth values from a Value, ints from an int."""
            hw = isinstance(index, Value)
            join = (lambda x, y: Cat(x, y)) if hw else (lambda x, y: x | y << bits)
            low = (lambda v: v[:bits]) if hw else (lambda v: v & mask)
            high = (lambda v: v[bits:]) if hw else (lambda v: v >> bits)
            times = (lambda v, k: shift_add(v, k, bits)) if hw else (lambda v, k: v * k & mask)
            return [
                lambda _: low(index),
                lambda x: join(times(x, a0), times(x, a1)),
                lambda x: low(low(x) + high(x) + c),
                lambda x: join(times(x ^ (x >> half), d0), times(x ^ (x >> half), d1)),
                lambda x: low(low(x) + high(x)),
            ]

        def value(k: int, j: int) -> int:
            """Stage ``j``'s (0-based) value for index number ``k``, as an int."""
            v = None
            for fn in stages((k % count) * stride + offset)[:j + 1]:
                v = fn(v)
            return v

        widths = [bits, 2 * bits, bits, 2 * bits, bits]
        regs = [Signal(widths[j], name=f"{name}_s{j}" if j < HASH_STAGES - 1 else name,
                       init=value(HASH_STAGES - 1 - j, j)) for j in range(HASH_STAGES)]
        ahead = times_const(_ahead(counter, count, HASH_STAGES), stride, count) + offset
        fns = stages(ahead)
        with m.If(enable):
            m.d.sync += [reg.eq(fn(prev)) for reg, fn, prev in zip(regs, fns, [None] + regs[:-1])]
        return regs[-1]

    #: No weight memory to register again (:func:`~.mvau.weight_read_stage`): each lane's
    #: bucket table is read and registered beside it.
    weight_stage = False

    def _table(self) -> list[int]:
        """RAM contents: the codes of the ``K`` values, by bucket."""
        return [encode_int(v, self.weight_dtype) for v in self.values.tolist()]

    def _weight_read(self, m: Module, waddr: Signal, nf: Signal, sf: Signal, *, fire: Value,
                     sf_last: Value):
        # the hashes of the current counters are registers (computed ahead from the
        # counters as they step), so the bucket tables are addressed at the issue cycle
        # and their read data is registered before the sign's negation and the products
        kr, kc = hash_constants(self.seed, self.hash_bits)
        rows = [self._hash(m, nf, self.nf, self.pe, p, kr, f"row_hash{p}", enable=fire & sf_last)
                for p in range(self.pe)]
        cols = [self._hash(m, sf, self.sf, self.simd, s, kc, f"col_hash{s}", enable=fire)
                for s in range(self.simd)]
        table = self._table()
        low = self.hash_bits - 1
        codes = []
        for p in range(self.pe):
            for s in range(self.simd):
                ram = Memory(shape=self.w_bits, depth=len(table), init=table, attrs=ram_attrs(len(table)))
                m.submodules[f"weights{p}_{s}"] = ram
                rd = ram.read_port()
                address = rows[p] ^ cols[s]
                m.d.comb += rd.addr.eq(address[:low])
                negative = delay(m, address[low], 2, f"negative{p}_{s}", reset_less=True)
                value = delay(m, rd.data, 1, f"bucket{p}_{s}", reset_less=True).as_signed()
                codes.append(Mux(negative, -value, value)[:self.w_bits])
        return Cat(*codes)
