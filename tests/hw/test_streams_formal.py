"""The credit-controlled output queue (``add_output_queue``, the MVAU's): formal proofs.

A pipeline in the MVAU's manner takes an input word whenever it holds a credit and
writes it into the queue ``latency`` cycles later, never stalling in between. For queue
depths 1 to 8, with and without the registered credit return, and the MVAU's own
sizing (``depth = latency + 4``, registered return):

* k-induction of depth 4 (``mode prove``): ``o.valid`` held, ``o.payload`` stable while
  stalled, no word lost, duplicated or reordered, at most ``depth`` words between
  credit and output, so the queue never overflows (an overwritten word would be lost);
* k-induction of depth ``bound + 2``: bounded latency, a word taken leaves within
  ``max(latency + 2, depth)`` ready cycles (pipeline, queue write, output register; or
  one per cycle behind at most ``depth - 1`` others); one cycle less fails (BMC);
* netlist: neither ``o.valid`` nor the credit flag (``i.ready``, the pipeline's issue
  condition) is in the combinational cone of ``o.ready``.
"""

from __future__ import annotations

import pytest
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from bitsmith.hw.streams import add_output_queue, delay
from bitsmith.sim.formal.harness import implies, occupancy_invariants, stream_harness
from bitsmith.sim.formal.invariants import _wrap
from bitsmith.sim.formal.mutants import Mutant
from tests.hw.formal_util import assert_fails, assert_proven, assert_valid_independent_of_ready

pytestmark = pytest.mark.formal

WIDTH = 3


class _Pipeline(wiring.Component):
    """Credit taken with the input word, word written ``latency`` cycles later."""

    def __init__(self, *, depth, latency, registered_return):
        self.depth, self.latency, self.registered_return = depth, latency, registered_return
        super().__init__({"i": In(stream.Signature(WIDTH)), "o": Out(stream.Signature(WIDTH))})

    def elaborate(self, platform):
        m = Module()
        credit_ok, take, w_en, w_data = add_output_queue(
            m, self.o, depth=self.depth, registered_return=self.registered_return)
        m.d.comb += [self.i.ready.eq(credit_ok), take.eq(self.i.valid & credit_ok),
                     w_en.eq(delay(m, take, self.latency, "w_en")),
                     w_data.eq(delay(m, self.i.payload, self.latency, "w_data"))]
        return m


def queue_invariants(depth: int, latency: int, registered_return: bool):
    """Words taken = in the pipeline + in the queue memory + in the output and skid
    registers; credits in use = those (+ a transfer whose credit is on its way back);
    the tracked word in the skid register, the output register, the memory, or its
    pipeline stage."""
    def add(props, parts, board):
        flags = [parts[f"w_en_d{k}"] for k in range(1, latency + 1)]
        producing = sum(flags)
        stored = parts["out_queue_level"]
        out_valid = parts["out_queue_out_valid"]
        skid_valid = parts["out_queue_skid_valid"]
        held = out_valid + skid_valid
        occupancy_invariants(props, parts, "out_queue", depth)
        returning = parts["out_queue_give_d1"] if registered_return else 0
        occupancy_invariants(props, parts, "out_queue_credits", depth,
                             producing + stored + held + returning)
        props.check("inv_words", board.level == producing + stored + held)
        props.check("inv_valid", (parts["out_queue_valid"] == (out_valid | skid_valid))
                    & (parts["out_queue_out_valid_data"] == out_valid)
                    & (parts["out_queue_skid_valid_data"] == skid_valid))
        produce, consume = parts["out_queue_produce"], parts["out_queue_consume"]
        props.check("inv_pointers", (produce < depth) & (consume < depth)
                    & (produce == _wrap(consume + stored, depth)))
        # oldest first: the skid register's word, the output register's, the memory's
        position = board.ahead
        props.check("inv_skid", implies(board.armed & skid_valid & (position == 0),
                                        parts["out_queue_skid"] == board.value))
        props.check("inv_out", implies(board.armed & out_valid & (position == skid_valid),
                                       parts["out_queue_out"] == board.value))
        offset = position - held
        in_memory = board.armed & (position >= held) & (offset < stored)
        word = parts.read("out_queue", _wrap(consume + offset[:len(consume) + 1], depth),
                          "formal_queue_word")
        props.check("inv_stored", implies(in_memory, word == board.value))
        index = held + stored
        for k in reversed(range(latency)):
            here = board.armed & flags[k] & (position == index)
            props.check(f"inv_stage{k + 1}", implies(here, parts[f"w_data_d{k + 1}"] == board.value))
            index = index + flags[k]
    return add


CONFIGS = [(1, 1, False), (2, 1, True), (3, 4, False), (3, 4, True), (5, 2, False), (8, 4, True)]
"""(depth, latency, registered_return); (8, 4, True) is the MVAU of SIMD 1 without
thresholds (write latency 4, ``out_fifo_depth`` 8)."""
IDS = [f"d{d}-l{l}-{'reg' if r else 'late'}" for d, l, r in CONFIGS]


def queue_harness(depth, latency, registered_return, *, bound=None, bug=None, only=None):
    dut = _Pipeline(depth=depth, latency=latency, registered_return=registered_return)
    if bug is not None:
        return stream_harness(Mutant(dut, bug), capacity=depth, latency=bound, only=only)
    return stream_harness(dut, capacity=depth, latency=bound,
                          invariants=queue_invariants(depth, latency, registered_return))


@pytest.mark.parametrize("depth,latency,registered", CONFIGS, ids=IDS)
def test_queue_contract_by_induction(depth, latency, registered, tmp_path):
    assert_proven(queue_harness(depth, latency, registered), mode="prove", depth=4,
                  workdir=tmp_path)


def latency_bound(depth: int, latency: int) -> int:
    return max(latency + 2, depth)


@pytest.mark.parametrize("depth,latency,registered", CONFIGS, ids=IDS)
def test_queue_latency_by_induction(depth, latency, registered, tmp_path):
    bound = latency_bound(depth, latency)
    assert_proven(queue_harness(depth, latency, registered, bound=bound), mode="prove",
                  depth=bound + 2, workdir=tmp_path)


@pytest.mark.parametrize("depth,latency,registered", [(3, 4, True), (8, 4, True)],
                         ids=["pipeline", "queue"])
def test_queue_latency_bound_is_exact(depth, latency, registered, tmp_path):
    bound = latency_bound(depth, latency) - 1
    assert_fails(queue_harness(depth, latency, registered, bound=bound), "latency",
                 depth=2 * bound + 6, workdir=tmp_path)


@pytest.mark.parametrize("depth,latency,registered", CONFIGS, ids=IDS)
def test_queue_credit_and_valid_not_combinational_on_ready(depth, latency, registered, tmp_path):
    dut = _Pipeline(depth=depth, latency=latency, registered_return=registered)
    assert_valid_independent_of_ready(dut, tmp_path / "valid")
    dut = _Pipeline(depth=depth, latency=latency, registered_return=registered)
    assert_valid_independent_of_ready(dut, tmp_path / "credit", valid="i__ready")


MUTATIONS = [("drop_on_simultaneous", "order"), ("glitch_stalled_payload", "payload_stable"),
             ("drop_stalled_valid", "valid_held"), ("extra_register", "bounded")]


@pytest.mark.parametrize("bug,prop", MUTATIONS, ids=[b for b, _ in MUTATIONS])
def test_queue_mutation_is_caught(bug, prop, tmp_path):
    assert_fails(queue_harness(3, 4, True, bug=bug, only=(prop,)), prop, depth=20,
                 workdir=tmp_path)
