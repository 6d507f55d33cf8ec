"""SlidingWindow: formal checks of its stream ports and of its output count per frame.

Which words it emits is checked bit-exactly in simulation (test_sliding_window.py).
Here, by BMC from reset to :data:`BMC_DEPTH` cycles (one output frame and the start of
the next of the small images below, 45-80 s each; the line buffer, its counters and row
bookkeeping are too large a state for an induction without a full model of them, so
these are bounded checks, not proofs):

* ``o.valid`` held until taken, ``o.payload`` stable while stalled;
* output count per frame: the last window word of a frame leaves only after the frame's
  last input word entered, and the input runs at most ``1 + ceil(rows / H)`` frames
  ahead of the finished output frames (``rows``: the line buffer's), with
  ``OH*OW*KH*KW*C/SIMD`` output words per ``H*W*C/SIMD`` input words;
* no deadlock: with the source valid and the sink ready, a word moves on one side or
  the other in every cycle.

``o.valid`` is outside the combinational cone of ``o.ready`` (netlist check).
"""

from __future__ import annotations

import pytest
from amaranth.hdl import Module, Mux, Signal

from bitsmith.hw.compute.sliding_window import SlidingWindow
from bitsmith.sim.formal.harness import Internals, Properties, check_sink, drive_source, implies
from bitsmith.sim.formal.invariants import _wrap
from bitsmith.sim.formal.mutants import Mutant
from tests.hw.formal_util import assert_fails, assert_proven, assert_valid_independent_of_ready

pytestmark = pytest.mark.formal

BMC_DEPTH = 30

CONFIGS = {
    "3x3-k2": dict(in_shape=(3, 3, 1), kernel=(2, 2)),
    "3x2-k2-pad-s2": dict(in_shape=(3, 2, 1), kernel=(2, 2), stride=(2, 1), pad=(1, 1, 0, 0)),
    "2x2x2-k2-depthwise": dict(in_shape=(2, 2, 2), kernel=(2, 2), depthwise=True),
}


def window(name: str, **extra) -> SlidingWindow:
    return SlidingWindow(simd=1, elem_bits=2, **{**CONFIGS[name], **extra})


def window_harness(dut: SlidingWindow, *, bug: str | None = None, only=None):
    shape = dut
    if bug is not None:
        dut = Mutant(dut, bug)
    m = Module()
    props = Properties(m, only=only)
    parts = Internals(dut)
    m.submodules.dut = parts.elaboratable
    accept = drive_source(props, dut.i, "i")
    deliver = check_sink(props, dut.o, "o")
    out_words, in_words = shape.out_words, shape.in_words
    in_pos = Signal(range(in_words), name="in_pos")
    out_pos = Signal(range(out_words), name="out_pos")
    # input frames completed minus output frames completed: the line buffer's rows may
    # hold the rest of a frame and whole next frames (small images)
    max_lead = 1 + -(-shape.rows // shape.h)
    lead = Signal(range(max_lead + 2), name="lead")
    in_done = accept & (in_pos == in_words - 1)
    out_done = deliver & (out_pos == out_words - 1)
    with m.If(accept):
        m.d.sync += in_pos.eq(_wrap(in_pos + 1, in_words))
    with m.If(deliver):
        m.d.sync += out_pos.eq(_wrap(out_pos + 1, out_words))
    m.d.sync += lead.eq(lead + in_done - out_done)
    props.check("frame_end", implies(out_done, lead >= 1))
    props.check("frame_lead", lead <= max_lead)
    props.check("progress", implies(dut.i.valid & dut.o.ready, accept | deliver))
    return m, props.ports


@pytest.mark.parametrize("name", CONFIGS)
def test_window_stream_ports_and_frame_count_by_bmc(name, tmp_path):
    assert_proven(window_harness(window(name)), mode="bmc", depth=BMC_DEPTH, workdir=tmp_path)


@pytest.mark.parametrize("name", CONFIGS)
def test_window_valid_not_combinational_on_ready(name, tmp_path):
    assert_valid_independent_of_ready(window(name), tmp_path)


@pytest.mark.parametrize("bug,prop", [("glitch_stalled_payload", "payload_stable"),
                                      ("drop_stalled_valid", "valid_held")])
def test_window_mutation_is_caught(bug, prop, tmp_path):
    assert_fails(window_harness(window("3x3-k2"), bug=bug, only=(prop,)), prop, depth=12,
                 workdir=tmp_path)
