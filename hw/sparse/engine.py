"""The EIE-style sparse matrix-vector engine: scan, broadcast, N PEs, drain."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from qonnx.core.datatype import BaseDataType

from ..compute.threshold_unit import ThresholdTable
from ..streams import add_output_queue, check_dtype, check_int, check_int_array
from .pe import MAX_QUEUE_DEPTH, SparsePE, row_bits
from .scan import NonZeroScan

__all__ = ["SparseEngine", "MAX_PE"]

MAX_PE = 64


class SparseEngine(wiring.Component):
    """Sparse, codebook-shared matrix times vector (EIE), per input vector, in channel order.

    ``acc[r] = sum_c codebook[code(r, c)] * x[c]`` over the stored entries of the encoding
    (``bitsmith.generator.sparse.encode``: PE ``k`` owns rows ``r ≡ k (mod N)``). Output
    ``out_scale * sum_i [acc[r] >= T_i] + out_bias`` in ``out_dtype`` with thresholds, else
    ``acc`` in ``acc_dtype``.

    Structure: :class:`NonZeroScan` emits each vector's non-zero activations with their
    column; each token is broadcast to all PEs at once when every PE is ``ready`` (its
    queue will have room); every :class:`SparsePE` looks up the column's pointers and
    queues only columns it has entries in. When all PEs are *done* with a vector, the
    drain reads row ``l`` of every PE in one cycle (output word ``l`` = channels
    ``l*N .. l*N+N-1``, element ``k`` from PE ``k``), clears it, and after ``MH/N`` words
    releases the bank. Accumulators are double-banked, so PEs work on the next vector
    while the previous one drains.

    Parameters
    ----------
    entries : tuple of numpy.ndarray
        Per PE ``(n_k, 2)`` ``(code, rel)`` pairs.
    col_ptr : numpy.ndarray
        ``(N, MW+1)`` column pointers.
    codebook : numpy.ndarray
        ``(2**b,)`` integers of ``weight_dtype``, ``codebook[0] == 0``; ``b`` in 2..8.
    out_features : int
        ``MH``, a multiple of ``N = len(entries)`` (1..64 PEs).
    weight_dtype, in_dtype, acc_dtype : DataType
    queue_depth : int
        Activation-queue entries per PE, 1..16.
    simd : int
        Input elements per word, divides ``MW``.
    thresholds : numpy.ndarray, optional
        ``(MH, B)`` or ``(1, B)`` ascending thresholds in the accumulator domain.
    out_dtype : DataType, optional
        Output type with thresholds (default ``acc_dtype``).
    out_scale, out_bias : int

    Members
    -------
    i : In(stream.Signature(unsigned(simd * in_bits)))
    o : Out(stream.Signature(unsigned(N * out_bits)))
    pe_busy : Out(N)
        Bit ``k``: PE ``k`` issues a stored entry this cycle (load-balance measurement).

    Latency and throughput
    ----------------------
    Data dependent; ``bitsmith.generator.sparse.cycles.simulate`` is the exact cycle model (the
    tests assert every transfer cycle against it). With empty queues, a PE issues the
    first entry of a word's first non-zero column 6 cycles after the word is taken; it
    then spends one cycle per stored entry of its non-empty columns (empty columns cost
    it nothing; a vector whose last column is empty for it costs one marker cycle). Output
    word ``l`` of a vector transfers ``5 + latency + l`` cycles after the slowest PE
    issued its last entry (``latency`` = 1, plus the threshold stages), ``MH/N`` words at
    one per cycle while the PEs already work on the next vector. The scanner takes
    ``max(1, nonzeros)`` cycles per input word and the broadcast moves one activation per
    cycle, and only when every PE holds fewer than ``queue_depth`` queued entries (with
    depth 1, a PE whose columns are non-empty lets a token through every other cycle at
    most).
    """

    def __init__(self, *, entries, col_ptr: np.ndarray, codebook: np.ndarray, out_features: int,
                 weight_dtype: BaseDataType, in_dtype: BaseDataType, acc_dtype: BaseDataType,
                 queue_depth: int, simd: int, thresholds: np.ndarray | None = None,
                 out_dtype: BaseDataType | None = None, out_scale: int = 1, out_bias: int = 0):
        if not isinstance(entries, (tuple, list)):
            raise TypeError(f"entries must be a tuple of arrays (one per PE), not {type(entries).__name__}")
        self.n_pe = len(entries)
        if not 1 <= self.n_pe <= MAX_PE:
            raise ValueError(f"entries must hold 1..{MAX_PE} PEs, not {self.n_pe}")
        ptr = check_int_array("col_ptr", col_ptr, 2)
        if ptr.shape[0] != self.n_pe:
            raise ValueError(f"col_ptr must have {self.n_pe} rows (one per PE), not {ptr.shape[0]}")
        self.in_features = ptr.shape[1] - 1
        self.out_features = check_int("out_features", out_features)
        if out_features % self.n_pe:
            raise ValueError(f"out_features must be a multiple of {self.n_pe} PEs, not {out_features!r}")
        self.rows = out_features // self.n_pe
        self.queue_depth = check_int("queue_depth", queue_depth)
        if queue_depth > MAX_QUEUE_DEPTH:
            raise ValueError(f"queue_depth must be 1..{MAX_QUEUE_DEPTH}, not {queue_depth!r}")
        self.in_dtype = check_dtype("in_dtype", in_dtype)
        self.acc_dtype = check_dtype("acc_dtype", acc_dtype, max_bits=64)
        self.scan = NonZeroScan(in_dtype=in_dtype, in_features=self.in_features, simd=simd)
        self.pes = [SparsePE(entries=entries[k], col_ptr=ptr[k], codebook=codebook,
                             weight_dtype=weight_dtype, in_dtype=in_dtype, acc_dtype=acc_dtype,
                             rows=self.rows, queue_depth=queue_depth) for k in range(self.n_pe)]
        if thresholds is None:
            self.table = None
            self.out_dtype = acc_dtype if out_dtype is None else check_dtype("out_dtype", out_dtype)
            if self.out_dtype != acc_dtype:
                raise ValueError(f"out_dtype must be acc_dtype {acc_dtype.name} without thresholds, "
                                 f"not {self.out_dtype.name}")
        else:
            self.out_dtype = check_dtype("out_dtype", out_dtype)
            self.table = ThresholdTable(thresholds, channels=out_features, pe=self.n_pe,
                                        in_lo=int(acc_dtype.min()), in_hi=int(acc_dtype.max()),
                                        out_dtype=self.out_dtype, out_scale=out_scale, out_bias=out_bias)
        self.out_bits = self.out_dtype.bitwidth()
        self.latency = 1 + (self.table.latency if self.table is not None else 0)
        super().__init__({
            "i": In(stream.Signature(unsigned(simd * in_dtype.bitwidth()))),
            "o": Out(stream.Signature(unsigned(self.n_pe * self.out_bits))),
            "pe_busy": Out(self.n_pe),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.scan = scan = self.scan
        wiring.connect(m, wiring.flipped(self.i), scan.i)
        for k, pe in enumerate(self.pes):
            m.submodules[f"pe{k}"] = pe

        # -- broadcast: a token goes to every PE at once, when all can take it ----------
        # The scanner's token is registered first, so that its leading-non-zero detector
        # and column adder end at a register instead of running on into every PE's
        # pointer read; the register takes the next token when it is empty or sends.
        all_ready = Cat(pe.ready for pe in self.pes).all()
        tok_valid = Signal(name="tok_valid")
        tok = Signal(scan.o.payload.shape(), name="tok")
        fire = tok_valid & all_ready
        advance = ~tok_valid | fire
        m.d.comb += scan.o.ready.eq(advance)
        with m.If(advance):
            m.d.sync += [tok_valid.eq(scan.o.valid), tok.eq(scan.o.payload)]
        for pe in self.pes:
            m.d.comb += [pe.tok_fire.eq(fire), pe.tok.eq(tok)]
        m.d.comb += self.pe_busy.eq(Cat(pe.busy for pe in self.pes))

        # -- drain: row l of every PE per word, in channel order ----------------------------
        bank = Signal()
        row = Signal(row_bits(self.rows))
        all_done = Cat(pe.done.bit_select(bank, 1) for pe in self.pes).all()
        credit_ok, take, w_en, w_data = add_output_queue(m, self.o, depth=self.latency + 3)
        m.d.comb += take.eq(all_done & credit_ok)
        last_row = row == self.rows - 1
        for pe in self.pes:
            m.d.comb += [pe.drain_bank.eq(bank), pe.drain_row.eq(row), pe.drain_clear.eq(take),
                         pe.drain_release.eq(take & last_row)]
        with m.If(take):
            m.d.sync += row.eq(row + 1)
            with m.If(last_row):
                m.d.sync += [row.eq(0), bank.eq(~bank)]

        values = [Signal(self.pes[0].acc_shape, name=f"drained{k}") for k in range(self.n_pe)]
        drained = Signal()
        m.d.sync += [drained.eq(take)] + [v.eq(pe.acc) for v, pe in zip(values, self.pes)]
        if self.table is None:
            m.d.comb += [w_en.eq(drained),
                         w_data.eq(Cat(v[:self.out_bits] for v in values))]
        else:
            codes, valid = self.table.build(m, fold_early=row, values=values, valid=drained)
            m.d.comb += [w_en.eq(valid), w_data.eq(Cat(c[:self.out_bits] for c in codes))]
        return m
