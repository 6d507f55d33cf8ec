"""A folded graph's resources on one device family (:mod:`.family`), from its lowering.

The graph is lowered (cheap: components are constructed, not elaborated) so that the
memories come from the hardware's own parameters and the FIFOs from the build's own
sizing; the logic comes from the analytical model of :mod:`bitsmith.generator.estimate`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from bitsmith.hw.compute.mvau import weight_bank_depth

from ..estimate import node_resources
from ..estimate.conv import as_mvau, conv_window_logic, swu_logic
from ..estimate.dense import counter_popcount, lane_product_cost, mvau_control_luts, mvau_logic
from ..estimate.plumbing import converter_resources, fifo_logic, output_skid, register_slice_resources
from ..estimate import Resources
from ..ir import Graph, MatrixVector, MultiThreshold
from ..ir.conv import Conv
from ..estimate.shift import shift_mvau_logic, shift_product_bits
from ..estimate.hashed import hash_luts
from ..estimate.winograd import products_node, transform_logic
from ..ir.hashed import HashedMatrixVector
from ..ir.shift import ShiftMatrixVector
from ..ir.sparse import SparseMatrixVector
from ..ir.winograd import WinogradConv
from .family import SPARSE_FF_SCALE, Family, MemoryCost, family_of, map_memory
from .memories import MemoryShape, stage_memories

#: The figures of an estimate, in :attr:`Family.units`.
KEYS = ("luts", "ffs", "brams", "dsps", "spram")


@dataclass
class DesignEstimate:
    """Estimated resources of a design on a family, with the memories' placement."""

    family: str
    luts: int
    ffs: int
    brams: float
    dsps: int
    spram: int
    memories: list[tuple[MemoryShape, MemoryCost]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in KEYS}

    def as_json(self) -> dict:
        fam = family_of(self.family)
        units = {k: v for k, v in fam.units.items() if k != "spram" or fam.spram}
        out = {k: v for k, v in self.as_dict().items() if k in units}
        return {**out, "units": units, "family": self.family}


def output_queue_skids(node) -> Resources:
    """The skid registers of the output queues (:func:`bitsmith.hw.streams.add_output_queue`)
    of the units ``node`` lowers to: the matrix-vector, threshold, depthwise and sparse
    units' one, the Winograd input and output transforms' two."""
    if isinstance(node, WinogradConv):
        return (output_skid(node.simd * node.v_dtype.bitwidth())
                + output_skid(node.pe * node.y_dtype.bitwidth()))
    if isinstance(node, SparseMatrixVector):
        return output_skid(node.n_pe * node.out_dtype.bitwidth())
    if isinstance(node, (MatrixVector, MultiThreshold, Conv)):
        return output_skid(node.pe * node.out_dtype.bitwidth())
    return Resources()


def logic_features(node) -> dict[str, float]:
    """What a layer's logic LUTs scale with, :func:`layer_features` and ``skid``: the
    LUTs of its output queues' skid registers (:func:`output_queue_skids`), taken out of
    the analytical totals that count them, since the skids came after the fit and are
    weighed on their own."""
    features = layer_features(node)
    skid = output_queue_skids(node).luts
    for key in ("threshold", "depthwise", "sparse"):
        if key in features:
            features[key] -= skid
    features["skid"] = skid
    return features


