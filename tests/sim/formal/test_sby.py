"""The SymbiYosys runner and the netlist check of bitsmith.sim.formal, on tiny designs."""

from __future__ import annotations

import re

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from bitsmith.sim.formal.harness import Properties
from bitsmith.sim.formal.sby import run_sby, valid_depends_on_ready

pytestmark = pytest.mark.formal


def counter(limit: int, *, shadow: bool):
    """Two 4-bit counters that count together while the free input ``go`` is high and
    the first is below 12. Checks that the second stays below ``limit``, and with
    ``shadow`` that both are equal (the invariant that makes the first check inductive)."""
    m = Module()
    props = Properties(m)
    go = props.free(1, "go")
    count, copy = Signal(4, name="count"), Signal(4, name="copy")
    with m.If(go & (count < 12)):
        m.d.sync += [count.eq(count + 1), copy.eq(copy + 1)]
    props.check("below", copy < limit)
    if shadow:
        props.check("equal", count == copy)
    return m, props.ports


def test_fail_names_the_check_and_step(tmp_path):
    result = run_sby(*counter(5, shadow=False), mode="bmc", depth=10, workdir=tmp_path)
    assert (result.status, result.failed, result.step) == ("FAIL", {"below"}, 6)


def test_bmc_passes_below_the_failing_depth(tmp_path):
    assert run_sby(*counter(5, shadow=False), mode="bmc", depth=6, workdir=tmp_path).status == "PASS"


def test_induction_proves_with_the_invariant(tmp_path):
    assert run_sby(*counter(13, shadow=True), mode="prove", depth=2, workdir=tmp_path).status == "PASS"


def test_induction_reports_a_true_property_that_is_not_inductive(tmp_path):
    """``copy < 13`` holds from reset, but the induction step may start from ``copy == 12``
    with ``count == 0``, whose successor breaks it: UNKNOWN, naming the check."""
    result = run_sby(*counter(13, shadow=False), mode="prove", depth=3, workdir=tmp_path)
    assert (result.status, result.failed) == ("UNKNOWN", {"below"})


class _Through(wiring.Component):
    """A register stage whose ``o.valid`` is the register, or the register and ``o.ready``."""

    def __init__(self, gated: bool):
        self.gated = gated
        super().__init__({"i": In(stream.Signature(2)), "o": Out(stream.Signature(2))})

    def elaborate(self, platform):
        m = Module()
        full = Signal()
        m.d.comb += [self.i.ready.eq(~full | self.o.ready),
                     self.o.valid.eq(full & self.o.ready if self.gated else full)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [full.eq(1), self.o.payload.eq(self.i.payload)]
        with m.Elif(self.o.ready):
            m.d.sync += full.eq(0)
        return m


@pytest.mark.parametrize("gated", [False, True])
def test_netlist_check_finds_a_combinational_path(gated, tmp_path):
    assert valid_depends_on_ready(_Through(gated), workdir=tmp_path) is gated


@pytest.mark.parametrize("kw,message", [
    (dict(mode="cover", depth=3), "mode must be 'prove' or 'bmc', not 'cover'"),
    (dict(mode="bmc", depth=0), "depth must be a positive integer, not 0"),
])
def test_run_rejects(kw, message, tmp_path):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        run_sby(*counter(5, shadow=False), workdir=tmp_path, **kw)
