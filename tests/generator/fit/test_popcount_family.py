"""Which way XNOR layers count on each family, and the IR's check of the choice."""

import dataclasses

import pytest

from bitsmith.boards.registry import get_board
from bitsmith.generator.build import BuildOptions, fit_to_board
from bitsmith.generator.errors import ModelError
from bitsmith.generator.fit.family import FAMILIES, with_family_popcount
from bitsmith.generator.fit.search import fold_to_board
from bitsmith.generator.lowering import lower_node
from tests.generator.fit.test_search import DIGITS, graph_of


def _popcounts(graph):
    return {n.name: n.popcount for n in graph.nodes if hasattr(n, "popcount")}


def test_the_ir_and_the_hardware_know_the_same_styles():
    from bitsmith.generator.ir.dense import POPCOUNTS as IR
    from bitsmith.hw.compute.popcount import POPCOUNTS as HW
    assert IR == HW == ("counters", "adders")


def test_the_ice40_counts_with_adders_the_others_with_counters():
    assert {name: f.popcount for name, f in FAMILIES.items()} == \
        {"ice40": "adders", "ecp5": "counters", "xc7": "counters"}
    graph = graph_of(DIGITS, topk=1)
    assert set(_popcounts(graph).values()) == {"counters"}            # the default
    assert with_family_popcount(graph, "ecp5") is graph
    assert with_family_popcount(graph, "zynq7") is graph
    ice = with_family_popcount(graph, "ice40")
    assert set(_popcounts(ice).values()) == {"adders"}
    assert ice.fifos == graph.fifos and ice.fifos                    # one latency: same FIFOs
    back = with_family_popcount(ice, "xc7")
    assert _popcounts(back) == _popcounts(graph) and back.fifos == graph.fifos


@pytest.mark.parametrize("board, style", [("icebreaker", "adders"), ("ulx3s", "counters"),
                                          ("arty_a7_35", "counters")])
def test_a_board_build_lowers_its_family_s_popcount(board, style):
    graph, _ = fit_to_board(graph_of(DIGITS, topk=1), BuildOptions(board=board))
    assert set(_popcounts(graph).values()) == {style}
    units = [s.component for n in graph.nodes for s in lower_node(n) if hasattr(s.component, "popcount")]
    assert units and {u.compressor_popcount for u in units} == {style == "counters"}


def test_the_fit_for_an_ice40_board_is_a_design_with_adders():
    fit = fold_to_board(graph_of(DIGITS, topk=1), get_board("icebreaker"))
    assert set(_popcounts(fit.chosen.graph).values()) == {"adders"}


def test_the_ir_rejects_an_unknown_popcount():
    graph = graph_of(DIGITS, topk=1)
    node = next(n for n in graph.nodes if hasattr(n, "popcount"))
    bad = dataclasses.replace(node, popcount="lut6")
    with pytest.raises(ModelError, match=rf"^layer '{node.name}': popcount must be one of counters, "
                                         r"adders, not 'lut6'$"):
        bad.check()
