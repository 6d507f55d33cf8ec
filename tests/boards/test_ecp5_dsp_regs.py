"""ECP5 multiplier registers: which flip-flops move into a MULT18X18D and which stay."""

import copy
import json
import subprocess

import pytest
from amaranth import Module, Signal, signed
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from bitsmith.boards.flows.ecp5_dsp_regs import absorb_module, absorb_multiplier_registers
from bitsmith.boards.tools import tool_path
from trellis_cells import CLK, lut4, trellis_ff

OTHER_CLK, RST_NET, CE_NET = 3, 5, 6


_ff, _lut = trellis_ff, lut4


def _mult(**conns):
    """A 2x2-bit multiplier as Yosys maps it: A0/A1 from nets 10/11 (A2 the sign: 11 again),
    B0/B1 from 12/13, the rest constant; P0..P2 on nets 20..22, P3 unused."""
    base = {"A0": [10], "A1": [11], "A2": [11], "B0": [12], "B1": [13], "A3": ["0"], "B2": ["0"],
            "C0": ["0"], "SIGNEDA": ["1"], "SIGNEDB": ["0"], "SOURCEA": ["0"], "SOURCEB": ["0"],
            "P0": [20], "P1": [21], "P2": [22], "P3": [23]}
    base.update(conns)
    dirs = {p: "output" if p.startswith("P") else "input" for p in base}
    return {"type": "MULT18X18D", "parameters": {}, "port_directions": dirs, "connections": base}


def _module(**extra_cells):
    # operand registers (D 30..33 -> Q 10..13), product registers (D 20..22 -> Q 40..42)
    cells = {"mul": _mult(),
             "a0": _ff(30, 10), "a1": _ff(31, 11), "b0": _ff(32, 12), "b1": _ff(33, 13),
             "p0": _ff(20, 40), "p1": _ff(21, 41), "p2": _ff(22, 42),
             "use": _lut(40, 50)}
    cells.update(extra_cells)
    return {"ports": {}, "cells": cells}


def _registers(dsp):
    return {r for r in ("INPUTA", "INPUTB", "OUTPUT")
            if dsp["parameters"].get(f"REG_{r}_CLK", "NONE") == "CLK0"}


def test_operand_and_product_registers_become_the_blocks():
    module = _module()
    assert absorb_module(module) == 1
    mul = module["cells"]["mul"]
    assert _registers(mul) == {"INPUTA", "INPUTB", "OUTPUT"}
    c = mul["connections"]
    # the pins take the registers' inputs (the sign bit twice), the products their outputs
    assert [c[p] for p in ("A0", "A1", "A2", "B0", "B1")] == [[30], [31], [31], [32], [33]]
    assert [c[p] for p in ("P0", "P1", "P2", "P3")] == [[40], [41], [42], [23]]
    assert (c["CLK0"], c["CE0"], c["RST0"]) == ([CLK], ["1"], ["0"])
    assert mul["parameters"]["GSR"] == "DISABLED"
    assert not {"a0", "a1", "b0", "b1", "p0", "p1", "p2"} & module["cells"].keys()
    assert absorb_module(module) == 0                        # idempotent


def test_an_operand_register_read_elsewhere_is_copied_and_stays():
    module = _module(other=_lut(12, 51))
    assert absorb_module(module) == 1
    assert module["cells"]["mul"]["connections"]["B0"] == [32]
    assert "b0" in module["cells"] and not {"a0", "a1", "b1"} & module["cells"].keys()


