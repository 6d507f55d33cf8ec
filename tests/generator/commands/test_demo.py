"""The bundled example: accuracy, RTL == golden on the whole test split, cycles == bound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bitsmith.generator.build import BuildOptions, load_model, prepare, write_bundle
from bitsmith.generator.cli import main
from bitsmith.generator.estimate import graph_cycles
from bitsmith.generator.examples.digits.train import integer_forward, load_split
from bitsmith.generator.execute import run_verilator
from bitsmith.generator.ir import MatrixVector
from bitsmith.sim.golden import run_graph

MODEL = Path(__file__).resolve().parents[3] / "generator" / "examples" / "digits" / "digits.yaml"


def test_golden_model_reaches_90_percent_and_agrees_with_training_forward():
    _, x, _, y = load_split()
    opts = BuildOptions(topk=1)
    g = prepare(load_model(MODEL, opts), opts)
    labels = run_graph(g, x.reshape(len(x), 1, 1, -1))[:, 0, 0, 0]
    arrays = dict(np.load(MODEL.with_suffix(".npz")))
    assert np.array_equal(labels, integer_forward(arrays, x))
    assert np.mean(labels == y) >= 0.90


@pytest.mark.verilator
@pytest.mark.parametrize("target", [None, 64])
def test_two_foldings_measure_the_folding_bound(tmp_path, target):
    _, x, _, y = load_split()
    opts = BuildOptions(topk=1, target_cycles=target)
    g = prepare(load_model(MODEL, opts), opts)
    built = write_bundle(g, tmp_path / "out")
    xi = x.reshape(len(x), 1, 1, -1)
    rtl = run_verilator(built.out_dir, built.io, xi)
    assert np.array_equal(rtl.outputs, run_graph(g, xi))
    bound = max((n.out_features // n.pe) * (n.in_features // n.simd)
                for n in g.nodes if isinstance(n, MatrixVector))
    assert bound == graph_cycles(g) == (16 if target is None else 64)
    assert (rtl.cycles_per_frame, rtl.mean_cycles_per_frame, rtl.longest_frame_gap) == (bound,) * 3


@pytest.mark.verilator
def test_demo_command(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "RTL labels == golden labels" in out and "yes, every frame" in out
    assert (tmp_path / "demo" / "report.md").exists()
