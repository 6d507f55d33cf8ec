"""The exact structured-pruning pass: constant channels go, outputs stay bit for bit."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator.build import BuildOptions, load_model, prepare
from bitsmith.generator.estimate import graph_cycles
from bitsmith.generator.ir import Thresholds
from bitsmith.generator.passes import run_pipeline
from bitsmith.generator.passes.insert_forks import InsertForks
from bitsmith.generator.passes.prune_channels import PruneChannels, constant_channels
from bitsmith.sim.golden import run_graph
from tests.generator.branching_nets import write_net

DIGITS_CNN = Path(__file__).parents[3] / "generator" / "examples" / "digits_cnn" / "digits_cnn.yaml"
BIG = 10 ** 6


def with_constant(graph, layer: str, channel: int, value: int, *, zero_filter: bool = False):
    """``graph`` with ``layer``'s output ``channel`` made constant: ``value`` of its
    thresholds below every accumulator, the rest above (output ``out_scale*value +
    out_bias``); ``zero_filter`` zeroes its weights too."""
    nodes = list(graph.nodes)
    i = [n.name for n in nodes].index(layer)
    node = nodes[i]
    rows = node.weights.shape[0] if hasattr(node, "weights") else node.in_shape[2]
    t = node.thresholds.per_channel(rows).copy()
    t[channel] = [-BIG] * value + [BIG] * (t.shape[1] - value)
    th = node.thresholds
    changes = {"thresholds": Thresholds(t, th.out_dtype, out_scale=th.out_scale, out_bias=th.out_bias)}
    if zero_filter:
        w = node.weights.copy()
        w[channel] = 0
        changes["weights"] = w
    nodes[i] = node.replace(**changes)
    return graph.replace(nodes=tuple(nodes))


def inputs(graph, frames=300, seed=1):
    dt = graph.in_dtype
    rng = np.random.default_rng(seed)
    return rng.integers(int(dt.min()), int(dt.max()), size=(frames,) + tuple(graph.in_shape), endpoint=True)


def check_pruned(before, **kw):
    """Prune ``before`` and check every output against the unpruned golden model."""
    after = run_pipeline(before, (PruneChannels(**kw),))
    x = inputs(before)
    want, got = run_graph(before, x), run_graph(after, x)
    assert want.shape == got.shape
    bad = np.argwhere(want != got)
    assert not len(bad), f"frame {bad[0][0]}: expected {want[tuple(bad[0])]}, got {got[tuple(bad[0])]}"
    return after


def rows(graph) -> dict:
    return {r[0]: r for r in graph.pruning}


def shapes(graph) -> dict:
    return {n.name: tuple(n.out_shape) for n in graph.nodes}


@pytest.fixture(scope="module")
def digits():
    return load_model(DIGITS_CNN, BuildOptions())


# --------------------------------------------------------------------------- chains

def test_a_network_without_constant_channels_is_returned_unchanged(digits):
    assert not any(constant_channels(digits).values())
    assert run_pipeline(digits, (PruneChannels(),)) is digits


def test_zero_filter_and_dead_thresholds_are_removed_across_pool_and_flatten(digits):
    g = with_constant(digits, "c0", 3, 0, zero_filter=True)
    g = with_constant(g, "c0", 9, 2)             # constant 2 into c1: padded, so it stays
    g = with_constant(g, "c1", 5, 0)
    g = with_constant(g, "c1", 30, 0)
    after = check_pruned(g)
    s = shapes(after)
    assert s["c0"] == (8, 8, 15) and s["p0"] == (4, 4, 15)
    assert s["c1"] == (4, 4, 30) and s["p1"] == (2, 2, 30) and s["flat"] == (1, 1, 120)
    assert after.node("fc").weights.shape == (10, 120)
    r = rows(after)
    assert r["c0"][2:7] == (1, 1, 16, 15, "3=0")
    assert re.fullmatch(r"^9: constant 2 into the zero-padded convolution 'c1'$", r["c0"][7])
    assert r["flat"][6] == "5=0, 30=0, 37=0, 62=0, 69=0, 94=0, 101=0, 126=0"


def test_a_nonzero_constant_into_an_unpadded_layer_moves_into_its_thresholds(digits):
    """p1's constant 3 reaches fc through the flatten; fc without thresholds has no bias,
    so it stays there; a thresholded dense head absorbs it."""
    g = with_constant(digits, "c1", 7, 3)
    after = check_pruned(g)
    assert shapes(after)["c1"] == (4, 4, 32)
    assert re.fullmatch(r"^7: constant 3 into the raw accumulator of 'fc' "
                        r"\(no thresholds to absorb it\)$", rows(after)["c1"][7])
    fc = g.node("fc")
    acc = run_graph(g, inputs(g), upto=len(g.nodes))
    t = np.sort(np.random.default_rng(0).integers(acc.min(), acc.max() + 1, size=(10, 3)), axis=1)
    head = fc.replace(thresholds=Thresholds(t, DataType["UINT2"]))
    g2 = g.replace(nodes=g.nodes[:-1] + (head,))
    after = check_pruned(g2)
    assert shapes(after)["c1"] == (4, 4, 31)
    assert after.node("fc").weights.shape == (10, 124)
    assert not np.array_equal(after.node("fc").thresholds.values, t)     # the constant moved in


def test_a_graph_output_channel_is_never_removed(digits):
    fc = digits.node("fc")
    w = fc.weights.copy()
    w[4] = 0
    g = digits.replace(nodes=digits.nodes[:-1] + (fc.replace(weights=w),))
    after = check_pruned(g)
    assert shapes(after)["fc"] == (1, 1, 10)
    assert rows(after)["fc"][7] == "4: a graph output"


def test_a_tensor_keeps_its_last_channel(digits):
    g = digits
    for c in range(16):
        g = with_constant(g, "c0", c, 0)
    after = check_pruned(g)
    assert shapes(after)["c0"] == (8, 8, 1)
    assert after.node("c1").weights.shape[3] == 1
    assert rows(after)["c0"][7] == "0: the last channel of its tensor"
    # c1 sees only zeros now: all its outputs are constant; the zeros go (cascade), the
    # non-zero ones stay for fc's raw accumulator
    c1 = constant_channels(g)["c1"]
    assert len(c1) == 32
    assert after.node("c1").out_channels == sum(1 for k in c1.values() if k)


def test_pruned_layers_are_refolded_to_the_unpruned_bottleneck(digits):
    g = digits
    for c in range(0, 32, 2):
        g = with_constant(g, "c1", c, 0)
    after = check_pruned(g)
    c1 = after.node("c1")
    assert c1.out_channels == 16
    assert graph_cycles(after) <= graph_cycles(digits)
    assert c1.pe * c1.simd < g.node("c1").pe * g.node("c1").simd


def test_prune_option_runs_the_pass_in_the_build_pipeline(digits, tmp_path):
    g = with_constant(digits, "c1", 5, 0)
    plain = prepare(g, BuildOptions())
    pruned = prepare(g, BuildOptions(prune="constant"))
    assert plain.node("c1").out_channels == 32 and pruned.node("c1").out_channels == 31
    assert pruned.pruning and not plain.pruning


@pytest.mark.parametrize("seed", range(12))
def test_random_constant_channels_prune_exactly(digits, seed):
    """Random sets of constant channels of every value, in both conv layers."""
    rng = np.random.default_rng(seed)
    g = digits
    for layer, channels in (("c0", 16), ("c1", 32)):
        for c in rng.choice(channels, size=rng.integers(1, channels), replace=False):
            g = with_constant(g, layer, int(c), int(rng.integers(0, 4)), zero_filter=bool(rng.integers(2)))
    after = check_pruned(g)
    const = constant_channels(g)
    for r in after.pruning:                      # every constant channel is removed or explained
        layer, removed, kept = r[0], r[6], r[7]
        found = len(const[layer])
        gone = len(removed.split(", ")) if removed else 0
        stay = sum(len(part.split(": ")[0].split(", ")) for part in kept.split("; ")) if kept else 0
        assert found == gone + stay
        assert r[4] - r[5] == gone


# --------------------------------------------------------------------------- branches

def branching(tmp_path, which):
    return load_model(write_net(tmp_path, which), BuildOptions())


def test_fire_module_prunes_through_the_concat(tmp_path):
    g = branching(tmp_path, "fire")
    g = with_constant(g, "e1", 1, 0)
    g = with_constant(g, "e3", 2, 3)
    g = with_constant(g, "squeeze", 0, 0)
    # the concat is the graph output: its channels stay, and so do the expands'
    after = check_pruned(g)
    assert shapes(after)["cat"] == (6, 6, 8)
    assert re.fullmatch(r"^\d, \d: a graph output$", rows(after)["e1"][7])
    # the squeeze's constant 0 goes into both expands (one of them padded: 0 is silent)
    assert shapes(after)["squeeze"] == (6, 6, 1)
    assert after.node("e1").weights.shape[3] == 1 and after.node("e3").weights.shape[3] == 1


def test_a_concat_drops_channels_of_each_input(tmp_path):
    g = branching(tmp_path, "pool_branch")
    # append a 1x1 conv head reading the concat, so the concat is no longer the output
    from bitsmith.generator.ir.conv import Conv
    cat = g.node("cat")
    rng = np.random.default_rng(3)
    w = rng.integers(-2, 2, size=(3, 1, 1, 6))
    t = np.sort(rng.integers(-6, 7, size=(3, 3)), axis=1)
    head = Conv(name="head", in_shape=cat.out_shape, in_dtype=cat.out_dtype, inputs=("cat",), weights=w,
                weight_dtype=DataType["INT2"], thresholds=Thresholds(t, DataType["UINT2"]), pe=1, simd=1)
    g = g.replace(nodes=g.nodes + (head,))
    g = with_constant(g, "ca", 1, 2)
    g = with_constant(g, "cb", 0, 1)
    after = check_pruned(g)
    assert after.node("cat").channels == (3, 1)
    assert after.node("head").weights.shape == (3, 1, 1, 4)
    assert shapes(after)["pa"] == (4, 4, 3)


def test_a_fork_prunes_only_when_every_reader_absorbs(tmp_path):
    g = branching(tmp_path, "fire")
    g = with_constant(g, "squeeze", 1, 2)          # into e1 (1x1, absorbs) and e3 (padded: cannot)
    after = check_pruned(g)
    assert shapes(after)["squeeze"] == (6, 6, 2)
    assert re.fullmatch(r"^1: constant 2 into the zero-padded convolution 'e3'$",
                        rows(after)["squeeze"][7])


def add_net():
    """stem 3x3 -> fork -> (1x1 conv a | 1x1 conv b) -> a + b -> 1x1 head."""
    from bitsmith.generator.ir import Add, Graph
    from bitsmith.generator.ir.conv import Conv
    rng = np.random.default_rng(7)
    u2, i2 = DataType["UINT2"], DataType["INT2"]

    def conv(name, ic, oc, k, src, in_dtype=u2):
        w = rng.integers(-2, 2, size=(oc, k, k, ic))
        t = np.sort(rng.integers(-4, 5, size=(oc, 3)), axis=1)
        return Conv(name=name, in_shape=(6, 6, ic), in_dtype=in_dtype, inputs=(src,), weights=w,
                    weight_dtype=i2, kernel=(k, k), pad=(k // 2,) * 4, thresholds=Thresholds(t, u2),
                    acc_dtype=Conv.minimal_acc_dtype(w, i2, in_dtype), pe=1, simd=1)
    stem = conv("stem", 2, 4, 3, "input")
    a, b = conv("a", 4, 4, 1, "stem"), conv("b", 4, 4, 1, "stem")
    add = Add(name="sum", in_shape=(6, 6, 4), in_dtype=u2, in_dtype_b=u2, inputs=("a", "b"), scale_b=-2)
    head = conv("head", 4, 3, 1, "sum", in_dtype=add.out_dtype)
    return Graph(name="adds", in_shape=(6, 6, 2), in_dtype=u2, nodes=(stem, a, b, add, head))


def test_an_add_prunes_a_channel_constant_on_both_operands_only():
    g = with_constant(with_constant(add_net(), "a", 1, 2), "b", 1, 1)
    g = with_constant(g, "a", 3, 1)
    after = check_pruned(g)
    assert shapes(after)["sum"] == (6, 6, 3)
    assert after.node("head").weights.shape == (3, 1, 1, 3)
    assert rows(after)["a"][6] == "1=2" and rows(after)["b"][6] == "1=1"
    assert re.fullmatch(r"^3: 'sum' channel 3 varies$", rows(after)["a"][7])
    assert rows(after)["sum"][6] == "1=0"                    # 2 + (-2)*1


def test_a_fork_feeds_both_branches_removed_channel(tmp_path):
    g = with_constant(add_net(), "stem", 2, 3)               # into two 1x1 convs: absorbed by both
    after = check_pruned(g)
    assert shapes(after)["stem"] == (6, 6, 3)
    assert after.node("a").weights.shape[3] == 3 == after.node("b").weights.shape[3]
    forked = run_pipeline(g, (InsertForks(),))
    after = check_pruned(forked)                             # with an explicit Fork node
    assert shapes(after)["stem_fork"] == (6, 6, 3)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("which", ["residual", "downsample", "inverted_residual", "fire", "nested",
                                   "pool_branch"])
def test_random_constants_in_branching_nets_prune_exactly(which, seed, tmp_path):
    """Random constant channels (every value) in every thresholded layer of each DAG:
    outputs equal the unpruned golden model's; every constant channel is removed or
    explained; shapes and concat channel counts stay consistent (checked by the pass)."""
    rng = np.random.default_rng(seed)
    g = branching(tmp_path, which)
    for node in g.nodes:
        th = getattr(node, "thresholds", None)
        if th is None or th.values.shape[0] == 1 or th.out_dtype.name != "UINT2":
            continue
        rows_ = th.values.shape[0]
        for c in rng.choice(rows_, size=rng.integers(1, rows_ + 1), replace=False):
            g = with_constant(g, node.name, int(c), int(rng.choice([0, 0, 1, 3])))
    after = check_pruned(g)
    const = constant_channels(g)
    for r in after.pruning:
        found = len(const[r[0]])
        gone = len(r[6].split(", ")) if r[6] else 0
        stay = sum(len(part.split(": ")[0].split(", ")) for part in r[7].split("; ")) if r[7] else 0
        assert found == gone + stay, r


# --------------------------------------------------------------------------- hardware

@pytest.mark.verilator
def test_pruned_rtl_equals_the_unpruned_golden_model(digits, tmp_path):
    from bitsmith.generator.build import read_bundle, write_bundle
    from bitsmith.generator.execute import run_verilator
    g = digits
    for layer, channels in (("c0", (1, 4, 6, 11)), ("c1", (0, 3, 8, 9, 17, 20, 31))):
        for c in channels:
            g = with_constant(g, layer, c, 0, zero_filter=c % 2 == 0)
    pruned = prepare(g, BuildOptions(prune="constant"))
    assert pruned.node("c0").out_channels == 12 and pruned.node("c1").out_channels == 25
    built = write_bundle(pruned, tmp_path / "out")
    x = inputs(g, frames=40, seed=5)
    want = run_graph(g, x)                                   # the UNPRUNED network
    rtl = run_verilator(tmp_path / "out", built.io, x, idle="random", backpressure="random", seed=2)
    assert rtl.protocol_errors == 0
    bad = np.argwhere(rtl.outputs != want)
    assert not len(bad), f"frame {bad[0][0]}: expected {want[tuple(bad[0])]}, got {rtl.outputs[tuple(bad[0])]}"
    steady = run_verilator(tmp_path / "out", built.io, x)
    assert steady.cycles_per_frame == graph_cycles(pruned) == built.report["ideal_cycles_per_frame"]
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## Pruned channels" in md
    assert "| c1 | Conv | 16 → 12 | 32 → 25 | 0=0, 3=0, 8=0, 9=0, 17=0, 20=0, 31=0 |  |" in md
    assert "| c0 | Conv | 1 → 1 | 16 → 12 | 1=0, 4=0, 6=0, 11=0 |  |" in md
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<h2>Pruned channels</h2>" in html and "<td>16 → 12</td>" in html
    back, _ = read_bundle(tmp_path / "out")
    assert back.pruning == pruned.pruning


# --------------------------------------------------------------------------- the slimmed example

DIGITS_SLIM = DIGITS_CNN.parents[1] / "digits_slim" / "digits_slim.yaml"


def test_the_slimmed_example_loses_every_switched_off_channel_and_no_label():
    from bitsmith.generator.examples.digits_cnn.train import load_split
    _, x, _, y = load_split()
    plain = prepare(load_model(DIGITS_SLIM, BuildOptions()), BuildOptions())
    pruned = prepare(load_model(DIGITS_SLIM, BuildOptions()), BuildOptions(prune="constant"))
    assert [pruned.node(n).out_shape[2] for n in ("c0", "c1", "fc")] == [10, 20, 10]
    assert pruned.node("fc").in_features == 80
    want, got = run_graph(plain, x), run_graph(pruned, x)
    np.testing.assert_array_equal(want, got)
    assert (got.reshape(len(x), -1).argmax(axis=1) == y).mean() > 0.95
    assert graph_cycles(pruned) == graph_cycles(plain)
    from bitsmith.generator.build import make_report
    before, after = make_report(plain, {}, 0.0)["estimate"], make_report(pruned, {}, 0.0)["estimate"]
    assert after["luts"] < 0.8 * before["luts"] and after["brams"] < before["brams"]


def test_cli_prune_option(capsys, tmp_path):
    from bitsmith.generator.cli import main
    x = inputs(load_model(DIGITS_SLIM, BuildOptions()), frames=20)
    np.save(tmp_path / "x.npy", x)
    outs = {}
    for prune in ("off", "constant"):
        assert main(["golden", str(DIGITS_SLIM), "--input", str(tmp_path / "x.npy"), "--output",
                     str(tmp_path / f"{prune}.npy"), "--prune", prune]) == 0
        outs[prune] = np.load(tmp_path / f"{prune}.npy")
    np.testing.assert_array_equal(outs["off"], outs["constant"])
    capsys.readouterr()
    assert main(["build", str(DIGITS_SLIM), "-o", str(tmp_path / "o"), "--prune", "all"]) == 2
    assert not (tmp_path / "o").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert re.match(r"^bitsmith: error: argument --prune: invalid choice: 'all' \(choose from "
                    r"'?off'?, '?constant'?\)$", err[-1]), err


def test_xnor_layers_of_an_onnx_network_absorb_bipolar_constants():
    """TFC-w1a1 (BIPOLAR weights and activations, XNOR-popcount): a constant -1 or +1
    channel moves into the next layer's popcount thresholds; the ONNX graph's foldings
    are auto, so the resized layers are left to the folding pass."""
    from bitsmith.generator.passes.fold import is_auto
    g = load_model(Path(__file__).parents[2] / "models" / "TFC_1W1A.onnx", BuildOptions())
    layers = [n.name for n in g.nodes if hasattr(n, "weights") and n.thresholds is not None
              and n.thresholds.values.shape[0] > 1]
    first = g.node(layers[0])
    assert first.xnor or g.node(layers[1]).xnor
    for c in (0, 5, 17):
        g = with_constant(g, layers[0], c, c % 2)               # BIPOLAR -1 (c even) or +1
    after = check_pruned(g)
    assert after.node(layers[0]).out_features == first.out_features - 3
    assert after.node(layers[1]).in_features == first.out_features - 3
    assert is_auto(after.node(layers[1]))
    assert rows(after)[layers[0]][6] == "0=-1, 5=1, 17=1"
