"""Board top: clock (PLL when the requested clock differs), power-on reset, UART pins,
and :class:`ShellWithCore`."""

from __future__ import annotations

from dataclasses import dataclass

from amaranth import ClockDomain, ClockSignal, Elaboratable, Instance, Module, ResetSignal, Signal
from amaranth.lib import io

from generator.errors import OptionError

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
    """How a board makes the core clock and times its UART."""

    pll: PLLSetting | None
    clock_mhz: float
    clocks_per_bit: int
    timeout_cycles: int


def clock_plan(board: Board, clock_mhz: float, baud: int) -> ClockPlan:
    """PLL (``None`` when the oscillator is the requested clock), UART divisor and the
    receive timeout (32 byte times, at least 50 ms); raises :class:`OptionError`."""
    osc = board.clock_mhz
    solver = {"ice40": ice40_pll, "ecp5": ecp5_pll, "xc7": mmcm}[board.family]
    pll = None if abs(clock_mhz - osc) < 1e-9 else solver(osc, clock_mhz)
    actual = osc if pll is None else pll.f_out_mhz
    clocks_per_bit = uart_divisor(actual, baud)
    return ClockPlan(pll, actual, clocks_per_bit,
                     max(32 * 10 * clocks_per_bit, int(0.05 * actual * 1e6)))


class BoardShell(Elaboratable):
    """The whole FPGA design for an open-flow board (or the Arty's Vivado project).

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
        The PLL setting used (``None`` without a PLL); ``clock_mhz_actual`` the clock it gives.
    """

    def __init__(self, board: Board, core: CoreIO, *, clock_mhz: float, baud: int):
        self.board, self.core, self.baud = board, core, baud
        plan = clock_plan(board, clock_mhz, baud)
        self.pll = plan.pll
        self.clock_mhz_actual = plan.clock_mhz
        self.clocks_per_bit = plan.clocks_per_bit
        self.timeout_cycles = plan.timeout_cycles

    def _clock(self, m: Module, platform) -> tuple[Signal, Signal]:
        """(clock, locked) from the oscillator, through the PLL if there is one."""
        family = self.board.family
        clk, locked = Signal(name="core_clk"), Signal(name="pll_locked", init=1)
        pin = platform.request(platform.default_clk, dir="-")
        if self.pll is None:
            m.submodules.clk_buf = buf = io.Buffer("i", pin)
            m.d.comb += clk.eq(buf.i)
            return clk, locked
        p = self.pll.params
        if family == "ice40":
            # The 12 MHz pin of the UP5K is a PLL pad: SB_PLL40_PAD takes it directly.
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE", p_PLLOUT_SELECT="GENCLK",
                p_DIVR=p["DIVR"], p_DIVF=p["DIVF"], p_DIVQ=p["DIVQ"],
                p_FILTER_RANGE=p["FILTER_RANGE"], io_PACKAGEPIN=pin.io,
                i_RESETB=1, i_BYPASS=0, o_PLLOUTGLOBAL=clk, o_LOCK=locked)
            return clk, locked
        m.submodules.clk_buf = buf = io.Buffer("i", pin)
        if family == "ecp5":
            m.submodules.pll = Instance(
                "EHXPLLL", a_FREQUENCY_PIN_CLKI=str(self.board.clock_mhz),
                a_FREQUENCY_PIN_CLKOP=f"{self.pll.f_out_mhz:.6f}",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
                p_CLKOP_ENABLE="ENABLED", p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
                p_CLKI_DIV=p["CLKI_DIV"], p_CLKFB_DIV=p["CLKFB_DIV"],
                p_CLKOP_DIV=p["CLKOP_DIV"], p_CLKOP_CPHASE=p["CLKOP_CPHASE"],
                i_CLKI=buf.i, i_CLKFB=clk, o_CLKOP=clk, o_LOCK=locked,
                i_RST=0, i_STDBY=0, i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=0,
                i_PHASESTEP=0, i_PHASELOADREG=0, i_PLLWAKESYNC=0, i_ENCLKOP=0)
            return clk, locked
        # xc7: MMCME2_BASE with its feedback through the fabric-free CLKFBOUT path.
        feedback, raw = Signal(name="mmcm_feedback"), Signal(name="mmcm_clkout0")
        m.submodules.mmcm = Instance(
            "MMCME2_BASE", p_CLKIN1_PERIOD=1000 / self.board.clock_mhz,
            p_DIVCLK_DIVIDE=p["DIVCLK_DIVIDE"], p_CLKFBOUT_MULT_F=float(p["CLKFBOUT_MULT_F"]),
            p_CLKOUT0_DIVIDE_F=float(p["CLKOUT0_DIVIDE_F"]),
            i_CLKIN1=buf.i, i_CLKFBIN=feedback, o_CLKFBOUT=feedback, o_CLKOUT0=raw,
            o_LOCKED=locked, i_PWRDWN=0, i_RST=0)
        m.submodules.bufg = Instance("BUFG", i_I=raw, o_O=clk)
        return clk, locked

    def elaborate(self, platform):
        m = Module()
        clk, locked = self._clock(m, platform)
        if self.pll is not None:
            platform.add_clock_constraint(clk, self.clock_mhz_actual * 1e6)

        # Power-on reset: count in a reset-less domain once the clock is locked. The reset
        # is a flip-flop output with no logic after it (it fans out to the whole design).
        delay = int(POWER_ON_RESET_US * self.clock_mhz_actual)
        m.domains.por = ClockDomain("por", reset_less=True, local=True)
        m.domains.sync = ClockDomain("sync")
        timer = Signal(range(delay + 1))
        reset = Signal(init=1)
        m.d.comb += [ClockSignal("por").eq(clk), ClockSignal("sync").eq(clk),
                     ResetSignal("sync").eq(reset)]
        with m.If(~locked):
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
                                                   timeout_cycles=self.timeout_cycles)
        m.d.comb += [shell.rx.eq(rx_buf.i), tx_buf.o.eq(shell.tx)]
        return m
