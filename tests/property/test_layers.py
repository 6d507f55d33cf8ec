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
from tests.property.simulate import check_graph_in_amaranth
from tests.property.strategies import KINDS, frames, networks


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


@settings(max_examples=60)
@given(data=st.data())
def test_network_golden_equals_amaranth(data):
    """Chains of up to three layers: width converters, FIFO sizing and tlast between kinds."""
    run_case(data, data.draw(networks(max_layers=3), label="graph"))
