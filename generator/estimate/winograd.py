"""Cycles, resources, folding dimensions and schedule model of
:class:`~bitsmith.generator.ir.winograd.WinogradConv` (its lowering's five stages).

Cycles per frame: ``max(SWU, TH*TW * 16 * (OC/PE) * (IC/SIMD))``, the SWU term the 4x4,
stride-2 patch walk's (:func:`bitsmith.hw.compute.sliding_window.window_cycles`); the input
transform runs at the window's pace and the output transform's reader is 4x faster than
the products, so neither is ever the bottleneck.

Resources: the patch window; the input transform (four memories of two patches each,
``4*SIMD`` adders of the transformed width); the products as the MVAU model of the
stacked ``(16*OC, IC)`` transformed weights (its ROM holds all 16 matrices, one word per
cycle of the 16 vectors of a tile); the output transform (a ``4*PE``-wide accumulator
memory of OC/PE words, ``4*PE`` adders of the output-transform width, four re-order
memories of two tile rows) and the thresholds unit.
"""

from __future__ import annotations

import math

import numpy as np

from bitsmith.hw.compute.mvau import choice_before_operand, weight_read_stage
from bitsmith.hw.compute.sliding_window import window_cycles
from bitsmith.hw.streams import multiplies

from ..ir.dense import MatrixVector
from ..ir.winograd import POSITIONS, WinogradConv
from . import SCHEDULES, Resources, ideal_cycles, node_resources, resources, schedule_model
from .conv import swu_resources
from .dense import memory_cost
from .plumbing import output_skid
from .schedule import Unit, mvau_unit, port, window_unit
from ..passes.fold import fold_dims

#: Latency of :class:`~bitsmith.hw.compute.winograd_input.WinogradInput`: a patch's last
#: input word to its first output word.
INPUT_LATENCY = 6
#: Latency of :class:`~bitsmith.hw.compute.winograd_output.WinogradOutput`: a tile row's
#: last input word to its first output word.
OUTPUT_LATENCY = 8


def window_cycles_of(node: WinogradConv) -> int:
    win = node.tile_window()
    return window_cycles(win.in_shape, win.kernel, win.stride, win.padding, node.simd)


@ideal_cycles(WinogradConv)
def winograd_cycles(node: WinogradConv) -> int:
    return max(window_cycles_of(node), node.cycles_per_frame())


def products_node(node: WinogradConv) -> MatrixVector:
    """The products as a matrix layer: the stacked ``(16*OC, IC)`` transformed weights over
    one transformed vector per pixel, so the MVAU model counts the 16-matrix ROM."""
    th, tw = node.tiles
    u = node.transformed_weights().reshape(-1, node.in_channels)
    return MatrixVector(name=node.name, in_shape=(th, tw, node.in_channels), in_dtype=node.v_dtype,
                        weights=u, weight_dtype=node.u_dtype, acc_dtype=node.m_dtype, pe=node.pe,
                        simd=node.simd)


def transform_logic(node: WinogradConv) -> tuple[Resources, Resources]:
    """The input and the output transforms' logic, their memories apart."""
    simd, pe = node.simd, node.pe
    in_bits, v_bits = node.in_dtype.bitwidth(), node.v_dtype.bitwidth()
    y_bits, acc_bits = node.y_dtype.bitwidth(), node.acc_dtype.bitwidth()
    sf, nf = node.in_channels // simd, node.out_channels // pe
    tw = node.tiles[1]
    counters = 8 * math.ceil(math.log2(max(2, 16 * sf)))
    wgin = Resources(luts=4 * simd * v_bits + counters * 2 + 40,
                     # sums, queue; the pair sums; the registered read addresses
                     ffs=simd * v_bits + 6 * simd * v_bits + 2 * simd * (in_bits + 2)
                     + counters + 4 * math.ceil(math.log2(max(2, 8 * sf))) + 16)
    counters = 10 * math.ceil(math.log2(max(2, 2 * tw * nf)))
    wgout = Resources(luts=4 * pe * y_bits * 2 + pe * acc_bits * 2 + counters * 2 + 40,
                      # the product, the four terms in Y's width, the four rescaled
                      # outputs, read data and queue
                      ffs=pe * (node.m_dtype.bitwidth() + 4 * y_bits + 9 * acc_bits) + counters + 24)
    return wgin, wgout


