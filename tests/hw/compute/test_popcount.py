"""The XNOR popcount's counter tree: exact counts at its latency, its register placement,
and the plan the resource estimate counts from."""

import numpy as np
import pytest
from amaranth.hdl import Fragment, Module, Signal
from amaranth.sim import Simulator

from bitsmith.hw.compute.mvau import tree_latency
from bitsmith.hw.compute.popcount import LEVELS_PER_STAGE, plan, xnor_popcount


def _run(lanes: int, stages: int, pairs: list[tuple[int, int]]) -> list[int]:
    m = Module()
    a = [Signal(name=f"a{i}") for i in range(lanes)]
    b = [Signal(name=f"b{i}") for i in range(lanes)]
    y = xnor_popcount(m, a, b, stages=stages, name="t")
    got = []

    async def bench(ctx):
        for i in range(len(pairs) + stages):
            if i < len(pairs):
                for k in range(lanes):
                    ctx.set(a[k], pairs[i][0] >> k & 1)
                    ctx.set(b[k], pairs[i][1] >> k & 1)
            await ctx.tick()
            if i >= stages - 1 and len(got) < len(pairs):
                got.append(ctx.get(y))      # `stages` edges after the operands were set

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return got


def _pairs(lanes: int, seed: int) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    full = (1 << lanes) - 1

    def word():
        return int.from_bytes(rng.bytes(lanes // 8 + 1), "little") & full

    # random words, all equal, all different, and one lane different
    return [(word(), word()) for _ in range(10)] + [(0, 0), (full, 0), (0, full), (1, 0)]


@pytest.mark.parametrize("lanes", [*range(1, 20), 31, 49, 64, 65, 100, 256])
def test_counts_equal_bits_at_the_mvau_tree_latency(lanes):
    stages = 1 + tree_latency(lanes, xnor=True)
    pairs = _pairs(lanes, lanes)
    expect = [lanes - bin(x ^ w).count("1") for x, w in pairs]
    assert _run(lanes, stages, pairs) == expect


@pytest.mark.parametrize("lanes, stages", [(7, 1), (64, 1), (64, 2), (12, 6), (3, 4)])
def test_counts_with_fewer_or_more_stages_than_levels(lanes, stages):
    pairs = _pairs(lanes, 100 + lanes)
    assert _run(lanes, stages, pairs) == [lanes - bin(x ^ w).count("1") for x, w in pairs]


@pytest.mark.parametrize("lanes", [1, 2, 3, 8, 49, 64, 256, 784, 1024, 4096])
def test_cuts_every_stage_and_at_most_levels_per_stage_apart(lanes):
    p = plan(lanes, 1 + tree_latency(lanes, xnor=True))
    last = len(p.heights) - 1
    assert len(p.cuts) == p.stages and p.cuts[-1] == last
    assert list(p.cuts) == sorted(p.cuts)
    spans = [p.cuts[0] + 1] + [b - a for a, b in zip(p.cuts, p.cuts[1:]) if b != a]
    assert max(spans) <= LEVELS_PER_STAGE
    assert p.heights[-1] == (1,) * lanes.bit_length()          # one bit per column: the count


@pytest.mark.parametrize("lanes, stages", [(1, 1), (2, 2), (64, 4), (100, 5), (784, 6), (7, 1)])
def test_plan_counts_the_registers_the_tree_makes(lanes, stages):
    m = Module()
    xnor_popcount(m, [Signal() for _ in range(lanes)], [Signal() for _ in range(lanes)],
                  stages=stages, name="t")
    made = sum(len(stmt.lhs) for stmt in Fragment.get(m, None).statements.get("sync", []))
    assert plan(lanes, stages).flip_flops == made


def test_the_heap_reaches_three_rows_with_six_three_counters():
    # 64 lanes: 21 lane triples make 43 bits in two columns; 6:3 counters and full adders
    # then take every column to at most three bits before the one adder
    p = plan(64, 4)
    assert p.heights[0] == (22, 21)
    assert max(p.heights[-2]) <= 3 and p.rows == max(p.heights[-2])
    assert p.counters[0] == 21
    # far fewer 6-input LUTs than the adder tree's ~3 per lane
    assert p.lut6 < 1.6 * 64


def test_rejects_empty_and_mismatched_operands():
    with pytest.raises(ValueError, match="lanes >= 1 and stages >= 1, not 0 and 1"):
        plan(0, 1)
    m = Module()
    with pytest.raises(ValueError, match="operands of 2 and 3 bits"):
        xnor_popcount(m, [Signal()] * 2, [Signal()] * 3, stages=1, name="t")
    Fragment.get(m, None)                                   # used: no warning left behind
