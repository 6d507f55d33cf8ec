"""Estimates of the HashedNets layer: the MVAU's cycles, schedule and products; the
weight store is one ``K``-word table per lane plus the hash (per PE and per SIMD lane
two constant multiplies on ``log2(K) + 1`` bits, about ``3 * bits**2 / 2`` LUT4s each,
in a pipeline of registers, ``bits`` XOR LUTs per lane) and a negation of the read value
per lane."""

from __future__ import annotations

from functools import partial

from ..ir.hashed import HashedMatrixVector
from ..passes.fold import _mvau_dims, fold_dims
from . import Resources, ideal_cycles, resources, schedule_model
from .dense import _mvau, matrix_resources, memory_cost, mvau_cycles, product_cost


def weight_store_bits(node: HashedMatrixVector) -> int:
    """Bits of stored weights: ``PE * SIMD`` tables of ``K`` words."""
    return node.pe * node.simd * int(node.values.size) * node.weight_dtype.bitwidth()


def hash_luts(node: HashedMatrixVector) -> int:
    """LUT4s of the row and column hashes and of each lane's XOR and negation."""
    wbits, lanes = node.weight_dtype.bitwidth(), node.pe * node.simd
    bits = int(node.values.size).bit_length()
    return (node.pe + node.simd) * (3 * bits * bits // 2) + lanes * (bits + wbits)


@resources(HashedMatrixVector)
def hashed_mvau_resources(node: HashedMatrixVector) -> Resources:
    wbits, lanes = node.weight_dtype.bitwidth(), node.pe * node.simd
    bits = int(node.values.size).bit_length()
    store = memory_cost(int(node.values.size) * wbits, wbits, lanes)
    hashing = hash_luts(node)
    mult, dsps = product_cost(node)
    # each hash's pipeline (hw.compute.hashed_mvau.HASH_STAGES): 3 registers of ``bits``
    # bits and 2 of two partial products
    pipeline = Resources(ffs=(node.pe + node.simd) * 7 * bits)
    return matrix_resources(node, product_luts=mult + hashing, dsps=dsps, code_bits=wbits,
                            weights=store, weight_memory=False) + pipeline


ideal_cycles(HashedMatrixVector)(mvau_cycles)
schedule_model(HashedMatrixVector)(partial(_mvau, weight_memory=False))
fold_dims(HashedMatrixVector)(_mvau_dims)
