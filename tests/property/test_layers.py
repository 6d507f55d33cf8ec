"""Property tests: golden model == Amaranth simulation on generated layers and networks.

Every case draws a layer (or a short chain) from :mod:`tests.property.strategies` --
kind, sizes, datatypes, folding, thresholds, weights -- plus input frames and the idle /
backpressure patterns of the stream drivers, builds the generated AXI4-Stream top and
checks every output element and every ``tlast``. The suite's hypothesis profile
(``tests/conftest.py``) fixes the examples, so CI runs the same cases every time;
``HYPOTHESIS_PROFILE=explore`` hunts for new ones. Counterexamples found so far are pinned
in ``test_regressions.py``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hw.util import PATTERNS
from tests.property.simulate import check_graph_in_amaranth, check_graph_reset_in_amaranth
from tests.property.strategies import KINDS, frames, networks, values


def run_case(data, graph) -> None:
    x = data.draw(frames(graph), label="frames")
    idle = data.draw(st.sampled_from(PATTERNS), label="idle")
    backpressure = data.draw(st.sampled_from(PATTERNS), label="backpressure")
    check_graph_in_amaranth(graph, x, idle=idle, backpressure=backpressure,
                            seed=data.draw(st.integers(0, 99), label="seed"))


@pytest.mark.parametrize("kind", sorted(KINDS))
@given(data=st.data())
def test_layer_golden_equals_amaranth(kind, data):
    run_case(data, data.draw(networks(kind), label="graph"))


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=10)
@given(data=st.data())
def test_layer_reset_mid_traffic_in_amaranth(kind, data):
    """Synchronous reset after a drawn input word (often inside a frame): the frames sent
    afterwards come out exactly as the golden model says."""
    graph = data.draw(networks(kind), label="graph")
    x = data.draw(st.integers(2, 4).flatmap(lambda n: values(graph.in_dtype, (n,) + tuple(graph.in_shape))),
                  label="frames")
    word = data.draw(st.integers(1, 10_000), label="reset after input word (modulo)")
    check_graph_reset_in_amaranth(graph, x, word, delay=data.draw(st.integers(0, 12), label="delay"))


@settings(max_examples=60)
@given(data=st.data())
def test_network_golden_equals_amaranth(data):
    """Chains of up to three layers: width converters, FIFO sizing and tlast between kinds."""
    run_case(data, data.draw(networks(max_layers=3), label="graph"))


@pytest.mark.verilator
@settings(max_examples=4)
@given(data=st.data())
def test_network_golden_equals_verilator_with_a_reset(data, tmp_path_factory):
    """A sample in the slower tier: generated chains through the whole build (Verilog,
    Verilator bulk harness) under drawn idle/backpressure patterns, with a reset in the
    middle of an input frame; the frames sent after it must match the golden model."""
    from bitsmith.generator.build import io_of, write_bundle
    from bitsmith.generator.execute import frames_to_bytes
    from bitsmith.sim.rtl import ResetAt, build, run
    from tests.rtl_checks import check_resets

    graph = data.draw(networks(max_layers=3), label="graph")
    x = data.draw(values(graph.in_dtype, (12,) + tuple(graph.in_shape)), label="frames")
    pattern = st.sampled_from(["none", "cycle", "random", "random:80", "stall:5:60"])
    idle, backpressure = data.draw(pattern, label="idle"), data.draw(pattern, label="backpressure")
    bundle = write_bundle(graph, tmp_path_factory.mktemp("prop") / graph.name)
    io = bundle.io
    exe = build(bundle.out_dir / io["verilog"], io_of(io))
    words = io["in"]["words_per_frame"]
    event = ResetAt("in", data.draw(st.integers(1, 6 * words), label="reset after input word"))
    result = run(exe, io_of(io), frames_to_bytes(x, io), idle, backpressure, seed=1, resets=[event])
    check_resets(graph, io, x, result, [event])
