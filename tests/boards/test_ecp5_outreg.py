"""ECP5 block RAM output registers: which flip-flops move into a DP16KD and which stay."""

import copy
import json
import subprocess

import pytest
from amaranth import Module, Signal
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from bitsmith.boards.flows.ecp5_outreg import absorb_module, absorb_output_registers
from bitsmith.boards.tools import tool_path

CLK, OTHER_CLK, ADDR, RST_NET, CE_NET = 2, 3, 4, 5, 6


def _ram(**conns):
    base = {"CLKA": [CLK], "CEA": ["1"], "OCEA": ["1"], "RSTA": ["0"], "ADA0": [ADDR],
            "DOA0": [10], "DOA1": [11], "DOA2": [12], "CLKB": ["0"], "OCEB": ["1"],
            "RSTB": ["0"], "DOB0": [13]}
    base.update(conns)
    dirs = {p: "output" if p.startswith("DO") else "input" for p in base}
    return {"type": "DP16KD", "parameters": {"REGMODE_A": "NOREG", "REGMODE_B": "NOREG",
                                             "CLKAMUX": "CLKA", "CLKBMUX": "CLKB"},
            "port_directions": dirs, "connections": base}


def _ff(d, q, **over):
    params = {"CEMUX": "1 ", "CLKMUX": "CLK", "GSR": "DISABLED", "LSRMUX": "LSR",
              "REGSET": "RESET", "SRMODE": "LSR_OVER_CE"}
    conns = {"CLK": [CLK], "LSR": ["0"], "DI": [d], "Q": [q]}
    for key, value in over.items():
        (conns if key in conns or key == "CE" else params)[key] = value
    return {"type": "TRELLIS_FF", "parameters": params,
            "port_directions": {"CLK": "input", "LSR": "input", "CE": "input", "DI": "input",
                                "Q": "output"}, "connections": conns}


def _lut(a, z):
    return {"type": "LUT4", "parameters": {}, "port_directions": {"A": "input", "Z": "output"},
            "connections": {"A": [a], "Z": [z]}}


def _module(**extra_cells):
    # DOA0..DOA2 each into a plain flip-flop (Q 20..22); DOB0 unused
    cells = {"ram": _ram(), "ff0": _ff(10, 20), "ff1": _ff(11, 21), "ff2": _ff(12, 22),
             "use": _lut(20, 30)}
    cells.update(extra_cells)
    return {"ports": {}, "cells": cells}


def test_plain_flip_flops_become_the_output_register():
    module = _module()
    assert absorb_module(module) == 1
    ram = module["cells"]["ram"]
    assert ram["parameters"]["REGMODE_A"] == "OUTREG"
    assert ram["parameters"]["REGMODE_B"] == "NOREG"         # nothing read on port B
    # the RAM now drives the nets the flip-flops drove; the flip-flops are gone
    assert [ram["connections"][f"DOA{i}"] for i in range(3)] == [[20], [21], [22]]
    assert not {"ff0", "ff1", "ff2"} & module["cells"].keys()
    assert absorb_module(module) == 0                        # idempotent


@pytest.mark.parametrize("case, change", [
    ("flip-flop with a clock enable", dict(ff1=_ff(11, 21, CEMUX="CE", CE=[CE_NET]))),
    ("flip-flop with a reset", dict(ff1=_ff(11, 21, LSR=[RST_NET]))),
    ("flip-flop that sets", dict(ff1=_ff(11, 21, REGSET="SET"))),
    ("flip-flop under global set/reset", dict(ff1=_ff(11, 21, GSR="ENABLED"))),
    ("flip-flop on the falling edge", dict(ff1=_ff(11, 21, CLKMUX="INV"))),
    ("flip-flop on another clock", dict(ff1=_ff(11, 21, CLK=[OTHER_CLK]))),
    ("data bit with a second reader", dict(extra=_lut(11, 31))),
    ("data bit into logic, not a flip-flop", dict(ff1=_lut(11, 21))),
    ("RAM port with a read reset", dict(ram=_ram(RSTA=[RST_NET]))),
    ("RAM port with an output enable", dict(ram=_ram(OCEA=[CE_NET]))),
])
def test_anything_but_plain_flip_flops_stays_as_it_was(case, change):
    module = _module(**change)
    before = copy.deepcopy(module)
    assert absorb_module(module) == 0, case
    assert module == before


def _without(cell, *parameters):
    for name in parameters:
        del cell["parameters"][name]
    return cell


def _drop_pin(cell, pin):
    del cell["connections"][pin]
    return cell


def _ram_with(params=(), **conns):
    ram = _ram(**conns)
    ram["parameters"].update(params)
    return ram


