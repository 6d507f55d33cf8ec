"""The analytical flip-flop estimate against Yosys's count of the same Verilog.

The estimate models the registers of each MVAU stage by stage and its control logic
(generator/estimate/dense.py); Yosys ``synth_ecp5`` counts what the hardware really has.
Before those models the digits demo estimated 1,316 flip-flops for 9,515 real ones.
"""

from pathlib import Path

import pytest
from amaranth.hdl import Fragment, Module, Signal

from bitsmith.boards.flows.counts import resources
from bitsmith.boards.tools import synthesised_stat, yosys_stat
from bitsmith.generator.build import BuildOptions, load_model, prepare, write_bundle
from bitsmith.generator.estimate import node_resources
from bitsmith.generator.estimate.dense import tree_flip_flops
from bitsmith.hw.streams import pipelined_sum

EXAMPLES = Path(__file__).resolve().parents[2] / "generator" / "examples"

TOLERANCE = 0.3


@pytest.mark.parametrize("terms, term_bits, sum_bits, stages, paired", [
    (1, 1, 8, 2, None), (2, 1, 8, 2, None), (32, 1, 8, 2, None), (64, 1, 6, 2, None),
    (5, 4, 16, 1, None), (64, 1, 7, 2, None), (49, 4, 12, 2, 2), (8, 4, 12, 2, 2),
    (9, 3, 12, 2, 2), (100, 2, 9, 2, 3),
])
def test_tree_flip_flops_count_the_registers_pipelined_sum_makes(terms, term_bits, sum_bits, stages,
                                                                 paired):
    m = Module()
    _, latency = pipelined_sum(m, [Signal(term_bits) for _ in range(terms)], name="t",
                               width=sum_bits, levels_per_stage=stages, paired_levels=paired)
    made = sum(len(stmt.lhs) for stmt in Fragment.get(m, None).statements.get("sync", []))
    assert tree_flip_flops(terms, term_bits, sum_bits, stages, paired) == made
    # the latency: one cycle per registered level, counted level by level here
    levels = (terms - 1).bit_length()
    expected = sum(1 for level in range(1, levels + 1)
                   if level == levels or level % stages == 0 or (paired and level >= paired))
    assert latency == expected


@pytest.mark.board
@pytest.mark.parametrize("target_cycles", [64, 256])
def test_estimate_within_30_percent_of_yosys(tmp_path, target_cycles):
    opts = BuildOptions(target_cycles=target_cycles)
    graph = prepare(load_model(EXAMPLES / "digits" / "digits.yaml", opts), opts)
    write_bundle(graph, tmp_path / "out")
    estimate = {"luts": sum(node_resources(node).luts for node in graph.nodes),
                "ffs": sum(node_resources(node).ffs for node in graph.nodes)}
    rtl = next((tmp_path / "out" / "rtl").glob("*.v"))
    real = resources("ecp5", yosys_stat(synthesised_stat(rtl, "ecp5"), module=rtl.stem))
    for key in ("luts", "ffs"):
        assert abs(estimate[key] - real[key]) <= TOLERANCE * real[key], (key, estimate, real)
