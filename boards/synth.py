"""``synth(out_dir, board)``: real synthesis (and place-and-route where the flow is open).

Writes ``OUT/board/<NAME>/`` with the tool logs, the bitstream (iCE40/ECP5) or the
project scripts (Xilinx) and ``synth.json`` (DESIGN.md §5: ``luts``, ``ffs``, ``brams``,
``dsps``, ``fmax_mhz``, ``device``, ``fits``, plus flow details). ``units`` names what each
figure counts (:data:`bitsmith.boards.flows.counts.UNITS`: LUT4 on iCE40/ECP5, LUT6 on
7-series; EBR, DP16KD or RAMB36 block RAMs). ``luts``..``dsps`` are the core's own figures (no optimisation across its ports: kept as a separate module in
the board synthesis of the open flows, synthesised alone for Xilinx); ``system`` has the
whole board design as placed (shell + core) where there is one, and ``fmax_mhz`` comes
from that build.

The work happens in ``OUT/board/<NAME>.partial/``; on success it replaces
``OUT/board/<NAME>/``, on failure it is kept as ``OUT/board/<NAME>.failed/`` for its logs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Callable

from bitsmith.generator.errors import BitsmithError, OptionError

from .bundle import read_core_io
from .flows import asic, counts, open_fpga, vivado
from .registry import get_board
from .shell.board_top import clock_plan
from .tools import Progress, Steps

log = logging.getLogger(__name__)

DEFAULT_BAUD = 115200


def synth(out_dir: Path, board: str, *, clock_mhz: float | None = None,
          progress: Progress | None = None, baud: int = DEFAULT_BAUD, seeds: int = 1,
          guard: Callable | None = None) -> dict:
    """Synthesise the build in ``out_dir`` for ``board``; returns the ``synth.json`` dict.

    Parameters
    ----------
    out_dir : Path
        A ``bitsmith build`` output (``design.json`` io section + ``rtl/<top>.v``).
    board : str
        A name from :data:`bitsmith.boards.registry.BOARDS`.
    clock_mhz : float or None
        Core clock; default the board's oscillator. Open boards and the Arty make it
        with a PLL/MMCM; PYNQ-Z2 sets FCLK0.
    progress : callable or None
        Called with a description before each tool step.
    baud : int
        UART rate of the shell (open boards and Arty).
    seeds : int
        iCE40/ECP5: place and route with nextpnr seeds 1..``seeds``, keep the fastest.
    guard : callable or None
        ``guard(out_dir, board_name)``: a context manager entered once the options are
        checked, around everything written below ``out_dir/board/`` (the command line's
        :func:`bitsmith.generator.outdir.board_folder`: ownership checks and the marker).

    Raises
    ------
    OptionError
        Unknown board, unreachable clock or baud (before anything is written).
    DoesNotFit (CheckFailed, exit 1)
        The design needs more than the device has; the message has the utilisation table.
    ToolError
        A tool failed; the message names its log.
    """
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    target = get_board(board)
    core = read_core_io(Path(out_dir))
    if core.spram_layers and not getattr(target.resources, "spram", 0):
        raise OptionError(f"--board {target.name}: {out_dir} keeps the weights of "
                          f"{', '.join(repr(n) for n in core.spram_layers)} in iCE40 SPRAM (it was folded "
                          f"for an iCE40 UltraPlus board), which {target.device} does not have; build it "
                          f"again with --board {target.name}")
    clock = target.clock_mhz if clock_mhz is None else clock_mhz
    if clock is not None and (not isinstance(clock, (int, float)) or clock <= 0):
        raise OptionError(f"--clock-mhz must be a positive number, not {clock_mhz!r}")
    if target.flow == "open" or target.family == "xc7":
        clock_plan(target, clock, baud)          # unreachable clock or baud: fail before writing
    if not isinstance(seeds, int) or isinstance(seeds, bool) or not 1 <= seeds <= 64:
        raise OptionError(f"--seeds must be an integer from 1 to 64, not {seeds!r}")
    if seeds > 1 and target.flow != "open":
        raise OptionError(f"--seeds applies to the iCE40/ECP5 boards (nextpnr), not {target.name}")

    with (guard or _no_guard)(Path(out_dir), target.name):
        return _run(Path(out_dir), target, core, progress, clock=clock, baud=baud, seeds=seeds)


@contextlib.contextmanager
def _no_guard(out_dir: Path, board: str):
    yield


def _run(out_dir: Path, target, core, progress, *, clock, baud, seeds) -> dict:
    root = Path(out_dir) / "board"
    final, partial, failed = root / target.name, root / f"{target.name}.partial", \
        root / f"{target.name}.failed"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    steps = Steps(partial, progress)
    start = time.monotonic()
    try:
        if target.flow == "open":
            figures = open_fpga.run(target, core, steps, clock_mhz=clock, baud=baud, seeds=seeds)
        elif target.flow == "vivado":
            figures = vivado.run(target, core, steps, clock_mhz=clock, baud=baud)
        else:
            figures = _asic(core, steps)
    except BitsmithError as exc:
        shutil.rmtree(failed, ignore_errors=True)
        partial.rename(failed)
        # the message names logs in the work folder: point it at where they now are
        exc.args = tuple(str(a).replace(str(partial), str(failed)) for a in exc.args)
        raise
    except BaseException:      # a bug or a signal: nothing half-made stays behind
        shutil.rmtree(partial, ignore_errors=True)
        raise
    result = {"board": target.name, "device": target.device, "part": target.part,
              "flow": target.flow, "core": core.top, **figures,
              "units": _units(target.family),
              "bram_kbit": counts.BRAM_KBIT.get(_units(target.family).get("brams")),
              "tool_seconds": {**steps.seconds, "total": round(time.monotonic() - start, 2)},
              "logs": sorted(p.name for p in partial.glob("*.log"))}
    (partial / "synth.json").write_text(json.dumps(result, indent=1) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    log.info("synth %s: %s", target.name, final / "synth.json")
    return result


def _units(family: str) -> dict:
    """``synth.json``'s ``units``: what ``luts``/``ffs``/``brams``/``dsps`` count."""
    if family == "asic":
        return {"ffs": "FF", "cells": "Yosys generic cells", "nand2_equivalent": "NAND2_X1"}
    return counts.units(family)


def _asic(core, steps: Steps) -> dict:
    counts = asic.run(core, steps)
    return {"luts": None, "ffs": counts["flops"], "brams": None, "dsps": None,
            "fmax_mhz": None, "fits": True, **counts,
            "note": "generic Yosys gates; nand2_equivalent uses the weights in "
                    "boards/flows/asic.py (Nangate 45 nm X1 cell areas / NAND2_X1)"}
