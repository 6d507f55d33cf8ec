"""Lowering of the HashedNets layer onto :class:`bitsmith.hw.compute.hashed_mvau.HashedMVAU`."""

from __future__ import annotations

from bitsmith.hw.compute.hashed_mvau import HashedMVAU
from bitsmith.hw.top import Stage

from ..ir.hashed import HashedMatrixVector
from . import lowering
from .dense import matrix_stage


@lowering(HashedMatrixVector)
def lower_hashed_mvau(node: HashedMatrixVector) -> list[Stage]:
    th = node.thresholds
    unit = HashedMVAU(values=node.values, weight_dtype=node.weight_dtype, out_features=node.out_features,
                      in_features=node.in_features, seed=int(node.seed), in_dtype=node.in_dtype,
                      acc_dtype=node.acc_dtype, pe=node.pe, simd=node.simd,
                      thresholds=None if th is None else th.values, out_dtype=node.out_dtype,
                      out_scale=1 if th is None else th.out_scale,
                      out_bias=0 if th is None else th.out_bias)
    return [matrix_stage(node, unit)]
