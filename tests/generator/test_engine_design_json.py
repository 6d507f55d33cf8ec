"""The shift and HashedNets layers survive design.json: rebuilt graphs check and compute
the same integers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bitsmith.generator.build import BuildOptions, prepare
from bitsmith.generator.examples.hashed_layer import hashed_layer_graph
from bitsmith.generator.examples.shift_layer import shift_layer_graph
from bitsmith.generator.ir.serialize import dump_graph, dumps, load_graph
from bitsmith.sim.golden import run_graph


@pytest.mark.parametrize("make,kind", [(lambda: shift_layer_graph("shift"), "ShiftMatrixVector"),
                                       (lambda: hashed_layer_graph("hashed"), "HashedMatrixVector")])
def test_round_trip(make, kind):
    graph = prepare(make(), BuildOptions())
    again = load_graph(json.loads(dumps(dump_graph(graph))))
    again.check()
    assert type(again.nodes[0]).__name__ == kind
    x = np.random.default_rng(0).integers(0, 16, (3, *graph.in_shape))
    np.testing.assert_array_equal(run_graph(again, x), run_graph(graph, x))
