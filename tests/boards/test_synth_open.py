"""Real place-and-route on iCE40 UP5K and ECP5-85F (YoWASP), the fit check, and asic."""

import json

import pytest

from bitsmith.boards import synth
from bitsmith.boards.flows.asic import GATE_WEIGHTS, flop_weight
from fixture_core import DelayCore, SumMaxCore, write_bundle
from bitsmith.generator.cli import main

SYNTH_KEYS = {"luts", "ffs", "brams", "dsps", "fmax_mhz", "device", "fits"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return write_bundle(SumMaxCore(bits=4, elems=4, words=3), tmp_path_factory.mktemp("open"))


def check_open_result(out, board, result, *, clock, bitstream, pll):
    folder = out / "board" / board
    assert json.loads((folder / "synth.json").read_text()) == result
    assert SYNTH_KEYS <= result.keys()
    assert result["fits"] is True
    assert result["ffs"] == 30          # 1+16 (stage 1) + 1+6+4 (stage 2) + 2 (word count)
    assert result["brams"] == 0 and result["dsps"] == 0
    assert result["clock_mhz"] == clock
    assert result["fmax_mhz"] > 0
    assert result["timing_met"] == (result["fmax_mhz"] >= clock)
    assert result["pll"] == pll
    system = result["system"]
    assert system["luts"]["used"] > result["luts"]          # shell + core > core
    family = {"icebreaker": "ice40", "ulx3s": "ecp5"}[board]
    assert result["units"] == {"ice40": {"luts": "LUT4", "ffs": "FF", "brams": "EBR", "dsps": "SB_MAC16"},
                               "ecp5": {"luts": "LUT4", "ffs": "FF", "brams": "DP16KD",
                                        "dsps": "MULT18X18D"}}[family]
    assert result["bram_kbit"] == {"ice40": 4, "ecp5": 18}[family]
    # nextpnr counts iCE40 logic cells (LUT4 + FF + carry), ECP5 LUT4 slots
    assert system["luts"]["unit"] == {"ice40": "logic cells", "ecp5": "LUT4"}[family]
    assert system["ffs"]["used"] > result["ffs"]
    assert (folder / bitstream).stat().st_size > 100_000
    for log in ("synth.log", "pnr.log", "pack.log"):
        assert (folder / log).is_file()
    assert set(result["tool_seconds"]) == {"synth", "pnr", "bitstream", "total"}
    if board == "ulx3s":        # read ports moved into block RAM output registers
        assert 0 <= result["bram_output_registers"] <= 2 * system["brams"]["used"]
        assert 0 <= result["multiplier_registers"] <= system["dsps"]["used"]
    else:
        assert result["bram_output_registers"] is None
        assert result["multiplier_registers"] is None


@pytest.mark.board
def test_icebreaker_place_and_route_with_pll(bundle):
    result = synth(bundle, "icebreaker", clock_mhz=30.0)
    check_open_result(bundle, "icebreaker", result, clock=30.0, bitstream="top.bin",
                      pll={"primitive": "SB_PLL40_2_PAD", "DIVR": 0, "DIVF": 79, "DIVQ": 5,
                           "FILTER_RANGE": 1, "vco_mhz": 960.0})
    assert (bundle / "board" / "icebreaker" / "top.bin").stat().st_size == 104090  # UP5K image
    # the shell runs on the 12 MHz oscillator: 12e6 / 115200 = 104.2 clocks per bit;
    # timeout max(32 bytes, 50 ms) = 600,000 cycles
    assert result["uart"] == {"baud": 115200, "clocks_per_bit": 104, "timeout_cycles": 600_000}
    assert result["shell_clock"]["clock_mhz"] == 12.0
    assert result["shell_clock"]["fmax_mhz"] > 12.0


@pytest.mark.board
def test_ulx3s_place_and_route_with_pll(bundle):
    result = synth(bundle, "ulx3s", clock_mhz=50.0)
    check_open_result(bundle, "ulx3s", result, clock=50.0, bitstream="top.bit",
                      pll={"primitive": "EHXPLLL", "CLKI_DIV": 1, "CLKFB_DIV": 2, "CLKOP_DIV": 12,
                           "CLKOP_CPHASE": 11, "vco_mhz": 600.0})
    assert result["system"]["luts"]["available"] == 83640
    assert result["uart"]["clocks_per_bit"] == 217                 # 25e6 / 115200 = 217.0
    assert result["shell_clock"]["clock_mhz"] == 25.0


@pytest.mark.board
def test_design_that_does_not_fit_exits_1_with_the_table(tmp_path, capsys):
    out = write_bundle(DelayCore(bits=64, depth=100), tmp_path)     # 6400 + 100 flip-flops
    assert main(["synth", str(out), "--board", "icebreaker"]) == 1
    err = capsys.readouterr().err.splitlines()
    start = next(i for i, line in enumerate(err) if line.startswith("bitsmith: "))
    assert err[start] == "bitsmith: the core does not fit 1BitSquared iCEBreaker (iCE40UP5K):"
    table = {line.split()[0]: line.split()[1:] for line in err[start + 3:start + 7]}
    assert table["ffs"] == ["6500", "5280", "123.1%", "<--", "over"]
    assert table["brams"][:2] == ["0", "30"]
    assert err[start + 7].startswith("hint: fold more")
    assert not (out / "board" / "icebreaker").exists()
    assert (out / "board" / "icebreaker.failed" / "synth.log").is_file()


def test_bad_options_exit_2_before_writing(bundle, capsys):
    assert main(["synth", str(bundle), "--board", "icebreaker", "--clock-mhz", "500"]) == 2
    assert capsys.readouterr().err == ("bitsmith: error: --clock-mhz must be between 16 and 275 "
                                       "for the iCE40 PLL, not 500\n")
    assert main(["synth", str(bundle), "--board", "nope"]) == 2
    assert not (bundle / "board" / "nope.partial").exists()


def test_asic_counts(bundle):
    result = synth(bundle, "asic")
    assert result["flops"] == result["ffs"] == 30
    cells = result["cells_by_type"]
    assert result["cells"] == sum(cells.values())
    assert result["unweighted_cells"] == {}
    expected = sum(n * (flop_weight(c) or GATE_WEIGHTS.get(c, 0)) for c, n in cells.items())
    assert result["nand2_equivalent"] == round(expected)
    # 30 flops of at least 5.67 NAND2 each, plus the adders and comparators
    assert result["nand2_equivalent"] > 30 * 5.67 + result["gates"]
    assert result["luts"] is None and result["fmax_mhz"] is None
    assert result["units"]["ffs"] == "FF" and "luts" not in result["units"]


@pytest.mark.parametrize("cell, weight", [
    ("$_DFF_P_", 5.67), ("$_DFF_PP0_", 6.67), ("$_DFFE_PP_", 8.0), ("$_DFFE_PN0P_", 9.0),
    ("$_SDFF_PP0_", 7.0), ("$_SDFFE_PP0P_", 9.33), ("$_SDFFCE_PP0P_", 9.33),
    ("$_DFFSR_PPP_", 6.67), ("$_AND_", None), ("$_XOR_", None),
])
def test_flop_weights(cell, weight):
    assert flop_weight(cell) == (None if weight is None else pytest.approx(weight))


@pytest.mark.board
def test_core_that_fits_alone_but_not_with_the_shell(tmp_path, capsys):
    out = write_bundle(DelayCore(bits=48, depth=105), tmp_path)     # 5145 flip-flops alone
    assert main(["synth", str(out), "--board", "icebreaker"]) == 1
    err = capsys.readouterr().err.splitlines()
    start = next(i for i, line in enumerate(err) if line.startswith("bitsmith: "))
    assert err[start:start + 2] == [
        "bitsmith: the design does not fit 1BitSquared iCEBreaker (iCE40UP5K):",
        "board design (nextpnr):"]
    table = {line.split()[0]: line.split()[1:] for line in err[start + 3:start + 7]}
    assert int(table["luts"][0]) > 5280 and table["luts"][-2:] == ["<--", "over"]
    assert int(table["ffs"][0]) > 5145                      # core + shell
    assert err[-1] == f"log: {out}/board/icebreaker.failed/pnr.log"


@pytest.mark.board
def test_seed_sweep_keeps_the_fastest_core_clock(bundle):
    result = synth(bundle, "icebreaker", clock_mhz=30.0, seeds=2)
    folder = bundle / "board" / "icebreaker"
    assert set(result["nextpnr_seeds"]) == {"1", "2"}
    assert result["fmax_mhz"] == max(result["nextpnr_seeds"].values())
    assert result["nextpnr_seeds"][str(result["seed"])] == result["fmax_mhz"]
    other = 3 - result["seed"]
    assert (folder / f"pnr_seed{other}.log").is_file()          # every seed's log stays
    assert not (folder / f"report_seed{other}.json").exists()
    report = json.loads((folder / "report.json").read_text())   # the kept seed's report
    assert round(report["fmax"]["core_clk"]["achieved"], 2) == result["fmax_mhz"]
    assert (folder / "top.bin").stat().st_size == 104090


@pytest.mark.parametrize("argv,message", [
    (["--board", "icebreaker", "--seeds", "0"], "--seeds must be an integer from 1 to 64, not 0"),
    (["--board", "asic", "--seeds", "2"],
     "--seeds applies to the iCE40/ECP5 boards (nextpnr), not asic"),
])
def test_bad_seeds_exit_2(bundle, capsys, argv, message):
    assert main(["synth", str(bundle), *argv]) == 2
    assert capsys.readouterr().err == f"bitsmith: error: {message}\n"
