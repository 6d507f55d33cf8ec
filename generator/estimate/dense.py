"""Cycle and resource estimates of the dense node kinds.

Resource model (units: :data:`bitsmith.generator.estimate.UNITS`): per PE a SIMD-wide
multiplier array and an adder tree, per PE a bank of B threshold comparators of the
accumulator width, weights in 18-kbit block RAMs (BRAM18) when a PE's bank holds over
1 Kibit, else in LUT RAM at 64 bits per LUT (a 6-input-LUT figure kept from the first
model: an ECP5 needs four LUT4s per 64 bits). A 1-bit x 1-bit product is one LUT per 2
lanes beside an adder tree (``popcount="adders"``), and part of a counter tree
(``"counters"``, :data:`COUNTER_SAVING_PER_LANE`); an a-bit x b-bit product costs about
a*b LUTs (shift-and-add), or 18x18 DSPs for weights wider than 4 bits
(:func:`lane_product_cost`). The LUT figures are LUT4s: the control and
flip-flop terms were set against Yosys's ``synth_ecp5`` counts.
Flip-flops of a matrix-vector unit are counted register by register from the hardware's
structure (:func:`mvau_flip_flops`), and its control logic is modelled apart from the
datapath (:func:`mvau_control_luts`). Measured against Yosys's ECP5 counts (LUT / FF):
digits demo at 16 cycles/frame -11 % / -16 %, at 256 +4 % / -21 %, TFC-w1a1 fully
folded -24 % / 0 %, at FINN's folding +15 % / +1 %;
tests/generator/test_estimate_vs_synthesis.py keeps two designs within 30 %.
"""

from __future__ import annotations

import math

import numpy as np

from bitsmith.hw.compute.mvau import (buffer_read_stage, choice_before_operand, first_copies, input_copies,
                                      weight_read_stage,
                                      tree_latency, tree_levels_per_stage, tree_paired_levels,
                                      weight_bank_depth)
from bitsmith.hw.compute.popcount import plan as popcount_plan
from bitsmith.hw.plumbing.label_select import LabelSelect as LabelSelectUnit
from bitsmith.hw.streams import is_bipolar, multiplies, tree_level_registered

from ..ir.core import smallest_dtype
from ..ir.dense import LabelSelect, MatrixVector, MultiThreshold, Reshape
from . import Resources, ideal_cycles, resources, schedule_model
from .plumbing import output_skid
from .schedule import Unit, mvau_unit, port, streaming, threshold_latency


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
    """``banks`` memories of ``bits_per_bank`` bits read ``width`` bits at a time: LUT RAM
    up to 1 Kibit a bank (64 bits per LUT), else 18-kbit block RAMs (BRAM18, at most 36
    bits wide each)."""
    if bits_per_bank <= 1024:
        return Resources(luts=banks * math.ceil(bits_per_bank / 64))
    per_bank = max(math.ceil(bits_per_bank / 18432), math.ceil(width / 36))
    return Resources(brams=banks * per_bank)


@resources(MatrixVector)
def mvau_resources(node: MatrixVector) -> Resources:
    mult, dsps = product_cost(node)
    return matrix_resources(node, product_luts=mult, dsps=dsps, code_bits=node.weight_dtype.bitwidth())


def lane_product_cost(weight_dtype, in_dtype) -> tuple[int, int]:
    """``(LUT4s, DSPs)`` of one lane's product as :func:`bitsmith.hw.streams.product` builds
    it: a BIPOLAR operand is a negation multiplexer and a weight of at most
    :data:`~bitsmith.hw.streams.SHIFT_ADD_MAX_BITS` bits a shift-and-add (about a LUT per
    product bit); a wider weight is a ``$mul``, which ``synth_ecp5`` (like
    ``synth_xilinx``) maps onto 18x18 multipliers whenever both operands have 2 bits or
    more -- one per 18x18 tile. (Both BIPOLAR: see :func:`product_cost`.)"""
    wbits, xbits = weight_dtype.bitwidth(), in_dtype.bitwidth()
    if not multiplies(weight_dtype, in_dtype) or min(wbits, xbits) < 2:
        return wbits * xbits, 0
    return 0, math.ceil(wbits / 18) * math.ceil(xbits / 18)


COUNTER_SAVING_PER_LANE = 1.0
"""LUT4s per XNOR lane a counter tree (:mod:`bitsmith.hw.compute.popcount`) saves against
the adder tree with its XNOR LUTs (measured: 1.06 on the digits demo at 16 cycles/frame
by nextpnr on the ECP5)."""


def counter_popcount(node) -> bool:
    """Whether ``node``'s PEs count XNOR bits with a counter tree (``popcount="counters"``)."""
    return bool(node.xnor) and getattr(node, "popcount", "counters") == "counters"


