"""Lowering of the dense node kinds onto ``hw`` components."""

from __future__ import annotations

from bitsmith.hw.compute.mvau import MVAU
from bitsmith.hw.compute.thresholds import Thresholding
from bitsmith.hw.plumbing.label_select import LabelSelect as LabelSelectUnit
from bitsmith.hw.top import Stage

from ..ir.dense import LabelSelect, MatrixVector, MultiThreshold, Reshape
from . import lowering


@lowering(MatrixVector)
def lower_mvau(node: MatrixVector) -> list[Stage]:
    th = node.thresholds
    unit = MVAU(weights=node.weights, weight_dtype=node.weight_dtype, in_dtype=node.in_dtype,
                acc_dtype=node.acc_dtype, pe=node.pe, simd=node.simd,
                thresholds=None if th is None else th.values,
                out_dtype=node.out_dtype,
                out_scale=1 if th is None else th.out_scale,
                out_bias=0 if th is None else th.out_bias, weight_memory=node.weight_memory,
                popcount=node.popcount)
    return [matrix_stage(node, unit)]


def matrix_stage(node, unit) -> Stage:
    """The stage of a matrix layer's ``unit``: SIMD inputs in, PE outputs out per word."""
    return Stage(component=unit, name=node.name,
                 in_elem_bits=node.in_dtype.bitwidth(), in_elems=node.simd,
                 out_elem_bits=node.out_dtype.bitwidth(), out_elems=node.pe)


@lowering(MultiThreshold)
def lower_thresholds(node: MultiThreshold) -> list[Stage]:
    th = node.thresholds
    unit = Thresholding(thresholds=th.values, in_dtype=node.in_dtype, out_dtype=th.out_dtype,
                        out_scale=th.out_scale, out_bias=th.out_bias,
                        channels=node.in_shape[2], pe=node.pe)
    return [Stage(component=unit, name=node.name,
                  in_elem_bits=node.in_dtype.bitwidth(), in_elems=node.pe,
                  out_elem_bits=th.out_dtype.bitwidth(), out_elems=node.pe)]


@lowering(Reshape)
def lower_reshape(node: Reshape) -> list[Stage]:
    return []


@lowering(LabelSelect)
def lower_label_select(node: LabelSelect) -> list[Stage]:
    unit = LabelSelectUnit(channels=node.in_shape[2], in_dtype=node.in_dtype, k=node.k, pe=node.pe,
                           key_scale=node.key_scale, key_bias=node.key_bias)
    return [Stage(component=unit, name=node.name,
                  in_elem_bits=node.in_dtype.bitwidth(), in_elems=node.pe,
                  out_elem_bits=node.out_dtype.bitwidth(), out_elems=1)]
