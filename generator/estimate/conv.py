"""Cycle and resource estimates of the convolution and pooling node kinds.

Cycles per frame (source always valid, sink always ready, steady state):

* sliding window (SWU): ``max(H*W, OH*OW*KH*KW) * C/SIMD`` -- it writes one image word
  and reads one window word per cycle, concurrently
  (:func:`bitsmith.hw.compute.sliding_window.window_cycles`);
* conv: ``max(SWU, OH*OW * (OC/PE) * (KH*KW*IC/SIMD))`` -- the MVAU term is the
  bottleneck whenever OC/PE >= 1 and the window is at least the stride; depthwise,
  ``max(SWU, OH*OW * (C/PE) * KH*KW)`` (the VVAU takes one window word per cycle);
  a 1x1/stride-1/unpadded conv has no SWU: ``H*W * (OC/PE)*(IC/SIMD)``;
* conv with SIMD across kernel positions (SIMD not dividing IC): the SWU term is the
  parallel window's ``Hp*Wp + OH*OW*(T - 1)``, ``T = KH*KW*IC/SIMD``
  (:func:`bitsmith.hw.compute.parallel_window.parallel_window_cycles`);
* max-pool: the SWU term with SIMD = PE (the window max takes one word per cycle);
* global pool: ``H*W*C/PE``.

Resources follow :mod:`bitsmith.generator.estimate.dense` (same memory and LUT models): the SWU
is its line buffer (:func:`bitsmith.hw.compute.sliding_window.buffer_rows` rows of ``W*C``
elements) plus counters and address arithmetic; the VVAU is PE multipliers and
accumulators plus its weight ROM and thresholds. FIFOs are counted apart, edge by edge
(:func:`bitsmith.generator.estimate.fifo_resources`).
"""

from __future__ import annotations

import math

import numpy as np

from bitsmith.hw.compute.parallel_window import parallel_window_cycles
from bitsmith.hw.compute.sliding_window import buffer_rows, window_cycles

from ..ir.conv import Conv, GlobalAccPool, MaxPool
from ..ir.dense import MatrixVector
from . import Resources, ideal_cycles, node_resources, resources, schedule_model
from .dense import choice_first, lane_product_cost, memory_cost, multiplier_lanes, weight_stage
from .plumbing import output_skid
from .schedule import Unit, group_unit, mvau_unit, parallel_window_unit, port, threshold_latency, window_unit
from ..passes.fold import fold_dims, fold_penalty


def _is_pointwise(node: Conv) -> bool:
    return (tuple(node.kernel) == (1, 1) and tuple(node.stride) == (1, 1)
            and not any(node.padding) and not node.depthwise)


def swu_cycles(node, simd: int) -> int:
    return window_cycles(node.in_shape, node.kernel, node.stride, node.padding, simd)


def as_mvau(node: Conv) -> MatrixVector:
    oh, ow = node.out_hw
    return MatrixVector(name=node.name, in_shape=(oh, ow, node.matrix().shape[1]), in_dtype=node.in_dtype,
                        weights=node.matrix(), weight_dtype=node.weight_dtype, acc_dtype=node.acc_dtype,
                        thresholds=node.thresholds, pe=node.pe, simd=node.simd, popcount=node.popcount)


@ideal_cycles(Conv)
def conv_cycles(node: Conv) -> int:
    oh, ow = node.out_hw
    engine = oh * ow * node.cycles_per_pixel()
    if _is_pointwise(node):
        return engine
    if node.window_parallel:
        return max(engine, parallel_window_cycles(node.in_shape, node.kernel, node.stride, node.padding,
                                                  node.simd))
    return max(engine, swu_cycles(node, node.pe if node.depthwise else node.simd))


@ideal_cycles(MaxPool)
def maxpool_cycles(node: MaxPool) -> int:
    if node.is_identity:
        return 0
    return swu_cycles(node, node.pe)


@ideal_cycles(GlobalAccPool)
def global_pool_cycles(node: GlobalAccPool) -> int:
    h, w, c = node.in_shape
    return h * w * c // node.pe


