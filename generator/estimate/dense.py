"""Cycle and resource estimates of the dense node kinds.

Resource model (documented, not fitted): per PE a SIMD-wide multiplier array and an
adder tree, per PE a bank of B threshold comparators of the accumulator width, weights in
block RAM when a PE's bank holds over 1 Kibit, else in LUT RAM (64 bits per LUT).
A 1-bit x 1-bit product is one LUT6 per 2 lanes (XNOR folded into the popcount
compressors); an a-bit x b-bit product costs about a*b LUTs, or one DSP when a*b > 36.
"""

from __future__ import annotations

import math

from hw.plumbing.label_select import LabelSelect as LabelSelectUnit

from ..ir.dense import LabelSelect, MatrixVector, MultiThreshold, Reshape
from . import Resources, ideal_cycles, resources


def pixels(node) -> int:
    h, w, _ = node.in_shape
    return h * w


@ideal_cycles(MatrixVector)
def mvau_cycles(node: MatrixVector) -> int:
    return pixels(node) * node.cycles_per_vector()


@ideal_cycles(MultiThreshold)
def thresholds_cycles(node: MultiThreshold) -> int:
    return pixels(node) * node.in_shape[2] // node.pe


@ideal_cycles(LabelSelect)
def label_select_cycles(node: LabelSelect) -> int:
    return LabelSelectUnit.frame_cycles(node.in_shape[2], node.k, node.pe)


@ideal_cycles(Reshape)
def reshape_cycles(node: Reshape) -> int:
    return 0


def memory_cost(bits_per_bank: int, width: int, banks: int) -> Resources:
    if bits_per_bank <= 1024:
        return Resources(luts=banks * math.ceil(bits_per_bank / 64))
    per_bank = max(math.ceil(bits_per_bank / 18432), math.ceil(width / 36))
    return Resources(brams=banks * per_bank)


@resources(MatrixVector)
def mvau_resources(node: MatrixVector) -> Resources:
    wbits, xbits = node.weight_dtype.bitwidth(), node.in_dtype.bitwidth()
    accbits = node.acc_dtype.bitwidth()
    lanes = node.pe * node.simd
    if node.xnor:
        mult, dsps = math.ceil(lanes / 2), 0
    elif wbits * xbits > 36:
        mult, dsps = 0, lanes
    else:
        mult, dsps = lanes * wbits * xbits, 0
    tree = node.pe * node.simd * max(1, accbits // 2)
    steps = node.thresholds.steps if node.thresholds is not None else 0
    compare = node.pe * steps * accbits // 2
    depth = node.cycles_per_vector()
    weights = memory_cost(depth * node.simd * wbits, node.simd * wbits, node.pe)
    th_bits = (node.out_features // node.pe) * steps * accbits
    th = memory_cost(th_bits, steps * accbits, node.pe) if steps else Resources()
    inbuf = memory_cost((node.in_features // node.simd) * node.simd * xbits, node.simd * xbits, 1)
    ffs = node.pe * (accbits * 3 + steps) + node.simd * xbits * 2 + 32
    return Resources(luts=mult + tree + compare + 40, ffs=ffs, dsps=dsps) + weights + th + inbuf


@resources(MultiThreshold)
def thresholds_resources(node: MultiThreshold) -> Resources:
    bits, steps = node.in_dtype.bitwidth(), node.thresholds.steps
    th = memory_cost((node.in_shape[2] // node.pe) * steps * bits, steps * bits, node.pe)
    return Resources(luts=node.pe * steps * bits // 2 + 20, ffs=node.pe * bits * 2 + 16) + th


@resources(LabelSelect)
def label_select_resources(node: LabelSelect) -> Resources:
    bits = node.in_dtype.bitwidth() + node.out_dtype.bitwidth()
    return Resources(luts=node.k * bits * 2 + node.pe * bits, ffs=node.k * bits + 16)
