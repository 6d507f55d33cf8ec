"""Winograd end to end: native ``winograd: on|off|auto``, the ``--winograd auto`` pass's
choice, design.json round trip, and RTL (Verilator) == golden at the ideal rate."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from bitsmith.generator.build import BuildOptions, load_model, prepare
from bitsmith.generator.errors import ModelError, OptionError
from bitsmith.generator.estimate import graph_cycles, node_cycles, node_resources
from bitsmith.generator.ir.conv import Conv
from bitsmith.generator.ir.serialize import dump_graph, load_graph
from bitsmith.generator.ir.winograd import WinogradConv
from bitsmith.generator.passes.fold import best_folding
from bitsmith.generator.passes.winograd import Winograd, cost
from bitsmith.generator.verify import verify
from bitsmith.sim.golden import run_graph
from tests.generator.native_files import write_native


def net(tmp_path, *, winograd=None, stride=1, ic=8, oc=8, hw=8, wbits=4, extra=None):
    rng = np.random.default_rng(0)
    lo, hi = -(1 << (wbits - 1)), (1 << (wbits - 1)) - 1
    arrays = {"w0": rng.integers(lo, hi + 1, size=(oc, 3, 3, ic)),
              "t0": np.sort(rng.integers(-60, 60, size=(oc, 3)), axis=1)}
    layer = {"name": "c0", "op": "conv", "weights": "w0", "weight_dtype": f"INT{wbits}", "pad": 1,
             "stride": stride, "thresholds": "t0", "out_dtype": "UINT2"}
    if winograd is not None:
        layer["winograd"] = winograd
    layers = [layer] + (extra or [])
    return write_native(tmp_path, "wnet", layers, arrays, (hw, hw, ic), "UINT3")


def direct_twin(graph):
    nodes = tuple(Conv(**{f.name: getattr(n, f.name) for f in dataclasses.fields(n)})
                  if isinstance(n, WinogradConv) else n for n in graph.nodes)
    return graph.replace(nodes=nodes)


def test_native_on_builds_a_winograd_layer(tmp_path):
    graph = prepare(load_model(net(tmp_path, winograd="on"), BuildOptions()), BuildOptions(target_cycles=1024))
    (node,) = [n for n in graph.nodes if n.name == "c0"]
    assert isinstance(node, WinogradConv)
    assert node_cycles(node) <= 1024
    x = np.random.default_rng(1).integers(0, 8, size=(3, 8, 8, 8))
    np.testing.assert_array_equal(run_graph(graph, x), run_graph(direct_twin(graph), x))


def test_native_on_refuses_what_winograd_cannot_run(tmp_path):
    with pytest.raises(ModelError, match=r"^.*layer 'c0'.*: no Winograd F\(2x2,3x3\): the stride must "
                                         r"be 1, not \(2, 2\)$"):
        load_model(net(tmp_path, winograd="on", stride=2), BuildOptions())


def test_native_rejects_an_unknown_mode(tmp_path):
    with pytest.raises(ModelError, match=r"winograd.*'sometimes'|'sometimes'.*winograd"):
        load_model(net(tmp_path, winograd="sometimes"), BuildOptions())


def folded(tmp_path, target, **kwargs):
    opts = BuildOptions(target_cycles=target, **kwargs)
    graph = prepare(load_model(net(tmp_path), opts), opts)
    return graph, next(n for n in graph.nodes if n.name == "c0")


def test_auto_converts_where_the_estimate_says_it_is_cheaper(tmp_path):
    """8x8x8 -> 8, INT4 weights, UINT3 inputs at 256 cycles: direct PE=2, SIMD=72 (144
    lanes), Winograd PE=SIMD=8 (64 lanes) and a lower estimated cost."""
    graph, node = folded(tmp_path, 256, winograd="auto")
    direct, d = folded(tmp_path, 256)
    assert isinstance(node, WinogradConv) and type(d) is Conv
    assert node_cycles(node) <= node_cycles(d) == 256
    assert (node.pe * node.simd, d.pe * d.simd) == (64, 144)
    assert cost(node_resources(node)) < cost(node_resources(d))
    x = np.random.default_rng(2).integers(0, 8, size=(2, 8, 8, 8))
    np.testing.assert_array_equal(run_graph(graph, x), run_graph(direct, x))


def test_auto_keeps_direct_where_the_estimate_says_it_is_cheaper(tmp_path):
    """At 4096 cycles the direct layer's 9 narrow LUT products beat Winograd's 4 wider
    ones (7x6-bit transformed operands) plus its transforms and buffers."""
    _, node = folded(tmp_path, 4096, winograd="auto")
    assert type(node) is Conv
    w = WinogradConv.from_conv(node)
    w = w.replace(**best_folding(w, node_cycles(node)))
    assert cost(node_resources(w)) >= cost(node_resources(node))


@pytest.mark.parametrize("kwargs", [dict(winograd="off"), dict(stride=2)], ids=["layer-off", "stride-2"])
def test_auto_leaves_other_layers_direct(tmp_path, kwargs):
    opts = BuildOptions(winograd="auto", target_cycles=256)
    graph = prepare(load_model(net(tmp_path, **kwargs), opts), opts)
    assert not any(isinstance(n, WinogradConv) for n in graph.nodes)


def test_off_is_the_default_and_unknown_modes_are_refused():
    assert BuildOptions().winograd == "off"
    with pytest.raises(OptionError, match=r"^winograd must be 'off' or 'auto', not 'on'$"):
        BuildOptions(winograd="on")
    with pytest.raises(OptionError, match=r"^--winograd must be 'auto' or 'off', not 'x'$"):
        Winograd(mode="x")


def test_design_json_round_trip(tmp_path):
    graph = prepare(load_model(net(tmp_path, winograd="on"), BuildOptions()), BuildOptions(target_cycles=512))
    again = load_graph(json.loads(json.dumps(dump_graph(graph))))
    (a,) = [n for n in again.nodes if n.name == "c0"]
    assert isinstance(a, WinogradConv) and (a.pe, a.simd) == next((n.pe, n.simd) for n in graph.nodes
                                                                   if n.name == "c0")
    assert graph_cycles(again) == graph_cycles(graph)


@pytest.mark.verilator
@pytest.mark.parametrize("backpressure", ["none", "random"])
def test_verilator_equals_golden_at_the_ideal_rate(tmp_path, backpressure):
    path = net(tmp_path, ic=4, oc=4, hw=7, winograd="on")           # odd size: the crop
    x = np.random.default_rng(5).integers(0, 8, size=(4, 7, 7, 4))
    opts = BuildOptions(target_cycles=512)
    graph = prepare(load_model(path, opts), opts)
    assert any(isinstance(n, WinogradConv) for n in graph.nodes)
    res = verify(path, x, opts, out_dir=tmp_path / "out", backpressure=backpressure)
    assert res.passed, res.details
    if backpressure == "none":
        assert res.cycles_per_frame == res.ideal_cycles_per_frame


def test_cli_golden_with_winograd_auto_equals_direct(tmp_path):
    from bitsmith.generator.cli import main
    path = net(tmp_path)
    x = np.random.default_rng(4).integers(0, 8, size=(2, 8, 8, 8))
    np.save(tmp_path / "x.npy", x)
    outs = []
    for flags in (["--winograd", "auto"], ["--winograd", "off"]):
        out = tmp_path / f"y{len(outs)}.npy"
        assert main(["golden", str(path), "--input", str(tmp_path / "x.npy"), "--output", str(out),
                     "--target-cycles", "256", *flags]) == 0
        outs.append(np.load(out))
    np.testing.assert_array_equal(outs[0], outs[1])


def test_cli_refuses_winograd_on(capsys):
    """``on`` is per layer (native ``winograd: on``); the command line takes off|auto."""
    from bitsmith.generator.cli import main
    assert main(["golden", "m.yaml", "--input", "x.npy", "--output", "y.npy", "--winograd", "on"]) == 2
    assert "--winograd" in capsys.readouterr().err


def test_bench_pair_same_cycles_fewer_lanes():
    from bitsmith.generator.examples.winograd_layer import winograd_layer_graph
    graphs = {e: prepare(winograd_layer_graph(e), BuildOptions()) for e in ("direct", "winograd")}
    d, w = (graphs[e].nodes[0] for e in ("direct", "winograd"))
    assert type(d) is Conv and isinstance(w, WinogradConv)
    assert graph_cycles(graphs["direct"]) == graph_cycles(graphs["winograd"]) == 2304
    assert (d.pe * d.simd, w.pe * w.simd) == (36, 16)
    assert (w.u_dtype.name, w.v_dtype.name) == ("INT11", "INT11")     # these weights: |U| <= 1024
    x = np.random.default_rng(0).integers(0, 256, size=(2, 8, 8, 12))
    np.testing.assert_array_equal(run_graph(graphs["direct"], x), run_graph(graphs["winograd"], x))


@pytest.mark.parametrize("mode, kind", [("on", WinogradConv), ("off", Conv)])
def test_unquoted_yaml_on_and_off_are_modes_not_booleans(tmp_path, mode, kind):
    """PyYAML reads YAML 1.1, where a bare ``on``/``off`` is a boolean; the description
    loader keeps only YAML 1.2's true/false, so the documented spelling works."""
    path = net(tmp_path, winograd=mode)
    text = path.read_text()
    unquoted = text.replace(f"'{mode}'", mode).replace(f'"{mode}"', mode)
    assert f"winograd: {mode}" in unquoted
    path.write_text(unquoted)
    (node,) = [n for n in load_model(path, BuildOptions()).nodes if n.name == "c0"]
    assert type(node) is kind
