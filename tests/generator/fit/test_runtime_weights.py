"""Designs whose first layer loads its weights at run time (iCE40 SPRAM): RTL == golden,
measured cycles == ideal, in Verilator (Yosys's SB_SPRAM256KA model) and in the Amaranth
simulator (the RAM stand-in)."""

from pathlib import Path

import numpy as np
import pytest

from bitsmith.generator.build import BuildOptions, load_model, prepare, write_bundle
from bitsmith.generator.estimate import graph_cycles
from bitsmith.generator.execute import compare, run_amaranth, run_verilator
from bitsmith.generator.fit.search import spram_variant
from bitsmith.generator.sweep import random_frames
from bitsmith.sim.golden import run_graph

ROOT = Path(__file__).resolve().parents[3]
DIGITS = ROOT / "generator" / "examples" / "digits" / "digits.yaml"
TFC2 = ROOT / "tests" / "models" / "TFC_2W2A.onnx"


def graph_of(model, **opts):
    opts = BuildOptions(**opts)
    return prepare(load_model(model, opts), opts)


@pytest.mark.verilator
def test_tfc_w2a2_with_spram_weights_in_verilator(tmp_path):
    graph = spram_variant(graph_of(TFC2, input_dtype="UINT8", input_scale=1 / 255, topk=1,
                                   target_cycles=1568))
    built = write_bundle(graph, tmp_path / "out")
    assert "SB_SPRAM256KA" in (tmp_path / "out" / built.io["verilog"]).read_text()
    assert built.io["preload_frames"] == 65 and (tmp_path / "out" / "preload.npy").is_file()
    x = random_frames(graph, 12, seed=5)
    run = run_verilator(tmp_path / "out", built.io, x)
    assert compare(run_graph(graph, x), run.outputs) == []
    assert run.cycles_per_frame == graph_cycles(graph) == 1568
    assert run.protocol_errors == 0


def test_digits_with_run_time_weights_in_the_amaranth_simulator():
    graph = spram_variant(graph_of(DIGITS, target_cycles=256))
    x = random_frames(graph, 4, seed=2)
    run = run_amaranth(graph, x)
    assert compare(run_graph(graph, x), run.outputs) == []
    assert run.cycles_per_frame == graph_cycles(graph)


def test_shift_layer_with_run_time_weights_in_the_amaranth_simulator():
    """The shift MVAU (engines) loads its term codes and per-PE counts at run time too."""
    graph = spram_variant(graph_of(ROOT / "generator" / "examples" / "digits_shift" / "digits_shift.yaml",
                                   target_cycles=256))
    assert type(graph.nodes[0]).__name__ == "ShiftMatrixVector" and graph.nodes[0].weight_memory == "spram"
    x = random_frames(graph, 3, seed=2)
    run = run_amaranth(graph, x)
    assert compare(run_graph(graph, x), run.outputs) == []
    assert run.cycles_per_frame == graph_cycles(graph)
