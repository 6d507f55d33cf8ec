"""Move the registers around an ECP5 multiplier into its MULT18X18D.

Yosys maps a ``$mul`` onto a MULT18X18D with every register of the block unused, so the
flip-flops before and after it stay in the fabric and a product is timed from an operand
register, across the routing into the block, through the multiplier and out again to the
product register (10 ns in the MVAU's multiplier lanes, 90-100 MHz). The MVAU gives
multiplier lanes one plain register on each operand after the read-data registers and two
plain product registers (:func:`bitsmith.hw.compute.mvau.multiplier_stages`); this pass,
run on the netlist Yosys writes before nextpnr reads it (after :mod:`.ecp5_outreg`), makes
the operand registers and the first product register the block's own input and output
registers (the second stays in the fabric, by the adder tree).

* **Output register**: every product bit the design uses goes to exactly one flip-flop,
  each a plain one (:func:`.ecp5_outreg._plain_ff`: data straight from the pin, always
  enabled, never set or reset, no global set/reset, rising edge). The block's ``P`` pins
  then drive what the flip-flops drove, and the flip-flops go.
* **Input registers**, A and B together (nextpnr times the A and B pins as register inputs
  only when both ports are registered): every non-constant bit on the ``A`` and ``B`` pins
  comes from the output of a plain flip-flop. Each pin then takes that flip-flop's data
  input instead, so the block holds a copy of the register (an operand register feeding
  several multipliers is duplicated into each), and a flip-flop whose output nothing else
  reads goes. The sign, source and ``C`` pins must be constants (they would be sampled
  with the inputs).

All the block's registers use ``CLK0`` (the flip-flops' clock), ``CE0`` tied high and
``RST0`` tied low, with ``GSR`` disabled like the flip-flops: the block computes what the
fabric did, cycle for cycle. A block Yosys did not map this way (any register already in
use, a missing pin) is left alone.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from .ecp5_outreg import _plain_ff, drivers_and_sinks, effective, rewrite_modules

log = logging.getLogger(__name__)

REGISTERS = ("INPUTA", "INPUTB", "INPUTC", "PIPELINE", "OUTPUT")
"""The MULT18X18D's optional registers (``REG_<name>_CLK`` = ``"NONE"`` when unused)."""

_PIN = re.compile(r"([A-Z]+)(\d+)$")
_CONSTANT_PINS = ("SIGNEDA", "SIGNEDB", "SOURCEA", "SOURCEB")


def _bus(conns: dict, name: str) -> list[tuple[str, object]]:
    """``(pin, bit)`` of a pin bus (``A0``, ``A1``, ...) in index order."""
    pins = []
    for pin, bits in conns.items():
        match = _PIN.match(pin)
        if match and match.group(1) == name and len(bits) == 1:
            pins.append((int(match.group(2)), pin, bits[0]))
    return [(pin, bit) for _, pin, bit in sorted(pins)]


def _plain_on(ff: dict, clock):
    """``(clock, why)``: the flip-flop's own clock when ``clock`` is None (the first one
    met sets it), and None if it is a plain flip-flop on that rising-edge clock, else why
    not."""
    clock = clock or effective(ff, ff["parameters"].get("CLKMUX", "CLK"), "CLK")
    if not (isinstance(clock, tuple) and clock[0] == "net"):
        return clock, "no plain clock"
    return clock, _plain_ff(ff, clock)


def _output_moves(name: str, conns: dict, cells: dict, sinks: dict):
    """``(clock, [(P pin, flip-flop)])`` for the output register, or None."""
    clock, moves = None, []
    for pin, bit in _bus(conns, "P"):
        if not isinstance(bit, int) or not sinks.get(bit):
            continue                                  # an unused product bit
        users = sinks[bit]
        if len(users) != 1 or users[0][1] != "DI":
            return None
        clock, why = _plain_on(cells[users[0][0]], clock)
        if why is not None:
            log.info("%s %s: %s (%s); output register left as mapped", name, pin, users[0][0], why)
            return None
        moves.append((pin, users[0][0]))
    return (clock, moves) if moves else None


