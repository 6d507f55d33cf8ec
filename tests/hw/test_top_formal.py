"""AxiStreamTop: formal proof of ``m_axis_tlast`` and of the AXI4-Stream ports.

The top wraps a one-stage dataflow (a register slice and its FIFO, so the top holds up
to 7 words with its input slice). By k-induction of depth 3, for frames of 1 and 3
words:

* ``m_axis_tvalid`` held until taken, ``m_axis_tdata``/``m_axis_tlast`` stable while
  stalled; every word out once and in order (tracked word);
* ``tlast`` exactly on every ``out_words_per_frame``-th output word, and end to end on
  the word that entered as the last of its input frame.

A top built with a frame one word longer fails the ``tlast`` checks (BMC).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from amaranth.hdl import Module, Mux, Signal

from bitsmith.hw.plumbing.register_slice import RegisterSlice
from bitsmith.hw.top import AxiStreamTop, Dataflow, Stage
from bitsmith.sim.formal import invariants
from bitsmith.sim.formal.harness import (Internals, Properties, Scoreboard, check_sink,
                                         drive_source, implies)
from bitsmith.sim.formal.invariants import _wrap
from tests.hw.formal_util import assert_fails, assert_proven

pytestmark = pytest.mark.formal

WIDTH = 4
SLICES = (("s_axis_slice.", 2), ("dataflow.stage.", 2), ("dataflow.stage_fifo.slice.", 3))
"""The register slices inside the top, input first: ``(prefix, entries)``."""


def top_harness(frame: int, *, built_frame: int | None = None, only=None):
    dataflow = Dataflow([Stage(RegisterSlice(width=WIDTH), "stage", WIDTH, 1, WIDTH, 1)])
    top = AxiStreamTop(dataflow=dataflow, in_elem_bits=WIDTH, in_elems=1, out_elem_bits=WIDTH,
                       out_elems=1, out_words_per_frame=built_frame or frame)
    m = Module()
    props = Properties(m, only=only)
    parts = Internals(top)
    m.submodules.top = parts.elaboratable
    s_axis = SimpleNamespace(valid=top.s_axis_tvalid, ready=top.s_axis_tready,
                             payload=top.s_axis_tdata)
    m_axis = SimpleNamespace(valid=top.m_axis_tvalid, ready=top.m_axis_tready,
                             payload=top.m_axis_tdata | (top.m_axis_tlast << top.tdata_out_bits))
    accept = drive_source(props, s_axis, "s_axis")
    deliver = check_sink(props, m_axis, "m_axis")
    board = Scoreboard(props, accept=accept, deliver=deliver,
                       in_payload=top.s_axis_tdata[:WIDTH], out_payload=top.m_axis_tdata[:WIDTH],
                       elem_bits=WIDTH, capacity=sum(n for _, n in SLICES))

    # words of the current frame so far, on each side; the tracked word's input index
    in_pos = Signal(range(frame), name="in_pos")
    out_pos = Signal(range(frame), name="out_pos")
    tag = Signal(range(frame), name="tag")
    with m.If(accept):
        m.d.sync += in_pos.eq(_wrap(in_pos + 1, frame))
    with m.If(deliver):
        m.d.sync += out_pos.eq(_wrap(out_pos + 1, frame))
    with m.If(board.start):
        m.d.sync += tag.eq(in_pos)
    last = top.m_axis_tlast
    props.check("tlast", implies(deliver, last == (out_pos == frame - 1)))
    entered_as = Mux(board.start, in_pos, tag)  # the tracked word's index in its frame
    props.check("tlast_end_to_end", implies(board.here, last == (entered_as == frame - 1)))

    # induction invariants: the three slices hold the words, oldest at the output
    position, total = board.ahead, 0
    for prefix, entries in reversed(SLICES):
        level = parts[f"{prefix}slice_level"]
        invariants.register_slice(props, parts, board, entries=entries, prefix=prefix,
                                  words=level, position=position - total)
        total = total + level
    props.check("inv_levels", board.level == total)
    props.check("inv_frame", (in_pos < frame) & (out_pos < frame)
                & (parts["out_word"] == out_pos)
                & (in_pos == _wrap(out_pos + board.level % frame, frame))
                & implies(board.armed, tag == _wrap(out_pos + board.ahead % frame, frame)))
    return m, props.ports


@pytest.mark.parametrize("frame", [1, 3])
def test_top_tlast_and_ports_by_induction(frame, tmp_path):
    assert_proven(top_harness(frame), mode="prove", depth=3, workdir=tmp_path)


@pytest.mark.parametrize("check", ["tlast", "tlast_end_to_end"])
def test_top_with_wrong_frame_length_fails(check, tmp_path):
    assert_fails(top_harness(3, built_frame=4, only=(check,)), check, depth=12, workdir=tmp_path)
