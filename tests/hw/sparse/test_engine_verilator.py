"""Dense MVAU -> sparse engine -> sparse engine in one Dataflow, in Verilator, vs the golden model."""

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator.build import BuildOptions, prepare, write_bundle
from bitsmith.generator.execute import run_verilator
from bitsmith.generator.ir import Graph, MatrixVector, Thresholds
from bitsmith.generator.sparse import compress, sparse_node
from bitsmith.sim.golden import run_graph

DT = DataType
pytestmark = pytest.mark.verilator


def mixed_graph() -> Graph:
    rng = np.random.default_rng(11)
    w0 = rng.integers(-3, 4, (32, 16))
    dense = MatrixVector(name="fc0", in_shape=(1, 1, 16), in_dtype=DT["UINT4"], weights=w0,
                         weight_dtype=DT["INT3"],
                         acc_dtype=MatrixVector.minimal_acc_dtype(w0, DT["INT3"], DT["UINT4"]),
                         thresholds=Thresholds(values=np.sort(rng.integers(-20, 40, (32, 3)), axis=1),
                                               out_dtype=DT["UINT2"]), pe=4, simd=4)
    l1 = compress(rng.integers(-100, 101, (48, 32)), n_pe=8, sparsity=0.85, bits=4)
    t1 = np.sort(rng.integers(-300, 300, (48, 3)), axis=1)
    fc1 = sparse_node("fc1", (1, 1, 32), DT["UINT2"], l1, queue_depth=4, simd=8,
                      thresholds=Thresholds(values=t1, out_dtype=DT["UINT2"]))
    l2 = compress(rng.integers(-60, 61, (10, 48)), n_pe=5, sparsity=0.7, bits=3)
    fc2 = sparse_node("fc2", (1, 1, 48), DT["UINT2"], l2, queue_depth=2)
    return Graph(name="mixed_sparse", in_shape=(1, 1, 16), in_dtype=DT["UINT4"], nodes=(dense, fc1, fc2))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    graph = prepare(mixed_graph(), BuildOptions())
    graph.check()
    return write_bundle(graph, tmp_path_factory.mktemp("sparse") / "out")


@pytest.mark.parametrize("idle, backpressure", [("none", "none"), ("cycle", "random"),
                                                ("random", "cycle"), ("random", "random")])
def test_mixed_network_in_verilator(bundle, idle, backpressure):
    rng = np.random.default_rng(5)
    x = rng.integers(0, 16, (40, 1, 1, 16))
    x[rng.random(x.shape) < 0.3] = 0
    expected = run_graph(bundle.graph, x)
    run = run_verilator(bundle.out_dir, bundle.io, x, idle=idle, backpressure=backpressure, seed=3)
    assert run.protocol_errors == 0
    bad = np.flatnonzero(np.any(run.outputs.reshape(len(x), -1) != expected.reshape(len(x), -1), axis=1))
    assert bad.size == 0, f"frame {bad[0]}: expected {expected[bad[0]].ravel()}, got {run.outputs[bad[0]].ravel()}"