def _input_moves(name: str, conns: dict, cells: dict, drivers: dict, clock):
    """``(clock, [(A/B pin, flip-flop)])`` for both input registers, or None."""
    if any(conns.get(pin, ["x"])[0] not in ("0", "1") for pin in _CONSTANT_PINS) or \
            any(bit not in ("0", "1") for _, bit in _bus(conns, "C")):
        return None
    moves = []
    for port in "AB":
        registered = False
        for pin, bit in _bus(conns, port):
            if bit in ("0", "1"):
                continue
            source = drivers.get(bit) if isinstance(bit, int) else None
            # (a flip-flop gone into another multiplier's output register: that block
            # drives the bit now, from a register this pass cannot copy)
            if source is None or source[1] != "Q" or source[0] not in cells \
                    or cells[source[0]]["type"] != "TRELLIS_FF":
                return None
            clock, why = _plain_on(cells[source[0]], clock)
            if why is not None:
                log.info("%s %s: %s (%s); input registers left as mapped", name, pin, source[0], why)
                return None
            moves.append((pin, source[0]))
            registered = True
        if not registered:
            return None                               # a constant port: nothing to register
    return clock, moves


def absorb_module(module: dict) -> int:
    """Absorb registers into the MULT18X18D cells of one netlist module; returns the number
    of multipliers changed."""
    cells = module["cells"]
    drivers, sinks = drivers_and_sinks(module)
    changed, moved_inputs = 0, set()
    for name, dsp in list(cells.items()):
        if dsp["type"] != "MULT18X18D":
            continue
        params, conns = dsp["parameters"], dsp["connections"]
        if any(str(params.get(f"REG_{r}_CLK", "NONE")).strip() != "NONE" for r in REGISTERS):
            continue
        if any(pin in conns for pin in ("CLK0", "CE0", "RST0")) and \
                (conns.get("CE0") != ["1"] or conns.get("RST0") != ["0"]):
            continue
        output = _output_moves(name, conns, cells, sinks)
        if output and any(ff_name in moved_inputs for _, ff_name in output[1]):
            output = None       # another block reads that register's data input already
        inputs = _input_moves(name, conns, cells, drivers, output[0] if output else None)
        if output and inputs and {f for _, f in output[1]} & {f for _, f in inputs[1]}:
            inputs = None       # the product fed back into an operand: one register, one place
        if not output and not inputs:
            continue
        clock = (output or inputs)[0]
        if "CLK0" in conns and conns["CLK0"] != [clock[1]]:
            continue
        directions = dsp.setdefault("port_directions", {})
        for pin, value in (("CLK0", clock[1]), ("CE0", "1"), ("RST0", "0")):
            conns[pin] = [value]
            directions[pin] = "input"
        registers = []
        if output:
            for pin, ff_name in output[1]:
                conns[pin] = cells.pop(ff_name)["connections"]["Q"]
            registers.append("OUTPUT")
        if inputs:
            for pin, ff_name in inputs[1]:
                conns[pin] = list(cells[ff_name]["connections"]["DI"])
                moved_inputs.add(ff_name)
            registers += ["INPUTA", "INPUTB"]
        for register in registers:
            params[f"REG_{register}_CLK"] = "CLK0"
            params[f"REG_{register}_CE"] = "CE0"
            params[f"REG_{register}_RST"] = "RST0"
        params["GSR"] = "DISABLED"
        changed += 1
    # operand flip-flops whose every reader now holds its own copy
    _, sinks = drivers_and_sinks(module)
    for ff_name in moved_inputs:
        if ff_name in cells and not sinks.get(cells[ff_name]["connections"]["Q"][0]):
            del cells[ff_name]
    return changed


def absorb_multiplier_registers(netlist_path: Path) -> int:
    """Rewrite a Yosys JSON netlist in place; returns the multipliers changed."""
    return rewrite_modules(netlist_path, absorb_module)
