"""The bitsmith core as a black box: an ``Instance`` of its Verilog top module."""

from __future__ import annotations

from amaranth import ClockSignal, Instance, Module, ResetSignal, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..bundle import CoreIO


class CoreInstance(wiring.Component):
    """Instantiates the generated top (DESIGN.md §3 ports) in clock domain ``domain``.

    The Verilog is added to the platform (``platform.add_file``) when there is one; for a
    plain ``verilog.convert`` the caller compiles the core's file alongside. ``tlast`` is
    not needed by the shell (frames have a fixed length) and is left unconnected.

    Parameters
    ----------
    core : CoreIO
        The core's module name, Verilog and stream widths.
    domain : str
        Clock domain whose clock and reset drive the core's ``clk`` and ``rst``.

    Members
    -------
    s_axis : In(stream.Signature(core.inp.tdata_bits))
    m_axis : Out(stream.Signature(core.out.tdata_bits))
    """

    def __init__(self, core: CoreIO, *, domain: str = "sync"):
        if not isinstance(core, CoreIO):
            raise TypeError(f"Core must be a CoreIO, not {core!r}")
        self.core, self.domain = core, domain
        super().__init__({"s_axis": In(stream.Signature(core.inp.tdata_bits)),
                          "m_axis": Out(stream.Signature(core.out.tdata_bits))})

    def elaborate(self, platform):
        m = Module()
        tlast = Signal()
        m.submodules.core = Instance(
            self.core.top,
            i_clk=ClockSignal(self.domain), i_rst=ResetSignal(self.domain),
            i_s_axis_tdata=self.s_axis.payload, i_s_axis_tvalid=self.s_axis.valid,
            o_s_axis_tready=self.s_axis.ready,
            o_m_axis_tdata=self.m_axis.payload, o_m_axis_tvalid=self.m_axis.valid,
            i_m_axis_tready=self.m_axis.ready, o_m_axis_tlast=tlast)
        if platform is not None:
            platform.add_file(self.core.verilog.name, self.core.verilog_text())
        return m