def swu_logic(node, simd: int) -> Resources:
    """The sliding window's counters, address registers, output and skid registers (its
    line buffer apart). No multiplier: the read address is stepped in registers
    (:class:`~bitsmith.hw.compute.sliding_window.SlidingWindow`)."""
    h, w, c = node.in_shape
    bits = node.in_dtype.bitwidth()
    rows = buffer_rows(h, node.kernel[0], node.stride[0], node.padding[0], node.padding[2])
    counters = 12 * math.ceil(math.log2(max(2, rows * w * c // simd)))
    # the skid register's flip-flops; its multiplexer's LUTs (one per word bit) are left
    # out: the window's LUT terms are weighed per family by fitted coefficients that
    # predate it (tenth session), and a window word is a few bits
    skid = output_skid(simd * bits)
    return Resources(luts=counters * 2 + simd * bits // 2 + 30,
                     ffs=counters + simd * bits + 24 + skid.ffs)


def swu_resources(node, simd: int) -> Resources:
    h, w, c = node.in_shape
    bits = node.in_dtype.bitwidth()
    rows = buffer_rows(h, node.kernel[0], node.stride[0], node.padding[0], node.padding[2])
    return swu_logic(node, simd) + memory_cost(rows * w * c * bits, simd * bits, 1)


def parallel_window_logic(node: Conv) -> Resources:
    """The register window (KH*KW pixels), the T-way word multiplexer and the position
    counters (its line buffer apart)."""
    h, w, c = node.in_shape
    kh, kw = node.kernel
    bits = node.in_dtype.bitwidth()
    wp = w + node.padding[1] + node.padding[3]
    pixel = c * bits
    words = kh * kw * c // node.simd
    counters = 6 * math.ceil(math.log2(max(2, (h + kh) * wp)))
    mux = node.simd * bits * math.ceil(math.log2(words)) if words > 1 else 0
    return Resources(luts=counters * 2 + mux + kh * kw * pixel // 4 + 30,
                     ffs=kh * kw * pixel + node.simd * bits + counters + 8)


def parallel_window_resources(node: Conv) -> Resources:
    """:func:`parallel_window_logic` and the line buffer (KH-1 pixels per padded column;
    the FIFO to the MVAU is counted with the other stream FIFOs,
    :func:`bitsmith.generator.estimate.fifo_resources`)."""
    kh = node.kernel[0]
    pixel = node.in_shape[2] * node.in_dtype.bitwidth()
    wp = node.in_shape[1] + node.padding[1] + node.padding[3]
    lines = memory_cost(wp * (kh - 1) * pixel, (kh - 1) * pixel, 1) if kh > 1 else Resources()
    return parallel_window_logic(node) + lines


def conv_window_logic(node: Conv) -> Resources:
    """The window generator in front of a (not depthwise) convolution's matrix unit,
    without its line buffer: nothing for a 1x1 stride-1 unpadded conv."""
    if _is_pointwise(node):
        return Resources()
    return parallel_window_logic(node) if node.window_parallel else swu_logic(node, node.simd)


@resources(Conv)
def conv_resources(node: Conv) -> Resources:
    if node.depthwise:
        wbits = node.weight_dtype.bitwidth()
        accbits = node.acc_dtype.bitwidth()
        kh, kw = node.kernel
        lane_luts, lane_dsps = (1, 0) if node.xnor else lane_product_cost(node.weight_dtype, node.in_dtype)
        steps = node.thresholds.steps if node.thresholds is not None else 0
        weights = memory_cost(node.in_channels * kh * kw * wbits, node.pe * wbits, 1)
        th_bits = (node.in_channels // node.pe) * steps * accbits
        th = memory_cost(th_bits, steps * accbits, node.pe) if steps else Resources()
        engine = Resources(luts=node.pe * (lane_luts + accbits + steps * accbits // 2) + 40,
                           ffs=node.pe * (accbits * 2 + steps) + 32, dsps=node.pe * lane_dsps) + weights + th
        engine = engine + output_skid(node.pe * node.out_dtype.bitwidth())
        return engine + swu_resources(node, node.pe)
    engine = node_resources(as_mvau(node))
    if _is_pointwise(node):
        return engine
    if node.window_parallel:
        return engine + parallel_window_resources(node)
    return engine + swu_resources(node, node.simd)


@resources(MaxPool)
def maxpool_resources(node: MaxPool) -> Resources:
    if node.is_identity:
        return Resources()
    bits = node.in_dtype.bitwidth()
    reduce = Resources(luts=node.pe * bits * 2 + 16, ffs=2 * node.pe * bits + 8)
    return reduce + swu_resources(node, node.pe)


@resources(GlobalAccPool)
def global_pool_resources(node: GlobalAccPool) -> Resources:
    h, w, c = node.in_shape
    obits = node.out_dtype.bitwidth()
    sums = memory_cost(c * obits, node.pe * obits, 1)
    return Resources(luts=node.pe * obits + 24, ffs=node.pe * obits + 24) + sums


# Folding parameters and the sizes they must divide (used by generator.passes.fold).

@fold_dims(Conv)
def _conv_dims(node: Conv) -> dict[str, int]:
    if node.depthwise:
        return {"pe": node.in_channels}
    kh, kw = node.kernel
    return {"pe": node.out_channels, "simd": kh * kw * node.in_channels}


@fold_penalty(Conv)
def _conv_penalty(node: Conv) -> int:
    """At equal lanes, prefer SIMD within a kernel position (the line-buffer window):
    the parallel window holds the whole window in registers."""
    return int(node.window_parallel)


@fold_dims(MaxPool)
def _maxpool_dims(node: MaxPool) -> dict[str, int]:
    return {"pe": node.in_shape[2]}


@fold_dims(GlobalAccPool)
def _global_pool_dims(node: GlobalAccPool) -> dict[str, int]:
    return {"pe": node.in_shape[2]}


# Schedule models (FIFO sizing, see schedule.py).

@schedule_model(Conv)
def _conv(node: Conv) -> list[Unit]:
    oh, ow = node.out_hw
    kh, kw = node.kernel
    if node.depthwise:
        c = node.in_channels
        thr = threshold_latency(node.thresholds.steps, False) if node.thresholds is not None else 0
        return [window_unit(node, node.pe, True, node.padding),
                group_unit(node.name, node.in_dtype, node.out_dtype, oh * ow * c // node.pe, kh * kw,
                           node.pe, 3 + thr + 2)]
    mvau = mvau_unit(node.name, node.in_dtype, node.out_dtype, oh * ow, kh * kw * node.in_channels,
                     node.out_channels, node.pe, node.simd, node.thresholds,
                     multiplier=multiplier_lanes(node), choice_first=choice_first(node),
                     weight_stage=weight_stage(as_mvau(node)), xnor=bool(node.xnor))
    if _is_pointwise(node):
        return [mvau]
    if node.window_parallel:
        return [parallel_window_unit(node, node.simd), mvau]
    return [window_unit(node, node.simd, False, node.padding), mvau]


@schedule_model(MaxPool)
def _maxpool(node: MaxPool) -> list[Unit]:
    if node.is_identity:
        return []
    oh, ow = node.out_hw
    kh, kw = node.kernel
    c = node.in_shape[2]
    return [window_unit(node, node.pe, True, node.padding),
            group_unit(node.name, node.in_dtype, node.out_dtype, oh * ow * c // node.pe, kh * kw,
                       node.pe, 1)]


@schedule_model(GlobalAccPool)
def _global_pool(node: GlobalAccPool) -> list[Unit]:
    h, w, c = node.in_shape
    cg = c // node.pe
    steps = np.arange(h * w * cg)
    return [Unit(node.name, [port("i", h * w * cg, node.pe, node.in_dtype)],
                 [port("o", cg, node.pe, node.out_dtype)], h * w * cg, [steps],
                 [steps[-cg:]], [1])]
