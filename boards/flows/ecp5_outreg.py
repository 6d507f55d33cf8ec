"""Move the register after an ECP5 block RAM into the block RAM (``REGMODE = "OUTREG"``).

A DP16KD read without its output register has a 5.6-5.8 ns clock-to-output in nextpnr's
speed-grade-6 model, most of a 150 MHz cycle, and nextpnr rarely places the flip-flop
that takes the data next to the RAM. ``bitsmith``'s hardware already follows every block
RAM read with a plain register (``bitsmith.hw.streams.ram_attrs``), but Yosys's ECP5 memory
mapping never uses the RAM's own output register, so this pass does it on the netlist
Yosys writes, before nextpnr reads it.

A read port's register is absorbed only when every data bit the design uses goes to
exactly one flip-flop, and each of those flip-flops is a plain one: data input straight
from the RAM, always enabled, no set/reset, the RAM port's clock on the same edge, and
no global set/reset; the port itself must have its output always enabled and never
reset. Enables, resets and clocks are judged as the cell sees them, from the mux
parameter and the pin together (``CEMUX = "INV"`` on a pin tied to 1 never loads), and a
flip-flop that lacks one of the parameters Yosys always writes is left alone rather than
read with a guessed default. The DP16KD's ``OCEAMUX``/``RSTAMUX``... are never written by
Yosys; absent, each passes its pin, as in the cell library's model. The RAM's output register then holds what the flip-flop held (both
start at zero), one clock after the read as before, so the design's behaviour is
unchanged. Any other port is left as Yosys mapped it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)

FF_PARAMETERS = ("CEMUX", "CLKMUX", "LSRMUX", "GSR", "REGSET")
"""Parameters a TRELLIS_FF must carry (Yosys's ECP5 mapping writes all of them); a flip-flop
lacking one is left alone rather than read with a guessed default."""


def effective(cell: dict, mux: str, port: str):
    """What a cell's input sees after its programmable inverter/constant mux.

    ``mux`` is the cell's ``...MUX`` parameter for ``port`` (TRELLIS_FF's ``CEMUX``: ``"1"``
    or ``"0"`` a constant, ``"INV"`` the inverted pin, the pin's own name the pin).
    Returns ``0``/``1`` for a constant, ``("net", n)`` or ``("inv", n)`` for a signal, or
    None when the value cannot be known (unknown setting, pin absent, several bits, or an
    undefined ``x``/``z``).
    """
    mux = mux.strip()
    if mux in ("0", "1"):
        return int(mux)
    if mux not in ("INV", port):
        return None
    bits = cell["connections"].get(port)
    if not bits or len(bits) != 1:
        return None
    bit, inverted = bits[0], mux == "INV"
    if bit in ("0", "1"):
        return int(bit) ^ inverted
    if isinstance(bit, int):
        return ("inv" if inverted else "net", bit)
    return None


def _plain_ff(cell: dict, clock) -> str | None:
    """None if ``cell`` is a bare D flip-flop on the effective clock ``clock``, else why not.

    Clock enable and reset are judged by what the flip-flop sees: the mux setting and the
    pin together (``CEMUX="INV"`` on a pin tied to 1 is a flip-flop that never loads).
    """
    if cell["type"] != "TRELLIS_FF":
        return f"a {cell['type']} cell"
    p = cell["parameters"]
    missing = [name for name in FF_PARAMETERS if name not in p]
    if missing:
        return f"parameter {missing[0]} missing"
    if p["GSR"].strip() != "DISABLED" or p["REGSET"].strip() != "RESET":
        return "global set/reset or a set value"
    if effective(cell, p["CEMUX"], "CE") != 1:
        return "a clock enable"
    if effective(cell, p["LSRMUX"], "LSR") != 0:
        return "a set/reset"
    if effective(cell, p["CLKMUX"], "CLK") != clock:
        return "another clock"
    return None


def absorb_module(module: dict) -> int:
    """Absorb output registers into the DP16KD cells of one netlist module; returns the
    number of RAM read ports changed."""
    cells = module["cells"]
    sinks: dict = {}
    for name, cell in cells.items():
        for port, bits in cell["connections"].items():
            if cell.get("port_directions", {}).get(port) == "output":
                continue
            for bit in bits:
                if isinstance(bit, int):
                    sinks.setdefault(bit, []).append((name, port))
    for port in module.get("ports", {}).values():     # bits leaving the module
        for bit in port["bits"]:
            if isinstance(bit, int):
                sinks.setdefault(bit, []).append((None, None))

    changed = 0
    for name, ram in list(cells.items()):
        if ram["type"] != "DP16KD":
            continue
        params, conns = ram["parameters"], ram["connections"]
        for side in "AB":
            if f"REGMODE_{side}" not in params or f"CLK{side}MUX" not in params:
                log.info("%s port %s: REGMODE/CLKMUX parameter missing; left as mapped", name, side)
                continue
            if params[f"REGMODE_{side}"].strip() != "NOREG":
                continue
            # output register always enabled and never reset (a reset would act a
            # cycle later than on the flip-flop it replaces), judged after the port's muxes
            oce = effective(ram, params.get(f"OCE{side}MUX", f"OCE{side}"), f"OCE{side}")
            rst = effective(ram, params.get(f"RST{side}MUX", f"RST{side}"), f"RST{side}")
            if oce != 1 or rst != 0:
                continue
            clock = effective(ram, params[f"CLK{side}MUX"], f"CLK{side}")
            if not isinstance(clock, tuple):
                continue
            moves = []
            for port, bits in conns.items():
                if not port.startswith(f"DO{side}") or not isinstance(bits[0], int):
                    continue
                users = sinks.get(bits[0], [])
                if not users:
                    continue                      # an unused data bit
                if len(users) != 1 or users[0][1] != "DI":
                    moves = None
                    break
                ff_name = users[0][0]
                why = _plain_ff(cells[ff_name], clock)
                if why is not None:
                    log.info("%s port %s: %s on %s (%s); left as mapped", name, side, ff_name, port, why)
                    moves = None
                    break
                moves.append((port, ff_name))
            if not moves:
                continue
            for port, ff_name in moves:
                conns[port] = cells.pop(ff_name)["connections"]["Q"]
            params[f"REGMODE_{side}"] = "OUTREG"
            changed += 1
    return changed


def absorb_output_registers(netlist_path: Path) -> int:
    """Rewrite a Yosys JSON netlist in place; returns the read ports changed."""
    netlist = json.loads(netlist_path.read_text())
    changed = sum(absorb_module(module) for module in netlist["modules"].values())
    if changed:
        netlist_path.write_text(json.dumps(netlist))
    return changed
