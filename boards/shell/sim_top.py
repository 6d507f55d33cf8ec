"""The shell with the core, as a plain Verilog top for simulation (no board, no PLL)."""


from amaranth import Module
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bundle import CoreIO
from .bridge import Bridge
from .core import CoreInstance


class ShellWithCore(wiring.Component):
    """:class:`Bridge` wired to a :class:`CoreInstance`; ports ``rx``/``tx`` only.

    The same block sits inside every open-board top; on its own (``clk``/``rst`` from the
    ``sync`` domain) it is what the end-to-end simulation runs.

    Parameters
    ----------
    core : CoreIO
        The core to instantiate.
    clocks_per_bit : int
        UART bit period in cycles.
    timeout_cycles : int or None
        See :class:`Bridge`.

    Members
    -------
    rx : In(1)
    tx : Out(1)
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)

    def __init__(self, core: CoreIO, *, clocks_per_bit: int, timeout_cycles: int | None = None):
        self.core = core
        self.bridge = Bridge(in_words=core.inp.words_per_frame, in_tdata_bits=core.inp.tdata_bits,
                             out_words=core.out.words_per_frame,
                             out_tdata_bits=core.out.tdata_bits,
                             clocks_per_bit=clocks_per_bit, timeout_cycles=timeout_cycles)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.bridge = bridge = self.bridge
        m.submodules.core = core = CoreInstance(self.core)
        m.d.comb += [bridge.rx.eq(self.rx), self.tx.eq(bridge.tx)]
        wiring.connect(m, bridge.s_axis, core.s_axis)
        wiring.connect(m, core.m_axis, bridge.m_axis)
        return m


def emit_sim_top(core: CoreIO, *, clocks_per_bit: int, timeout_cycles: int | None = None,
                 name: str = "bitsmith_shell") -> str:
    """Verilog of :class:`ShellWithCore` with ports ``clk rst rx tx`` (core not included)."""
    top = ShellWithCore(core, clocks_per_bit=clocks_per_bit, timeout_cycles=timeout_cycles)
    return verilog.convert(top, name=name)
