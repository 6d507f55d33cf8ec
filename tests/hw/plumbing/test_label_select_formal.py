"""LabelSelect: formal proofs of its stream ports and of its output count per frame.

Which indices it picks is checked bit-exactly in simulation (test_label_select.py); the
proofs cover, for every input sequence and stall pattern, by k-induction of depth 4:

* ``o.valid`` held until taken, ``o.payload`` stable while stalled, every index < C;
* exactly K output words per input frame: an output word only for a frame whose last
  input word has entered (``owed`` never negative), at most two frames' results owed
  (three with one word per frame: one being sent, one in stage A, one in the input
  register);
* bounded latency: while results are owed and the sink is ready, a word leaves at least
  every :func:`gap` cycles (k-induction of depth ``gap + 3``); one less fails.

Configurations: a sorted top-K list (K 2 of C 4, PE 2; K 3 of C 3, PE 1; K 2 of C 6,
PE 3; K 2 of C 4, PE 4), K = 1 by a tree (C 6, PE 3) and the running maximum
(K = PE = 1), INT2 values.
"""

from __future__ import annotations

import pytest
from amaranth.hdl import Module, Mux, Signal
from qonnx.core.datatype import DataType

from bitsmith.hw.plumbing.label_select import LabelSelect
from bitsmith.sim.formal.harness import (Internals, Properties, check_sink, drive_source,
                                         implies)
from bitsmith.sim.formal.invariants import _wrap
from tests.hw.formal_util import assert_fails, assert_proven, assert_valid_independent_of_ready

pytestmark = pytest.mark.formal

CONFIGS = [(4, 2, 2), (3, 3, 1), (6, 2, 3), (6, 1, 3), (4, 2, 4), (4, 1, 1)]
"""(channels, k, pe): sorted lists, K = 1 by a tree (6, 1, 3), one word per frame
(4, 2, 4); the last is the running maximum."""
IDS = [f"c{c}-k{k}-pe{p}" for c, k, p in CONFIGS]

def gap(k: int, pe: int) -> int:
    """Ready cycles in a row without a word while results are owed, at most: 3 (the last
    word is registered, its candidates registered, then inserted; the running maximum:
    registered, compared, then updated)."""
    return 3


def frame_counts(props: Properties, m: Module, *, accept, deliver, words_in: int, words_out: int,
                 owed_max: int, gap: int | None, ready):
    """Frame bookkeeping shared by the compute units: input position in the frame, and
    ``owed`` output words (``words_out`` per completed input frame, minus those sent).
    Checks ``no_spurious`` (a word only while owed), ``owed_bounded`` and, with ``gap``,
    ``latency`` (at most ``gap`` ready cycles in a row without a word while owed)."""
    in_pos = Signal(range(words_in), name="in_pos")
    owed = Signal(range(owed_max + words_out + 2), name="owed")
    completes = accept & (in_pos == words_in - 1)
    with m.If(accept):
        m.d.sync += in_pos.eq(_wrap(in_pos + 1, words_in))
    m.d.sync += owed.eq(owed + Mux(completes, words_out, 0) - deliver)
    props.check("no_spurious", implies(deliver, owed > 0))
    props.check("owed_bounded", (owed <= owed_max) & (in_pos < words_in))
    if gap is not None:
        wait = Signal(range(gap + 2), name="wait")
        with m.If((owed > 0) & ready & ~deliver):
            m.d.sync += wait.eq(Mux(wait > gap, wait, wait + 1))
        with m.Else():
            m.d.sync += wait.eq(0)
        props.check("latency", wait < gap)
    return in_pos, owed


