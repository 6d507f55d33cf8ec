"""The boards bitsmith builds for: device, package, clock, resources, flow."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from bitsmith.generator.errors import OptionError


@dataclass(frozen=True)
class Resources:
    """Device capacity in the units ``synth.json`` reports.

    ``luts``: LUT4 (iCE40, ECP5) or LUT6 (7-series); ``ffs``: flip-flops; ``brams``:
    block RAMs (iCE40 EBR 4 kbit, ECP5 DP16KD 18 kbit, 7-series RAMB36 36 kbit, a RAMB18
    counting 0.5); ``dsps``: SB_MAC16 / MULT18X18D / DSP48E1.
    """

    luts: int
    ffs: int
    brams: int
    dsps: int
    spram: int = 0
    """iCE40 UltraPlus SB_SPRAM256KA (256 kbit each); weights may live there."""

    def as_dict(self) -> dict[str, int]:
        return {"luts": self.luts, "ffs": self.ffs, "brams": self.brams, "dsps": self.dsps}


@dataclass(frozen=True)
class Board:
    """One target.

    Members
    -------
    name : str
        Key for ``--board``.
    title : str
        Human name.
    family : str
        ``ice40``, ``ecp5``, ``xc7`` (Artix-7), ``zynq7`` or ``asic``.
    flow : str
        ``open`` (Yosys + nextpnr + bitstream, UART shell), ``vivado`` (project Tcl,
        Yosys estimates) or ``asic`` (generic Yosys synthesis).
    device, package, speed : str
        As the vendor names them; ``part`` is the full vendor part string.
    clock_mhz : float or None
        The board's oscillator (for Zynq: the PS's FCLK0 default); the default core clock.
    resources : Resources or None
        Device capacity (``None`` for asic).
    platform : str or None
        ``module:Class`` of the amaranth-boards platform, when one exists.
    """

    name: str
    title: str
    family: str
    flow: str
    device: str
    package: str
    speed: str
    part: str
    clock_mhz: float | None
    resources: Resources | None
    platform: str | None = None
    notes: str = field(default="", compare=False)

    def platform_class(self):
        if self.platform is None:
            raise OptionError(f"board {self.name!r} has no amaranth-boards platform")
        module, _, cls = self.platform.partition(":")
        return getattr(importlib.import_module(module), cls)


BOARDS: dict[str, Board] = {b.name: b for b in (
    Board("icebreaker", "1BitSquared iCEBreaker", "ice40", "open", "iCE40UP5K", "SG48", "",
          "iCE40UP5K-SG48", 12.0, Resources(luts=5280, ffs=5280, brams=30, dsps=8, spram=4),
          "amaranth_boards.icebreaker:ICEBreakerPlatform",
          "UART on the FTDI's second channel; PLL SB_PLL40_2_PAD on the 12 MHz pin (port A: the 12 MHz shell clock)"),
    Board("ulx3s", "Radiona ULX3S 85F", "ecp5", "open", "LFE5U-85F", "BG381", "6",
          "LFE5U-85F-6BG381C", 25.0, Resources(luts=83640, ffs=83640, brams=208, dsps=156),
          "amaranth_boards.ulx3s:ULX3S_85F_Platform",
          "UART on the FTDI (US1 port); PLL EHXPLLL from the 25 MHz oscillator"),
    Board("arty_a7_35", "Digilent Arty A7-35T", "xc7", "vivado", "xc7a35t", "csg324", "1L",
          "xc7a35ticsg324-1L", 100.0, Resources(luts=20800, ffs=41600, brams=50, dsps=90),
          "amaranth_boards.arty_a7:ArtyA7_35Platform",
          "Vivado project with the UART shell; MMCM for other clocks"),
    Board("pynq_z2", "TUL PYNQ-Z2", "zynq7", "vivado", "xc7z020", "clg400", "1",
          "xc7z020clg400-1", 100.0, Resources(luts=53200, ffs=106400, brams=140, dsps=220),
          None, "Vivado block design: Zynq PS + AXI DMA around the core; PYNQ driver"),
    Board("asic", "Generic ASIC (Yosys cell library)", "asic", "asic", "generic", "-", "-",
          "yosys-generic", None, None, None,
          "cells, flops and NAND2-equivalent gates; no timing"),
)}


def get_board(name: str) -> Board:
    """The board called ``name``; an unknown name lists the known ones."""
    try:
        return BOARDS[name]
    except KeyError:
        raise OptionError(f"--board: unknown board {name!r} (known: "
                          f"{', '.join(BOARDS)})") from None
