"""The public API (:mod:`bitsmith.api`): every way in, folding, the golden model against an
independent numpy computation, RTL against golden, results' short reprs, and the errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import pytest

import bitsmith
from bitsmith.generator.errors import FoldingError, ModelError, OptionError

MODELS = Path(__file__).resolve().parent / "models"
RNG = np.random.default_rng(14)
W0 = RNG.choice([-1, 1], size=(24, 48))
T0 = RNG.integers(18, 30, size=(24, 1))            # popcount thresholds, per channel
W1 = RNG.choice([-1, 1], size=(6, 24))
X = RNG.choice([-1, 1], size=(12, 48))


def network(topk: bool = False) -> bitsmith.Network:
    net = (bitsmith.Network("bnn", input_shape=[48], input_dtype="BIPOLAR")
           .dense(name="fc0", weights=W0, weight_dtype="BIPOLAR", thresholds=T0, out_dtype="BIPOLAR")
           .dense(name="fc1", weights=W1, weight_dtype="BIPOLAR"))
    return net.topk(name="top", k=1) if topk else net


def numpy_bnn(x: np.ndarray) -> np.ndarray:
    """DESIGN.md §2 by hand: popcount(xnor) = (w.x + MW)/2, BIPOLAR out = 2[acc >= T] - 1."""
    acc0 = (x @ W0.T + W0.shape[1]) // 2
    h = np.where(acc0 >= T0[:, 0], 1, -1)
    return (h @ W1.T + W1.shape[1]) // 2


def test_network_golden_equals_numpy():
    y = bitsmith.golden(network(), X).outputs
    assert np.array_equal(y.reshape(len(X), -1), numpy_bnn(X))


def test_dict_with_arrays_is_the_same_model_as_the_network():
    data, arrays = network().description()
    assert sorted(arrays) == ["fc0_thresholds", "fc0_weights", "fc1_weights"]
    a, b = bitsmith.load(data, arrays=arrays), bitsmith.load(network())
    assert a.graph.name == b.graph.name == "bnn"
    assert [n.name for n in a.graph.nodes] == [n.name for n in b.graph.nodes] == ["fc0", "fc1"]
    assert np.array_equal(bitsmith.golden(a, X).outputs, bitsmith.golden(b, X).outputs)


def test_saved_network_builds_from_the_file(tmp_path):
    path = network(topk=True).save(tmp_path / "bnn.yaml")
    assert path.with_suffix(".npz").is_file()
    labels = bitsmith.golden(str(path), X).outputs.reshape(-1)
    assert np.array_equal(labels, bitsmith.golden(network(topk=True), X).outputs.reshape(-1))


@pytest.mark.parametrize("target", [1, 6, 48, 200])
def test_fold_meets_the_target_with_the_folding_formula(target):
    design = bitsmith.fold(network(), target_cycles=target)
    for row in design.layers:
        assert row["cycles"] == (row["mh"] // row["pe"]) * (row["mw"] // row["simd"])
        assert row["cycles"] <= max(target, 1)
    assert design.ideal_cycles_per_frame == max(r["cycles"] for r in design.layers)


def test_fold_with_a_mapping_keeps_it_and_reproduces_from_folding():
    design = bitsmith.fold(network(), fold={"fc0": {"pe": 4, "simd": 8}, "fc1": {"pe": 2, "simd": 3}})
    assert design.folding == {"fc0": {"pe": 4, "simd": 8}, "fc1": {"pe": 2, "simd": 3}}
    assert design.ideal_cycles_per_frame == max(24 // 4 * 48 // 8, 6 // 2 * 24 // 3) == 36
    again = bitsmith.fold(network(), fold=design.folding)
    assert again.folding == design.folding


def test_fold_mapping_errors_name_the_layer():
    with pytest.raises(FoldingError, match=r"^layer 'fc0': PE=5 does not divide out_features=24$"):
        bitsmith.fold(network(), fold={"fc0": {"pe": 5}})
    with pytest.raises(OptionError, match=r"^fold: no layer named 'fc9' \(layers: fc0, fc1\)$"):
        bitsmith.fold(network(), fold={"fc9": {"pe": 1}})


def test_reprs_are_one_short_line_without_values(tmp_path):
    net = network(topk=True)
    design = bitsmith.fold(net, target_cycles=48)
    built = bitsmith.build(design, tmp_path / "out")
    ref = bitsmith.golden(design, X)
    assert repr(net) == "Network('bnn', input=BIPOLAR[48], layers=['fc0: dense', 'fc1: dense', 'top: topk'])"
    assert repr(bitsmith.load(net)) == ("Model('bnn', source=\"<Network 'bnn'>\", layers=3, "
                                        "input=BIPOLAR[1, 1, 48], output=UINT3[1, 1, 1])")
    assert repr(design) == "Design('bnn', layers=3, ideal_cycles_per_frame=48, bottleneck='fc0')"
    assert repr(ref) == "GoldenResult(frames=12, outputs=int64[12, 1, 1, 1], core_outputs=int64[12, 1, 1, 1])"
    assert re.fullmatch(r"BuildResult\('bnn', out_dir='.*out', layers=3, ideal_cycles_per_frame=48, "
                        r"bottleneck='fc0', luts=\d+\)", repr(built)), repr(built)
    for obj in (net, design, built, ref):
        assert "\n" not in repr(obj) and "array(" not in repr(obj) and len(repr(obj)) < 200


def test_results_are_frozen(tmp_path):
    design = bitsmith.fold(network())
    for obj, field in ((design, "graph"), (bitsmith.golden(design, X), "outputs"), (bitsmith.load(network()), "graph")):
        with pytest.raises(AttributeError):
            setattr(obj, field, None)


def test_onnx_in_memory_equals_the_file():
    path = MODELS / "TFC_2W2A.onnx"
    x = np.load(MODELS / "mnist_input.npy").astype(np.float32)
    opts = bitsmith.BuildOptions(topk=1)
    from_file = bitsmith.golden(str(path), x, opts).outputs
    proto = onnx.load(str(path))
    from qonnx.core.modelwrapper import ModelWrapper
    for source, label in ((proto, "<ModelProto>"), (ModelWrapper(proto), "<ModelWrapper>")):
        model = bitsmith.load(source, opts)
        assert model.source == label and model.onnx is not None
        assert np.array_equal(bitsmith.golden(model, x).outputs, from_file)
    assert int(from_file.reshape(-1)[0]) == int(np.load(MODELS / "mnist_expected_output.npy").reshape(-1)[0])


def test_onnx_in_memory_errors_name_the_source_not_a_temporary_file():
    from onnx import TensorProto, helper
    graph = helper.make_graph([helper.make_node("LSTM", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    with pytest.raises(ModelError, match=r"^<ModelProto>: node '' \(LSTM\) is not supported; supported ops: .*$"):
        bitsmith.load(helper.make_model(graph))


@pytest.mark.parametrize("call, pattern", [
    (lambda: bitsmith.fold(network(), targt_cycles=3),
     r"^unknown option 'targt_cycles' \(valid: fold, target_cycles, target_fps, clock_mhz, input_dtype, "
     r"input_scale, topk, board, sparse, shift, winograd, prune\)$"),
    (lambda: bitsmith.BuildOptions(sparse="yes"), r"^sparse must be 'off' or 'auto', not 'yes'$"),
    (lambda: bitsmith.BuildOptions(shift="yes"), r"^shift must be 'off' or 'auto', not 'yes'$"),
    (lambda: bitsmith.BuildOptions(winograd="yes"), r"^winograd must be 'off' or 'auto', not 'yes'$"),
    (lambda: bitsmith.BuildOptions(target_cycles=0), r"^target_cycles must be a positive integer, not 0$"),
    (lambda: bitsmith.BuildOptions(input_dtype="UINT99"), r"^input_dtype: .*UINT99.*$"),
    (lambda: bitsmith.BuildOptions(input_scale=0.5), r"^input_scale needs input_dtype .*$"),
    (lambda: bitsmith.load(3.5), r"^cannot load a float: give a model file, .*$"),
    (lambda: bitsmith.golden(bitsmith.fold(network()), X, topk=1),
     r"^a Design is already folded: give its options to bitsmith.fold$"),
    (lambda: bitsmith.fold(network(), input_scale=0.5, input_dtype="BIPOLAR"),
     r"^--input-scale applies to ONNX models; <Network 'bnn'> already takes integers$"),
    (lambda: bitsmith.fold(bitsmith.load(str(MODELS / "TFC_2W2A.onnx")), topk=2),
     r"^topk is read with the model: pass it to bitsmith.load \('TFC_2W2A' was loaded with topk=None\)$"),
    (lambda: bitsmith.simulate("nowhere", X), r"^nowhere: not a bitsmith build \(not a folder\)$"),
    (lambda: bitsmith.run_on_board("nowhere", X, board="pynq_z2", port="/dev/null"),
     r"^board pynq_z2: no UART shell on this board \(use the generated PYNQ driver on the board itself\)$"),
])
def test_errors_are_one_line_bitsmith_errors(call, pattern):
    with pytest.raises(bitsmith.BitsmithError, match=pattern):
        call()


def test_dict_errors_name_the_layer():
    desc = {"input": {"shape": [4], "dtype": "BIPOLAR"},
            "layers": [{"op": "dense", "weights": "w", "weight_dtype": "BIPOLAR"}]}
    with pytest.raises(ModelError, match=r"^<dict>: layer 'layer0': weights\[0, 1\] is 2, outside BIPOLAR "
                                         r"\(-1 or \+1\)$"):
        bitsmith.load(desc, arrays={"w": np.array([[1, 2, 3, 4]])})
    with pytest.raises(ModelError, match=r"^<dict>: layer 'layer0': array 'w' is not in the arrays "
                                         r"\(has: nothing\)$"):
        bitsmith.load(desc)
    with pytest.raises(AttributeError, match=r"^'Network' has no attribute 'dens' \(native ops: .*dense.*\)$"):
        network().dens(weights=W0)


@pytest.mark.verilator
def test_build_simulate_verify_agree_bit_for_bit(tmp_path):
    design = bitsmith.fold(network(topk=True), target_cycles=16)
    built = bitsmith.build(design, tmp_path / "bnn")
    assert (tmp_path / "bnn" / "rtl" / "bnn.v").is_file()
    ref = bitsmith.golden(design, X)
    rtl = bitsmith.simulate(built, X)
    sim = bitsmith.simulate(tmp_path / "bnn", X[:4], simulator="amaranth")
    assert np.array_equal(rtl.outputs, ref.outputs) and np.array_equal(sim.outputs, ref.outputs[:4])
    assert rtl.protocol_errors == 0 and rtl.cycles_per_frame == design.ideal_cycles_per_frame
    res = bitsmith.verify(design, X, expected=numpy_bnn(X).argmax(axis=1))
    assert res.passed and res.mismatches == 0 and res.expected_mismatches == 0
    assert res.cycles_per_frame == res.ideal_cycles_per_frame == design.ideal_cycles_per_frame
    assert repr(res) == (f"VerifyResult(passed=True, frames=12, mismatches=0, expected_mismatches=0, "
                         f"cycles_per_frame={res.cycles_per_frame:g}, ideal_cycles_per_frame="
                         f"{res.ideal_cycles_per_frame})")
    reopened = bitsmith.open_build(tmp_path / "bnn")
    assert reopened.report["ideal_cycles_per_frame"] == built.report["ideal_cycles_per_frame"]


@pytest.mark.train
@pytest.mark.verilator
def test_brevitas_module_loads_and_verifies_against_qonnx():
    torch = pytest.importorskip("torch")
    qnn = pytest.importorskip("brevitas.nn")
    from brevitas.quant import SignedBinaryActPerTensorConst as BinAct
    from brevitas.quant import SignedBinaryWeightPerTensorConst as BinWeight

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(act_quant=BinAct, return_quant_tensor=True)
            self.fc = qnn.QuantLinear(16, 4, bias=False, weight_quant=BinWeight, weight_scaling_const=1.0)

        def forward(self, x):
            return self.fc(self.inp(x))

    torch.manual_seed(0)
    model = bitsmith.load(Tiny(), example_input=(1, 16), topk=1)
    assert model.source == "<torch Module 'Tiny'>" and model.is_onnx
    x = np.random.default_rng(3).normal(size=(20, 16)).astype(np.float32)
    res = bitsmith.verify(model, x)
    assert res.passed and res.reference_mismatches == 0 and res.mismatches == 0
