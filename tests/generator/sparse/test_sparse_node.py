"""SparseMatrixVector: checks, golden == dense matmul of the decoded matrix, front-end hooks."""

import re

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator.errors import FoldingError, ModelError
from bitsmith.generator.estimate import node_cycles, node_resources
from bitsmith.generator.estimate.sparse import cycles_for, ideal_cycles_for, pe_bound_for
from bitsmith.generator.frontend.native import Arrays
from bitsmith.generator.frontend.native import native_ops
from bitsmith.generator.frontend.native_sparse import parse_sparse, sparsify_graph
from bitsmith.generator.ir import Graph, MatrixVector, Thresholds
from bitsmith.generator.ir.serialize import dump_graph, load_graph
from bitsmith.generator.ir.sparse import SparseMatrixVector
from bitsmith.generator.sparse import compress, decode_columns, sparse_node
from bitsmith.sim.golden import run_node

DT = DataType


def make(rows=32, cols=24, n_pe=4, sparsity=0.8, bits=4, in_dtype="INT4", seed=0, **kw):
    rng = np.random.default_rng(seed)
    w = rng.integers(-100, 101, (rows, cols))
    layer = compress(w, n_pe=n_pe, sparsity=sparsity, bits=bits)
    return sparse_node("fc", (1, 1, cols), DT[in_dtype], layer, **kw), layer


def inputs(node, n=7, density=0.6, seed=1, pixels=(1, 1)):
    rng = np.random.default_rng(seed)
    dt = node.in_dtype
    x = rng.integers(int(dt.min()), int(dt.max()) + 1, (n,) + pixels + (node.in_features,))
    x[rng.random(x.shape) >= density] = 0
    return x


@pytest.mark.parametrize("n_pe, bits, in_dtype", [(1, 2, "INT4"), (4, 4, "UINT8"), (8, 8, "TERNARY"),
                                                  (32, 3, "BINARY")])
def test_golden_equals_dense_matmul_of_decoded_matrix(n_pe, bits, in_dtype):
    node, layer = make(n_pe=n_pe, bits=bits, in_dtype=in_dtype)
    decoded = layer.codebook[decode_columns(layer.encoding)]
    assert np.array_equal(decoded, layer.weights())
    assert np.array_equal(node.dense_weights(), decoded)
    x = inputs(node, pixels=(2, 3))
    assert np.array_equal(run_node(node, x), x @ decoded.T)


def test_golden_thresholds_and_proven_accumulator():
    node, layer = make(in_dtype="UINT4")
    w = layer.weights()
    lo = int(np.minimum(0, w * 15).sum(axis=1).min())
    hi = int(np.maximum(0, w * 15).sum(axis=1).max())
    assert node.acc_dtype == DT[f"INT{max(-lo, hi + 1).bit_length() + 1}"]
    t = np.sort(np.random.default_rng(2).integers(-500, 500, (32, 3)), axis=1)
    th = Thresholds(values=t, out_dtype=DT["UINT2"])
    node = node.replace(thresholds=th)
    node.check()
    x = inputs(node)
    acc = x @ w.T
    assert np.array_equal(run_node(node, x), (acc[..., None] >= t).sum(axis=-1))


def test_serialisation_round_trip():
    node, _ = make()
    graph = Graph(name="g", in_shape=node.in_shape, in_dtype=node.in_dtype, nodes=(node,))
    back = load_graph(dump_graph(graph)).nodes[0]
    assert isinstance(back, SparseMatrixVector)
    back.check()
    x = inputs(node)
    assert np.array_equal(run_node(back, x), run_node(node, x))


def where(msg):
    return f"^{re.escape(msg)}$"


