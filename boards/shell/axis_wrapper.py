"""The core re-shaped for a Zynq block design: Vivado naming, DMA-legal widths."""

from amaranth import ClockDomain, Elaboratable, Instance, Module, Signal
from amaranth.back import verilog

from ..bundle import CoreIO


def dma_width(tdata_bits: int) -> int:
    """AXI DMA stream widths are powers of two from 8 to 1024 bits."""
    width = 8
    while width < tdata_bits:
        width *= 2
    if width > 1024:
        raise ValueError(f"Stream width must be at most 1024 bits for the AXI DMA, "
                         f"not {tdata_bits!r}")
    return width


class AxisWrapper(Elaboratable):
    """Ports ``ap_clk``, ``ap_rst_n`` (active low, synchronised to a registered active-high
    reset for the core) and ``s_axis_*``/``m_axis_*`` at the DMA's widths, with ``tlast``
    and ``tkeep`` (all ones) on the master side, so Vivado's module reference infers two
    AXI4-Stream interfaces and a clock and reset.

    Parameters
    ----------
    core : CoreIO
        The core (instantiated by module name; its Verilog is added to the project).

    Latency: one cycle more after reset release; none on the data path.
    """

    def __init__(self, core: CoreIO):
        self.core = core
        self.in_bits = dma_width(core.inp.tdata_bits)
        self.out_bits = dma_width(core.out.tdata_bits)
        self.ap_clk = Signal()
        self.ap_rst_n = Signal()
        self.s_axis_tdata = Signal(self.in_bits)
        self.s_axis_tvalid = Signal()
        self.s_axis_tready = Signal()
        self.s_axis_tlast = Signal()
        self.m_axis_tdata = Signal(self.out_bits)
        self.m_axis_tvalid = Signal()
        self.m_axis_tready = Signal()
        self.m_axis_tlast = Signal()
        self.m_axis_tkeep = Signal(self.out_bits // 8)

    def ports(self) -> list[Signal]:
        return [self.ap_clk, self.ap_rst_n, self.s_axis_tdata, self.s_axis_tvalid,
                self.s_axis_tready, self.s_axis_tlast, self.m_axis_tdata, self.m_axis_tvalid,
                self.m_axis_tready, self.m_axis_tlast, self.m_axis_tkeep]

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = sync = ClockDomain("sync", reset_less=True)
        m.d.comb += sync.clk.eq(self.ap_clk)
        reset = Signal(init=1)
        m.d.sync += reset.eq(~self.ap_rst_n)
        core_out = Signal(self.core.out.tdata_bits)
        m.submodules.core = Instance(
            self.core.top, i_clk=self.ap_clk, i_rst=reset,
            i_s_axis_tdata=self.s_axis_tdata[:self.core.inp.tdata_bits],
            i_s_axis_tvalid=self.s_axis_tvalid, o_s_axis_tready=self.s_axis_tready,
            o_m_axis_tdata=core_out, o_m_axis_tvalid=self.m_axis_tvalid,
            i_m_axis_tready=self.m_axis_tready, o_m_axis_tlast=self.m_axis_tlast)
        m.d.comb += [self.m_axis_tdata.eq(core_out), self.m_axis_tkeep.eq(-1)]
        return m


def emit_axis_wrapper(core: CoreIO, name: str = "bitsmith_axis") -> tuple[str, AxisWrapper]:
    wrapper = AxisWrapper(core)
    return verilog.convert(wrapper, name=name, ports=wrapper.ports()), wrapper
