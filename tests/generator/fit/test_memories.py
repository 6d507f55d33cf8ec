"""The memory inventory read from the lowered components against the memories of the
elaborated design (every ``Memory`` Amaranth builds, caught through the platform hook)."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from amaranth.hdl import Fragment, Module, Shape

from bitsmith.generator.build import BuildOptions, elaborate, load_model, prepare, sized
from bitsmith.generator.fit.estimate import lowered_stages
from bitsmith.generator.fit.memories import live_bits, stage_memories
from bitsmith.generator.fit.search import spram_variant

ROOT = Path(__file__).resolve().parents[3]
DIGITS = ROOT / "generator" / "examples" / "digits" / "digits.yaml"
TFC2 = ROOT / "tests" / "models" / "TFC_2W2A.onnx"
TFC_OPTS = dict(input_dtype="UINT8", input_scale=1 / 255, topk=1)


class Recorder:
    """A platform whose ``get_memory`` notes each memory instead of building it."""

    def __init__(self):
        self.memories = []

    def get_memory(self, memory):
        writable = bool(memory._write_ports)
        comb = any(port.domain == "comb" for port in memory._read_ports)
        kind = "async" if comb else ("ram" if writable else "rom")
        self.memories.append((kind, memory.depth, (memory.attrs or {}).get("ram_style") == "block",
                              None if kind == "rom" else Shape.cast(memory.shape).width))
        return Module()


def elaborated(graph):
    rec = Recorder()
    Fragment.get(elaborate(graph).top, rec)
    return Counter(rec.memories)


def inventoried(graph):
    graph = sized(graph)
    return Counter((m.kind if m.kind != "spram" else "ram", m.depth, m.block,
                    None if m.kind == "rom" else m.width)
                   for m in stage_memories(lowered_stages(graph), graph.fifos))


def graph_of(model, **opts):
    opts = BuildOptions(**opts)
    return prepare(load_model(model, opts), opts)


@pytest.mark.parametrize("model, opts", [
    (DIGITS, dict(topk=1)), (DIGITS, dict(topk=1, target_cycles=64)),
    (DIGITS, dict(target_cycles=1024)), (TFC2, dict(TFC_OPTS, target_cycles=2048)),
], ids=["digits", "digits-64", "digits-1024", "tfc2-2048"])
def test_inventory_is_what_the_hardware_builds(model, opts):
    graph = graph_of(model, **opts)
    assert inventoried(graph) == elaborated(graph)


def test_inventory_of_run_time_weights():
    graph = spram_variant(graph_of(TFC2, **TFC_OPTS, target_cycles=1568))
    graph = graph.replace(nodes=tuple(n.replace(weight_memory="ram") if hasattr(n, "weight_memory")
                                      and n.weight_memory == "spram" else n for n in graph.nodes))
    assert inventoried(graph) == elaborated(graph)


def test_live_bits_drop_constant_columns():
    codes = np.array([[0, 3], [1, 3], [0, 2]])           # element 0: bit 0 varies; element 1: bit 0
    assert live_bits(codes, 2) == 2
    assert live_bits(np.array([[5, 1]]), 4) == 0          # one word: all constant
