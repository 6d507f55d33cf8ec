"""Generic ASIC estimate: Yosys ``synth`` onto its internal gate library, then counts.

The NAND2-equivalent gate count weighs each Yosys gate by the area of the matching cell
of a typical open standard-cell library (Nangate 45 nm ``*_X1`` cells, areas divided by
``NAND2_X1``'s 0.798 um^2), rounded:

=====================  ======  =================================
Yosys cell             weight  cell it stands for
=====================  ======  =================================
``$_NOT_``              0.67   INV
``$_BUF_``              1.00   BUF
``$_NAND_ $_NOR_``      1.00   NAND2, NOR2
``$_AND_ $_OR_``        1.33   AND2, OR2
``$_ANDNOT_ $_ORNOT_``  1.33   AND2/OR2 with an inverted input
``$_AOI3_ $_OAI3_``     1.33   AOI21, OAI21
``$_AOI4_ $_OAI4_``     1.67   AOI22, OAI22
``$_XOR_ $_XNOR_``      2.00   XOR2, XNOR2
``$_MUX_ $_NMUX_``      2.33   MUX2
flip-flop               5.67   DFF
  + async reset/set     +1.00  DFFR/DFFS
  + sync reset/set      +1.33  an AND2/OR2 in front
  + enable              +2.33  a MUX2 in front
=====================  ======  =================================

Memories are mapped to flip-flops and logic (no SRAM macros), so RAM-heavy designs are
over-estimated.
"""

from __future__ import annotations

import re

from ..bundle import CoreIO
from ..tools import Steps, yosys_stat

GATE_WEIGHTS = {"$_NOT_": 0.67, "$_BUF_": 1.0, "$_NAND_": 1.0, "$_NOR_": 1.0,
                "$_AND_": 1.33, "$_OR_": 1.33, "$_ANDNOT_": 1.33, "$_ORNOT_": 1.33,
                "$_AOI3_": 1.33, "$_OAI3_": 1.33, "$_AOI4_": 1.67, "$_OAI4_": 1.67,
                "$_XOR_": 2.0, "$_XNOR_": 2.0, "$_MUX_": 2.33, "$_NMUX_": 2.33}
DFF, ASYNC_RESET, SYNC_RESET, ENABLE = 5.67, 1.0, 1.33, 2.33

_FLOP = re.compile(r"^\$_(?P<kind>DFF|DFFE|SDFF|SDFFE|SDFFCE|DFFSR|DFFSRE|ALDFF|ALDFFE|DLATCH)"
                   r"_(?P<pol>[PN01]+)_$")


def flop_weight(cell: str) -> float | None:
    """NAND2 equivalents of a Yosys flip-flop cell type, ``None`` if not a flop.

    The polarity string says what a ``$_DFF*`` has: ``$_DFF_P_`` clock only,
    ``$_DFF_PP0_`` clock + async reset, ``$_DFFE_PP_`` clock + enable,
    ``$_DFFE_PP0P_`` all three.
    """
    match = _FLOP.match(cell)
    if match is None:
        return None
    kind, pol = match.group("kind"), match.group("pol")
    enable = kind.endswith("E")
    weight = DFF + (ENABLE if enable else 0.0)
    if kind.startswith("SDFF"):
        weight += SYNC_RESET
    elif kind in ("DFFSR", "DFFSRE", "ALDFF", "ALDFFE"):
        weight += ASYNC_RESET
    elif kind in ("DFF", "DFFE") and len(pol) >= 3 + enable:
        weight += ASYNC_RESET
    return weight


def run(core: CoreIO, steps: Steps) -> dict:
    """Generic synthesis of the core; returns cells, flops and NAND2 equivalents."""
    workdir = steps.workdir
    (workdir / core.verilog.name).write_text(core.verilog_text())
    (workdir / "asic.ys").write_text(
        f"read_verilog {core.verilog.name}\nsynth -flatten -top {core.top}\n"
        f"tee -q -o asic_stat.json stat -json\n")
    steps.run("synth", "yosys", ["asic.ys"], log_name="synth.log",
              description="Yosys: generic synthesis")
    cells = yosys_stat(workdir / "asic_stat.json")
    flops = gates = 0
    nand2 = 0.0
    unknown = {}
    for cell, count in cells.items():
        weight = flop_weight(cell)
        if weight is not None:
            flops += count
        elif cell in GATE_WEIGHTS:
            weight = GATE_WEIGHTS[cell]
            gates += count
        else:
            unknown[cell] = count
            continue
        nand2 += weight * count
    return {"cells": sum(cells.values()), "flops": flops, "gates": gates,
            "nand2_equivalent": round(nand2), "cells_by_type": cells,
            "unweighted_cells": unknown}