@pytest.mark.parametrize("change, error, message", [
    (dict(n_pe=65), FoldingError, "layer 'fc': n_pe must be an integer in 1..64, not 65"),
    (dict(queue_depth=0), FoldingError, "layer 'fc': queue_depth must be an integer in 1..16, not 0"),
    (dict(queue_depth=17), FoldingError, "layer 'fc': queue_depth must be an integer in 1..16, not 17"),
    (dict(simd=5), FoldingError, "layer 'fc': simd must be a positive divisor of in_features=24, not 5"),
    (dict(in_dtype=DT["BIPOLAR"]), ModelError, "layer 'fc': the sparse engine needs integer activations "
                                               "with a zero (INTn, UINTn, BINARY, TERNARY), not BIPOLAR"),
    (dict(acc_dtype=DT["INT8"]), ModelError, None),
    (dict(codebook=np.array([1, 2, 3, 4])), ModelError, "layer 'fc': codebook entry 0 must be 0 (zero/padding), not 1"),
    (dict(codebook=np.arange(3)), ModelError, "layer 'fc': codebook must be 2**b integers with b in 2..8"),
])
def test_node_check_rejects(change, error, message):
    node, _ = make()
    bad = node.replace(**change)
    with pytest.raises(error, match=where(message) if message else r"^layer 'fc': accumulator range -?\d+\.\.\d+ does not fit INT8$"):
        bad.check()


def test_node_check_rejects_bad_encoding():
    node, _ = make()
    entries = list(node.entries)
    entries[1] = entries[1].copy()
    entries[1][0, 1] = 16
    with pytest.raises(ModelError, match=where("layer 'fc': PE 1 has a relative index outside 0..15")):
        node.replace(entries=tuple(entries)).check()
    ptr = node.col_ptr.copy()
    ptr[2, -1] += 1
    with pytest.raises(ModelError, match=where(f"layer 'fc': column pointers of PE 2 must rise from 0 to "
                                               f"{len(node.entries[2])}")):
        node.replace(col_ptr=ptr).check()
    with pytest.raises(FoldingError, match=where("layer 'fc': n_pe=5 does not divide out_features=32")):
        node.replace(n_pe=5).check()


# ---------------------------------------------------------------------------- estimates

def test_bounds_and_cycle_model():
    node, _ = make(rows=64, cols=32, n_pe=8, sparsity=0.9, queue_depth=4)
    x = inputs(node, n=1, density=0.5)
    lengths = node.column_lengths()
    nz = x.reshape(-1) != 0
    assert pe_bound_for(node, x) == int((lengths[:, nz]).sum(axis=1).max())
    assert ideal_cycles_for(node, x) == max(pe_bound_for(node, x), int(nz.sum()), 8)
    trace = cycles_for(node, x)
    assert trace.busy == int(lengths[:, nz].sum())
    assert trace.cycles >= ideal_cycles_for(node, x)
    assert node_cycles(node) == max(int(lengths.sum(axis=1).max()), 32, 8)
    res = node_resources(node)
    assert res.luts > 0 and res.ffs > 0


# ---------------------------------------------------------------------------- front end

def spec(**kw):
    return {"name": "fc1", "op": "sparse_dense", "weights": "w", **kw}


def arrays(rows=32, cols=20, seed=0):
    rng = np.random.default_rng(seed)
    return Arrays(None, {"w": rng.integers(-7, 8, (rows, cols)),
                         "t": np.sort(rng.integers(-50, 50, (rows, 2)), axis=1)})


def test_parse_sparse_prunes_and_shares():
    a = arrays()
    node = native_ops()["sparse_dense"].parse(spec(sparsity=0.9, codebook_bits=3, n_pe=8, queue_depth=2,
                                           thresholds="t", out_dtype="UINT2"),
                                      (1, 1, 20), DT["UINT4"], a, "m.yaml: layer 'fc1'")
    assert (node.n_pe, node.queue_depth, node.codebook_bits, node.simd) == (8, 2, 3, 20)
    w = node.dense_weights()
    assert np.count_nonzero(w == 0) >= 0.9 * w.size
    assert node.out_dtype == DT["UINT2"]


def test_parse_sparse_keeps_a_pruned_matrix_exactly():
    a = arrays()
    w = a.data["w"].copy()
    w[np.abs(w) < 5] = 0
    a.data["w"] = w
    node = parse_sparse(spec(codebook_bits=3), (1, 1, 20), DT["INT4"], a, "m.yaml: layer 'fc1'")
    assert np.array_equal(node.dense_weights(), w)


