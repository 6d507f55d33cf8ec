"""The HashedNets digits example: 8x fewer stored weights than virtual ones, accuracy
equal to a dense network of the same weight storage, RTL == golden."""

from __future__ import annotations

import pytest

from bitsmith.generator.build import BuildOptions
from bitsmith.generator.examples.digits_hashed.train import HERE
from bitsmith.generator.examples.digits_sparse.train import load_split
from bitsmith.generator.frontend.native import load_native
from bitsmith.generator.ir.hashed import HashedMatrixVector
from bitsmith.generator.verify import verify
from bitsmith.sim.golden import run_graph

MODEL = HERE / "digits_hashed.yaml"


def accuracy(graph) -> float:
    _, x, _, y = load_split()
    return float((run_graph(graph, x.reshape(-1, 1, 1, 64)).reshape(len(x), -1).argmax(1) == y).mean())


def test_hashed_digits_storage_and_accuracy():
    hashed, small = load_native(MODEL), load_native(HERE / "digits_small.yaml")
    assert all(isinstance(n, HashedMatrixVector) for n in hashed.nodes)
    stored = sum(n.values.size for n in hashed.nodes)
    virtual = sum(n.weights.size for n in hashed.nodes)
    assert (stored, virtual) == (2304, 18944) and virtual / stored >= 8
    assert sum(n.weights.size for n in small.nodes) <= stored      # the dense one stores no more
    acc_hashed, acc_small = accuracy(hashed), accuracy(small)
    assert acc_hashed >= 0.95 and acc_hashed >= acc_small - 0.01


@pytest.mark.verilator
def test_digits_hashed_rtl_equals_golden(tmp_path):
    _, x, _, _ = load_split()
    res = verify(MODEL, x[:4], BuildOptions(), x_source="test split", out_dir=tmp_path / "out")
    assert res.passed, res.details
    assert res.cycles_per_frame == res.ideal_cycles_per_frame
