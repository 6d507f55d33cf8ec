"""Low-rank factorisation (``bitsmith compress --low-rank``): the factors, the rewritten
description, the integer chain it computes, the CLI's errors, and RTL == golden."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from qonnx.core.datatype import DataType

from bitsmith.generator.build import BuildOptions, load_model
from bitsmith.generator.cli import main
from bitsmith.generator.errors import ModelError, OptionError
from bitsmith.generator.ir import Thresholds
from bitsmith.generator.lowrank import compress, energy_rank, factorise, pays
from bitsmith.sim.golden import run_graph

ROOT = Path(__file__).parents[2]
DIGITS = ROOT / "generator" / "examples" / "digits" / "digits.yaml"


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


# --------------------------------------------------------------------------- the factors

def test_energy_rank_is_the_smallest_rank_keeping_the_share():
    s = np.sqrt(np.array([50.0, 30.0, 15.0, 4.0, 1.0]))     # energies sum to 100
    assert energy_rank(s, 0.5) == 1
    assert energy_rank(s, 0.8) == 2
    assert energy_rank(s, 0.95) == 3
    assert energy_rank(s, 0.99) == 4
    assert energy_rank(s, 0.999) == 5
    assert energy_rank(np.zeros(3), 0.99) == 1


def test_pays_needs_fewer_weights():
    assert pays(8, 128, 64)
    assert not pays(43, 128, 64)             # 43 * 192 = 8256 > 8192
    assert not pays(64, 128, 64)


def test_an_exactly_low_rank_matrix_is_rebuilt_closely():
    rng = np.random.default_rng(0)
    w = rng.integers(-3, 4, (24, 3)) @ rng.integers(-3, 4, (3, 40))      # rank 3
    f = factorise(w, DataType["INT8"], DataType["INT4"], None, rank=3, bits=8)
    approx = f.beta * (f.second @ f.first)
    assert np.linalg.norm(approx - w) / np.linalg.norm(w) < 0.02
    assert f.energy == pytest.approx(1.0)
    assert f.first.shape == (3, 40) and f.second.shape == (24, 3)
    assert np.abs(f.first).max() == 127 and np.abs(f.second).max() == 127
    assert f.weight_dtype.name == "INT8"


def test_xnor_thresholds_move_to_the_signed_domain_and_scale():
    rng = np.random.default_rng(1)
    w = rng.choice([-1, 1], (16, 32))
    th = Thresholds(values=np.arange(16).reshape(16, 1) + 8, out_dtype=DataType["BIPOLAR"], out_scale=2,
                    out_bias=-1)
    f = factorise(w, DataType["BIPOLAR"], DataType["BIPOLAR"], th, rank=4, bits=6)
    want = np.ceil((2 * th.values - 32) / f.beta - 1e-9)
    assert np.array_equal(f.thresholds.values, want)
    assert f.thresholds.out_dtype.name == "BIPOLAR" and f.thresholds.out_bias == -1


def test_bits_auto_narrows_until_the_intermediate_fits_16_bits():
    w = np.random.default_rng(2).integers(-128, 128, (64, 256))
    f = factorise(w, DataType["INT8"], DataType["UINT4"], None, rank=8)
    assert f.mid_dtype.bitwidth() <= 16 and f.weight_dtype.bitwidth() < 8
    with pytest.raises(ModelError, match=r"needs INT(1[7-9]|2\d), wider than the 16 bits"):
        factorise(w, DataType["INT8"], DataType["UINT4"], None, rank=8, bits=f.weight_dtype.bitwidth() + 1)


def test_an_intermediate_wider_than_16_bits_is_refused():
    w = np.full((8, 4096), 7)
    w[0, 0] = -7
    with pytest.raises(ModelError, match=r"^L: the intermediate accumulator of rank-2 INT8 factors needs INT\d+, "
                                         r"wider than the 16 bits the second layer multiplies; use fewer --bits "
                                         r"or a lower rank$"):
        factorise(w, DataType["INT4"], DataType["UINT8"], None, rank=2, bits=8, where="L")


@pytest.mark.parametrize("rank", [0, -1, 64, 100])
def test_bad_ranks_are_refused(rank):
    w = np.ones((64, 128), dtype=np.int64)
    with pytest.raises(OptionError, match=r"^L: (rank \d+ must be less than min\(out_features, in_features\) = 64 "
                                          r"\(matrix 64x128\)|--low-rank must be a positive integer or 'auto', "
                                          r"not -?\d+)$"):
        factorise(w, DataType["INT2"], DataType["INT2"], None, rank=rank, where="L")


# --------------------------------------------------------------------------- the description

def test_digits_dense_pair_computes_the_factor_chain_exactly(tmp_path):
    res = compress(DIGITS, tmp_path / "lr.yaml", rank=12, layers=("fc0", "fc1"), bits=6)
    assert [(r.name, r.rank, r.bits) for r in res] == [("fc0", 12, 6), ("fc1", 12, 6)]
    data = yaml.safe_load((tmp_path / "lr.yaml").read_text())
    assert [(s["name"], s["op"]) for s in data["layers"]] == [
        ("fc0_lr", "dense"), ("fc0", "dense"), ("fc1_lr", "dense"), ("fc1", "dense"), ("fc2", "dense")]
    assert data["arrays"] == "lr.npz"
    z = np.load(tmp_path / "lr.npz")
    assert "fc0_w" not in z.files and "fc1_w" not in z.files and "fc2_w" in z.files
    x = np.random.default_rng(3).choice([-1, 1], (50, 64))
    h = x
    for k in range(2):
        a = h @ z[f"fc{k}_lr_a"].astype(np.int64).T
        acc = a @ z[f"fc{k}_lr_b"].astype(np.int64).T
        h = np.where(acc >= z[f"fc{k}_lr_t"][:, 0], 1, -1)
    want = (h @ z["fc2_w"].astype(np.int64).T + 128) // 2
    graph = load_model(tmp_path / "lr.yaml", BuildOptions())
    got = run_graph(graph, x.reshape(50, 1, 1, 64)).reshape(50, -1)
    assert np.array_equal(got, want)
    mid = graph.node("fc1_lr")
    assert mid.thresholds is None and graph.node("fc1").in_dtype.bitwidth() > 8


def _im2col(x: np.ndarray, k: int, pad: int) -> np.ndarray:
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(1, 2))   # N, OH, OW, C, KH, KW
    return win.transpose(0, 1, 2, 4, 5, 3).reshape(*win.shape[:3], -1)         # (kh, kw, c) order


def _conv_net(tmp_path: Path) -> Path:
    rng = np.random.default_rng(4)
    arrays = {"w": rng.integers(-7, 8, (12, 3, 3, 8)), "t": np.sort(rng.integers(-60, 60, (12, 3)), axis=1),
              "fw": rng.integers(-1, 2, (5, 4 * 4 * 12)),
              "dw": rng.integers(-1, 2, (8, 3, 3, 1))}
    np.savez(tmp_path / "net.npz", **arrays)
    (tmp_path / "net.yaml").write_text(
        "name: convnet\ninput: {shape: [4, 4, 8], dtype: UINT2}\narrays: net.npz\nlayers:\n"
        "  - {name: dw, op: depthwise, weights: dw, weight_dtype: TERNARY, pad: 1}\n"
        "  - {name: c1, op: conv, weights: w, weight_dtype: INT4, pad: 1, thresholds: t, out_dtype: UINT2, pe: 4}\n"
        "  - {name: flat, op: reshape, shape: [192]}\n"
        "  - {name: fc, op: dense, weights: fw, weight_dtype: TERNARY}\n")
    return tmp_path / "net.yaml"


def test_conv_becomes_kxk_to_r_then_1x1_to_c_out_exactly(tmp_path):
    net = _conv_net(tmp_path)
    compress(net, tmp_path / "lr.yaml", rank=3, layers=("c1",))
    data = yaml.safe_load((tmp_path / "lr.yaml").read_text())
    first, second = data["layers"][1:3]
    assert first == {"name": "c1_lr", "op": "conv", "weights": "c1_lr_a", "weight_dtype": first["weight_dtype"],
                     "pad": 1}
    assert second["op"] == "dense" and second["name"] == "c1" and second["thresholds"] == "c1_lr_t"
    z = np.load(tmp_path / "lr.npz")
    assert z["c1_lr_a"].shape == (3, 3, 3, 8) and z["c1_lr_b"].shape == (12, 3)
    graph = load_model(tmp_path / "lr.yaml", BuildOptions())
    x = np.random.default_rng(5).integers(0, 4, (20, 4, 4, 8))
    dw = run_graph(graph, x, upto=1)     # the unchanged depthwise layer
    a = _im2col(dw, 3, 1) @ z["c1_lr_a"].reshape(3, -1).astype(np.int64).T
    acc = a @ z["c1_lr_b"].astype(np.int64).T
    y = (acc[..., None] >= z["c1_lr_t"][None, None, None]).sum(-1)
    want = y.reshape(20, -1) @ z["fw"].astype(np.int64).T
    assert np.array_equal(run_graph(graph, x).reshape(20, -1), want)


def test_auto_keeps_layers_where_the_rank_saves_nothing(capsys, tmp_path):
    res = compress(DIGITS, tmp_path / "a.yaml", rank="auto", energy=0.93)
    by = {r.name: r for r in res}
    assert by["fc0"].rank is None and by["fc0"].note == "kept: rank 44 for 0.93 of the energy saves nothing"
    assert by["fc1"].rank is None and by["fc1"].note == "kept: rank 64 for 0.93 of the energy saves nothing"
    assert by["fc2"].rank == 9 and by["fc2"].energy >= 0.93 and by["fc2"].macs_after == 9 * 138
    assert [s["name"] for s in yaml.safe_load((tmp_path / "a.yaml").read_text())["layers"]] == [
        "fc0", "fc1", "fc2_lr", "fc2"]
    code, _, err = run_cli(capsys, "compress", DIGITS, "--low-rank", "auto", "--energy", "0.95",
                           "-o", tmp_path / "b.yaml")
    assert code == 2 and re.fullmatch(r"bitsmith: error: .*digits\.yaml: no layer was factorised \(every rank "
                                      r"kept 0\.95 of the energy only without saving weights\); give a rank, or "
                                      r"a lower --energy\n", err)


# --------------------------------------------------------------------------- the command line

def test_cli_writes_and_replaces_only_its_own_output(capsys, tmp_path):
    out = tmp_path / "new.yaml"
    code, text, err = run_cli(capsys, "compress", DIGITS, "--low-rank", "16", "--layers", "fc0,fc1", "-o", out)
    assert code == 0 and err == ""
    assert re.search(r"^fc0: dense 128x64 -> rank 16 \(\d+\.\d\d % of the energy\), INT8 factors, intermediate "
                     r"INT\d+, MACs/frame 8,192 -> 3,072$", text, re.M)
    assert text.splitlines()[-1] == f"wrote {out}: factorised layers 24,576 -> 7,168 MACs/frame"
    code, _, err = run_cli(capsys, "compress", DIGITS, "--low-rank", "8", "--layers", "fc0", "-o", out)
    assert code == 0, err                              # an earlier result: replaced
    assert yaml.safe_load(out.read_text())["layers"][2]["name"] == "fc1"


@pytest.mark.parametrize("argv, message", [
    (["--low-rank", "0"], r"argument --low-rank: must be a positive integer or 'auto', not '0'"),
    (["--low-rank", "x"], r"argument --low-rank: must be a positive integer or 'auto', not 'x'"),
    (["--low-rank", "64"], r"digits\.yaml: layer 'fc0': rank 64 must be less than min\(out_features, "
                           r"in_features\) = 64 \(matrix 128x64\)"),
    (["--low-rank", "4", "--layers", "fc9"], r"--layers: digits\.yaml has no layer 'fc9' \(its matrix layers: "
                                             r"fc0, fc1, fc2\)"),
    (["--low-rank", "4", "--energy", "1"], r"argument --energy: must be a number between 0 and 1 \(exclusive\), "
                                           r"not '1'"),
    (["--low-rank", "4", "--bits", "9"], r"argument --bits: must be an integer in 2\.\.8, not '9'"),
])
def test_cli_bad_options_are_one_line_exit_2(capsys, tmp_path, argv, message):
    code, _, err = run_cli(capsys, "compress", DIGITS, *argv, "-o", tmp_path / "n.yaml")
    assert code == 2
    assert re.fullmatch(rf"bitsmith: error: (.*: )?{message}\n", err), err
    assert not (tmp_path / "n.yaml").exists() and not (tmp_path / "n.npz").exists()


def test_cli_refuses_to_overwrite_a_users_files(capsys, tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("my notes\n")
    code, _, err = run_cli(capsys, "compress", DIGITS, "--low-rank", "4", "--layers", "fc0", "-o", mine)
    assert code == 2 and re.fullmatch(r"bitsmith: error: -o .*mine\.yaml exists and does not hold an earlier "
                                      r"result of this kind; refusing to overwrite it\n", err)
    assert mine.read_text() == "my notes\n"
    np.savez(tmp_path / "arr.npz", x=np.ones(2))
    code, _, err = run_cli(capsys, "compress", DIGITS, "--low-rank", "4", "--layers", "fc0",
                           "-o", tmp_path / "arr.yaml")
    assert code == 2 and re.fullmatch(r"bitsmith: error: -o \(arrays\) .*arr\.npz exists and does not hold an "
                                      r"earlier result of this kind; refusing to overwrite it\n", err)
    assert not (tmp_path / "arr.yaml").exists()
    code, _, err = run_cli(capsys, "compress", DIGITS, "--low-rank", "4", "-o", tmp_path / "n.onnx")
    assert code == 2 and err.startswith("bitsmith: error: -o ") and "give a name ending in .yaml or .yml" in err


def test_cli_refuses_the_models_own_files(capsys, tmp_path):
    net = _conv_net(tmp_path)
    (tmp_path / "lr.yaml").write_text("")       # so only the protection can refuse
    for out in (net, tmp_path / "net.yml"):
        code, _, err = run_cli(capsys, "compress", net, "--low-rank", "2", "--layers", "c1", "-o", out)
        assert code == 2, err
        assert re.fullmatch(r"bitsmith: error: -o( \(arrays\))? .*net\.(yaml|npz) is also an input of this "
                            r"command; refusing to overwrite it\n", err), err


def test_cli_refuses_layers_it_cannot_factorise(capsys, tmp_path):
    net = _conv_net(tmp_path)
    code, _, err = run_cli(capsys, "compress", net, "--low-rank", "2", "--layers", "dw", "-o", tmp_path / "o.yaml")
    assert code == 2 and err == ("bitsmith: error: --layers: layer 'dw' is a 'depthwise' layer; compress "
                                 "factorises dense, conv, conv1d layers\n")
    code, _, err = run_cli(capsys, "compress", net, "--low-rank", "2", "--layers", "flat", "-o", tmp_path / "o.yaml")
    assert code == 2 and err == ("bitsmith: error: --layers: layer 'flat' is a 'reshape' layer; compress "
                                 "factorises dense, conv, conv1d layers\n")


def test_a_thresholdless_layer_feeding_another_layer_is_refused(capsys, tmp_path):
    rng = np.random.default_rng(6)
    np.savez(tmp_path / "m.npz", a=rng.integers(-3, 4, (16, 16)), b=rng.integers(-3, 4, (4, 16)))
    (tmp_path / "m.yaml").write_text(
        "input: {shape: [16], dtype: INT4}\narrays: m.npz\nlayers:\n"
        "  - {name: a, op: dense, weights: a, weight_dtype: INT4}\n"
        "  - {name: b, op: dense, weights: b, weight_dtype: INT4}\n")
    code, _, err = run_cli(capsys, "compress", tmp_path / "m.yaml", "--low-rank", "2", "--layers", "a",
                           "-o", tmp_path / "o.yaml")
    assert code == 2 and err == ("bitsmith: error: --layers: layer 'a' cannot be factorised: it has no thresholds "
                                 "and feeds 'b': the factorised layer's accumulator is rescaled, which only the "
                                 "network output or a topk may see\n")


# --------------------------------------------------------------------------- hardware

@pytest.mark.verilator
@pytest.mark.parametrize("which", ["digits", "conv"])
def test_factorised_rtl_equals_golden(tmp_path, which):
    from bitsmith import api
    if which == "digits":
        compress(DIGITS, tmp_path / "lr.yaml", rank=16, layers=("fc0", "fc1"))
        x = np.random.default_rng(7).choice([-1, 1], (30, 64))
    else:
        compress(_conv_net(tmp_path), tmp_path / "lr.yaml", rank=3, layers=("c1", "fc"), bits=4)
        x = np.random.default_rng(8).integers(0, 4, (12, 4, 4, 8))
    res = api.verify(tmp_path / "lr.yaml", x, out_dir=tmp_path / "out", idle="random", backpressure="random")
    assert res.passed and res.mismatches == 0
    steady = api.verify(tmp_path / "lr.yaml", x, out_dir=tmp_path / "out2")
    assert steady.cycles_per_frame == steady.ideal_cycles_per_frame


# --------------------------------------------------------------------------- the example

@pytest.mark.parametrize("rank, floor", [(8, 0.89), (16, 0.92), (32, 0.92)])
def test_the_fine_tuned_example_networks(rank, floor):
    from bitsmith.generator.examples.digits.train import load_split
    from bitsmith.generator.examples.digits_lowrank.train import model_path
    graph = load_model(model_path(rank), BuildOptions())
    for layer, cols in (("fc0", 64), ("fc1", 128)):
        first, second = graph.node(f"{layer}_lr"), graph.node(layer)
        assert first.weights.shape == (rank, cols) and second.weights.shape == (128, rank)
        assert first.weight_dtype.name == second.weight_dtype.name == "INT4"
        assert first.thresholds is None and second.in_dtype == first.out_dtype
        assert second.in_dtype.bitwidth() > 8                     # the wide raw accumulator
    _, x_te, _, y_te = load_split()
    labels = run_graph(graph, x_te.reshape(-1, 1, 1, 64)).reshape(len(x_te), -1).argmax(axis=1)
    assert (labels == y_te).mean() >= floor


# --------------------------------------------------------------------------- ONNX

JET = dict(input_dtype=DataType["INT16"], input_scale=1 / 1024)


def _golden_vs_qonnx(path: Path, x: np.ndarray, **opts) -> tuple[list[str], object]:
    from bitsmith.generator.frontend.qonnx import compare_with_reference, load_onnx
    from bitsmith.generator.ir.host import run_stages
    graph = load_onnx(path, **opts)
    golden = run_graph(graph, run_stages(graph.host_pre, x))
    return compare_with_reference(graph, path, x, golden), graph


def test_onnx_matmuls_factorise_and_golden_equals_qonnx(capsys, tmp_path):
    from bitsmith.generator.examples.zoo import jet_tagger
    import onnx
    src = jet_tagger(tmp_path / "jet.onnx")
    out = tmp_path / "jet_lr.onnx"
    code, text, err = run_cli(capsys, "compress", src, "--low-rank", "6", "--layers", "MatMul_1,MatMul_2",
                              "--input-dtype", "INT16", "--input-scale", "1/1024",
                              "-o", out)
    assert code == 0, err
    assert re.search(r"^MatMul_1: MatMul 32x64 -> rank 6 \(\d+\.\d\d % of the energy\), INT\d factors, "
                     r"intermediate INT\d+, MACs/frame 2,048 -> 576$", text, re.M), text
    model = onnx.load(str(out))
    names = [n.name for n in model.graph.node]
    assert names.index("MatMul_1_lr") < names.index("MatMul_1") and "MatMul_2_lr" in names
    assert [p.key for p in model.metadata_props] == ["bitsmith_compress"]
    x = np.random.default_rng(0).integers(-4096, 4096, (40, 16)).astype(np.float32)
    problems, graph = _golden_vs_qonnx(out, x, **JET)
    assert problems == []
    mids = [n for n in graph.nodes if isinstance(n, type(graph.nodes[0])) and n.thresholds is None]
    assert len(mids) >= 2 and all(8 < n.out_dtype.bitwidth() <= 16 for n in mids[:2])
    # a second run replaces its own output; a user's file, a native name and a bad node are refused
    assert run_cli(capsys, "compress", src, "--low-rank", "4", "--layers", "MatMul_1", "-o", out)[0] == 0
    code, _, err = run_cli(capsys, "compress", src, "--low-rank", "4", "-o", src)
    assert code == 2 and err.endswith("is also an input of this command; refusing to overwrite it\n")
    code, _, err = run_cli(capsys, "compress", src, "--low-rank", "4", "-o", tmp_path / "x.yaml")
    assert code == 2 and err.endswith("an ONNX model compresses to a QONNX model: give a name ending in .onnx\n")
    code, _, err = run_cli(capsys, "compress", src, "--low-rank", "4", "--layers", "Conv_9", "-o", tmp_path / "y.onnx")
    assert code == 2 and re.fullmatch(r"bitsmith: error: --layers: jet\.onnx has no MatMul, Gemm or Conv node "
                                      r"'Conv_9' \(named OpType_N in node order; its matrix nodes: MatMul_0, "
                                      r"MatMul_1, MatMul_2, MatMul_3\)\n", err)
    other = tmp_path / "other.onnx"
    other.write_bytes(src.read_bytes())
    code, _, err = run_cli(capsys, "compress", src, "--low-rank", "4", "--layers", "MatMul_1", "-o", other)
    assert code == 2 and "exists and does not hold an earlier result of this kind" in err


@pytest.mark.train
@pytest.mark.verilator
def test_onnx_squeezenet_factorised_rtl_equals_golden_equals_qonnx(tmp_path):
    from bitsmith import api
    from bitsmith.generator.examples import zoo
    from bitsmith.generator.examples.zoo_cache import cached_export
    out = tmp_path / "sq_lr.onnx"
    res = compress(cached_export("squeezenet"), out, rank="auto", energy=0.9)
    done = [r for r in res if r.rank]
    assert {r.name for r in done} >= {"Conv_0", "Conv_3", "Conv_7"}
    assert all(int(r.mid_dtype[3:]) <= 16 for r in done)
    x = zoo.inputs("squeezenet", 12)
    problems, graph = _golden_vs_qonnx(out, x, topk=None)
    assert problems == []
    assert graph.node("Conv1").in_dtype.bitwidth() > 8          # Conv_0's second factor: the raw accumulator
    v = api.verify(out, x, BuildOptions(topk=1, target_cycles=20000), out_dir=tmp_path / "build")
    assert (v.mismatches, v.reference_mismatches, v.protocol_errors) == (0, 0, 0), v.details[:3]
    assert v.cycles_per_frame == v.ideal_cycles_per_frame


def test_explicit_foldings_pass_their_cycles_to_the_factors(tmp_path):
    from bitsmith.generator.build import prepare
    from bitsmith.generator.estimate import graph_cycles
    from bitsmith.generator.lowrank.native import cheapest_folding
    assert cheapest_folding(16, 64, 16) == {"pe": 1, "simd": 64}
    assert cheapest_folding(128, 16, 16) == {"pe": 8, "simd": 16}
    assert cheapest_folding(12, 10, 7) == {"pe": 2, "simd": 10}       # 20 lanes, tied with 4x5: more SIMD
    compress(DIGITS, tmp_path / "lr.yaml", rank=16, layers=("fc0", "fc1"), bits=4)
    by = {s["name"]: s for s in yaml.safe_load((tmp_path / "lr.yaml").read_text())["layers"]}
    assert (by["fc0_lr"]["pe"], by["fc0_lr"]["simd"], by["fc0"]["pe"], by["fc0"]["simd"]) == (1, 64, 8, 16)
    assert (by["fc1_lr"]["pe"], by["fc1_lr"]["simd"], by["fc1"]["pe"], by["fc1"]["simd"]) == (1, 128, 8, 16)
    before = prepare(load_model(DIGITS, BuildOptions()), BuildOptions())
    after = prepare(load_model(tmp_path / "lr.yaml", BuildOptions()), BuildOptions())
    assert graph_cycles(after) == graph_cycles(before) == 16