def layer_features(node) -> dict[str, float]:
    """What a layer's logic LUTs scale with (the family's ``lut_model`` weighs them):
    ``xnor`` lanes (``xnor_counters`` those counted by a counter tree), ``intmul`` LUT-built product bits (lanes x weight bits x input bits of
    the shift-and-add and negation products, :func:`~bitsmith.generator.estimate.dense.lane_product_cost`),
    ``widemul`` product bits of the lanes whose ``$mul`` Yosys puts on a DSP block where
    the family has them (ECP5, 7-series; LUTs on an iCE40 without ``-dsp``),
    ``compare`` bits of the threshold compares, ``control`` (the analytical control
    LUTs), ``bankmux`` (:func:`bank_mux_bits`), ``layer`` (1 per matrix unit: its
    counters, flags and queues, where a family's model has a constant for them), ``window``: the analytical LUTs of a
    convolution's window generator (line buffer apart), ``shift`` the analytical LUTs of a
    shift layer's barrel-shifter lanes (in place of its products), ``hash`` a hashed
    layer's hashes and lane XORs, and the analytical LUT estimate of a ``threshold``
    layer, a ``depthwise`` convolution, a ``sparse`` engine and of any ``other`` kind of
    layer (the Winograd transforms among them)."""
    if isinstance(node, WinogradConv):
        # the products' matrix unit (16 stacked matrices), the 4x4 stride-2 patch window
        # and the two transforms (analytical, weighed as ``other``)
        features = layer_features(products_node(node))
        features["window"] = swu_logic(node.tile_window(), node.simd).luts
        features["other"] = sum(r.luts for r in transform_logic(node))
        return features
    if isinstance(node, Conv) and not node.depthwise:
        features = layer_features(as_mvau(node))
        features["window"] = conv_window_logic(node).luts
        return features
    if isinstance(node, MatrixVector):
        lanes = node.pe * node.simd
        acc = node.acc_dtype.bitwidth()
        steps = node.thresholds.steps if node.thresholds is not None else 0
        wbits, xbits = node.weight_dtype.bitwidth(), node.in_dtype.bitwidth()
        lut_bits, dsps = lane_product_cost(node.weight_dtype, node.in_dtype)
        counters = counter_popcount(node)
        features = {"xnor": lanes if node.xnor and not counters else 0,
                    "xnor_counters": lanes if counters else 0,
                    "intmul": 0 if node.xnor else lanes * lut_bits,
                    "widemul": lanes * wbits * xbits if dsps and not node.xnor else 0,
                    "compare": node.pe * steps * acc // 2, "control": mvau_control_luts(node),
                    "bankmux": bank_mux_bits(node), "layer": 1}
        if isinstance(node, ShiftMatrixVector):
            # barrel shifters, not multipliers: the analytical LUTs of its lanes
            # (:func:`~bitsmith.generator.estimate.shift.shift_product_bits`)
            features.update(intmul=0, widemul=0, shift=lanes * shift_product_bits(node)[1])
        return features
    if isinstance(node, HashedMatrixVector):
        # the matrix unit on the virtual matrix (no weight ROM), and the hashes and each
        # lane's XOR and negation (analytical, weighed as ``hash``)
        features = layer_features(MatrixVector(
            name=node.name, in_shape=tuple(node.in_shape), in_dtype=node.in_dtype, weights=node.weights,
            weight_dtype=node.weight_dtype, acc_dtype=node.acc_dtype, thresholds=node.thresholds,
            pe=node.pe, simd=node.simd))
        features.update(bankmux=0, hash=hash_luts(node))
        return features
    if isinstance(node, SparseMatrixVector):
        return {"sparse": node_resources(node).luts}
    if isinstance(node, MultiThreshold):
        return {"threshold": node_resources(node).luts}
    if isinstance(node, Conv):
        return {"depthwise": node_resources(node).luts}
    return {"other": node_resources(node).luts}


def bank_mux_bits(node: MatrixVector) -> int:
    """Inputs of the multiplexer behind a weight ROM split into banks
    (:func:`~bitsmith.hw.compute.mvau.weight_bank_depth` words each): word bits per bank
    beyond the first."""
    if node.weight_memory != "rom":
        return 0
    words = node.cycles_per_vector()
    width = node.pe * node.simd * node.weight_dtype.bitwidth()
    return (math.ceil(words / weight_bank_depth(width)) - 1) * width


def logic_resources(node):
    """A node's logic without the memories the inventory counts (the matrix-vector unit
    and a convolution's window generator apart; other kinds keep their whole analytical
    estimate, block RAMs aside)."""
    if isinstance(node, ShiftMatrixVector):
        return shift_mvau_logic(node)
    if isinstance(node, MatrixVector):
        return mvau_logic(node)
    if isinstance(node, WinogradConv):
        wgin, wgout = transform_logic(node)
        return mvau_logic(products_node(node)) + swu_logic(node.tile_window(), node.simd) + wgin + wgout
    if isinstance(node, Conv) and not node.depthwise:
        return mvau_logic(as_mvau(node)) + conv_window_logic(node)
    if isinstance(node, SparseMatrixVector):
        res = node_resources(node)
        return Resources(luts=res.luts, ffs=round(SPARSE_FF_SCALE * res.ffs), dsps=res.dsps)
    return node_resources(node)


