"""StreamFifo (and RegisterSlice, which the FIFO is up to 4 words): formal proofs.

Properties, each of the FIFO for every input sequence, stall pattern and payload:

* stream contract, by k-induction of depth 3 (``mode prove``): ``o.valid`` held until
  taken, ``o.payload`` stable while stalled, no word lost, duplicated or reordered
  (tracked word), none emitted that did not enter, at most ``depth`` words inside;
* bounded latency, by k-induction of depth ``depth + 2`` (depths of
  ``LATENCY_DEPTHS``): with the sink ready, a word leaves within ``depth`` ready cycles
  after it entered (exact: with ``depth - 1`` BMC finds a counterexample);
* ``o.valid`` outside the combinational cone of ``o.ready`` (netlist check).

Each property fails on a deliberately broken FIFO (:mod:`bitsmith.sim.formal.mutants`).
"""

from __future__ import annotations

import pytest

from bitsmith.hw.plumbing.fifo import StreamFifo
from bitsmith.hw.plumbing.register_slice import RegisterSlice
from bitsmith.sim.formal import invariants
from bitsmith.sim.formal.harness import stream_harness
from bitsmith.sim.formal.mutants import Mutant
from tests.hw.formal_util import (assert_fails, assert_proven, assert_valid_depends_on_ready,
                                  assert_valid_independent_of_ready)

pytestmark = pytest.mark.formal

DEPTHS = [2, 3, 4, 5, 17, 36, 40]
"""Register slice (2..4), one-stage memory (5, 17), block RAM with its read register
(36: the smallest, 40)."""

LATENCY_DEPTHS = [2, 4, 5, 6]
"""The latency bound needs an induction depth above the bound (the cycle counter must
reach it within the induction window): about 10 s at depth 6, 80 s at 17 and minutes
for the block-RAM FIFOs, which are left out (their read path differs from depth 5's
only by the read register; their contract proofs above do cover them)."""


def fifo_invariants(dut: StreamFifo):
    def add(props, parts, board):
        if dut.depth <= 4:
            invariants.register_slice(props, parts, board, entries=dut.depth, prefix="slice.")
        else:
            invariants.stream_fifo(props, parts, board, depth=dut.depth,
                                   read_stages=dut._read_stages)
    return add


def fifo_harness(depth: int, *, width: int = 4, latency: int | None = None, bug: str | None = None,
                 only=None):
    dut = StreamFifo(width=width, depth=depth)
    if bug is not None:
        return stream_harness(Mutant(dut, bug), capacity=depth, latency=latency, only=only)
    return stream_harness(dut, capacity=depth, latency=latency, invariants=fifo_invariants(dut))


@pytest.mark.parametrize("depth", DEPTHS)
def test_fifo_stream_contract_by_induction(depth, tmp_path):
    assert_proven(fifo_harness(depth), mode="prove", depth=3, workdir=tmp_path)


@pytest.mark.parametrize("depth", LATENCY_DEPTHS)
def test_fifo_latency_by_induction(depth, tmp_path):
    assert_proven(fifo_harness(depth, width=1, latency=depth), mode="prove", depth=depth + 2,
                  workdir=tmp_path)


@pytest.mark.parametrize("depth", [2, 5])
def test_fifo_latency_bound_is_exact(depth, tmp_path):
    """One cycle less and a word that waited behind ``depth - 1`` others is still inside."""
    assert_fails(fifo_harness(depth, width=1, latency=depth - 1), "latency", depth=2 * depth + 4,
                 workdir=tmp_path)


@pytest.mark.parametrize("depth", DEPTHS)
def test_fifo_valid_not_combinational_on_ready(depth, tmp_path):
    assert_valid_independent_of_ready(StreamFifo(width=4, depth=depth), tmp_path)


def test_register_slice_contract_by_induction(tmp_path):
    """The slice on its own (entries 3), outside a FIFO."""
    def add(props, parts, board):
        invariants.register_slice(props, parts, board, entries=3)
    assert_proven(stream_harness(RegisterSlice(width=4, entries=3), capacity=3, latency=3,
                                 invariants=add), mode="prove", depth=5, workdir=tmp_path)


MUTATIONS = [("drop_on_simultaneous", "order"), ("duplicate", "order"),
             ("glitch_stalled_payload", "payload_stable"), ("drop_stalled_valid", "valid_held"),
             ("extra_register", "bounded"), ("half_rate", "latency")]


@pytest.mark.parametrize("depth", [3, 6])
@pytest.mark.parametrize("bug,prop", MUTATIONS, ids=[b for b, _ in MUTATIONS])
def test_fifo_mutation_is_caught(bug, prop, depth, tmp_path):
    harness = fifo_harness(depth, latency=depth if prop == "latency" else None, bug=bug,
                           only=(prop,))
    assert_fails(harness, prop, depth=2 * depth + 6 if prop in ("bounded", "latency") else 12,
                 workdir=tmp_path)


def test_fifo_mutation_valid_from_ready_is_caught(tmp_path):
    assert_valid_depends_on_ready(Mutant(StreamFifo(width=4, depth=6), "valid_from_ready"),
                                  tmp_path)
