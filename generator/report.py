"""The build report: ``report.json``, ``report.md``, ``report.html`` and ``figures/*.png``.

``bitsmith build`` writes the report from the folded graph's estimate
(:func:`bitsmith.generator.build.make_report`); ``bitsmith synth`` (through
:func:`synthesise`) adds the board's synthesis figures under ``synth`` and writes the
report again, so that the estimate stands beside real counts. The figures
(:mod:`bitsmith.generator.plots`):

* ``figures/cycles.png``: ideal cycles per layer against the bottleneck;
* ``figures/resources.png``: each layer's share of the estimated LUT4/FF/BRAM18 (DSP);
* ``figures/synthesis.png`` (after ``synth`` on an FPGA board): estimate beside synthesis.

``report.md`` links the PNGs; ``report.html`` (``templates/report.html.j2``) embeds them,
so it can be mailed or moved on its own.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import ModelError
from .templating import render

log = logging.getLogger(__name__)

FIGURES_DIR = "figures"
#: ``synth.json`` keys a report keeps per board.
SYNTH_KEYS = ("device", "part", "flow", "units", "bram_kbit", "luts", "ffs", "brams", "dsps",
              "fmax_mhz", "clock_mhz", "timing_met", "fits", "system")


@dataclass(frozen=True)
class Figure:
    """One figure of the report: ``figures/<file>``, its title and PNG bytes."""

    file: str
    title: str
    png: bytes

    @property
    def path(self) -> str:
        return f"{FIGURES_DIR}/{self.file}"

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def report_figures(report: dict) -> list[Figure]:
    """The figures of ``report``, in the order the report shows them."""
    from . import plots
    figures = []
    if report["layers"]:
        figures.append(Figure("cycles.png", "Cycles per layer against the bottleneck",
                              plots.layer_cycles(report)))
        figures.append(Figure("resources.png", "Estimated resources per layer",
                              plots.layer_resources(report)))
    if fpga_synthesis(report):
        figures.append(Figure("synthesis.png", "Estimate beside synthesis of the core",
                              plots.estimate_vs_synthesis({**report, "synth": fpga_synthesis(report)})))
    return figures


def fpga_synthesis(report: dict) -> dict:
    """The boards of ``report["synth"]`` that count LUTs (not the ASIC flow)."""
    return {board: fig for board, fig in (report.get("synth") or {}).items()
            if (fig.get("units") or {}).get("luts")}


def write_report(out_dir: Path, report: dict) -> list[Path]:
    """Write ``report.json``, ``report.md``, ``report.html`` and the figures into
    ``out_dir``; returns the paths written. Each file is written whole or not at all."""
    out_dir = Path(out_dir)
    figures = report_figures(report)
    (out_dir / FIGURES_DIR).mkdir(parents=True, exist_ok=True)
    written = []
    for figure in figures:
        written.append(_write(out_dir / figure.path, figure.png))
    current = {figure.file for figure in figures}
    for old in (out_dir / FIGURES_DIR).glob("*.png"):        # e.g. synthesis.png, board gone
        if old.name not in current:
            old.unlink()
    written.append(_write(out_dir / "report.json", json.dumps(report, indent=1).encode()))
    context = {"r": report, "figures": figures, "synth": synthesis_rows(report)}
    written.append(_write(out_dir / "report.md", render("report.md.j2", **context).encode()))
    written.append(_write(out_dir / "report.html", render("report.html.j2", **context).encode()))
    return written


def _write(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def synthesis_rows(report: dict) -> list[dict]:
    """One row per synthesised board for the report tables: figures with their units."""
    rows = []
    for board, fig in sorted((report.get("synth") or {}).items()):
        units = fig.get("units") or {}

        def cell(key):
            value = fig.get(key)
            return "n/a" if value is None else f"{value:,.4g} {units.get(key, '')}".strip()

        brams = cell("brams")
        if fig.get("brams") and fig.get("bram_kbit"):
            brams += f" ({fig['brams'] * fig['bram_kbit']:g} kbit)"
        system = fig.get("system") or {}
        est = family_estimate_for(report, units)
        rows.append({
            "est_luts": "n/a" if est is None else f"{est['luts']:,}",
            "est_ffs": "n/a" if est is None else f"{est['ffs']:,}",
            "est_brams": "n/a" if est is None else f"{est['brams']:g}"
            + (f" + {est['spram']} SPRAM" if est.get("spram") else ""),
            "board": board, "device": fig.get("device", ""), "luts": cell("luts"),
            "ffs": cell("ffs"), "brams": brams, "dsps": cell("dsps"),
            "fmax": "n/a" if fig.get("fmax_mhz") is None else f"{fig['fmax_mhz']:g}",
            "clock": "n/a" if fig.get("clock_mhz") is None else f"{fig['clock_mhz']:g}",
            "system": ", ".join(f"{v['used']:,}/{v['available']:,} {v.get('unit', k)}"
                                for k, v in system.items()),
        })
    return rows


#: The estimate family of a synthesis result, by its block-RAM unit.
_FAMILY_BY_BRAM = {"EBR": "ice40", "DP16KD": "ecp5", "RAMB36": "xc7"}


def family_estimate_for(report: dict, units: dict) -> dict | None:
    """The report's per-family estimate for a synthesis result with ``units``."""
    family = _FAMILY_BY_BRAM.get((units or {}).get("brams"))
    return (report.get("family_estimates") or {}).get(family)


def synthesis_summary(result: dict) -> dict:
    """The part of a ``synth.json`` the report keeps (:data:`SYNTH_KEYS`)."""
    return {k: result[k] for k in SYNTH_KEYS if k in result}


def refresh_report(out_dir: Path) -> dict:
    """Write the report of the build in ``out_dir`` again, with every board's synthesis
    figures (``board/<NAME>/synth.json``) under ``synth``; returns the report."""
    out_dir = Path(out_dir)
    path = out_dir / "report.json"
    if not path.is_file():
        raise ModelError(f"{out_dir}: not a bitsmith build (no report.json)")
    report = json.loads(path.read_text())
    synth = {}
    for folder in sorted((out_dir / "board").glob("*/synth.json")):
        synth[folder.parent.name] = synthesis_summary(json.loads(folder.read_text()))
    report["synth"] = synth
    write_report(out_dir, report)
    # the build's marker lists what bitsmith wrote: the new report and figures too, or a
    # later build into the same folder would take them for the user's files and refuse
    from .outdir import record_in_marker
    record_in_marker(out_dir, ["report.json", "report.md", "report.html", FIGURES_DIR])
    log.info("report of %s written again with %d synthesis result(s)", out_dir, len(synth))
    return report


def synthesise(out_dir: Path, board: str, *, progress: Callable[[str], None] | None = None,
               **options) -> dict:
    """:func:`bitsmith.boards.synth` for ``board``, then the report written again with its
    figures; returns the ``synth.json`` dict. ``options`` go to ``synth``
    (``clock_mhz``, ``baud``, ``seeds``)."""
    from bitsmith.boards import synth
    result = synth(Path(out_dir), board, progress=progress, **options)
    if (Path(out_dir) / "report.json").is_file():      # a bare core (tests) has no report
        if progress is not None:
            progress("writing the report with the synthesis figures")
        refresh_report(Path(out_dir))
    return result