@pytest.mark.parametrize("case, change, left", [
    ("operand from logic, not a flip-flop", dict(b1=_lut(33, 13)), {"OUTPUT"}),
    ("operand register with a clock enable", dict(a0=_ff(30, 10, CEMUX="CE", CE=[CE_NET])), {"OUTPUT"}),
    ("operand register on another clock", dict(b0=_ff(32, 12, CLK=[OTHER_CLK])), {"OUTPUT"}),
    ("operand register on the falling edge", dict(a1=_ff(31, 11, CLKMUX="INV")), {"OUTPUT"}),
    ("product bit read twice", dict(extra=_lut(21, 52)), {"INPUTA", "INPUTB"}),
    ("product bit into logic", dict(p2=_lut(22, 42)), {"INPUTA", "INPUTB"}),
    ("product register with a reset", dict(p0=_ff(20, 40, LSR=[RST_NET])), {"INPUTA", "INPUTB"}),
    ("product register that sets", dict(p1=_ff(21, 41, REGSET="SET")), {"INPUTA", "INPUTB"}),
    ("product register under global set/reset", dict(p1=_ff(21, 41, GSR="ENABLED")), {"INPUTA", "INPUTB"}),
    ("sign pin from logic", dict(mul=_mult(SIGNEDA=[60])), {"OUTPUT"}),
    ("C pin from logic", dict(mul=_mult(C0=[60])), {"OUTPUT"}),
])
def test_only_plain_registers_move(case, change, left):
    module = _module(**change)
    assert absorb_module(module) == 1, case
    assert _registers(module["cells"]["mul"]) == left, case


def test_a_block_with_a_register_in_use_or_nothing_to_take_is_left_alone():
    for change in (dict(mul={**_mult(), "parameters": {"REG_PIPELINE_CLK": "CLK1"}}),
                   dict(b1=_lut(33, 13), p2=_lut(22, 42))):
        module = _module(**change)
        before = copy.deepcopy(module)
        assert absorb_module(module) == 0
        assert module == before


def test_a_product_register_fed_back_into_an_operand_moves_once():
    # P0's register drives A0 (an accumulation): it becomes the output register only
    module = _module(a0=_lut(30, 10), p0=_ff(20, 40), fb=_ff(40, 60))
    module["cells"]["mul"]["connections"]["A0"] = [40]
    module["cells"]["use"] = _lut(40, 50)
    module["cells"].pop("fb")
    assert absorb_module(module) == 1
    mul = module["cells"]["mul"]
    assert _registers(mul) == {"OUTPUT"}
    assert mul["connections"]["P0"] == [40] and mul["connections"]["A0"] == [40]


def test_a_product_bit_leaving_the_module_keeps_the_output_register_out():
    module = _module()
    module["ports"] = {"out": {"direction": "output", "bits": [21]}}
    assert absorb_module(module) == 1
    assert _registers(module["cells"]["mul"]) == {"INPUTA", "INPUTB"}


class _RegisteredProduct(wiring.Component):
    """Operand registers, an 8x8 signed multiply, a product register: an MVAU lane."""
    a: In(signed(8))
    b: In(signed(8))
    p: Out(signed(16))

    def elaborate(self, platform):
        m = Module()
        # data registers without a reset, as the MVAU's (one with a reset stays outside)
        a, b, p = (Signal(signed(w), reset_less=True) for w in (8, 8, 16))
        m.d.sync += [a.eq(self.a), b.eq(self.b), p.eq(a * b)]
        m.d.comb += self.p.eq(p)
        return m


@pytest.mark.board
def test_yosys_netlist_of_a_registered_multiply(tmp_path):
    (tmp_path / "mul.v").write_text(verilog.convert(_RegisteredProduct(), name="mul_top"))
    subprocess.run([tool_path("yosys"), "-q", "-p",
                    "read_verilog mul.v; synth_ecp5 -top mul_top; write_json mul.json"],
                   cwd=tmp_path, check=True)
    cells = json.loads((tmp_path / "mul.json").read_text())["modules"]["mul_top"]["cells"].values()
    assert [c["type"] for c in cells].count("MULT18X18D") == 1
    ffs = sum(c["type"] == "TRELLIS_FF" for c in cells)
    assert absorb_multiplier_registers(tmp_path / "mul.json") == 1
    after = json.loads((tmp_path / "mul.json").read_text())["modules"]["mul_top"]["cells"].values()
    mul = next(c for c in after if c["type"] == "MULT18X18D")
    assert _registers(mul) == {"INPUTA", "INPUTB", "OUTPUT"}
    # the operands' 16 and the product's 16 flip-flops are the block's registers now
    assert sum(c["type"] == "TRELLIS_FF" for c in after) == ffs - 32