def choice_first(node) -> bool:
    """Whether the MVAU of a matrix node makes its input/buffer choice before the operand
    register (:func:`~bitsmith.hw.compute.mvau.choice_before_operand`)."""
    return choice_before_operand(xnor=bool(node.xnor), counters=counter_popcount(node),
                                 multiplier=multiplier_lanes(node))


def weight_stage(node, *, weight_memory: bool = True) -> bool:
    """Whether the MVAU of a matrix node registers its weight word once more after the
    weight memory (:func:`~bitsmith.hw.compute.mvau.weight_read_stage`); never without a
    weight memory (``weight_memory=False``: HashedNets, whose lanes read their own tables)."""
    return weight_memory and weight_read_stage(words=node.cycles_per_vector(), xnor=bool(node.xnor),
                                               choice_first=choice_first(node))


def product_cost(node) -> tuple[int, int]:
    """``(LUT4s, DSPs)`` of all lanes' integer products of a matrix layer
    (:func:`lane_product_cost` per lane; XNOR lanes one LUT per two)."""
    lanes = node.pe * node.simd
    if counter_popcount(node):
        return 0, 0                       # the XNORs are inputs of the first counters
    if node.xnor:
        return math.ceil(lanes / 2), 0
    luts, dsps = lane_product_cost(node.weight_dtype, node.in_dtype)
    return lanes * luts, lanes * dsps


