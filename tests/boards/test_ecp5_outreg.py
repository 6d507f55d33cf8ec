"""ECP5 block RAM output registers: which flip-flops move into a DP16KD and which stay."""

import copy
import json
import subprocess

import pytest
from amaranth import Module, Signal
from amaranth.back import rtlil, verilog
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from bitsmith.boards.flows.ecp5_outreg import absorb_module, absorb_output_registers
from bitsmith.boards.tools import tool_path
from trellis_cells import CLK, lut4, trellis_ff

OTHER_CLK, ADDR, RST_NET, CE_NET = 3, 4, 5, 6


def _ram(**conns):
    base = {"CLKA": [CLK], "CEA": ["1"], "OCEA": ["1"], "RSTA": ["0"], "ADA0": [ADDR],
            "DOA0": [10], "DOA1": [11], "DOA2": [12], "CLKB": ["0"], "OCEB": ["1"],
            "RSTB": ["0"], "DOB0": [13]}
    base.update(conns)
    dirs = {p: "output" if p.startswith("DO") else "input" for p in base}
    return {"type": "DP16KD", "parameters": {"REGMODE_A": "NOREG", "REGMODE_B": "NOREG",
                                             "CLKAMUX": "CLKA", "CLKBMUX": "CLKB"},
            "port_directions": dirs, "connections": base}


_ff, _lut = trellis_ff, lut4


def _module(**extra_cells):
    # DOA0..DOA2 each into a plain flip-flop (Q 20..22); DOB0 unused
    return _netlist(_ram(), 3, extra_cells)


