"""Board top: clock (PLL when the requested clock differs), power-on reset, UART pins,
and :class:`ShellWithCore`."""

from __future__ import annotations

from dataclasses import dataclass

from amaranth import ClockDomain, ClockSignal, Elaboratable, Instance, Module, ResetSignal, Signal
from amaranth.lib import io
from amaranth.lib.cdc import FFSynchronizer, ResetSynchronizer

from bitsmith.generator.errors import OptionError

from ..bundle import CoreIO
from ..pll import PLLSetting, ecp5_pll, ice40_pll, mmcm
from ..registry import Board
from .sim_top import ShellWithCore

#: Reset is held this long after the clock is stable (iCE40 BRAMs read 0 for ~3 us).
POWER_ON_RESET_US = 20


def uart_divisor(clock_mhz: float, baud: int) -> int:
    """Clocks per UART bit; the rounding error must stay under 2 % (8N1 tolerates ~4 %)."""
    if not isinstance(baud, int) or isinstance(baud, bool) or baud <= 0:
        raise OptionError(f"--baud must be a positive integer, not {baud!r}")
    divisor = round(clock_mhz * 1e6 / baud)
    if divisor < 4 or abs(clock_mhz * 1e6 / divisor - baud) > 0.02 * baud:
        raise OptionError(f"--baud {baud} cannot be made from a {clock_mhz:g} MHz clock "
                          f"within 2 %")
    return divisor


@dataclass(frozen=True)
class ClockPlan:
    """How a board makes the core clock and times its UART.

    The shell (UART, framing, input frame memory) always runs on the board's oscillator
    (``shell_mhz``), so the baud divisor does not depend on the core clock; the core
    runs on ``clock_mhz``, made by the PLL when it differs from the oscillator.
    """

    pll: PLLSetting | None
    clock_mhz: float
    shell_mhz: float
    clocks_per_bit: int
    timeout_cycles: int


def clock_plan(board: Board, clock_mhz: float, baud: int) -> ClockPlan:
    """PLL (``None`` when the oscillator is the requested clock), UART divisor and the
    receive timeout (32 byte times, at least 50 ms) of the shell; raises
    :class:`OptionError`."""
    osc = board.clock_mhz
    solver = {"ice40": ice40_pll, "ecp5": ecp5_pll, "xc7": mmcm}[board.family]
    pll = None if abs(clock_mhz - osc) < 1e-9 else solver(osc, clock_mhz)
    actual = osc if pll is None else pll.f_out_mhz
    clocks_per_bit = uart_divisor(osc, baud)
    return ClockPlan(pll, actual, osc, clocks_per_bit,
                     max(32 * 10 * clocks_per_bit, int(0.05 * osc * 1e6)))


