"""Power-of-two (shift) matrix layers: decomposition, native op, ``--shift auto``, golden ==
Amaranth == Verilator at several foldings with measured == ideal cycles, estimates, refusals."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bitsmith.generator.build import BuildOptions, load_model, prepare
from bitsmith.generator.errors import ModelError
from bitsmith.generator.estimate import node_resources
from bitsmith.generator.execute import run_amaranth
from bitsmith.generator.ir import MatrixVector
from bitsmith.generator.ir.shift import ShiftMatrixVector, naf_terms, shift_terms, terms_needed
from bitsmith.generator.verify import verify
from bitsmith.sim.golden import run_graph
from bitsmith.sim.golden.dense import matrix_vector
from native_files import write_native
from tests.rtl_checks import check_bundle_at_ideal_rate

MODELS = Path(__file__).resolve().parents[1] / "models"


def pow2_weights(rng, shape, n_terms=1, exps=(0, 6)):
    e = rng.integers(exps[0], exps[1] + 1, size=shape + (n_terms,))
    t = rng.choice([-1, 1], size=e.shape) * (rng.random(e.shape) >= 0.2) * (1 << e)
    return t.sum(-1)


def write(tmp_path: Path, layers, arrays, in_shape=(16,), in_dtype="UINT4") -> Path:
    return write_native(tmp_path, "shiftnet", layers, arrays, in_shape, in_dtype)


def shift_net(tmp_path: Path, seed: int = 0) -> Path:
    """16 UINT4 inputs -> shift_dense POW2 (12, thresholds to UINT3) -> shift_dense POW2x2 (6, raw)."""
    rng = np.random.default_rng(seed)
    w0 = pow2_weights(rng, (12, 16))
    w1 = pow2_weights(rng, (6, 12), 2, (0, 5))
    acc0 = rng.integers(0, 16, (64, 16)) @ w0.T
    t0 = np.sort(np.quantile(acc0, np.linspace(0.1, 0.9, 7), axis=0).T.round().astype(np.int64), axis=1)
    return write(tmp_path, [
        {"name": "fc0", "op": "shift_dense", "weights": "w0", "weight_dtype": "POW2", "thresholds": "t0",
         "out_dtype": "UINT3"},
        {"name": "fc1", "op": "shift_dense", "weights": "w1", "weight_dtype": "POW2x2", "exponents": [0, 6]},
    ], {"w0": w0, "w1": w1, "t0": t0})


# --------------------------------------------------------------------------- decomposition

def test_naf_terms_are_minimal_signed_powers_of_two():
    w = np.arange(-300, 301)
    t = naf_terms(w)
    assert (t.sum(-1) == w).all()
    mags = np.abs(t)
    assert ((mags & (mags - 1)) == 0).all()
    # fewest terms: brute force over sums of up to 3 signed powers of two below 2**10
    pows = [0] + [s << e for e in range(10) for s in (1, -1)]
    best = {}
    for a in pows:
        for b in pows:
            for c in pows:
                v = a + b + c
                n = (a != 0) + (b != 0) + (c != 0)
                best[v] = min(best.get(v, 4), n)
    for v, n in zip(w.tolist(), np.count_nonzero(t, axis=-1).tolist()):
        assert n == best.get(v, 4) or (n > 3 and v not in best), v


def test_terms_needed_and_refusal():
    assert terms_needed(np.array([[0, 1, -64, 32]])) == 1
    assert terms_needed(np.array([[3, -6, 40]])) == 2
    assert terms_needed(np.array([[0]])) == 1
    with pytest.raises(ValueError, match=r"^weight 7 at \(0, 1\) is not a sum of 1 signed power\(s\) of two$"):
        shift_terms(np.array([[4, 7]]), 1)


# --------------------------------------------------------------------------- native op

def test_native_shift_dense_loads(tmp_path):
    g = load_model(shift_net(tmp_path), BuildOptions())
    fc0, fc1 = g.nodes
    assert isinstance(fc0, ShiftMatrixVector) and fc0.terms == 1 and fc0.weight_dtype.name == "INT8"
    assert isinstance(fc1, ShiftMatrixVector) and fc1.terms == 2


@pytest.mark.parametrize("layer,arrays,message", [
    (dict(weight_dtype="POW2"), {"w": np.array([[1, 3]])},
     "net.yaml: layer 'fc': weight 3 at (0, 1) is not a sum of 1 signed power(s) of two (POW2)"),
    (dict(weight_dtype="POW2x2"), {"w": np.array([[1, 7 + 64]])},
     "net.yaml: layer 'fc': weight 71 at (0, 1) is not a sum of 2 signed power(s) of two (POW2x2)"),
    (dict(weight_dtype="POW2", exponents=[1, 3]), {"w": np.array([[2, 1]])},
     "net.yaml: layer 'fc': a weight uses the term 2**0, outside exponents [1, 3]"),
    (dict(weight_dtype="POW2", exponents=[3, 1]), {"w": np.array([[2, 1]])},
     "net.yaml: layer 'fc': exponents must be [lo, hi] with lo <= hi, not [3, 1]"),
    (dict(weight_dtype="POW2"), {"w": np.array([[256, 1]])},
     "net.yaml: layer 'fc': weight datatype UINT9 is wider than 8 bits"),
    (dict(weight_dtype="INT8"), {"w": np.array([[2, 1]])},
     "net.yaml: layer 'fc': weight_dtype must be one of POW2, POW2x2, POW2x3, POW2x4, not 'INT8'"),
])
def test_native_shift_dense_refusals(tmp_path, layer, arrays, message):
    path = write(tmp_path, [{"name": "fc", "op": "shift_dense", "weights": "w", **layer}], arrays,
                 in_shape=(2,))
    with pytest.raises(ModelError, match=f"^{re.escape(message)}$"):
        load_model(path, BuildOptions())


def test_ir_refuses_bipolar_weights_and_bad_terms():
    from qonnx.core.datatype import DataType
    node = ShiftMatrixVector(name="s", in_shape=(1, 1, 2), in_dtype=DataType["UINT2"],
                             weights=np.array([[1, -1]]), weight_dtype=DataType["BIPOLAR"],
                             acc_dtype=DataType["INT4"], pe=1, simd=1)
    with pytest.raises(ModelError, match=r"^layer 's': a shift layer needs integer weights with a zero, "
                                         r"not BIPOLAR \(a BIPOLAR layer runs as XNOR/sign on the MVAU\)$"):
        node.check()
    node = node.replace(weight_dtype=DataType["INT4"], weights=np.array([[5, -1]]), acc_dtype=DataType["INT6"])
    with pytest.raises(ModelError, match=r"^layer 's': weight 5 at \(0, 0\) is not a sum of 1 signed "
                                         r"power\(s\) of two$"):
        node.check()
    with pytest.raises(ModelError, match=r"^layer 's': terms must be an integer in 1\.\.4, not 5$"):
        node.replace(terms=5).check()


# --------------------------------------------------------------------------- golden, RTL, cycles

@pytest.mark.parametrize("target", [2048, 96, 12])
def test_golden_equals_dense_and_amaranth(tmp_path, target):
    graph = prepare(load_model(shift_net(tmp_path), BuildOptions()), BuildOptions(target_cycles=target))
    x = np.random.default_rng(target).integers(0, 16, (3, 1, 1, 16))
    golden = run_graph(graph, x)
    # the shift golden (term by term) equals the dense product of the same weights
    h = run_graph(graph, x, upto=1)
    np.testing.assert_array_equal(h, matrix_vector(graph.nodes[0], x))
    np.testing.assert_array_equal(golden, matrix_vector(graph.nodes[1], h))
    run = run_amaranth(graph, x)
    np.testing.assert_array_equal(run.outputs, golden)


@pytest.mark.verilator
@pytest.mark.parametrize("target", [2048, 48, 6])
def test_golden_equals_verilator_at_the_ideal_rate(tmp_path, target):
    graph = prepare(load_model(shift_net(tmp_path), BuildOptions()), BuildOptions(target_cycles=target))
    x = np.random.default_rng(target).integers(0, 16, (8, 1, 1, 16))
    check_bundle_at_ideal_rate(graph, tmp_path / "out", x)


# --------------------------------------------------------------------------- --shift auto

def dense_net(tmp_path: Path, w0, wdt0, w1, wdt1) -> Path:
    return write(tmp_path, [
        {"name": "fc0", "op": "dense", "weights": "w0", "weight_dtype": wdt0},
        {"name": "fc1", "op": "dense", "weights": "w1", "weight_dtype": wdt1},
    ], {"w0": w0, "w1": w1}, in_shape=(w0.shape[1],))


def test_shift_auto_converts_power_of_two_layers(tmp_path):
    rng = np.random.default_rng(3)
    w0 = pow2_weights(rng, (8, 16))                      # INT8, one term: converts
    w1 = pow2_weights(rng, (4, 8), 2, (0, 1))            # a 2-term layer of INT4: the MVAU shift-adds
    w1[0, 0] = 3
    path = dense_net(tmp_path, w0, "INT8", w1, "INT4")
    off = prepare(load_model(path, BuildOptions()), BuildOptions())
    on = prepare(load_model(path, BuildOptions(shift="auto")), BuildOptions(shift="auto"))
    assert [type(n).__name__ for n in off.nodes] == ["MatrixVector", "MatrixVector"]
    assert [type(n).__name__ for n in on.nodes] == ["ShiftMatrixVector", "MatrixVector"]
    assert on.nodes[0].terms == 1 and (on.nodes[0].pe, on.nodes[0].simd) == (off.nodes[0].pe, off.nodes[0].simd)
    x = rng.integers(0, 16, (5, 1, 1, 16))
    np.testing.assert_array_equal(run_graph(on, x), run_graph(off, x))


def test_shift_auto_two_terms_where_the_mvau_multiplies(tmp_path):
    rng = np.random.default_rng(4)
    w0 = pow2_weights(rng, (8, 16), 2, (0, 5))           # INT7/INT8 2-term: converts
    w0[0, 0] = 7 + 64 - 64 + 56                          # 63 = 64 - 1: still two terms
    w1 = rng.integers(-100, 100, (4, 8))                 # arbitrary INT8: stays
    w1[0, 0] = 0b1010101                                 # 85 needs four terms
    g = prepare(load_model(dense_net(tmp_path, w0, "INT8", w1, "INT8"), BuildOptions()),
                BuildOptions(shift="auto"))
    assert [type(n).__name__ for n in g.nodes] == ["ShiftMatrixVector", "MatrixVector"]
    assert g.nodes[0].terms == 2


@pytest.mark.verilator
def test_shift_auto_on_qonnx_tfc_w2a2(tmp_path):
    """TFC-w2a2's INT2 weights {-2, -1, 0, 1} are all signed powers of two: every dense
    layer converts, and the RTL still equals the golden model and the qonnx execution."""
    one = np.load(MODELS / "mnist_input.npy")
    x = np.concatenate([one, one[..., ::-1], one * 0.5])
    opts = BuildOptions(shift="auto", target_cycles=4096)
    graph = prepare(load_model(MODELS / "TFC_2W2A.onnx", opts), opts)
    assert sum(isinstance(n, ShiftMatrixVector) for n in graph.nodes) == 4
    res = verify(MODELS / "TFC_2W2A.onnx", x, opts, out_dir=tmp_path / "out")
    assert res.passed, res.details
    assert res.reference_mismatches == 0
    assert res.cycles_per_frame == res.ideal_cycles_per_frame


# --------------------------------------------------------------------------- estimates

def test_estimate_no_dsps_and_fewer_luts_than_the_multiplier(tmp_path):
    rng = np.random.default_rng(5)
    w = pow2_weights(rng, (16, 16))
    path = write(tmp_path, [{"name": "fc0", "op": "dense", "weights": "w0", "weight_dtype": "INT8"}],
                 {"w0": w}, in_dtype="UINT8")
    g = prepare(load_model(path, BuildOptions()), BuildOptions())
    dense = g.nodes[0].replace(pe=4, simd=8)
    assert type(dense) is MatrixVector
    shift = ShiftMatrixVector.from_dense(dense, 1)
    d, s = node_resources(dense), node_resources(shift)
    assert d.dsps == 32 and s.dsps == 0