def label_harness(channels, k, pe, *, expect_k=None, gap=None, only=None, invariants=True):
    dut = LabelSelect(channels=channels, in_dtype=DataType["INT2"], k=k, pe=pe)
    expect_k = expect_k or k
    m = Module()
    props = Properties(m, only=only)
    parts = Internals(dut)
    m.submodules.dut = parts.elaboratable
    accept = drive_source(props, dut.i, "i")
    deliver = check_sink(props, dut.o, "o")
    props.check("o_index_range", implies(dut.o.valid, dut.o.payload < channels))
    # results owed: the one being sent, a last word's candidates waiting for it, and (one
    # word per frame) the next frame's last word in the input register
    frames_owed = 3 if channels == pe and not dut.running_max else 2
    fold, owed = frame_counts(props, m, accept=accept, deliver=deliver, words_in=channels // pe,
                              words_out=expect_k, owed_max=frames_owed * expect_k, gap=gap,
                              ready=dut.o.ready)
    if invariants:
        _label_invariants(props, parts, dut, fold, owed)
    return m, props.ports


def _label_invariants(props, parts, dut, fold, owed):
    """Input register, top-K list and result registers against the frame counters."""
    k, folds = dut.k, dut.folds
    pending, word_last, busy, sent = (parts[n] for n in ("pending", "word_last", "busy", "sent"))
    base = parts["base"]
    owed_now = Mux(busy, k - sent, 0) + Mux(pending & word_last, k, 0)
    inserted = base                         # elements in the kept list
    if not dut.running_max:                 # + a last word's candidates in stage A
        cand_valid, cand_last = parts["cand_valid"], parts["cand_last"]
        owed_now = owed_now + Mux(cand_valid & cand_last, k, 0)
        inserted = Mux(cand_valid, Mux(cand_last, (folds - 1) * dut.pe, base - dut.pe), base)
        cands = 1 if k == 1 else dut.pe
        in_range = sum((parts[f"cand{j}_idx"] < dut.channels).as_unsigned() for j in range(cands)) == cands
        props.check("inv_cand", implies(cand_valid, (cand_last == (base == 0)) & in_range))
    props.check("inv_owed", owed == owed_now)
    props.check("inv_fold", (parts["fold"] == fold) & (sent < k)
                & implies(pending, word_last == (fold == 0)))
    words_in = Mux(pending, _wrap(fold + folds - 1, folds), fold)  # words past the input register
    props.check("inv_base", base == words_in * dut.pe)
    props.check("inv_list", sum(((parts[f"occ{j}"] == (inserted > j)) & (parts[f"idx{j}"] < dut.channels)
                                 & (parts[f"out{j}"] < dut.channels)).as_unsigned()
                                for j in range(k)) == k)
    if dut.running_max:
        props.check("inv_compare", implies(parts["compared"], pending))


@pytest.mark.parametrize("channels,k,pe", CONFIGS, ids=IDS)
def test_label_select_by_induction(channels, k, pe, tmp_path):
    assert_proven(label_harness(channels, k, pe), mode="prove", depth=4, workdir=tmp_path)


@pytest.mark.parametrize("channels,k,pe", CONFIGS, ids=IDS)
def test_label_select_latency_by_induction(channels, k, pe, tmp_path):
    assert_proven(label_harness(channels, k, pe, gap=gap(k, pe)), mode="prove",
                  depth=gap(k, pe) + 3, workdir=tmp_path)


@pytest.mark.parametrize("channels,k,pe", CONFIGS, ids=IDS)
def test_label_select_valid_not_combinational_on_ready(channels, k, pe, tmp_path):
    dut = LabelSelect(channels=channels, in_dtype=DataType["INT2"], k=k, pe=pe)
    assert_valid_independent_of_ready(dut, tmp_path)


@pytest.mark.parametrize("check", ["no_spurious", "owed_bounded"])
def test_label_select_with_wrong_count_fails(check, tmp_path):
    """A unit that emits K+1 words per frame (or K-1, seen as owing too much) fails."""
    expect = 2 if check == "no_spurious" else 4
    harness = label_harness(4, 3, 2, expect_k=expect, only=(check,), invariants=False)
    assert_fails(harness, check, depth=16, workdir=tmp_path)


@pytest.mark.parametrize("channels,k,pe", [(4, 1, 1), (4, 2, 2)], ids=["running-max", "top-k"])
def test_label_select_gap_is_exact(channels, k, pe, tmp_path):
    assert_fails(label_harness(channels, k, pe, gap=gap(k, pe) - 1, invariants=False), "latency",
                 depth=20, workdir=tmp_path)
