"""Lowering of the sparse (EIE) node onto :class:`bitsmith.hw.sparse.SparseEngine`."""

from __future__ import annotations

from bitsmith.hw.sparse import SparseEngine
from bitsmith.hw.top import Stage

from ..ir.sparse import SparseMatrixVector
from . import lowering


def engine(node: SparseMatrixVector) -> SparseEngine:
    """The engine of ``node`` (shared by the lowering and the measurement scripts)."""
    th = node.thresholds
    return SparseEngine(entries=node.entries, col_ptr=node.col_ptr, codebook=node.codebook,
                        out_features=node.out_features, weight_dtype=node.weight_dtype,
                        in_dtype=node.in_dtype, acc_dtype=node.acc_dtype,
                        queue_depth=node.queue_depth, simd=node.simd,
                        thresholds=None if th is None else th.values, out_dtype=node.out_dtype,
                        out_scale=1 if th is None else th.out_scale,
                        out_bias=0 if th is None else th.out_bias)


@lowering(SparseMatrixVector)
def lower_sparse(node: SparseMatrixVector) -> list[Stage]:
    return [Stage(component=engine(node), name=node.name,
                  in_elem_bits=node.in_dtype.bitwidth(), in_elems=node.simd,
                  out_elem_bits=node.out_dtype.bitwidth(), out_elems=node.n_pe)]
