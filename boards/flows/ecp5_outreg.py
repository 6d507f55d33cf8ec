"""Move the register after an ECP5 block RAM into the block RAM (``REGMODE = "OUTREG"``).

A DP16KD read without its output register has a 5.6-5.8 ns clock-to-output in nextpnr's
speed-grade-6 model, most of a 150 MHz cycle, and nextpnr rarely places the flip-flop
that takes the data next to the RAM. ``bitsmith``'s hardware already follows every block
RAM read with a plain register (``bitsmith.hw.streams.ram_attrs``), but Yosys's ECP5 memory
mapping never uses the RAM's own output register, so this pass does it on the netlist
Yosys writes, before nextpnr reads it.

A read port's register is absorbed only when every data bit the design uses goes to
exactly one flip-flop, and each of those flip-flops is a plain one: data input straight
from the RAM, no set/reset, the RAM port's clock on the same edge, no global set/reset,
and one clock enable for all of them (always, or one net: a line buffer's register that
holds under backpressure), which becomes the output register's enable (``OCE``); the
port itself must have its output always enabled (as Yosys maps it) and never reset. Enables, resets and clocks are judged as the cell sees them, from the mux
parameter and the pin together (``CEMUX = "INV"`` on a pin tied to 1 never loads), and a
flip-flop that lacks one of the parameters Yosys always writes is left alone rather than
read with a guessed default. The DP16KD's ``OCEAMUX``/``RSTAMUX``... are never written by
Yosys; absent, each passes its pin, as in the cell library's model. The RAM's output register then holds what the flip-flop held (both
start at zero), one clock after the read as before, so the design's behaviour is
unchanged. Any other port is left as Yosys mapped it.

A DP16KD in its 36-bit pseudo-dual-port mode (what Yosys maps a 36-bit-wide memory to,
``DATA_WIDTH_A`` = 36) reads all 36 bits through port B and puts half of them on the DOA
pins. Its output register is one setting in Lattice's primitive (PDPW16KD's ``REGMODE``),
which nextpnr turns into ``REGMODE_A`` and ``REGMODE_B`` alike, and nextpnr times the DOA
pins by ``REGMODE_A``: the pass absorbs such a port only whole (the flip-flops on the DOA
and the DOB pins), sets both modes, and ties ``OCEA`` high so the DOA half's register loads
every cycle whichever enable the silicon gives it in this mode. (Absorbing the DOB half
alone, as this pass once did, left the DOA half's 5.6 ns clock-to-output on the critical
path and a register mode pair Lattice's tools never write.)
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


def _plain_ff(cell: dict, clock, *, enable=1) -> str | None:
    """None if ``cell`` is a bare D flip-flop on the effective clock ``clock`` whose
    effective clock enable is ``enable`` (1: always), else why not.

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
    if effective(cell, p["CEMUX"], "CE") != enable:
        return "a clock enable" if enable == 1 else "another clock enable"
    if effective(cell, p["LSRMUX"], "LSR") != 0:
        return "a set/reset"
    if effective(cell, p["CLKMUX"], "CLK") != clock:
        return "another clock"
    return None


def drivers_and_sinks(module: dict) -> tuple[dict, dict]:
    """Index of a Yosys JSON module's nets: ``drivers[bit] = (cell, port)`` and
    ``sinks[bit] = [(cell, port), ...]``, a bit leaving the module a ``(None, None)`` sink."""
    drivers, sinks = {}, {}
    for name, cell in module["cells"].items():
        directions = cell.get("port_directions", {})
        for port, bits in cell["connections"].items():
            for bit in bits:
                if not isinstance(bit, int):
                    continue
                if directions.get(port) == "output":
                    drivers[bit] = (name, port)
                else:
                    sinks.setdefault(bit, []).append((name, port))
    for port in module.get("ports", {}).values():     # bits leaving the module
        for bit in port["bits"]:
            if isinstance(bit, int):
                sinks.setdefault(bit, []).append((None, None))
    return drivers, sinks


