"""HashedNets layers: native op, golden == Amaranth == Verilator at several foldings with
measured == ideal cycles, weight storage, refusals."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bitsmith.generator.build import BuildOptions, load_model, prepare
from bitsmith.generator.errors import ModelError
from bitsmith.generator.estimate.hashed import weight_store_bits
from bitsmith.generator.execute import run_amaranth
from bitsmith.generator.ir.hashed import HashedMatrixVector
from bitsmith.hw.compute.hashed_mvau import hash_indices
from bitsmith.sim.golden import run_graph
from native_files import write_native
from tests.rtl_checks import check_bundle_at_ideal_rate


def write(tmp_path: Path, layers, arrays, in_shape=(16,), in_dtype="UINT3") -> Path:
    return write_native(tmp_path, "hashnet", layers, arrays, in_shape, in_dtype)


def hashed_net(tmp_path: Path, seed: int = 0) -> Path:
    """16 UINT3 -> hashed_dense 24 (K = 32 of 384, thresholds to UINT2) -> hashed_dense 8 (K = 16, raw)."""
    rng = np.random.default_rng(seed)
    v0, v1 = rng.integers(-31, 32, 32), rng.integers(-7, 8, 16)
    w0 = np.where(hash_indices(24, 16, 32, 5)[1] == 1, -v0[hash_indices(24, 16, 32, 5)[0]],
                  v0[hash_indices(24, 16, 32, 5)[0]])
    acc = rng.integers(0, 8, (64, 16)) @ w0.T
    t0 = np.sort(np.quantile(acc, [0.25, 0.5, 0.75], axis=0).T.round().astype(np.int64), axis=1)
    return write(tmp_path, [
        {"name": "fc0", "op": "hashed_dense", "weights": "v0", "buckets": 32, "seed": 5, "out_features": 24,
         "weight_dtype": "INT6", "thresholds": "t0", "out_dtype": "UINT2"},
        {"name": "fc1", "op": "hashed_dense", "weights": "v1", "buckets": 16, "seed": 9, "out_features": 8,
         "weight_dtype": "INT4"},
    ], {"v0": v0, "v1": v1, "t0": t0})


def test_native_hashed_dense_loads(tmp_path):
    g = load_model(hashed_net(tmp_path), BuildOptions())
    fc0, fc1 = g.nodes
    assert isinstance(fc0, HashedMatrixVector) and fc0.values.size == 32 and fc0.seed == 5
    assert fc0.weights.shape == (24, 16) and set(np.abs(fc0.weights).ravel()) <= set(np.abs(fc0.values))
    assert g.out_shape == (1, 1, 8)


@pytest.mark.parametrize("target", [4096, 48, 8])
def test_golden_equals_amaranth(tmp_path, target):
    graph = prepare(load_model(hashed_net(tmp_path), BuildOptions()), BuildOptions(target_cycles=target))
    x = np.random.default_rng(target).integers(0, 8, (3, 1, 1, 16))
    golden = run_graph(graph, x)
    h = run_graph(graph, x, upto=1)
    assert (h >= 0).all() and (h <= 3).all()
    np.testing.assert_array_equal(golden, h @ graph.nodes[1].weights.T)
    np.testing.assert_array_equal(run_amaranth(graph, x).outputs, golden)


@pytest.mark.verilator
@pytest.mark.parametrize("target", [4096, 48, 8])
def test_golden_equals_verilator_at_the_ideal_rate(tmp_path, target):
    graph = prepare(load_model(hashed_net(tmp_path), BuildOptions()), BuildOptions(target_cycles=target))
    x = np.random.default_rng(target).integers(0, 8, (8, 1, 1, 16))
    check_bundle_at_ideal_rate(graph, tmp_path / "out", x)


def test_weight_store_is_k_values_per_lane(tmp_path):
    g = prepare(load_model(hashed_net(tmp_path), BuildOptions()), BuildOptions())
    fc0 = g.nodes[0].replace(pe=1, simd=1)
    # one lane: K words of 6 bits, against 24 x 16 for the dense layer
    assert weight_store_bits(fc0) == 32 * 6
    assert weight_store_bits(fc0.replace(pe=2, simd=4)) == 8 * 32 * 6


@pytest.mark.parametrize("layer,arrays,message", [
    (dict(buckets=8), {"v": np.arange(6)},
     "net.yaml: layer 'fc': weights must be the 8 bucket values (shape (8,)), not shape (6,)"),
    (dict(buckets=6), {"v": np.arange(6)},
     "net.yaml: layer 'fc': the bucket count must be a power of two in 2..65536 (the hash keeps its low "
     "bits), not 6"),
    (dict(buckets=4, weight_dtype="INT2"), {"v": np.array([1, -2, 0, 1])},
     "net.yaml: layer 'fc': weight datatype INT2 must hold every bucket value and its negation (-2..1), "
     "and not be BIPOLAR"),
    (dict(buckets=4, seed=-1), {"v": np.arange(4)},
     "net.yaml: layer 'fc': seed must be an integer in 0..4294967295, not -1"),
])
def test_native_hashed_dense_refusals(tmp_path, layer, arrays, message):
    spec = {"name": "fc", "op": "hashed_dense", "weights": "v", "out_features": 4, "weight_dtype": "INT4",
            **layer}
    path = write(tmp_path, [spec], arrays, in_shape=(4,))
    with pytest.raises(ModelError, match=f"^{re.escape(message)}$"):
        load_model(path, BuildOptions())