def _netlist(ram, flip_flops, extra_cells):
    """``ram``, data nets 10.. each into a plain flip-flop (Q 20..), Q 20 read by a LUT;
    ``extra_cells`` replace or add cells."""
    cells = {"ram": ram, **{f"ff{i}": _ff(10 + i, 20 + i) for i in range(flip_flops)},
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


def test_flip_flops_sharing_one_clock_enable_become_an_enabled_output_register():
    # a line buffer's read register holds under backpressure: its enable is the output
    # register's (OCE), the RAM's read enable (CE) stays as it was
    module = _module(**{f"ff{i}": _ff(10 + i, 20 + i, CEMUX="CE", CE=[CE_NET]) for i in range(3)})
    assert absorb_module(module) == 1
    ram = module["cells"]["ram"]
    assert ram["parameters"]["REGMODE_A"] == "OUTREG"
    assert ram["connections"]["OCEA"] == [CE_NET] and ram["connections"]["CEA"] == ["1"]
    assert not {"ff0", "ff1", "ff2"} & module["cells"].keys()


@pytest.mark.parametrize("case, change", [
    ("one flip-flop always enabled", dict(ff0=_ff(10, 20, CEMUX="CE", CE=[CE_NET]),
                                          ff1=_ff(11, 21, CEMUX="CE", CE=[CE_NET]))),
    ("two enables", {f"ff{i}": _ff(10 + i, 20 + i, CEMUX="CE", CE=[CE_NET + (i == 2)]) for i in range(3)}),
    ("inverted enable", {f"ff{i}": _ff(10 + i, 20 + i, CEMUX="INV", CE=[CE_NET]) for i in range(3)}),
])
def test_flip_flops_with_different_or_inverted_enables_stay(case, change):
    module = _module(**change)
    before = copy.deepcopy(module)
    assert absorb_module(module) == 0, case
    assert module == before


PDP_WIDTH = format(36, "032b")      # Yosys writes integer parameters as 32-bit binary


def _pdp_module(**extra_cells):
    """A DP16KD in 36-bit pseudo-dual-port mode as Yosys maps a ROM: port A the (unused)
    write port, port B reads; data on DOA0..1 and DOB0..1, each into a plain flip-flop."""
    ram = _ram(CLKA=["0"], CEA=["0"], OCEA=["0"], CLKB=[CLK], CEB=["1"], OCEB=["1"],
               DOA0=[10], DOA1=[11], DOA2=[40], DOB0=[12], DOB1=[13])
    ram["connections"].pop("ADA0")
    ram["parameters"].update(DATA_WIDTH_A=PDP_WIDTH, DATA_WIDTH_B=PDP_WIDTH)
    return _netlist(ram, 4, extra_cells)


def test_pseudo_dual_port_register_is_absorbed_whole():
    module = _pdp_module()
    assert absorb_module(module) == 1
    ram = module["cells"]["ram"]
    # both halves registered (nextpnr sets REGMODE_A and _B from PDPW16KD's one REGMODE
    # and times the DOA pins by REGMODE_A), the DOA half's output enable high
    assert (ram["parameters"]["REGMODE_A"], ram["parameters"]["REGMODE_B"]) == ("OUTREG", "OUTREG")
    assert ram["connections"]["OCEA"] == ["1"]
    assert [ram["connections"][p] for p in ("DOA0", "DOA1", "DOA2", "DOB0", "DOB1")] == \
        [[20], [21], [40], [22], [23]]
    assert not {"ff0", "ff1", "ff2", "ff3"} & module["cells"].keys()
    assert absorb_module(module) == 0


def test_pseudo_dual_port_register_with_an_enable_enables_both_halves():
    enabled = {name: _ff(d, q, CEMUX="CE", CE=[CE_NET])
               for name, d, q in (("ff0", 10, 20), ("ff1", 11, 21), ("ff2", 12, 22), ("ff3", 13, 23))}
    module = _pdp_module(**enabled)
    assert absorb_module(module) == 1
    ram = module["cells"]["ram"]
    assert (ram["parameters"]["REGMODE_A"], ram["parameters"]["REGMODE_B"]) == ("OUTREG", "OUTREG")
    assert ram["connections"]["OCEA"] == ram["connections"]["OCEB"] == [CE_NET]


def _pdp_ram_with(**conns):
    module = _pdp_module()
    module["cells"]["ram"]["connections"].update(conns)
    return module["cells"]["ram"]


@pytest.mark.parametrize("case, change", [
    # the DOB half alone would leave the DOA half unregistered under a register mode pair
    # Lattice's tools never write
    ("a DOA bit into logic", dict(ff1=_lut(11, 21))),
    ("a DOA bit's flip-flop with a reset", dict(ff0=_ff(10, 20, LSR=[RST_NET]))),
    ("a DOB bit read twice", dict(extra=_lut(13, 31))),
    ("write port's reset pin driven", dict(ram=_pdp_ram_with(RSTA=[RST_NET]))),
    ("read port's output enable driven", dict(ram=_pdp_ram_with(OCEB=[CE_NET]))),
    ("flip-flops on the write port's clock", dict(ram=_pdp_ram_with(CLKA=[CLK], CLKB=[OTHER_CLK]))),
])
def test_pseudo_dual_port_register_is_not_absorbed_in_part(case, change):
    module = _pdp_module(**change)
    before = copy.deepcopy(module)
    assert absorb_module(module) == 0, case
    assert module == before


class _RomThenRegister(wiring.Component):
    """A 512-word ROM in block RAM, read into a plain register (or one with a reset)."""

    def __init__(self, *, reset_register, width=8, enable=False):
        self.reset_register, self.width, self.enable = reset_register, width, enable
        super().__init__({"addr": In(9), "en": In(1), "data": Out(width)})

    def elaborate(self, platform):
        m = Module()
        mask = (1 << self.width) - 1
        m.submodules.rom = rom = Memory(shape=self.width, depth=512,
                                        init=[(i * 0x9E3779B97F4A7C15) & mask for i in range(512)],
                                        attrs={"ram_style": "block"})
        rd = rom.read_port()
        reg = Signal(self.width, reset_less=not self.reset_register)
        m.d.comb += [rd.addr.eq(self.addr), self.data.eq(reg)]
        if self.enable:         # read and register hold together (a line buffer's read)
            m.d.comb += rd.en.eq(self.en)
            with m.If(self.en):
                m.d.sync += reg.eq(rd.data)
        else:
            m.d.sync += reg.eq(rd.data)
        return m


@pytest.mark.board
@pytest.mark.parametrize("width, reset_register, absorbed, enable", [
    (8, False, 1, False), (8, True, 0, False), (8, False, 1, True),
    # 36 bits: pseudo-dual-port mode, data on DOA and DOB
    (36, False, 1, False), (36, True, 0, False), (36, False, 1, True),
])
def test_yosys_netlist_of_a_rom_and_its_register(tmp_path, width, reset_register, absorbed, enable):
    (tmp_path / "rom.v").write_text(verilog.convert(
        _RomThenRegister(reset_register=reset_register, width=width, enable=enable), name="rom_top"))
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
    regmodes = (ram["parameters"]["REGMODE_A"], ram["parameters"]["REGMODE_B"])
    if width == 36:
        assert regmodes == (("OUTREG",) * 2 if absorbed else ("NOREG",) * 2)
    else:
        assert ("OUTREG" in regmodes) == bool(absorbed)
    assert sum(c["type"] == "TRELLIS_FF" for c in after) == ffs - width * absorbed
    if enable and absorbed:         # the register's enable drives the output register's
        assert any(isinstance(ram["connections"][pin][0], int) for pin in ("OCEA", "OCEB"))


@pytest.mark.board
def test_shell_frame_memory_read_register_moves_into_the_ram(tmp_path):
    # the frame memory is written and read by different ports; unless Yosys knows they
    # never meet, it puts a read-old-data bypass LUT after the RAM, the register is no
    # longer plain, and the RAM's 5.8 ns clock-to-output stays on a logic path
    # (TFC-w1a1's critical path on the ULX3S once the weight ROMs were registered). The
    # board flow reads the shell as RTLIL, where a port that is synchronous from the start
    # keeps its collision semantics whatever the memory's no_rw_check says
    from bitsmith.boards.shell.input_frame import InputFrame
    (tmp_path / "frame.il").write_text(rtlil.convert(InputFrame(words=64, tdata_bits=16),
                                                     name="frame_top"))
    subprocess.run([tool_path("yosys"), "-q", "-p",
                    "read_rtlil frame.il; synth_ecp5 -top frame_top; write_json frame.json"],
                   cwd=tmp_path, check=True)
    cells = json.loads((tmp_path / "frame.json").read_text())["modules"]["frame_top"]["cells"]
    assert [c["type"] for c in cells.values()].count("DP16KD") == 1
    assert absorb_output_registers(tmp_path / "frame.json") == 1