@pytest.mark.parametrize("extra, in_dtype, message", [
    (dict(sparsity=1.5), "INT4", "m.yaml: layer 'fc1': sparsity must be a number in [0, 1), not 1.5"),
    (dict(codebook_bits=9), "INT4", "m.yaml: layer 'fc1': codebook_bits must be an integer in 2..8, not 9"),
    (dict(n_pe=0), "INT4", "m.yaml: layer 'fc1': n_pe must be an integer in 1..64, not 0"),
    (dict(n_pe=3), "INT4", "m.yaml: layer 'fc1': n_pe=3 does not divide out_features=32"),
    (dict(queue_depth=20), "INT4", "m.yaml: layer 'fc1': queue_depth must be an integer in 1..16, not 20"),
    (dict(simd=3), "INT4", "m.yaml: layer 'fc1': simd must be a positive divisor of in_features=20, not 3"),
    (dict(pe=2), "INT4", "m.yaml: layer 'fc1': unknown key 'pe' for sparse_dense (did you mean 'n_pe'?)"),
    (dict(colour=2), "INT4", "m.yaml: layer 'fc1': unknown key 'colour' for sparse_dense (valid keys: "
                             "codebook_bits, input, n_pe, name, op, out_bias, out_dtype, out_scale, queue_depth, simd, "
                             "sparsity, thresholds, weights)"),
    (dict(), "BIPOLAR", "m.yaml: layer 'fc1': sparse_dense needs activations with a zero (INTn, UINTn, "
                        "BINARY, TERNARY), not BIPOLAR"),
])
def test_parse_sparse_rejects(extra, in_dtype, message):
    with pytest.raises(ModelError, match=where(message)):
        parse_sparse(spec(**extra), (1, 1, 20), DT[in_dtype], arrays(), "m.yaml: layer 'fc1'")


def test_parse_sparse_rejects_shape():
    with pytest.raises(ModelError, match=where("m.yaml: layer 'fc1': weights have 20 inputs but the layer "
                                               "receives 16 (input shape (1, 1, 16))")):
        parse_sparse(spec(), (1, 1, 16), DT["INT4"], arrays(), "m.yaml: layer 'fc1'")


def test_sparsify_graph():
    rng = np.random.default_rng(5)
    w_sparse = rng.integers(-7, 8, (16, 12))
    w_sparse[rng.random(w_sparse.shape) < 0.6] = 0
    w_sparse[0, :] = 0
    w_dense = rng.integers(1, 8, (8, 16))
    mk = lambda name, w, idt: MatrixVector(
        name=name, in_shape=(1, 1, w.shape[1]), in_dtype=DT[idt], weights=w, weight_dtype=DT["INT4"],
        acc_dtype=MatrixVector.minimal_acc_dtype(w, DT["INT4"], DT[idt]), pe=4, simd=2)
    a = mk("a", w_sparse, "UINT4")
    b = mk("b", w_dense, a.acc_dtype.name)
    g = Graph(name="g", in_shape=(1, 1, 12), in_dtype=DT["UINT4"], nodes=(a, b))
    g.check()
    s = sparsify_graph(g)
    assert isinstance(s.nodes[0], SparseMatrixVector) and s.nodes[1] is g.nodes[1]
    assert s.nodes[0].n_pe == 4 and s.nodes[0].acc_dtype == a.acc_dtype
    s.check()
    x = rng.integers(0, 16, (5, 1, 1, 12))
    assert np.array_equal(run_node(s.nodes[0], x), run_node(a, x))
    assert sparsify_graph(g, threshold=0.99).nodes[0] is g.nodes[0]


def test_estimating_a_sparse_graph_leaves_no_unused_elaboratable_warnings():
    """The estimate lowers the graph without elaborating it: the engine's own units (its
    PEs, their pointer units, the non-zero scan) must be silenced with it, or every
    `bench`/`build --board` run prints dozens of Amaranth warnings."""
    import gc
    import warnings
    from amaranth.hdl import Elaboratable, Fragment, Module, UnusedElaboratable
    from bitsmith.generator.bench import SYNTH_BOARDS, folding_curves

    class Empty(Elaboratable):
        def elaborate(self, platform):
            return Module()
    Fragment.get(Empty(), None)     # Amaranth warns only once something was elaborated
    node, _ = make(n_pe=4)
    graph = Graph(name="g", in_shape=node.in_shape, in_dtype=node.in_dtype, nodes=(node,))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        curves = folding_curves(graph, SYNTH_BOARDS)    # estimates many foldings
        gc.collect()
    assert curves
    assert [str(w.message) for w in caught if issubclass(w.category, UnusedElaboratable)] == []