def matrix_resources(node, *, product_luts: int, dsps: int, code_bits: int,
                     product_bits: int | None = None, weights: Resources | None = None,
                     weight_memory: bool = True) -> Resources:
    """Resources of an MVAU-structured unit (:class:`~bitsmith.hw.compute.mvau.MVAU` or a
    unit that only changes its products or weight store): ``product_luts`` and ``dsps``
    for all lanes' products, ``code_bits`` per stored weight, ``product_bits`` per product
    register, ``weights`` the weight store (default: the MVAU's ROM), ``weight_memory``
    as :func:`weight_stage`."""
    xbits, accbits = node.in_dtype.bitwidth(), node.acc_dtype.bitwidth()
    steps = node.thresholds.steps if node.thresholds is not None else 0
    depth = node.cycles_per_vector()
    if weights is None:
        weights = memory_cost(depth * node.simd * code_bits, node.simd * code_bits, node.pe)
    th_bits = (node.out_features // node.pe) * steps * accbits
    th = memory_cost(th_bits, steps * accbits, node.pe) if steps else Resources()
    inbuf = memory_cost((node.in_features // node.simd) * node.simd * xbits, node.simd * xbits, 1)
    return matrix_logic(node, product_luts=product_luts, dsps=dsps, code_bits=code_bits,
                        product_bits=product_bits, weight_memory=weight_memory) + weights + th + inbuf


def matrix_logic(node, *, product_luts: int, dsps: int, code_bits: int,
                 product_bits: int | None = None, weight_memory: bool = True) -> Resources:
    """An MVAU-structured unit without its memories (weights, thresholds, input buffer):
    products (``product_luts``, ``dsps``), adder trees, threshold compares, control, and
    its flip-flops (``code_bits``, ``product_bits`` as :func:`matrix_resources`)."""
    accbits = node.acc_dtype.bitwidth()
    if counter_popcount(node):
        lanes = node.pe * node.simd
        tree = math.ceil(lanes * (max(1, accbits // 2) + 0.5 - COUNTER_SAVING_PER_LANE))
    else:
        tree = node.pe * node.simd * max(1, accbits // 2)
    steps = node.thresholds.steps if node.thresholds is not None else 0
    compare = node.pe * steps * accbits // 2
    skid = output_skid(node.pe * node.out_dtype.bitwidth()).luts
    return Resources(luts=product_luts + tree + compare + mvau_control_luts(node) + skid,
                     ffs=mvau_flip_flops(node, code_bits=code_bits, product_bits=product_bits,
                                         weight_memory=weight_memory),
                     dsps=dsps)


def mvau_logic(node: MatrixVector) -> Resources:
    """The matrix-vector unit without its memories (weights, thresholds, input buffer):
    products, adder trees, threshold compares, control, and its flip-flops (the part of
    :func:`mvau_resources` the per-family estimates use beside their memory inventory)."""
    mult, dsps = product_cost(node)
    return matrix_logic(node, product_luts=mult, dsps=dsps, code_bits=node.weight_dtype.bitwidth())


def mvau_control_luts(node: MatrixVector) -> int:
    """LUTs around the datapath: the fold and address counters (about two LUTs per bit),
    the input-word and output-word multiplexers of the register slices and queues
    (about three per output bit, four per input bit), and a fixed share for the FIFO and
    credit counters with their flags (120 LUTs, the one figure set from the measurements
    above rather than from the structure)."""
    nf, sf = node.out_features // node.pe, node.in_features // node.simd
    counter_bits = (nf * sf - 1).bit_length() + (sf - 1).bit_length() + (nf - 1).bit_length()
    return (2 * counter_bits + 3 * node.pe * node.out_dtype.bitwidth()
            + 4 * node.simd * node.in_dtype.bitwidth() + 120)


def tree_flip_flops(terms: int, term_bits: int, sum_bits: int, levels_per_stage: int,
                    paired_levels: int | None = None) -> int:
    """Flip-flops of ``bitsmith.hw.streams.pipelined_sum`` over ``terms`` terms of ``term_bits``
    bits: a register at the levels :func:`~bitsmith.hw.streams.tree_level_registered` names
    (every ``levels_per_stage`` levels, every level from ``paired_levels`` up, the last);
    a sum is one bit wider than its wider input, up to ``sum_bits``, and an odd node passes
    unchanged."""
    widths, ffs, level = [term_bits] * terms, 0, 0
    while len(widths) > 1:
        level += 1
        nxt = [min(sum_bits, max(a, b) + 1) for a, b in zip(widths[0::2], widths[1::2])]
        widths = nxt + widths[-1:] if len(widths) % 2 else nxt
        if tree_level_registered(level, last=len(widths) == 1, levels_per_stage=levels_per_stage,
                                 paired_levels=paired_levels):
            ffs += sum(widths)
    return ffs


def mvau_flip_flops(node: MatrixVector, *, code_bits: int | None = None,
                    product_bits: int | None = None, weight_memory: bool = True) -> int:
    """Registers of :class:`bitsmith.hw.compute.mvau.MVAU`, stage by stage: weight read
    data (one register per ROM bank), input word copies, products, the adder tree, the
    accumulators, the threshold stages, the output and skid registers and the FIFO after the layer
    (a register slice of up to four words); fold counters, pipeline flags and queue
    pointers as a constant. ``code_bits`` (stored bits per weight) and ``product_bits``
    default to the integer MVAU's; ``weight_memory`` as :func:`weight_stage`."""
    wbits, xbits = node.weight_dtype.bitwidth(), node.in_dtype.bitwidth()
    accbits = node.acc_dtype.bitwidth()
    lanes = node.pe * node.simd
    words = node.cycles_per_vector()
    width = lanes * (code_bits or wbits)
    if words == 1:
        weight_regs = 0                                   # a constant word
    else:
        weight_regs = width * math.ceil(words / weight_bank_depth(width))
    # the weight word's second register (weight_read_stage), the input word's two (x_in,
    # x_buf) with it
    stage = weight_stage(node, weight_memory=weight_memory)
    weight_regs += width * stage
    nf, sf = node.out_features // node.pe, node.in_features // node.simd
    # x_reg and the operand register; a third copy (x_buf) when an input buffer feeds XNOR
    # lanes into an adder tree or multipliers, and the others' input/buffer choice before
    # their operand register takes two more (x_buf, x_in) after a block-RAM buffer
    # (buffer_read_stage), with the weight address a cycle later; multipliers have one more
    # register on both operands
    multiplier = multiplier_lanes(node)
    counters = counter_popcount(node)
    first = choice_first(node)
    read_stage = buffer_read_stage(nf=nf, sf=sf, choice_first=first)
    copies = 4 if read_stage else 3 if nf > 1 and sf > 1 and not first else 2
    copies += (2 if nf > 1 and sf > 1 else 1) * stage
    # and the input word register's copies for shares of the PEs (input_copies)
    copies += input_copies(pe=node.pe, choice_first=first, xnor=bool(node.xnor)) - 1
    inputs = node.simd * xbits * copies + (words.bit_length() if read_stage else 0)
    # multiplier lanes: operand registers and a second product register, with an input
    # buffer a choice register on both operands (multiplier_stages)
    operands = (lanes * wbits + node.simd * xbits) * (1 + (nf > 1 and sf > 1)) if multiplier else 0
    pbits = product_bits or (1 if node.xnor else wbits + xbits)
    if counters:                          # no product registers: the counter tree's cuts
        products = 0
        tree = node.pe * popcount_plan(node.simd, 1 + tree_latency(node.simd, xnor=True)).flip_flops
    else:
        products = lanes * pbits * (2 if multiplier else 1)
        tree = node.pe * tree_flip_flops(node.simd, pbits, accbits, tree_levels_per_stage(multiplier),
                                         tree_paired_levels(multiplier, bool(node.xnor)))
    steps = node.thresholds.steps if node.thresholds is not None else 0
    out_bits = node.out_dtype.bitwidth()
    thresholds = 0
    if steps:
        in_rom = nf > 1 and node.thresholds.values.shape[0] > 1
        thresholds = node.pe * (steps + tree_flip_flops(steps, 1, steps.bit_length(), 2)
                                + (steps * accbits + accbits if in_rom else 0))
    return (weight_regs + inputs + operands + products + tree + node.pe * accbits + thresholds
            + 5 * node.pe * out_bits + output_skid(node.pe * out_bits).ffs
            + first_copies(node.pe) - 1 + 140)


def multiplier_lanes(node) -> bool:
    """Whether the MVAU a matrix node lowers to multiplies in its lanes
    (:attr:`bitsmith.hw.compute.mvau.MVAU.multiplier_lanes`: the datatypes multiply, and
    the lanes are not a shift layer's shift-and-add)."""
    from ..ir.shift import ShiftMatrixVector              # its lanes are shifts
    return multiplies(node.weight_dtype, node.in_dtype) and not isinstance(node, ShiftMatrixVector)


@resources(MultiThreshold)
def thresholds_resources(node: MultiThreshold) -> Resources:
    bits, steps = node.in_dtype.bitwidth(), node.thresholds.steps
    th = memory_cost((node.in_shape[2] // node.pe) * steps * bits, steps * bits, node.pe)
    skid = output_skid(node.pe * node.out_dtype.bitwidth())
    return Resources(luts=node.pe * steps * bits // 2 + 20, ffs=node.pe * bits * 2 + 16) + th + skid


@resources(LabelSelect)
def label_select_resources(node: LabelSelect) -> Resources:
    value_bits = smallest_dtype(*node.key_range).bitwidth() if node.keyed else node.in_dtype.bitwidth()
    bits = value_bits + node.out_dtype.bitwidth()
    # keys: a multiply-add per element (about one adder of the key width); the product is
    # a ``$mul`` that synth_ecp5 maps onto an 18x18 multiplier per lane unless the scale
    # is one power of two for every class (Yosys turns that into a shift)
    keys = node.pe * value_bits * 2 if node.keyed else 0
    dsps = 0
    scales = set(node.key_scale or ())
    if len(scales) > 1 or any(v & (v - 1) for v in scales):
        scale_bits = max(scales).bit_length()
        if min(scale_bits, node.in_dtype.bitwidth()) >= 2:
            dsps = node.pe * math.ceil(scale_bits / 18) * math.ceil(node.in_dtype.bitwidth() / 18)
    # stage A's registers: the word's candidates (K = 1: its largest only)
    stage_a = (1 if node.k == 1 else node.pe) * bits if (node.k, node.pe) != (1, 1) else 0
    return Resources(luts=node.k * bits * 2 + node.pe * bits + keys, ffs=node.k * bits + 16 + stage_a,
                     dsps=dsps)


# Schedule models (FIFO sizing, see schedule.py).

@schedule_model(MatrixVector)
def _mvau(node: MatrixVector, *, weight_memory: bool = True) -> list[Unit]:
    h, w, _ = node.in_shape
    return [mvau_unit(node.name, node.in_dtype, node.out_dtype, h * w, node.in_features,
                      node.out_features, node.pe, node.simd, node.thresholds,
                      multiplier=multiplier_lanes(node), choice_first=choice_first(node),
                      weight_stage=weight_stage(node, weight_memory=weight_memory),
                      xnor=bool(node.xnor))]


@schedule_model(MultiThreshold)
def _thresholds(node: MultiThreshold) -> list[Unit]:
    h, w, c = node.in_shape
    latency = 1 + threshold_latency(node.thresholds.steps, True) + 2
    return [streaming(node.name, node, h * w * c // node.pe, node.pe, node.out_dtype, latency)]


@schedule_model(Reshape)
def _reshape(node: Reshape) -> list[Unit]:
    return []


@schedule_model(LabelSelect)
def _label_select(node: LabelSelect) -> list[Unit]:
    """Reads the C/PE words (the running maximum, K = PE = 1: one every 2 cycles), then
    sends the K indices on consecutive cycles."""
    c = node.in_shape[2]
    words = c // node.pe
    running = node.k == 1 and node.pe == 1
    steps = 2 * c if running else max(words, node.k + 1)
    consume = np.arange(words) * (2 if running else 1)
    return [Unit(node.name, [port("i", words, node.pe, node.in_dtype)],
                 [port("o", node.k, 1, node.out_dtype)], steps, [consume],
                 [np.full(node.k, steps - 1)], [3], [np.arange(node.k)])]