class BoardShell(Elaboratable):
    """The whole FPGA design for an open-flow board (or the Arty's Vivado project).

    Two clock domains: ``sync`` (the shell: UART, framing, input frame memory) on the
    board's oscillator and ``core`` (the bitsmith core) on the requested clock, from the
    PLL/MMCM when it differs from the oscillator (otherwise the same clock). Two
    :class:`~boards.shell.crossing.StreamCrossing` handshakes join them, so nothing in the
    shell limits the core's clock and nextpnr reports each domain's Fmax separately.

    Reset: a power-on counter in ``sync`` (started when the PLL reports lock) resets the
    shell; the core's reset is the same signal through a
    :class:`~amaranth.lib.cdc.ResetSynchronizer` into ``core``.

    Parameters
    ----------
    board : Board
        Target (``ice40``, ``ecp5`` or ``xc7`` family with an amaranth-boards platform).
    core : CoreIO
        The core to instantiate.
    clock_mhz : float
        Core clock. Equal to the oscillator: used directly; otherwise a PLL/MMCM makes it.
    baud : int
        UART baud rate.

    Members
    -------
    pll : PLLSetting or None
        The PLL setting used (``None`` without a PLL); ``clock_mhz_actual`` the core
        clock it gives, ``shell_mhz`` the shell's clock.
    """

    def __init__(self, board: Board, core: CoreIO, *, clock_mhz: float, baud: int):
        self.board, self.core, self.baud = board, core, baud
        plan = clock_plan(board, clock_mhz, baud)
        self.pll = plan.pll
        self.clock_mhz_actual = plan.clock_mhz
        self.shell_mhz = plan.shell_mhz
        self.clocks_per_bit = plan.clocks_per_bit
        self.timeout_cycles = plan.timeout_cycles

    def _clocks(self, m: Module, platform) -> tuple[Signal, Signal, Signal]:
        """(shell clock, core clock, locked) from the oscillator and the PLL if any."""
        family = self.board.family
        shell_clk, core_clk = Signal(name="osc_clk"), Signal(name="pll_clk")
        locked = Signal(name="pll_locked", init=1)
        pin = platform.request(platform.default_clk, dir="-")
        if self.pll is None:
            m.submodules.clk_buf = buf = io.Buffer("i", pin)
            m.d.comb += [shell_clk.eq(buf.i), core_clk.eq(buf.i)]
            return shell_clk, core_clk, locked
        p = self.pll.params
        if family == "ice40":
            # The 12 MHz pin of the UP5K is a PLL pad, so it cannot also feed the fabric:
            # SB_PLL40_2_PAD passes the reference through on port A (the shell's clock)
            # and gives the synthesised clock on port B.
            m.submodules.pll = Instance(
                "SB_PLL40_2_PAD", p_FEEDBACK_PATH="SIMPLE", p_PLLOUT_SELECT_PORTB="GENCLK",
                p_DIVR=p["DIVR"], p_DIVF=p["DIVF"], p_DIVQ=p["DIVQ"],
                p_FILTER_RANGE=p["FILTER_RANGE"], io_PACKAGEPIN=pin.io,
                i_RESETB=1, i_BYPASS=0, o_PLLOUTGLOBALA=shell_clk, o_PLLOUTGLOBALB=core_clk,
                o_LOCK=locked)
            return shell_clk, core_clk, locked
        m.submodules.clk_buf = buf = io.Buffer("i", pin)
        if family == "ecp5":
            m.d.comb += shell_clk.eq(buf.i)
            m.submodules.pll = Instance(
                "EHXPLLL", a_FREQUENCY_PIN_CLKI=str(self.board.clock_mhz),
                a_FREQUENCY_PIN_CLKOP=f"{self.pll.f_out_mhz:.6f}",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
                p_CLKOP_ENABLE="ENABLED", p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
                p_CLKI_DIV=p["CLKI_DIV"], p_CLKFB_DIV=p["CLKFB_DIV"],
                p_CLKOP_DIV=p["CLKOP_DIV"], p_CLKOP_CPHASE=p["CLKOP_CPHASE"],
                i_CLKI=buf.i, i_CLKFB=core_clk, o_CLKOP=core_clk, o_LOCK=locked,
                i_RST=0, i_STDBY=0, i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=0,
                i_PHASESTEP=0, i_PHASELOADREG=0, i_PLLWAKESYNC=0, i_ENCLKOP=0)
            return shell_clk, core_clk, locked
        # xc7: MMCME2_BASE with its feedback through the fabric-free CLKFBOUT path; the
        # oscillator reaches the shell through its own BUFG.
        feedback, raw = Signal(name="mmcm_feedback"), Signal(name="mmcm_clkout0")
        m.submodules.mmcm = Instance(
            "MMCME2_BASE", p_CLKIN1_PERIOD=1000 / self.board.clock_mhz,
            p_DIVCLK_DIVIDE=p["DIVCLK_DIVIDE"], p_CLKFBOUT_MULT_F=float(p["CLKFBOUT_MULT_F"]),
            p_CLKOUT0_DIVIDE_F=float(p["CLKOUT0_DIVIDE_F"]),
            i_CLKIN1=buf.i, i_CLKFBIN=feedback, o_CLKFBOUT=feedback, o_CLKOUT0=raw,
            o_LOCKED=locked, i_PWRDWN=0, i_RST=0)
        m.submodules.bufg = Instance("BUFG", i_I=raw, o_O=core_clk)
        m.submodules.bufg_shell = Instance("BUFG", i_I=buf.i, o_O=shell_clk)
        return shell_clk, core_clk, locked

    def elaborate(self, platform):
        m = Module()
        shell_clk, core_clk, locked = self._clocks(m, platform)
        if self.pll is not None:
            platform.add_clock_constraint(core_clk, self.clock_mhz_actual * 1e6)

        # Power-on reset: count in a reset-less domain once the PLL is locked. The reset
        # is a flip-flop output with no logic after it.
        delay = int(POWER_ON_RESET_US * self.shell_mhz)
        m.domains.por = ClockDomain("por", reset_less=True, local=True)
        m.domains.sync = ClockDomain("sync")
        m.domains.core = ClockDomain("core")
        timer = Signal(range(delay + 1))
        reset = Signal(init=1)
        m.d.comb += [ClockSignal("por").eq(shell_clk), ClockSignal("sync").eq(shell_clk),
                     ResetSignal("sync").eq(reset), ClockSignal("core").eq(core_clk)]
        m.submodules.core_reset = ResetSynchronizer(reset, domain="core")
        # LOCK is asynchronous to the oscillator; it also must drive a single flip-flop:
        # nextpnr routes an iCE40 PLL's LOCK through LUTs it pins to one tile, and LUTs
        # packed with flip-flops of different clocks or enables there cannot be placed.
        locked_sync = Signal(name="pll_locked_sync")
        m.submodules.lock_sync = FFSynchronizer(locked, locked_sync, o_domain="por")
        with m.If(~locked_sync):
            m.d.por += [timer.eq(0), reset.eq(1)]
        with m.Elif(timer == delay):
            m.d.por += reset.eq(0)
        with m.Else():
            m.d.por += timer.eq(timer + 1)

        subsignals = platform.lookup("uart", 0).ios          # rx, tx (+ rts, dtr on ULX3S)
        uart = platform.request("uart", 0, dir={sub.name: "-" for sub in subsignals})
        m.submodules.uart_rx_buf = rx_buf = io.Buffer("i", uart.rx)
        m.submodules.uart_tx_buf = tx_buf = io.Buffer("o", uart.tx)
        m.submodules.shell = shell = ShellWithCore(self.core, clocks_per_bit=self.clocks_per_bit,
                                                   timeout_cycles=self.timeout_cycles,
                                                   core_domain="core")
        m.d.comb += [shell.rx.eq(rx_buf.i), tx_buf.o.eq(shell.tx)]
        return m
