"""The shell with the core, as a plain Verilog top for simulation (no board, no PLL)."""


from amaranth import ClockDomain, ClockSignal, Module, ResetSignal, Signal
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bundle import CoreIO
from .bridge import Bridge
from .core import CoreInstance
from .crossing import StreamCrossing


class ShellWithCore(wiring.Component):
    """:class:`Bridge` wired to a :class:`CoreInstance`; ports ``rx``/``tx`` only.

    The same block sits inside every open-board top; on its own (``clk``/``rst`` from the
    ``sync`` domain) it is what the end-to-end simulation runs. The bridge runs in
    ``sync``; with ``core_domain`` other than ``sync`` the core runs in that domain and
    two :class:`StreamCrossing` handshakes carry its streams across.

    Parameters
    ----------
    core : CoreIO
        The core to instantiate.
    clocks_per_bit : int
        UART bit period in cycles.
    timeout_cycles : int or None
        See :class:`Bridge`.
    core_domain : str
        Clock domain of the core (default ``sync``: one clock, no crossing).

    Members
    -------
    rx : In(1)
    tx : Out(1)
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)

    def __init__(self, core: CoreIO, *, clocks_per_bit: int, timeout_cycles: int | None = None,
                 core_domain: str = "sync"):
        self.core, self.core_domain = core, core_domain
        self.bridge = Bridge(in_words=core.inp.words_per_frame, in_tdata_bits=core.inp.tdata_bits,
                             out_words=core.out.words_per_frame,
                             out_tdata_bits=core.out.tdata_bits,
                             clocks_per_bit=clocks_per_bit, timeout_cycles=timeout_cycles)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.bridge = bridge = self.bridge
        m.submodules.core = core = CoreInstance(self.core, domain=self.core_domain)
        m.d.comb += [bridge.rx.eq(self.rx), self.tx.eq(bridge.tx)]
        if self.core_domain == "sync":
            wiring.connect(m, bridge.s_axis, core.s_axis)
            wiring.connect(m, core.m_axis, bridge.m_axis)
            return m
        m.submodules.to_core = to_core = StreamCrossing(
            width=self.core.inp.tdata_bits, w_domain="sync", r_domain=self.core_domain)
        m.submodules.from_core = from_core = StreamCrossing(
            width=self.core.out.tdata_bits, w_domain=self.core_domain, r_domain="sync")
        wiring.connect(m, bridge.s_axis, to_core.i)
        wiring.connect(m, to_core.o, core.s_axis)
        wiring.connect(m, core.m_axis, from_core.i)
        wiring.connect(m, from_core.o, bridge.m_axis)
        return m


def emit_sim_top(core: CoreIO, *, clocks_per_bit: int, timeout_cycles: int | None = None,
                 name: str = "bitsmith_shell", crossing: bool = False) -> str:
    """Verilog of :class:`ShellWithCore` with ports ``clk rst rx tx`` (core not included).

    With ``crossing`` the core sits in its own ``core`` domain behind the two
    :class:`StreamCrossing` handshakes, as on a board, with ``clk``/``rst`` driving both
    domains (the crossing's logic is simulated; the clocks are not independent).
    """
    top = ShellWithCore(core, clocks_per_bit=clocks_per_bit, timeout_cycles=timeout_cycles,
                        core_domain="core" if crossing else "sync")
    if not crossing:
        return verilog.convert(top, name=name)
    m = Module()
    m.domains.core = ClockDomain("core")
    m.d.comb += [ClockSignal("core").eq(ClockSignal("sync")),
                 ResetSignal("core").eq(ResetSignal("sync"))]
    m.submodules.shell = top
    rx, tx = Signal(init=1, name="rx"), Signal(init=1, name="tx")
    m.d.comb += [top.rx.eq(rx), tx.eq(top.tx)]
    return verilog.convert(m, name=name, ports=[rx, tx])
