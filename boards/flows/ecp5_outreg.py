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
no global set/reset; the port itself must have its output enable tied high and its
reset tied low. The RAM's output register then holds what the flip-flop held (both
start at zero), one clock after the read as before, so the design's behaviour is
unchanged. Any other port is left as Yosys mapped it.
"""

from __future__ import annotations

import json
from pathlib import Path


def _const(bits: list, value: str) -> bool:
    return len(bits) == 1 and bits[0] == value


def _plain_ff(cell: dict, clock_bit) -> bool:
    """A TRELLIS_FF that is a bare D flip-flop on ``clock_bit``'s rising edge."""
    p, c = cell["parameters"], cell["connections"]
    return (cell["type"] == "TRELLIS_FF"
            and p.get("CLKMUX", "CLK").strip() == "CLK"
            and p.get("GSR", "DISABLED").strip() == "DISABLED"
            and p.get("REGSET", "RESET").strip() == "RESET"
            and (p.get("CEMUX", "CE").strip() == "1" or _const(c.get("CE", ["1"]), "1"))
            and (p.get("LSRMUX", "LSR").strip() == "0" or _const(c.get("LSR", ["0"]), "0"))
            and c.get("CLK") == [clock_bit])


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
            if params.get(f"REGMODE_{side}", "NOREG").strip() != "NOREG":
                continue
            if params.get(f"CLK{side}MUX", f"CLK{side}").strip() != f"CLK{side}":
                continue
            # output register always enabled and never reset (a reset would act a
            # cycle later than on the flip-flop it replaces)
            if not (_const(conns.get(f"OCE{side}", ["1"]), "1")
                    and _const(conns.get(f"RST{side}", ["0"]), "0")):
                continue
            clock = conns.get(f"CLK{side}", ["0"])[0]
            if not isinstance(clock, int):
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
                if not _plain_ff(cells[ff_name], clock):
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
