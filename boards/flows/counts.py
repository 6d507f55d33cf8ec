"""Yosys cell counts -> LUT/FF/BRAM/DSP per FPGA family.

* iCE40: ``SB_LUT4`` LUTs (``SB_CARRY`` rides in the same logic cells), ``SB_DFF*`` FFs,
  ``SB_RAM40_4K`` BRAMs, ``SB_MAC16`` DSPs.
* ECP5: ``LUT4`` plus two per ``CCU2C`` (a carry cell is a slice of two LUT4s) plus
  four per ``TRELLIS_DPR16X4`` (distributed RAM); ``TRELLIS_FF`` FFs; ``DP16KD`` BRAMs;
  ``MULT18X18D`` DSPs.
* 7-series: ``LUT1``..``LUT6`` plus LUT-RAM and SRL cells by the LUTs they occupy;
  ``FD*E`` FFs; ``RAMB36E1`` + 0.5 x ``RAMB18E1`` BRAMs; ``DSP48E1`` DSPs.
"""

from __future__ import annotations

#: The unit of each figure per family, as ``synth.json``'s ``units`` records it: the LUT
#: kind (LUT4 on iCE40 and ECP5, LUT6 on 7-series) and the block-RAM and DSP primitives.
UNITS = {
    "ice40": {"luts": "LUT4", "ffs": "FF", "brams": "EBR", "dsps": "SB_MAC16"},
    "ecp5": {"luts": "LUT4", "ffs": "FF", "brams": "DP16KD", "dsps": "MULT18X18D"},
    "xc7": {"luts": "LUT6", "ffs": "FF", "brams": "RAMB36", "dsps": "DSP48E1"},
    "zynq7": {"luts": "LUT6", "ffs": "FF", "brams": "RAMB36", "dsps": "DSP48E1"},
}
#: Capacity of one block RAM of each kind, kbit (iCE40 EBR = SB_RAM40_4K; a 7-series
#: RAMB18 counts as half a RAMB36), recorded in ``synth.json`` as ``bram_kbit``.
BRAM_KBIT = {"EBR": 4, "DP16KD": 18, "RAMB36": 36}

_XC7_LUTRAM = {"RAM32M": 4, "RAM64M": 4, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4,
               "RAM256X1S": 4, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2,
               "SRL16E": 1, "SRLC32E": 1, "RAM32M16": 8, "RAM64M8": 8}


def resources(family: str, cells: dict[str, int]) -> dict[str, float]:
    """``{"luts", "ffs", "brams", "dsps"}`` for ``family`` from Yosys cell counts."""
    def total(predicate) -> int:
        return sum(n for cell, n in cells.items() if predicate(cell))

    if family == "ice40":
        return {"luts": cells.get("SB_LUT4", 0),
                "ffs": total(lambda c: c.startswith("SB_DFF")),
                "brams": total(lambda c: c.startswith("SB_RAM40_4K")),
                "dsps": cells.get("SB_MAC16", 0)}
    if family == "ecp5":
        return {"luts": cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0)
                + 4 * cells.get("TRELLIS_DPR16X4", 0),
                "ffs": cells.get("TRELLIS_FF", 0),
                "brams": cells.get("DP16KD", 0) + cells.get("PDPW16KD", 0),
                "dsps": cells.get("MULT18X18D", 0)}
    if family in ("xc7", "zynq7"):
        luts = total(lambda c: c in {f"LUT{i}" for i in range(1, 7)})
        luts += sum(n * _XC7_LUTRAM[c] for c, n in cells.items() if c in _XC7_LUTRAM)
        brams = cells.get("RAMB36E1", 0) + 0.5 * cells.get("RAMB18E1", 0)
        return {"luts": luts,
                "ffs": total(lambda c: c in {"FDRE", "FDSE", "FDCE", "FDPE"}),
                "brams": int(brams) if brams == int(brams) else brams,
                "dsps": cells.get("DSP48E1", 0)}
    raise ValueError(f"Family must be one of ice40, ecp5, xc7, zynq7, not {family!r}")


def units(family: str) -> dict[str, str]:
    """The unit of ``luts``/``ffs``/``brams``/``dsps`` for ``family`` (:data:`UNITS`)."""
    try:
        return dict(UNITS[family])
    except KeyError:
        raise ValueError(f"Family must be one of {', '.join(UNITS)}, not {family!r}") from None


def synth_command(family: str, top: str) -> str:
    """The Yosys synthesis command for ``family``."""
    return {"ice40": f"synth_ice40 -top {top}", "ecp5": f"synth_ecp5 -top {top}",
            "xc7": f"synth_xilinx -family xc7 -top {top}",
            "zynq7": f"synth_xilinx -family xc7 -top {top}"}[family]


def over_capacity(used: dict, available: dict) -> list[str]:
    """Names of the resources ``used`` exceeds."""
    return [k for k in ("luts", "ffs", "brams", "dsps") if used[k] > available[k]]


def utilisation_table(used: dict, available: dict, title: str) -> str:
    """Plain-text table: resource, used, available, percent."""
    lines = [title, f"  {'resource':<9}{'used':>9}{'available':>11}{'%':>8}"]
    for key in ("luts", "ffs", "brams", "dsps"):
        pct = 100.0 * used[key] / available[key] if available[key] else 0.0
        flag = "  <-- over" if used[key] > available[key] else ""
        lines.append(f"  {key:<9}{used[key]:>9g}{available[key]:>11}{pct:>7.1f}%{flag}")
    return "\n".join(lines)
