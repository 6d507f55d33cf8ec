"""Schedule models: they mirror the lowered units, their rates are the ideal cycles, their
latencies bound the components', and unknown kinds are named."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from qonnx.core.datatype import DataType as DT

from bitsmith.generator.build import BuildOptions, load_model, prepare
from bitsmith.generator.errors import ModelError
from bitsmith.generator.estimate import node_cycles
from bitsmith.generator.estimate.schedule import (converter_latency, fifo_latency, mvau_unit, units_of)
from bitsmith.generator.examples.cnv import cnv_graph
from bitsmith.generator.ir import Node, Thresholds
from bitsmith.generator.lowering import lower_node
from bitsmith.generator.passes.size_fifos import SizeFifos
from bitsmith.hw.compute.mvau import MVAU
from bitsmith.hw.plumbing.fifo import StreamFifo
from bitsmith.hw.plumbing.width_converter import WidthConverter

import branching_nets
import layer_nets

EXAMPLES = Path(__file__).resolve().parents[3] / "generator" / "examples"


def graphs(tmp_path):
    for which in sorted(branching_nets.NETS):
        yield prepare(load_model(branching_nets.write_net(tmp_path, which), BuildOptions()), BuildOptions())
    for example in ("digits/digits.yaml", "digits_cnn/digits_cnn.yaml"):
        yield prepare(load_model(EXAMPLES / example, BuildOptions()), BuildOptions(topk=1))
    yield cnv_graph("w1a1")
    for which, targets in (("image", (4096, 150)), ("sequence", (512, 40))):
        for target in targets:          # line-buffer and parallel windows, pools, upsampling, 1-D
            yield prepare(layer_nets.NETS[which](), BuildOptions(target_cycles=target))


def test_units_mirror_the_lowering_and_run_at_the_ideal_rate(tmp_path, caplog):
    for graph in graphs(tmp_path):
        if not graph.fifos:
            graph = SizeFifos().apply(graph)
        assert "did not settle" not in caplog.text
        for node in graph.nodes:
            units, stages = units_of(node), lower_node(node)
            for stage in stages:
                stage.component._MustUse__silence = True       # inspected, never elaborated
            assert [u.name for u in units] == [s.name for s in stages], node.name
            for u, s in zip(units, stages):
                assert u.in_ports == s.in_ports and u.out_ports == s.out_ports, u.name
                for port in u.inputs + u.outputs:
                    assert (port.elem_bits, port.elems) == s.port_shape(port.name), (u.name, port.name)
            if units:
                assert max(u.steps for u in units) == node_cycles(node), node.name


@pytest.mark.parametrize("depth", [2, 3, 4, 5, 20, 35, 36, 100])
def test_fifo_latency_is_the_components(depth):
    fifo = StreamFifo(width=4, depth=depth)
    fifo._MustUse__silence = True                           # inspected, never elaborated
    assert fifo_latency(depth) == fifo.latency


@pytest.mark.parametrize("a, b", [(1, 1), (1, 4), (4, 1), (2, 3), (6, 4)])
def test_converter_latency_is_the_components(a, b):
    conv = WidthConverter(elem_bits=2, in_elems=a, out_elems=b)
    conv._MustUse__silence = True
    assert converter_latency(a, b) == conv.latency


@pytest.mark.parametrize("wbits", [2, 8])          # shift-and-add lanes, multiplier lanes
@pytest.mark.parametrize("simd, pe, steps, shared", [(1, 1, 0, False), (4, 2, 3, True), (16, 2, 7, False),
                                                     (9, 3, 1, False)])
def test_mvau_latency_bounds_the_component(simd, pe, steps, shared, wbits):
    rng = np.random.default_rng(0)
    w = rng.integers(-2, 2, size=(6, 144))
    th = None
    if steps:
        values = np.sort(rng.integers(-8, 9, size=(1 if shared else 6, steps)), axis=1)
        th = Thresholds(values=values, out_dtype=DT["UINT3"])
    unit = MVAU(weights=w, weight_dtype=DT[f"INT{wbits}"], in_dtype=DT["UINT2"], acc_dtype=DT["INT12"], pe=pe,
                simd=simd, thresholds=None if th is None else th.values,
                out_dtype=None if th is None else th.out_dtype)
    unit._MustUse__silence = True
    assert unit.multiplier_lanes == (wbits == 8)
    model = mvau_unit("m", DT["UINT2"], unit.out_dtype, 1, 144, 6, pe, simd, th,
                      multiplier=unit.multiplier_lanes, choice_first=unit.choice_before_operand,
                      weight_stage=unit.weight_stage)
    assert unit.buffer_stage == (wbits == 2 and 144 // simd >= 32 and 6 // pe > 1)
    assert unit.weight_stage == (wbits == 2 and (6 // pe) * (144 // simd) >= 32)
    assert unit.latency <= model.latency[0] <= unit.latency + 1


def test_kind_without_a_model_is_named():
    from dataclasses import dataclass

    @dataclass(frozen=True, eq=False)
    class Mystery(Node):
        pass

    node = Mystery(name="m", in_shape=(1, 1, 2), in_dtype=DT["UINT2"])
    with pytest.raises(ModelError, match=r"^layer 'm': Mystery has no schedule model for FIFO sizing "
                                         r"\(supported: Add, AvgPool, Concat, Conv, Fork, GlobalAccPool, HashedMatrixVector, "
                                         r"LabelSelect, MatrixVector, MaxPool, "
                                         r"MultiThreshold, Reshape, ShiftMatrixVector, SparseMatrixVector, Upsample, "
                                         r"WinogradConv\)$"):
        units_of(node)