def plumbing_resources(graph: Graph, stages: Sequence) -> Resources:
    """The stream plumbing :class:`~bitsmith.hw.top.Dataflow` and the Verilog top add
    around the stages (:mod:`bitsmith.generator.estimate.plumbing`): the top's input register
    slice (:func:`top_input_slice`), each edge's width converter and its FIFO (memories
    apart: the inventory places them)."""
    by_name = {stage.name: stage for stage in stages}
    total = top_input_slice(graph, stages)
    for f in graph.fifos:
        width = f.elems * f.elem_bits
        if f.src == "input":
            total = total + register_slice_resources(width, 2)
            continue
        total = total + fifo_logic(f.depth, width)
        src = by_name.get(f.src)
        if src is not None:
            bits, elems = src.port_shape(f.src_port)
            total = total + converter_resources(bits, elems, f.elems)
    return total


def top_input_slice(graph: Graph, stages: Sequence) -> Resources:
    """The register slice :class:`~bitsmith.hw.top.AxiStreamTop` puts on ``s_axis`` (as
    wide as the first stage's input word: 784 bits for a fully unrolled TFC layer). The
    first stage is the input's consumer: nodes are in topological order, and a node
    lowered to several stages lists the one its input feeds first."""
    stage = stages[0]
    bits, elems = stage.port_shape(stage.in_ports[0])
    return register_slice_resources(bits * elems, 2)


def silence(component) -> None:
    """Mark a component built only to read its parameters, and every component it
    constructed in turn (the sparse engine's PEs, their pointer units), so that Amaranth
    does not warn that they were never elaborated."""
    from ..verilog_cache import mark_used
    mark_used(component)


def lowered_stages(graph: Graph, cache: dict | None = None) -> list:
    """The :class:`~bitsmith.hw.top.Stage` list ``elaborate`` would wire (FIFOs apart:
    they are ``graph.fifos``)."""
    from ..build import lower_checked
    per_node = []
    for node in graph.nodes:
        key = (node.name, tuple(getattr(node, k, None) for k in ("pe", "simd", "weight_memory")))
        if cache is not None and key in cache and cache[key][0] is node.__class__:
            stages = cache[key][1]
        else:
            stages = lower_checked(graph, node)
            for stage in stages:          # constructed to be read, not elaborated
                silence(stage.component)
            if cache is not None:
                cache[key] = (node.__class__, stages)
        per_node.extend(stages)
    return per_node


def estimate_design(graph: Graph, family: str | Family, *, cache: dict | None = None,
                    stages: Sequence | None = None) -> DesignEstimate:
    """Resources of ``graph`` (folded) on ``family``.

    ``cache`` (a dict kept by the caller) reuses the lowering of layers whose folding
    did not change, as a folding search does many times.
    """
    from ..build import sized
    fam = family if isinstance(family, Family) else family_of(family)
    graph = sized(graph)
    stages = lowered_stages(graph, cache) if stages is None else stages
    logic_luts = fam.lut_model.get("fixed", 0.0)
    logic_ffs = dsps = 0
    for node in graph.nodes:
        res = logic_resources(node)
        logic_ffs += res.ffs
        dsps += res.dsps
        logic_luts += sum(fam.lut_model.get(k, 0.0) * v for k, v in logic_features(node).items())
    plumbing = plumbing_resources(graph, stages)
    logic_luts += fam.lut_model.get("plumbing", 0.0) * plumbing.luts
    logic_luts += fam.lut_model.get("slices", 0.0) * len(graph.fifos)   # one slice per edge
    logic_ffs += fam.lut_model.get("plumbing", 0.0) * plumbing.ffs
    placed = [(mem, map_memory(mem, fam)) for mem in stage_memories(stages, graph.fifos)]
    mem_luts = sum(c.luts for _, c in placed)
    mem_ffs = sum(c.ffs for _, c in placed)
    return DesignEstimate(
        family=fam.name,
        luts=round(logic_luts) + mem_luts,
        ffs=round(fam.ff_scale * logic_ffs + fam.ff_fixed) + mem_ffs,
        brams=sum(c.brams for _, c in placed),
        dsps=0 if fam.name == "ice40" else dsps,       # synth_ice40 maps no DSPs without -dsp
        spram=sum(c.spram for _, c in placed),
        memories=placed)
