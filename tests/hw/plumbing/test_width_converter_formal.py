"""WidthConverter: formal proofs, element by element.

For up-conversion (1->4, 2->4), down-conversion (4->1, 6->2) and the two-stage
non-multiple ratios (2->3, 3->2), 2-bit elements:

* k-induction of depth 3 (``mode prove``): ``o.valid`` held, ``o.payload`` stable while
  stalled, every element out once, in order, at its place in the output word (tracked
  element), none out before it entered, at most one block per stage inside;
* k-induction of depth ``bound + 2``: bounded latency, with the sink ready and the source
  valid (a partial block needs more input), the tracked element leaves within ``bound``
  cycles (:data:`LATENCY`, the smallest bound that holds: one less fails);
* ``o.valid`` outside the combinational cone of ``o.ready`` (netlist check).
"""

from __future__ import annotations

import pytest

from bitsmith.hw.plumbing.width_converter import WidthConverter
from bitsmith.sim.formal import invariants
from bitsmith.sim.formal.harness import stream_harness
from bitsmith.sim.formal.mutants import Mutant
from tests.hw.formal_util import assert_fails, assert_proven, assert_valid_independent_of_ready

pytestmark = pytest.mark.formal

ELEM_BITS = 2

LATENCY = {(1, 4): 4, (2, 4): 2, (4, 1): 4, (6, 2): 3, (2, 3): 4, (3, 2): 6}
"""Ready cycles within which an element leaves, per ``(in_elems, out_elems)``: the input
words still missing from its block (up), the output words ahead of it in its block
(down), and for two stages the gather time plus the scatter words of the block ahead
(3->2: the next block waits for the scatter stage's three words)."""

RATIOS = list(LATENCY)
IDS = [f"{a}to{b}" for a, b in RATIOS]


def converter_harness(in_elems, out_elems, *, latency=None, bug=None, only=None):
    conv = WidthConverter(elem_bits=ELEM_BITS, in_elems=in_elems, out_elems=out_elems)
    capacity = conv.block * conv.latency
    common = dict(capacity=capacity, in_elems=in_elems, out_elems=out_elems, latency=latency,
                  needs_source=True)
    if bug is not None:
        return stream_harness(Mutant(conv, bug), only=only, **common)

    def add(props, parts, board):
        invariants.width_converter(props, parts, board, in_elems=in_elems, out_elems=out_elems,
                                   elem_bits=ELEM_BITS)
    return stream_harness(conv, invariants=add, **common)


@pytest.mark.parametrize("in_elems,out_elems", RATIOS, ids=IDS)
def test_converter_stream_contract_by_induction(in_elems, out_elems, tmp_path):
    assert_proven(converter_harness(in_elems, out_elems), mode="prove", depth=3, workdir=tmp_path)


@pytest.mark.parametrize("in_elems,out_elems", RATIOS, ids=IDS)
def test_converter_latency_by_induction(in_elems, out_elems, tmp_path):
    bound = LATENCY[in_elems, out_elems]
    assert_proven(converter_harness(in_elems, out_elems, latency=bound), mode="prove",
                  depth=bound + 2, workdir=tmp_path)


@pytest.mark.parametrize("in_elems,out_elems", [(1, 4), (3, 2)], ids=["up", "two-stage"])
def test_converter_latency_bound_is_exact(in_elems, out_elems, tmp_path):
    bound = LATENCY[in_elems, out_elems] - 1
    assert_fails(converter_harness(in_elems, out_elems, latency=bound), "latency",
                 depth=3 * bound + 6, workdir=tmp_path)


@pytest.mark.parametrize("in_elems,out_elems", RATIOS, ids=IDS)
def test_converter_valid_not_combinational_on_ready(in_elems, out_elems, tmp_path):
    conv = WidthConverter(elem_bits=ELEM_BITS, in_elems=in_elems, out_elems=out_elems)
    assert_valid_independent_of_ready(conv, tmp_path)


MUTATIONS = [("drop_on_simultaneous", "order"), ("glitch_stalled_payload", "payload_stable"),
             ("drop_stalled_valid", "valid_held"), ("extra_register", "bounded"),
             ("half_rate", "latency")]


@pytest.mark.parametrize("bug,prop", MUTATIONS, ids=[b for b, _ in MUTATIONS])
def test_converter_mutation_is_caught(bug, prop, tmp_path):
    latency = LATENCY[2, 3] if prop == "latency" else None
    assert_fails(converter_harness(2, 3, latency=latency, bug=bug, only=(prop,)), prop,
                 depth=16, workdir=tmp_path)
