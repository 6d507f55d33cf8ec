"""The INQ digits example: every weight 0 or ±2**e (e in 0..6), accuracy within 1 point of
the 8-bit model, and the RTL equals the golden model on test images."""

from __future__ import annotations

import numpy as np
import pytest

from bitsmith.generator.build import BuildOptions
from bitsmith.generator.examples.digits_shift.train import HERE
from bitsmith.generator.examples.digits_sparse.train import HERE as SPARSE, load_split
from bitsmith.generator.frontend.native import load_native
from bitsmith.generator.ir.shift import ShiftMatrixVector
from bitsmith.generator.verify import verify
from bitsmith.sim.golden import run_graph

MODEL = HERE / "digits_shift.yaml"


def accuracy(path) -> float:
    _, x, _, y = load_split()
    graph = load_native(path)
    return float((run_graph(graph, x.reshape(-1, 1, 1, 64)).reshape(len(x), -1).argmax(1) == y).mean())


def test_power_of_two_digits_within_one_point_of_8_bit():
    graph = load_native(MODEL)
    assert all(isinstance(n, ShiftMatrixVector) and n.terms == 1 for n in graph.nodes)
    for n in graph.nodes:
        mags = np.abs(n.weights[n.weights != 0])
        assert ((mags & (mags - 1)) == 0).all() and mags.max() <= 64
    eight_bit = accuracy(SPARSE / "digits_dense.yaml")
    assert eight_bit >= 0.95 and eight_bit - accuracy(MODEL) <= 0.01


@pytest.mark.verilator
def test_digits_shift_rtl_equals_golden(tmp_path):
    _, x, _, _ = load_split()
    res = verify(MODEL, x[:24], BuildOptions(), x_source="test split", out_dir=tmp_path / "out")
    assert res.passed, res.details
    assert res.cycles_per_frame == res.ideal_cycles_per_frame
