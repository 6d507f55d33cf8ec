"""Board registry, PLL solvers, UART divisor, and the ``bitsmith boards`` command."""

import re

import pytest

from bitsmith.boards import BOARDS, get_board
from bitsmith.boards.pll import ecp5_pll, ice40_pll, mmcm
from bitsmith.boards.shell.board_top import uart_divisor
from bitsmith.generator.cli import main
from bitsmith.generator.errors import OptionError


def test_registry_has_the_five_targets():
    assert list(BOARDS) == ["icebreaker", "ulx3s", "arty_a7_35", "pynq_z2", "asic"]
    assert (BOARDS["icebreaker"].part, BOARDS["ulx3s"].part) == ("iCE40UP5K-SG48",
                                                                 "LFE5U-85F-6BG381C")
    assert BOARDS["pynq_z2"].part == "xc7z020clg400-1"
    assert BOARDS["ulx3s"].resources.luts == 83640


@pytest.mark.parametrize("name", ["icebreaker", "ulx3s", "arty_a7_35"])
def test_amaranth_platform_matches_registry(name):
    board = BOARDS[name]
    platform = board.platform_class()()
    assert platform.device.lower().startswith(board.device.lower())
    assert platform.package.lower() == board.package.lower()
    clock = platform.lookup(platform.default_clk, 0).clock.frequency
    assert clock == board.clock_mhz * 1e6


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(OptionError, match=r"^--board: unknown board 'de10' \(known: icebreaker, "
                                          r"ulx3s, arty_a7_35, pynq_z2, asic\)$"):
        get_board("de10")


LIMITS = {ice40_pll: dict(pfd=(10, 133), vco=(533, 1066)),
          ecp5_pll: dict(pfd=(3.125, 400), vco=(400, 800)),
          mmcm: dict(pfd=(10, 450), vco=(600, 1200))}


@pytest.mark.parametrize("solver, f_in, f_out", [
    *((ice40_pll, 12.0, f) for f in (24.0, 30.0, 48.0, 60.0, 100.0)),
    *((ecp5_pll, 25.0, f) for f in (50.0, 62.5, 75.0, 100.0, 125.0, 150.0, 200.0)),
    *((mmcm, 100.0, f) for f in (50.0, 125.0, 150.0, 200.0, 250.0)),
])
def test_pll_settings_are_legal_and_exact(solver, f_in, f_out):
    limits = LIMITS[solver]
    setting = solver(f_in, f_out)
    p = setting.params
    if solver is ice40_pll:
        pfd = f_in / (p["DIVR"] + 1)
        vco = pfd * (p["DIVF"] + 1)
        got = vco / 2 ** p["DIVQ"]
    elif solver is ecp5_pll:
        pfd = f_in / p["CLKI_DIV"]
        got = pfd * p["CLKFB_DIV"]
        vco = got * p["CLKOP_DIV"]
        assert p["CLKOP_CPHASE"] == p["CLKOP_DIV"] - 1
    else:
        pfd = f_in / p["DIVCLK_DIVIDE"]
        vco = pfd * p["CLKFBOUT_MULT_F"]
        got = vco / p["CLKOUT0_DIVIDE_F"]
    assert limits["pfd"][0] <= pfd <= limits["pfd"][1]
    assert limits["vco"][0] <= vco <= limits["vco"][1]
    assert got == pytest.approx(setting.f_out_mhz)
    assert abs(got - f_out) <= 0.01 * f_out


def test_ice40_pll_matches_icepll_for_30_mhz():
    # icepll -i 12 -o 30: DIVR=0 DIVF=79 DIVQ=5 FILTER_RANGE=1
    assert ice40_pll(12.0, 30.0).params == {"DIVR": 0, "DIVF": 79, "DIVQ": 5, "FILTER_RANGE": 1}


def test_ecp5_pll_reports_the_nearest_reachable_clock():
    # 25 MHz * M / N with a PFD of at least 3.125 MHz cannot come within 1 % of 48 MHz
    with pytest.raises(OptionError, match=r"^--clock-mhz 48: the nearest ECP5 PLL output is "
                                          r"46\.875 MHz$"):
        ecp5_pll(25.0, 48.0)


def test_pll_out_of_range_is_rejected():
    with pytest.raises(OptionError, match=r"^--clock-mhz must be between 16 and 275 for the "
                                          r"iCE40 PLL, not 300$"):
        ice40_pll(12.0, 300.0)


def test_uart_divisor():
    assert uart_divisor(12.0, 115200) == 104
    with pytest.raises(OptionError, match=r"^--baud 2500000 cannot be made from a 12 MHz clock "
                                          r"within 2 %$"):
        uart_divisor(12.0, 2_500_000)


def test_boards_command_prints_every_board(capsys):
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    for board in BOARDS.values():
        assert re.search(rf"^│ {board.name}\s+│ {re.escape(board.part)}", out, re.M), out
    # piped output keeps every figure whole (no "…" where a column was cut)
    assert "│ 83,640 │  83,640 │" in out and "…" not in out, out
