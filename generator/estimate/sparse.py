"""Cycle and resource estimates of the sparse (EIE) node.

Cycles depend on the data (which activations are zero): :func:`ideal_cycles_for` is the
bound for a given input, :func:`sparse_cycles` (registered) the bound for dense
activations (every activation non-zero), and :func:`cycles_for` the exact cycle count of
the engine (``bitsmith.generator.sparse.cycles``). Per input vector the bound is the largest of

* the busiest PE's stored entries over the non-zero activations (load balance),
* the non-zero activations (one is broadcast per cycle),
* the ``MH/N`` output words of the drain.

Resource model (documented, not fitted): per PE a ``in_bits x weight_bits`` multiplier
(LUTs, or one DSP above 36 bit-products), an accumulator adder, the codebook ROM in LUTs
(``2**b`` values), the activation queue in flip-flops, the double-banked accumulators in
LUT RAM, the sparse-matrix memory (``(b+4)``-bit entries) and the two pointer banks in
LUT RAM or block RAM as the dense estimates do; the scanner holds one input word and a
priority encoder, and its token leaves through a two-word register slice.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir.sparse import SparseMatrixVector
from ..sparse.cycles import CycleTrace, broadcast_bound, pe_bound, simulate
from . import Resources, ideal_cycles, resources, schedule_model
from .plumbing import output_skid, register_slice_resources
from .dense import memory_cost
from .schedule import Unit, port


def drain_latency(node: SparseMatrixVector) -> int:
    """``SparseEngine.latency``: the accumulator register plus the threshold stages."""
    if node.thresholds is None:
        return 1
    levels = (node.thresholds.steps - 1).bit_length()
    return 2 + -(-levels // 2)


def vectors_of(node: SparseMatrixVector, x: np.ndarray) -> np.ndarray:
    return np.asarray(x).reshape(-1, node.in_features)


def ideal_cycles_for(node: SparseMatrixVector, x: np.ndarray) -> int:
    """Bound for the input ``x`` (any shape with ``in_features`` innermost), summed over its vectors."""
    v = vectors_of(node, x)
    lengths = node.column_lengths()
    total = 0
    for row in v:
        total += max(pe_bound(lengths, row), broadcast_bound(row, node.in_features), node.rows_per_pe)
    return total


def pe_bound_for(node: SparseMatrixVector, x: np.ndarray) -> int:
    """The load-balance bound alone: sum over vectors of the busiest PE's entries."""
    return pe_bound(node.column_lengths(), vectors_of(node, x))


def cycles_for(node: SparseMatrixVector, x: np.ndarray) -> CycleTrace:
    """Exact engine cycles on ``x`` (source always valid, sink always ready)."""
    return simulate(node.column_lengths(), vectors_of(node, x), simd=node.simd,
                    queue_depth=node.queue_depth, rows=node.rows_per_pe,
                    drain_latency=drain_latency(node))


@ideal_cycles(SparseMatrixVector)
def sparse_cycles(node: SparseMatrixVector) -> int:
    """Worst case (all activations non-zero) bound per frame."""
    h, w, _ = node.in_shape
    busiest = int(node.column_lengths().sum(axis=1).max())
    return h * w * max(busiest, node.in_features, node.rows_per_pe)


@resources(SparseMatrixVector)
def sparse_resources(node: SparseMatrixVector) -> Resources:
    n, b = node.n_pe, node.codebook_bits
    xbits, wbits = node.in_dtype.bitwidth(), node.weight_dtype.bitwidth()
    accbits = node.acc_dtype.bitwidth()
    ptr_bits = max(max(1, len(e).bit_length()) for e in node.entries)
    if xbits * wbits > 36:
        mult, dsps = 0, n
    else:
        mult, dsps = n * xbits * wbits, 0
    codebook = n * math.ceil((1 << b) * wbits / 64) * max(1, wbits // 2)
    adders = n * accbits
    accs = memory_cost(2 * node.rows_per_pe * accbits, accbits, n)
    longest = max(1, max(len(e) for e in node.entries))
    matrix = memory_cost(longest * (b + 4), b + 4, n)
    pointers = memory_cost((node.in_features // 2 + 1) * ptr_bits, ptr_bits, 2 * n)
    queue_ffs = n * (node.queue_depth + 1) * (2 * ptr_bits + xbits + 1)   # one spare entry
    steps = node.thresholds.steps if node.thresholds is not None else 0
    compare = n * steps * accbits // 2
    th = memory_cost(node.rows_per_pe * steps * accbits, steps * accbits, n) if steps else Resources()
    scan_bits = node.simd * xbits
    col_bits = max(1, (node.in_features - 1).bit_length())
    # the scanner's two-word output slice: value, index and word base, last, flush
    scan_slice = register_slice_resources(xbits + 2 * col_bits + 2, 2)
    ffs = (queue_ffs + n * (accbits + 3 * ptr_bits + 2 * xbits + 16) + 2 * scan_bits + 64
           + scan_slice.ffs)
    luts = mult + codebook + adders + compare + node.simd * 4 + n * 30 + 60
    skid = output_skid(n * node.out_dtype.bitwidth())              # the output queue's
    return Resources(luts=luts, ffs=ffs, dsps=dsps) + accs + matrix + pointers + th + skid


# Schedule models (FIFO sizing, see schedule.py).

@schedule_model(SparseMatrixVector)
def _sparse(node: SparseMatrixVector) -> list[Unit]:
    """Per vector: its words first, then the output words one per cycle after the
    worst-case (dense activations) vector time and the drain (``SparseEngine``)."""
    h, w, _ = node.in_shape
    busiest = int(node.column_lengths().sum(axis=1).max())
    in_words, out_words = node.in_features // node.simd, node.out_features // node.n_pe
    per = max(busiest, node.in_features, node.rows_per_pe, in_words, out_words)
    v = np.arange(h * w)[:, None] * per
    consume = (v + np.arange(in_words)[None, :]).ravel()
    emit = np.repeat(v[:, 0] + per - 1, out_words)
    return [Unit(node.name, [port("i", h * w * in_words, node.simd, node.in_dtype)],
                 [port("o", h * w * out_words, node.n_pe, node.out_dtype)], h * w * per,
                 [consume], [emit], [5 + drain_latency(node)], [np.tile(np.arange(out_words), h * w)])]
