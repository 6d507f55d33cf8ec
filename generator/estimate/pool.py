"""Cycle and resource estimates of average pooling and nearest-neighbour upsampling.

Cycles per frame (source always valid, sink always ready, steady state):

* average pool: the sliding-window term with SIMD = PE, ``max(H*W, OH*OW*KH*KW)*C/PE``
  (the window sum takes one word per cycle, like the window max); a 1x1/stride-1
  unpadded pool with a truncation is the sum unit alone, ``H*W*C/PE``; without one, 0;
* upsample: ``H*FH * W*FW * C/PE`` -- one output word per cycle (0 for a scale of 1).

Resources: the sliding window as in :mod:`.conv`; the sum unit is PE accumulators and
their rounding and clipping; the upsampler's two-row buffer (two pixels when FH = 1).
"""

from __future__ import annotations

import math

from ..ir.pool import AvgPool
from ..ir.resize import Upsample
from ..passes.fold import fold_dims
from . import Resources, ideal_cycles, resources, schedule_model
from .conv import swu_cycles, swu_resources
from .dense import memory_cost
from .schedule import Unit, group_unit, row_replay_unit, window_unit


@ideal_cycles(AvgPool)
def avg_pool_cycles(node: AvgPool) -> int:
    if node.is_identity:
        return 0
    if node.single_pixel:
        h, w, c = node.in_shape
        return h * w * c // node.pe
    return swu_cycles(node, node.pe)


@resources(AvgPool)
def avg_pool_resources(node: AvgPool) -> Resources:
    if node.is_identity:
        return Resources()
    lo, hi = node.sum_range
    acc = max(hi.bit_length(), (-lo - 1).bit_length()) + 1
    out = node.out_dtype.bitwidth()
    clip = 2 * out if node.trunc_dtype is not None else 0
    unit = Resources(luts=node.pe * (acc + out + clip) + 16, ffs=node.pe * (acc + out) + 8)
    return unit if node.single_pixel else unit + swu_resources(node, node.pe)


@ideal_cycles(Upsample)
def upsample_cycles(node: Upsample) -> int:
    if node.is_identity:
        return 0
    h, w, c = (int(d) for d in node.out_shape)
    return h * w * c // node.pe


@resources(Upsample)
def upsample_resources(node: Upsample) -> Resources:
    if node.is_identity:
        return Resources()
    h, w, c = node.in_shape
    bits = node.in_dtype.bitwidth()
    row = (w if node.scale[0] > 1 else 1) * c * bits
    counters = 5 * math.ceil(math.log2(max(2, 2 * row)))
    return memory_cost(2 * row, node.pe * bits, 1) + Resources(luts=2 * counters + 20,
                                                               ffs=counters + node.pe * bits + 8)


@fold_dims(AvgPool)
def _avg_pool_dims(node: AvgPool) -> dict[str, int]:
    return {"pe": node.in_shape[2]}


@fold_dims(Upsample)
def _upsample_dims(node: Upsample) -> dict[str, int]:
    return {"pe": node.in_shape[2]}


# Schedule models (FIFO sizing, see schedule.py).

@schedule_model(AvgPool)
def _avg_pool(node: AvgPool) -> list[Unit]:
    """The sliding window (zero padding) and the window sum: one word per step, an output
    word the cycle after a window's last (:class:`~hw.compute.window_reduce.WindowReduce`)."""
    if node.is_identity:
        return []
    oh, ow = node.out_hw
    groups = oh * ow * node.in_shape[2] // node.pe
    reduce = group_unit(node.name, node.in_dtype, node.out_dtype, groups, node.window, node.pe, 1)
    return [reduce] if node.single_pixel else [window_unit(node, node.pe, True, node.padding), reduce]


@schedule_model(Upsample)
def _upsample(node: Upsample) -> list[Unit]:
    """:class:`~hw.compute.upsample.Upsample`: a row (a pixel when FH = 1) written into one
    of two slots while the other is read out FH*FW times, one word per cycle."""
    if node.is_identity:
        return []
    h, w, c = node.in_shape
    fh, fw = node.scale
    pixel_words = c // node.pe
    row_pixels = w if fh > 1 else 1
    return [row_replay_unit(node.name, node.in_dtype, node.pe, h * w // row_pixels, row_pixels * pixel_words,
                            fh * fw, 2)]
