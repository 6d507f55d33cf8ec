"""Lowering of the shift (power-of-two) matrix layer onto :class:`bitsmith.hw.compute.shift_mvau.ShiftMVAU`."""

from __future__ import annotations

from bitsmith.hw.compute.shift_mvau import ShiftMVAU
from bitsmith.hw.top import Stage

from ..ir.shift import ShiftMatrixVector
from . import lowering
from .dense import matrix_stage


def shift_unit(node: ShiftMatrixVector) -> ShiftMVAU:
    """The unit of ``node`` (shared by the lowering and the bench)."""
    th = node.thresholds
    return ShiftMVAU(terms=node.term_array(), weight_dtype=node.weight_dtype, in_dtype=node.in_dtype,
                     acc_dtype=node.acc_dtype, pe=node.pe, simd=node.simd,
                     thresholds=None if th is None else th.values, out_dtype=node.out_dtype,
                     out_scale=1 if th is None else th.out_scale,
                     out_bias=0 if th is None else th.out_bias, weight_memory=node.weight_memory)


@lowering(ShiftMatrixVector)
def lower_shift_mvau(node: ShiftMatrixVector) -> list[Stage]:
    return [matrix_stage(node, shift_unit(node))]