@pytest.mark.parametrize("case, change", [
    ("enable pin tied high", dict(ff1=_ff(11, 21, CEMUX="CE", CE=["1"]))),
    ("inverted enable pin tied low", dict(ff1=_ff(11, 21, CEMUX="INV", CE=["0"]))),
    ("inverted reset pin tied high", dict(ff1=_ff(11, 21, LSRMUX="INV", LSR=["1"]))),
    ("constant enable, no enable pin", dict(ff1=_ff(11, 21, CEMUX="1"))),
    ("RAM output enable inverted, pin low", dict(ram=_ram_with({"OCEAMUX": "INV"}, OCEA=["0"]))),
    ("RAM reset inverted, pin high", dict(ram=_ram_with({"RSTAMUX": "INV"}, RSTA=["1"]))),
    ("RAM and flip-flops on the inverted clock",
     dict(ram=_ram_with({"CLKAMUX": "INV"}), **{f"ff{i}": _ff(10 + i, 20 + i, CLKMUX="INV") for i in range(3)})),
])
def test_mux_and_pin_together_make_a_plain_flip_flop(case, change):
    module = _module(**change)
    assert absorb_module(module) == 1, case
    assert module["cells"]["ram"]["parameters"]["REGMODE_A"] == "OUTREG"


@pytest.mark.parametrize("case, change", [
    ("inverted enable pin tied high: never loads", dict(ff1=_ff(11, 21, CEMUX="INV", CE=["1"]))),
    ("enable mux constant 0", dict(ff1=_ff(11, 21, CEMUX="0"))),
    ("enable from the pin, pin absent", dict(ff1=_ff(11, 21, CEMUX="CE"))),
    ("enable pin undefined", dict(ff1=_ff(11, 21, CEMUX="CE", CE=["x"]))),
    ("unknown enable mux setting", dict(ff1=_ff(11, 21, CEMUX="SIG", CE=["1"]))),
    ("inverted reset pin tied low: always in reset", dict(ff1=_ff(11, 21, LSRMUX="INV"))),
    ("reset pin absent", dict(ff1=_drop_pin(_ff(11, 21), "LSR"))),
    ("CEMUX missing", dict(ff1=_without(_ff(11, 21), "CEMUX"))),
    ("GSR missing", dict(ff1=_without(_ff(11, 21), "GSR"))),
    ("LSRMUX missing", dict(ff1=_without(_ff(11, 21), "LSRMUX"))),
    ("REGSET missing", dict(ff1=_without(_ff(11, 21), "REGSET"))),
    ("RAM output enable inverted, pin high", dict(ram=_ram_with({"OCEAMUX": "INV"}))),
    ("RAM reset inverted, pin low: always reset", dict(ram=_ram_with({"RSTAMUX": "INV"}))),
    ("RAM REGMODE_A missing", dict(ram=_without(_ram(), "REGMODE_A"))),
    ("RAM CLKAMUX missing", dict(ram=_without(_ram(), "CLKAMUX"))),
    ("RAM on the inverted clock, flip-flops not", dict(ram=_ram_with({"CLKAMUX": "INV"}))),
])
def test_effective_enable_reset_and_missing_parameters_are_refused(case, change):
    module = _module(**change)
    before = copy.deepcopy(module)
    assert absorb_module(module) == 0, case
    assert module == before


def test_a_data_bit_leaving_the_module_is_not_absorbed():
    module = _module()
    module["ports"] = {"out": {"direction": "output", "bits": [11]}}
    assert absorb_module(module) == 0


class _RomThenRegister(wiring.Component):
    """A 512 x 8 ROM in block RAM, read into a plain register (or one with a reset)."""
    addr: In(9)
    data: Out(8)

    def __init__(self, *, reset_register):
        self.reset_register = reset_register
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.rom = rom = Memory(shape=8, depth=512, init=[(i * 37) % 256 for i in range(512)],
                                        attrs={"ram_style": "block"})
        rd = rom.read_port()
        reg = Signal(8, reset_less=not self.reset_register)
        m.d.comb += [rd.addr.eq(self.addr), self.data.eq(reg)]
        m.d.sync += reg.eq(rd.data)
        return m


@pytest.mark.board
@pytest.mark.parametrize("reset_register, absorbed", [(False, 1), (True, 0)])
def test_yosys_netlist_of_a_rom_and_its_register(tmp_path, reset_register, absorbed):
    (tmp_path / "rom.v").write_text(verilog.convert(_RomThenRegister(reset_register=reset_register),
                                                    name="rom_top"))
    subprocess.run([tool_path("yosys"), "-q", "-p",
                    "read_verilog rom.v; synth_ecp5 -top rom_top; write_json rom.json"],
                   cwd=tmp_path, check=True)
    netlist = json.loads((tmp_path / "rom.json").read_text())
    cells = netlist["modules"]["rom_top"]["cells"].values()
    ffs = sum(c["type"] == "TRELLIS_FF" for c in cells)
    assert [c["type"] for c in cells].count("DP16KD") == 1
    assert absorb_output_registers(tmp_path / "rom.json") == absorbed
    after = json.loads((tmp_path / "rom.json").read_text())["modules"]["rom_top"]["cells"].values()
    ram = next(c for c in after if c["type"] == "DP16KD")
    regmodes = {ram["parameters"]["REGMODE_A"], ram["parameters"]["REGMODE_B"]}
    assert ("OUTREG" in regmodes) == bool(absorbed)
    assert sum(c["type"] == "TRELLIS_FF" for c in after) == ffs - 8 * absorbed
