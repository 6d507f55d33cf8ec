"""The bundled digits conv net: accuracy, golden == independent integer forward,
RTL == golden on the whole test split at the folding bound, and the demo's menu."""

from __future__ import annotations

import numpy as np
import pytest

from bitsmith.generator.build import BuildOptions, layer_rows, load_model, prepare, write_bundle
from bitsmith.generator.cli import main
from bitsmith.generator.commands.demo import EXAMPLES, default_out, example_module, layer_line
from bitsmith.generator.estimate import graph_cycles, node_cycles
from bitsmith.generator.examples.digits_cnn.train import MODEL, integer_forward, load_split, quantize_pixels
from bitsmith.generator.ir.conv import Conv, MaxPool
from bitsmith.sim.golden import run_graph

# The example's folding, by the formulas of docs/CONV.md (SWU max(H*W, OH*OW*KH*KW)*C/SIMD;
# conv OH*OW*(OC/PE)*(KH*KW*IC/SIMD); dense (MH/PE)*(MW/SIMD); label select C/PE, or 2*C
# for K = PE = 1, the running maximum that compares and updates in separate cycles).
EXPECTED_CYCLES = {
    "c0": max(8 * 8 * 9 * 1 // 1, 8 * 8 * (16 // 16) * (9 * 1 // 1)),      # 576
    "p0": max(8 * 8, 4 * 4 * 4) * 16 // 4,                                   # 256
    "c1": max(4 * 4 * 9 * 16 // 16, 4 * 4 * (32 // 8) * (9 * 16 // 16)),    # 576
    "p1": max(4 * 4, 2 * 2 * 4) * 32 // 2,                                   # 256
    "flat": 0,
    "fc": (10 // 1) * (128 // 4),                                            # 320
    "topk": 2 * 10,
}


def graph(target_cycles: int | None = None):
    opts = BuildOptions(topk=1, target_cycles=target_cycles)
    return prepare(load_model(MODEL, opts), opts)


def test_split_is_the_mlps_split_in_uint2():
    from bitsmith.generator.examples.digits.train import load_split as mlp_split
    x_tr, x_te, y_tr, y_te = load_split()
    assert x_tr.shape == (1437, 8, 8, 1) and x_te.shape == (360, 8, 8, 1)
    assert x_te.min() == 0 and x_te.max() == 3 and np.issubdtype(x_te.dtype, np.integer)
    assert np.array_equal(y_te, mlp_split()[3]) and np.array_equal(y_tr, mlp_split()[2])
    assert quantize_pixels(np.arange(17)).tolist() == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 5


def test_golden_labels_equal_the_independent_integer_forward_and_reach_90_percent():
    _, x, _, y = load_split()
    labels = run_graph(graph(), x)[:, 0, 0, 0]
    arrays = dict(np.load(MODEL.with_suffix(".npz")))
    expected = integer_forward(arrays, x)
    bad = np.flatnonzero(labels != expected)
    assert bad.size == 0, f"frame {bad[0]}: expected label {expected[bad[0]]}, golden gave {labels[bad[0]]}"
    assert np.mean(labels == y) >= 0.90


def test_topology_and_folding_bound():
    g = graph()
    assert [type(n) for n in g.nodes[:4]] == [Conv, MaxPool, Conv, MaxPool]
    assert [tuple(n.out_shape) for n in g.nodes] == [(8, 8, 16), (4, 4, 16), (4, 4, 32), (2, 2, 32),
                                                      (1, 1, 128), (1, 1, 10), (1, 1, 1)]
    assert g.in_dtype.name == "UINT2" and g.nodes[0].padding == (1, 1, 1, 1)
    assert {n.name: node_cycles(n) for n in g.nodes} == EXPECTED_CYCLES
    assert graph_cycles(g) == max(EXPECTED_CYCLES.values()) == 576


@pytest.mark.train
def test_exported_thresholds_reproduce_the_trained_activation():
    """Batch norm + floor(z + 1/2) clipped to 0..3 == the integer multi-threshold, every accumulator."""
    torch = pytest.importorskip("torch")
    from bitsmith.generator.examples.digits_cnn.train import _thresholds

    rng = np.random.default_rng(5)
    bn = torch.nn.BatchNorm2d(6)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([0.7, -0.4, 0.0, 0.0, 2.5, -3.0]))
        bn.bias.copy_(torch.tensor([0.3, 1.1, 0.6, 2.9, -4.0, 1.4]))
        bn.running_mean.copy_(torch.tensor([1.0, -2.5, 0.0, 3.0, 0.2, 7.0]))
        bn.running_var.copy_(torch.tensor([4.0, 9.0, 1.0, 1.0, 0.5, 2.0]))
    w = rng.integers(-1, 2, size=(6, 3, 3, 2))
    w_out, t = _thresholds(w, bn)
    assert np.all(np.diff(t, axis=1) >= 0)
    acc = np.arange(-3 * 18, 3 * 18 + 1)
    a = bn.weight.detach().double().numpy() / np.sqrt(bn.running_var.double().numpy() + bn.eps)
    b = bn.bias.detach().double().numpy() - a * bn.running_mean.double().numpy()
    for c in range(6):
        flip = -1 if a[c] < 0 else 1
        assert np.array_equal(w_out[c], flip * w[c])
        trained = np.floor(np.clip(a[c] * acc + b[c], 0, 3) + 0.5)       # acc of the original weights
        integer = (flip * acc[:, None] >= t[c]).sum(axis=1)               # acc of the exported weights
        assert np.array_equal(trained, integer), f"channel {c}"


def test_demo_menu():
    assert list(EXAMPLES) == ["digits", "digits_cnn"]
    assert example_module("digits_cnn").MODEL == MODEL
    assert default_out("digits") == "bitsmith-demo"
    assert default_out("digits_cnn") == "bitsmith-demo-digits_cnn"
    with pytest.raises(ValueError, match=r"^example must be one of digits, digits_cnn, not 'cnv'$"):
        example_module("cnv")
    rows = {r["name"]: r for r in layer_rows(graph())}
    assert layer_line(rows["c0"]) == "  c0: 8x8x1->8x8x16 PE=16 SIMD=1 cycles=576"
    assert layer_line(rows["p1"]) == "  p1: 4x4x32->2x2x32 PE=2 SIMD=- cycles=256"
    assert layer_line(rows["fc"]) == "  fc: 128->10 PE=1 SIMD=4 cycles=320"
    assert layer_line(rows["topk"]) == "  topk: -> PE=1 SIMD=- cycles=20"


def test_unknown_example_is_a_usage_error(capsys):
    assert main(["demo", "--example", "cnv"]) == 2
    assert "invalid choice: 'cnv' (choose from 'digits', 'digits_cnn')" in capsys.readouterr().err


@pytest.mark.verilator
@pytest.mark.parametrize("target", [None, 1152])
def test_rtl_labels_equal_golden_on_the_test_split_at_the_folding_bound(tmp_path, target):
    from bitsmith.generator.execute import run_verilator

    _, x, _, _ = load_split()
    g = graph(target)
    built = write_bundle(g, tmp_path / "out")
    rtl = run_verilator(built.out_dir, built.io, x)
    golden = run_graph(g, x)
    assert rtl.protocol_errors == 0
    bad = np.argwhere(rtl.outputs != golden)
    assert bad.size == 0, (f"frame {bad[0][0]}: expected label {golden[tuple(bad[0])]}, "
                           f"RTL gave {rtl.outputs[tuple(bad[0])]}")
    assert (rtl.cycles_per_frame, rtl.mean_cycles_per_frame, rtl.longest_frame_gap) == \
        (graph_cycles(g),) * 3
    assert graph_cycles(g) == (576 if target is None else target)


@pytest.mark.verilator
def test_demo_command_runs_the_cnn(tmp_path, capsys):
    assert main(["demo", "--example", "digits_cnn", "-o", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "bitsmith demo: digits_cnn (360 test images)" in out
    assert "RTL labels == golden labels" in out and "yes, every frame" in out
    assert "  c1: 4x4x16->4x4x32 PE=8 SIMD=16 cycles=576" in out
    assert (tmp_path / "demo" / "report.md").exists()