def absorb_module(module: dict) -> int:
    """Absorb output registers into the DP16KD cells of one netlist module; returns the
    number of RAM read ports changed."""
    cells = module["cells"]
    _, sinks = drivers_and_sinks(module)
    changed = 0
    for name, ram in list(cells.items()):
        if ram["type"] != "DP16KD":
            continue
        if _pseudo_dual_port(ram["parameters"]):
            # 36-bit pseudo-dual-port mode: port B reads all 36 bits, half of them on the
            # DOA pins; the primitive's one output register mode (PDPW16KD's REGMODE)
            # is REGMODE_A and REGMODE_B together, as nextpnr sets both from it
            ports = [("B", ("DOA", "DOB"), ("A", "B"))]
        else:
            ports = [(side, (f"DO{side}",), (side,)) for side in "AB"]
        for side, outputs, modes in ports:
            found = _register_moves(name, ram, cells, sinks, side, outputs, modes)
            if not found or not found[0]:
                continue
            moves, enable = found
            for port, ff_name in moves:
                ram["connections"][port] = cells.pop(ff_name)["connections"]["Q"]
            for mode in modes:
                ram["parameters"][f"REGMODE_{mode}"] = "OUTREG"
                if mode != side or enable != 1:
                    # the output register loads when the flip-flops did; in pseudo-dual-
                    # port mode the other half's enable too, whichever of the two the
                    # silicon uses for the DOA half there
                    ram["parameters"].pop(f"OCE{mode}MUX", None)
                    ram["connections"][f"OCE{mode}"] = ["1" if enable == 1 else enable[1]]
                    ram.setdefault("port_directions", {})[f"OCE{mode}"] = "input"
            changed += 1
    return changed


def _pseudo_dual_port(params: dict) -> bool:
    """Whether a DP16KD is in its 36-bit pseudo-dual-port mode (``DATA_WIDTH_A`` 36, as
    nextpnr decides it)."""
    width = params.get("DATA_WIDTH_A")
    if isinstance(width, str):
        width = width.strip()
        width = int(width, 2) if width and set(width) <= {"0", "1"} else None
    return width == 36


def _register_moves(name: str, ram: dict, cells: dict, sinks: dict, side: str,
                    outputs: tuple[str, ...], modes: tuple[str, ...]):
    """The ``(RAM output pin, flip-flop)`` pairs to merge for the read port ``side`` whose
    data leaves on the pins ``outputs`` under the output register modes ``modes``, or
    None when that register cannot be absorbed."""
    params, conns = ram["parameters"], ram["connections"]
    for mode in modes:
        if f"REGMODE_{mode}" not in params:
            log.info("%s port %s: REGMODE_%s parameter missing; left as mapped", name, side, mode)
            return None
        if params[f"REGMODE_{mode}"].strip() != "NOREG":
            return None
    if f"CLK{side}MUX" not in params:
        log.info("%s port %s: CLK%sMUX parameter missing; left as mapped", name, side, side)
        return None
    # output register never reset (a reset would act a cycle later than on the flip-flop
    # it replaces) and, as Yosys maps it, always enabled; judged after the port's muxes
    if effective(ram, params.get(f"OCE{side}MUX", f"OCE{side}"), f"OCE{side}") != 1:
        return None
    if any(effective(ram, params.get(f"RST{mode}MUX", f"RST{mode}"), f"RST{mode}") != 0
           for mode in modes):
        return None
    clock = effective(ram, params[f"CLK{side}MUX"], f"CLK{side}")
    if not isinstance(clock, tuple):
        return None
    moves, enable = [], None
    for port, bits in conns.items():
        if not port.startswith(outputs) or not isinstance(bits[0], int):
            continue
        users = sinks.get(bits[0], [])
        if not users:
            continue                      # an unused data bit
        if len(users) != 1 or users[0][1] != "DI":
            return None
        ff_name = users[0][0]
        ff = cells[ff_name]
        if enable is None:
            # the flip-flops' one clock enable, taken from the first: always (1) or one
            # net as the pin sees it, which then becomes the output register's enable
            enable = effective(ff, ff["parameters"].get("CEMUX", "CE"), "CE")
            if enable != 1 and not (isinstance(enable, tuple) and enable[0] == "net"):
                enable = 1
        why = _plain_ff(ff, clock, enable=enable)
        if why is not None:
            log.info("%s port %s: %s on %s (%s); left as mapped", name, side, ff_name, port, why)
            return None
        moves.append((port, ff_name))
    return moves, enable


def absorb_output_registers(netlist_path: Path) -> int:
    """Rewrite a Yosys JSON netlist in place; returns the read ports changed."""
    return rewrite_modules(netlist_path, absorb_module)


def rewrite_modules(netlist_path: Path, absorb) -> int:
    """Apply ``absorb(module) -> changes`` to every module of a Yosys JSON netlist, in
    place (the file is rewritten only when something changed); returns the changes."""
    netlist = json.loads(netlist_path.read_text())
    changed = sum(absorb(module) for module in netlist["modules"].values())
    if changed:
        netlist_path.write_text(json.dumps(netlist))
    return changed