@resources(WinogradConv)
def winograd_resources(node: WinogradConv) -> Resources:
    simd, pe = node.simd, node.pe
    in_bits, v_bits = node.in_dtype.bitwidth(), node.v_dtype.bitwidth()
    y_bits, acc_bits = node.y_dtype.bitwidth(), node.acc_dtype.bitwidth()
    sf, nf = node.in_channels // simd, node.out_channels // pe
    tw = node.tiles[1]
    wgin_logic, wgout_logic = transform_logic(node)
    wgin = memory_cost(8 * sf * simd * in_bits, simd * in_bits, 4) + wgin_logic
    wgout = (memory_cost(nf * 4 * pe * y_bits, 4 * pe * y_bits, 1)
             + memory_cost(2 * tw * nf * pe * acc_bits, pe * acc_bits, 4) + wgout_logic)
    # the two output queues' skid registers (input transform: the V word; output: Y)
    skids = output_skid(simd * v_bits) + output_skid(pe * y_bits)
    thr = node.thresholds_node()
    total = skids + swu_resources(node.tile_window(), simd) + wgin + node_resources(products_node(node)) + wgout
    return total + (node_resources(thr) if thr is not None else Resources())


@fold_dims(WinogradConv)
def _winograd_dims(node: WinogradConv) -> dict[str, int]:
    return {"pe": node.out_channels, "simd": node.in_channels}


def _input_unit(node: WinogradConv) -> Unit:
    """One step per input word; a patch's output words leave after its last word, one per
    cycle (offsets), :data:`INPUT_LATENCY` cycles later."""
    patches = node.tiles[0] * node.tiles[1]
    n = POSITIONS * node.in_channels // node.simd
    steps = np.arange(patches * n)
    last = (steps // n) * n + n - 1
    return Unit(f"{node.name}_wgin", [port("i", patches * n, node.simd, node.in_dtype)],
                [port("o", patches * n, node.simd, node.v_dtype)], patches * n, [steps], [last],
                [INPUT_LATENCY], offsets=[steps % n])


def _output_unit(node: WinogradConv) -> Unit:
    """One step per product word; a tile row's outputs leave after its last word, in the
    reader's order (a cropped position costs a cycle), :data:`OUTPUT_LATENCY` later."""
    th, tw = node.tiles
    oh, ow = node.out_hw
    nf = node.out_channels // node.pe
    per_row = tw * POSITIONS * nf
    emit, offsets = [], []
    for r in range(th):
        k = 0
        for a in range(2):
            for t in range(tw):
                for b in range(2):
                    for _ in range(nf):
                        if 2 * r + a < oh and 2 * t + b < ow:
                            emit.append(r * per_row + per_row - 1)
                            offsets.append(k)
                        k += 1
    steps = np.arange(th * per_row)
    return Unit(f"{node.name}_wgout", [port("i", th * per_row, node.pe, node.m_dtype)],
                [port("o", len(emit), node.pe, node.acc_dtype)], th * per_row, [steps],
                [np.array(emit)], [OUTPUT_LATENCY], offsets=[np.array(offsets)])


@schedule_model(WinogradConv)
def _winograd(node: WinogradConv) -> list[Unit]:
    th, tw = node.tiles
    multiplier = multiplies(node.u_dtype, node.v_dtype)
    first = choice_before_operand(xnor=False, counters=False, multiplier=multiplier)
    words = POSITIONS * (node.out_channels // node.pe) * (node.in_channels // node.simd)
    products = mvau_unit(node.name, node.v_dtype, node.m_dtype, th * tw * POSITIONS, node.in_channels,
                         node.out_channels, node.pe, node.simd, None, multiplier=multiplier,
                         choice_first=first,
                         weight_stage=weight_read_stage(words=words, choice_first=first, xnor=False))
    units = [window_unit(node.tile_window(), node.simd, False, node.tile_padding), _input_unit(node),
             products, _output_unit(node)]
    thr = node.thresholds_node()
    return units + (SCHEDULES.lookup(thr)(thr) if thr is not None else [])
