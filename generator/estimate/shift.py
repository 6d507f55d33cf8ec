"""Estimates of the shift (power-of-two) matrix layer: the MVAU's cycles and schedule,
products priced as barrel shifters.

Per lane and term: the zero gate on the input and a barrel shifter of ``E`` multiplexer
levels (output ``x_bits + 2**E - 1`` bits) whose last level absorbs the one's complement
of a negative term: about ``x_bits + 2/3 * E * out_bits`` LUT4s (fitted to Yosys
``synth_ecp5`` on the 64x64 comparison layer, 36 LUT4s a lane there) and an adder per
extra term; no DSP (a PE's accumulator starts at its row's count of negative terms).
Stored weights are ``N * (2 + E)`` bits of term codes plus that count per PE and word.
"""

from __future__ import annotations

from bitsmith.hw.compute.shift_mvau import term_fields

from ..ir.shift import ShiftMatrixVector
from ..passes.fold import _mvau_dims, fold_dims
from . import Resources, ideal_cycles, resources, schedule_model
from .dense import _mvau, matrix_logic, matrix_resources, mvau_cycles


def shift_product_bits(node: ShiftMatrixVector) -> tuple[int, int, int]:
    """``(stored bits per weight, LUT4s per lane, product bits)`` of ``node``."""
    terms = node.term_array()
    e0, exp_bits = term_fields(terms)
    xbits = node.in_dtype.bitwidth()
    shifted = xbits + (1 << exp_bits) - 1
    per_term = xbits + 2 * exp_bits * shifted // 3
    lane = node.terms * per_term + (node.terms - 1) * (shifted + 1)
    product_bits = shifted + e0 + 1 + (node.terms - 1).bit_length()
    count_bits = int(node.in_features * node.terms).bit_length()
    return node.terms * (2 + exp_bits) + count_bits // node.simd, lane, product_bits


@resources(ShiftMatrixVector)
def shift_mvau_resources(node: ShiftMatrixVector) -> Resources:
    code_bits, lane, product_bits = shift_product_bits(node)
    return matrix_resources(node, product_luts=node.pe * node.simd * lane, dsps=0, code_bits=code_bits,
                            product_bits=product_bits)


def shift_mvau_logic(node: ShiftMatrixVector) -> Resources:
    """:func:`shift_mvau_resources` without the memories (the per-family estimates count
    those from the unit's memory inventory)."""
    code_bits, lane, product_bits = shift_product_bits(node)
    return matrix_logic(node, product_luts=node.pe * node.simd * lane, dsps=0, code_bits=code_bits,
                        product_bits=product_bits)


ideal_cycles(ShiftMatrixVector)(mvau_cycles)
schedule_model(ShiftMatrixVector)(_mvau)
fold_dims(ShiftMatrixVector)(_mvau_dims)
