"""Cycle and resource estimates of the convolution, pooling and residual node kinds.

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
* global pool: ``H*W*C/PE``;
* residual: the slowest of its body, its duplicate and its add (``H*W*C/PE`` each).

Resources follow :mod:`bitsmith.generator.estimate.dense` (same memory and LUT models): the SWU
is its line buffer (:func:`bitsmith.hw.compute.sliding_window.buffer_rows` rows of ``W*C``
elements) plus counters and address arithmetic; the VVAU is PE multipliers and
accumulators plus its weight ROM and thresholds; the bypass FIFO of a residual is
counted at :func:`bitsmith.generator.lowering.conv.bypass_depth` words.
"""

from __future__ import annotations

import math

from bitsmith.hw.compute.parallel_window import parallel_window_cycles
from bitsmith.hw.compute.sliding_window import buffer_rows, window_cycles

from ..ir.conv import Conv, GlobalAccPool, MaxPool, Residual, _Pool
from ..ir.dense import MatrixVector
from . import Resources, ideal_cycles, node_cycles, node_resources, resources
from .dense import memory_cost
from ..passes.fold import fold_dims, fold_penalty


def _is_pointwise(node: Conv) -> bool:
    return (tuple(node.kernel) == (1, 1) and tuple(node.stride) == (1, 1)
            and not any(node.padding) and not node.depthwise)


def swu_cycles(node, simd: int) -> int:
    return window_cycles(node.in_shape, node.kernel, node.stride, node.padding, simd)


def _as_mvau(node: Conv) -> MatrixVector:
    oh, ow = node.out_hw
    return MatrixVector(name=node.name, in_shape=(oh, ow, node.matrix().shape[1]), in_dtype=node.in_dtype,
                        weights=node.matrix(), weight_dtype=node.weight_dtype, acc_dtype=node.acc_dtype,
                        thresholds=node.thresholds, pe=node.pe, simd=node.simd)


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


@ideal_cycles(Residual)
def residual_cycles(node: Residual) -> int:
    h, w, c = node.in_shape
    return max([h * w * c // node.pe] + [node_cycles(inner) for inner in node.body])


def swu_resources(node, simd: int) -> Resources:
    h, w, c = node.in_shape
    bits = node.in_dtype.bitwidth()
    rows = buffer_rows(h, node.kernel[0], node.stride[0], node.padding[0], node.padding[2])
    lines = memory_cost(rows * w * c * bits, simd * bits, 1)
    counters = 12 * math.ceil(math.log2(max(2, rows * w * c // simd)))
    return Resources(luts=counters * 2 + simd * bits // 2 + 30, ffs=counters + simd * bits + 24) + lines


def parallel_window_resources(node: Conv) -> Resources:
    """The register window (KH*KW pixels), its line buffer (KH-1 pixels per padded
    column), the T-way word multiplexer and the position counters, plus the FIFO to the
    MVAU (:func:`bitsmith.generator.lowering.conv.parallel_window_fifo`)."""
    from ..lowering.conv import parallel_window_fifo

    h, w, c = node.in_shape
    kh, kw = node.kernel
    bits = node.in_dtype.bitwidth()
    wp = w + node.padding[1] + node.padding[3]
    pixel = c * bits
    words = kh * kw * c // node.simd
    lines = memory_cost(wp * (kh - 1) * pixel, (kh - 1) * pixel, 1) if kh > 1 else Resources()
    fifo_words = parallel_window_fifo(node)
    fifo = memory_cost(fifo_words * node.simd * bits, node.simd * bits, 1) if fifo_words > 3 else Resources()
    counters = 6 * math.ceil(math.log2(max(2, (h + kh) * wp)))
    mux = node.simd * bits * math.ceil(math.log2(words)) if words > 1 else 0
    return (Resources(luts=counters * 2 + mux + kh * kw * pixel // 4 + 30,
                      ffs=kh * kw * pixel + node.simd * bits + counters + 8) + lines + fifo)


@resources(Conv)
def conv_resources(node: Conv) -> Resources:
    if node.depthwise:
        wbits, xbits = node.weight_dtype.bitwidth(), node.in_dtype.bitwidth()
        accbits = node.acc_dtype.bitwidth()
        kh, kw = node.kernel
        mult = node.pe * (1 if node.xnor else wbits * xbits)
        steps = node.thresholds.steps if node.thresholds is not None else 0
        weights = memory_cost(node.in_channels * kh * kw * wbits, node.pe * wbits, 1)
        th_bits = (node.in_channels // node.pe) * steps * accbits
        th = memory_cost(th_bits, steps * accbits, node.pe) if steps else Resources()
        engine = Resources(luts=mult + node.pe * (accbits + steps * accbits // 2) + 40,
                           ffs=node.pe * (accbits * 2 + steps) + 32) + weights + th
        return engine + swu_resources(node, node.pe)
    engine = node_resources(_as_mvau(node))
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


def _stage_count(node) -> int:
    """Stages the lowering makes of ``node`` (window nodes: the SWU and the engine)."""
    if isinstance(node, Conv):
        return 1 if _is_pointwise(node) else 2
    if isinstance(node, _Pool):
        return 0 if node.is_identity else 2
    return 1


@resources(Residual)
def residual_resources(node: Residual) -> Resources:
    from ..lowering.conv import bypass_depth

    h, w, c = node.in_shape
    bits, obits = node.in_dtype.bitwidth(), node.out_dtype.bitwidth()
    depth = bypass_depth(node, sum(_stage_count(n) for n in node.body))
    fifo = memory_cost(depth * node.pe * bits, node.pe * bits, 1)
    glue = Resources(luts=node.pe * obits + 30, ffs=node.pe * (bits + obits) + 16)
    total = fifo + glue
    for inner in node.body:
        total = total + node_resources(inner)
    return total


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


@fold_dims(Residual)
def _residual_dims(node: Residual) -> dict[str, int]:
    return {"pe": node.in_shape[2]}
