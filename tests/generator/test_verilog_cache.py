"""The cache of generated Verilog (generator/verilog_cache.py): a hit skips Amaranth's
conversion and returns exactly the text a fresh conversion writes; anything the Verilog
depends on changes the key; ``bench`` and ``BITSMITH_VERILOG_CACHE=off`` always convert."""

from __future__ import annotations

import gc
import warnings

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator import build as build_module
from bitsmith.generator import verilog_cache
from bitsmith.generator.build import BuildOptions, prepare, write_bundle
from bitsmith.generator.ir import Graph, MatrixVector
from bitsmith.generator.ir.serialize import dump_graph

DT = DataType


def tiny_graph(seed: int = 0, w00: int | None = None) -> Graph:
    w = np.random.default_rng(seed).integers(-2, 2, size=(4, 6))
    if w00 is not None:
        w[0, 0] = w00
    node = MatrixVector(name="fc", in_shape=(1, 1, 6), in_dtype=DT["UINT2"], weights=w,
                        weight_dtype=DT["INT2"],
                        acc_dtype=MatrixVector.minimal_acc_dtype(w, DT["INT2"], DT["UINT2"]), pe=0, simd=0)
    graph = Graph(name="tiny", in_shape=(1, 1, 6), in_dtype=DT["UINT2"], nodes=(node,))
    return prepare(graph, BuildOptions())


@pytest.fixture
def cache_on(monkeypatch, tmp_path):
    """The cache on, in a fresh folder; returns the list of conversions that ran."""
    monkeypatch.setenv("BITSMITH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(verilog_cache.ENV_SWITCH, "on")
    conversions = []
    emit = build_module.emit_verilog

    def counting(top, name):
        conversions.append(name)
        return emit(top, name)
    monkeypatch.setattr(build_module, "emit_verilog", counting)
    return conversions


def verilog_of(result) -> str:
    return (result.out_dir / result.io["verilog"]).read_text()


def test_a_hit_skips_the_conversion_and_returns_the_same_text(cache_on, tmp_path):
    first = write_bundle(tiny_graph(), tmp_path / "a")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        second = write_bundle(tiny_graph(), tmp_path / "b")
        gc.collect()            # the unconverted top and its units are not reported unused
    assert [str(w.message) for w in caught if w.category.__name__ == "UnusedElaboratable"] == []
    assert cache_on == ["tiny"]
    cold = write_bundle(tiny_graph(), tmp_path / "c", verilog_cache=False)
    assert cache_on == ["tiny", "tiny"]
    assert verilog_of(second) == verilog_of(first) == verilog_of(cold)
    assert [p.suffix for p in (tmp_path / "cache" / "verilog").iterdir()] == [".v"]


def test_a_changed_weight_misses(cache_on, tmp_path):
    graph = tiny_graph()
    w00 = int(graph.nodes[0].weights[0, 0])
    other = tiny_graph(w00=1 if w00 != 1 else 0)
    assert verilog_cache.cache_key(dump_graph(graph)) != verilog_cache.cache_key(dump_graph(other))
    write_bundle(graph, tmp_path / "a")
    changed = write_bundle(other, tmp_path / "b")
    assert cache_on == ["tiny", "tiny"]
    assert verilog_of(changed) == verilog_of(write_bundle(other, tmp_path / "c", verilog_cache=False))


def test_the_key_covers_the_lowering_code(monkeypatch):
    graph = dump_graph(tiny_graph())
    key = verilog_cache.cache_key(graph)
    monkeypatch.setattr(verilog_cache, "code_fingerprint", lambda: "edited hw/")
    assert verilog_cache.cache_key(graph) != key


@pytest.mark.parametrize("value", ["off", "0", "no", "false", "OFF"])
def test_the_switch_turns_it_off(cache_on, monkeypatch, tmp_path, value):
    monkeypatch.setenv(verilog_cache.ENV_SWITCH, value)
    write_bundle(tiny_graph(), tmp_path / "a")
    write_bundle(tiny_graph(), tmp_path / "b")
    assert cache_on == ["tiny", "tiny"]
    assert not (tmp_path / "cache" / "verilog").exists()


def test_a_corrupt_entry_is_not_trusted_blindly(cache_on, tmp_path):
    """An entry is whatever the conversion wrote; one that is not text is converted again."""
    graph = tiny_graph()
    path = tmp_path / "cache" / "verilog" / f"{verilog_cache.cache_key(dump_graph(graph))}.v"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\xfe not utf-8")
    result = write_bundle(graph, tmp_path / "a")
    assert cache_on == ["tiny"]
    assert verilog_of(result) == verilog_of(write_bundle(graph, tmp_path / "b", verilog_cache=False))
    assert path.read_text() == verilog_of(result)


@pytest.mark.verilator
def test_bench_generation_is_cold(cache_on, monkeypatch, tmp_path):
    from bitsmith.generator import bench
    calls = []
    real = bench.write_bundle

    def spy(*args, **kwargs):
        calls.append(kwargs.get("verilog_cache", True))
        return real(*args, **kwargs)
    monkeypatch.setattr(bench, "write_bundle", spy)
    net = bench.Network("tiny", "tiny", None, tiny_graph, lambda g: g,
                        lambda g, n: np.random.default_rng(0).integers(0, 4, (n, *g.in_shape)), frames=3)
    for out in ("a", "b"):
        result = bench.bench_network(net, tmp_path / out, boards=(), frames=3, progress=lambda m: None)
        assert result.status == "ok"
    assert calls == [False, False] and cache_on == ["tiny", "tiny"]


def test_an_unwritable_cache_costs_speed_not_the_build(cache_on, monkeypatch, tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("BITSMITH_CACHE", str(blocker))       # .../not-a-folder/verilog cannot exist
    result = write_bundle(tiny_graph(), tmp_path / "a")
    assert cache_on == ["tiny"]
    assert verilog_of(result) == verilog_of(write_bundle(tiny_graph(), tmp_path / "b", verilog_cache=False))
    assert any(r.message.startswith("cannot store generated Verilog in ") for r in caplog.records)
