"""The figures of the reports, as PNG bytes: build report, sweep front, bench cycles.

Every function takes the plain data a report holds (the ``report.json`` dict, a sweep's
points, a bench result) and returns the PNG file's bytes. Figures are deterministic: the
same inputs give the same bytes, on every run (tests compare two renders). To that end
they are drawn on matplotlib's Agg canvas directly (no pyplot, no global backend), with
matplotlib's default style whatever the user's ``matplotlibrc`` says, and the PNG carries
no metadata (matplotlib would write its version under ``Software``; Agg writes no time).
"""

from __future__ import annotations

import io
import math
from typing import Sequence

#: Colours (matplotlib's default cycle, named for what they mean here).
BLUE, ORANGE, GREEN, RED, PURPLE, GREY = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                          "#9467bd", "#7f7f7f")
DPI = 100


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(draw, *args) -> bytes:
    """Run ``draw(*args) -> Figure`` under the default style; the figure as PNG bytes."""
    import matplotlib
    import matplotlib.style
    with matplotlib.style.context("default"), matplotlib.rc_context({"font.size": 9}):
        fig = draw(*args)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


# --------------------------------------------------------------------------- build report

def layer_cycles(report: dict) -> bytes:
    """Per-layer ideal cycles per frame against the bottleneck (the slowest layers, in
    orange; the dashed line is the network's ideal cycles per frame)."""
    return _png(_draw_layer_cycles, report)


def _draw_layer_cycles(report: dict):
    layers = report["layers"]
    names = [layer["name"] for layer in layers]
    cycles = [layer["cycles"] for layer in layers]
    ideal = report["ideal_cycles_per_frame"]
    fig = _figure(7.0, 1.4 + 0.32 * len(layers))
    ax = fig.add_subplot()
    colours = [ORANGE if ideal and value == ideal else BLUE for value in cycles]
    ax.barh(range(len(layers)), cycles, color=colours, height=0.7)
    ax.set_yticks(range(len(layers)), names)
    ax.invert_yaxis()
    if ideal:
        ax.axvline(ideal, color=RED, linestyle="--", linewidth=1,
                   label=f"bottleneck {report['bottleneck']}: {ideal:,} cycles/frame")
        ax.legend(loc="lower right")
        for i, value in enumerate(cycles):
            ax.text(value, i, f" {value:,} ({100 * value / ideal:.0f} %)", va="center", fontsize=8)
        ax.set_xlim(0, ideal * 1.3)
    ax.set_xlabel("ideal cycles per frame (source always valid, sink always ready)")
    ax.set_title(f"{report['name']}: cycles per layer against the bottleneck")
    return fig


def layer_resources(report: dict) -> bytes:
    """Each layer's share of the estimated LUTs, flip-flops, block RAMs (and DSPs)."""
    return _png(_draw_layer_resources, report)


def _draw_layer_resources(report: dict):
    layers = report["layers"]
    estimate = report["estimate"]
    units = estimate["units"]
    keys = [k for k in ("luts", "ffs", "brams", "dsps") if k != "dsps" or estimate["dsps"]]
    fig = _figure(7.0, 1.6 + 0.22 * len(layers) * len(keys))
    ax = fig.add_subplot()
    height = 0.8 / len(keys)
    for j, (key, colour) in enumerate(zip(keys, (BLUE, GREEN, PURPLE, ORANGE))):
        total = estimate[key]
        shares = [100.0 * layer[key] / total if total else 0.0 for layer in layers]
        ys = [i - 0.4 + height * (j + 0.5) for i in range(len(layers))]
        ax.barh(ys, shares, height=height, color=colour, label=f"{units[key]} (total {total:,.4g})")
        for y, layer, share in zip(ys, layers, shares):
            if layer[key]:
                ax.text(share, y, f" {layer[key]:,.4g}", va="center", fontsize=7)
    ax.set_yticks(range(len(layers)), [layer["name"] for layer in layers])
    ax.invert_yaxis()
    ax.set_xlim(0, 118)
    ax.set_xlabel("share of the design's estimate (%); labels: the layer's own count")
    ax.set_title(f"{report['name']}: estimated resources per layer")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def estimate_vs_synthesis(report: dict) -> bytes:
    """The estimate beside each board's synthesis of the core (``report["synth"]``):
    LUTs, flip-flops, block RAM in kbit (count x ``bram_kbit``: counts of different RAM
    kinds are not comparable) and DSPs, each bar labelled with its unit."""
    if not report.get("synth"):
        raise ValueError("report has no synthesis results (run `bitsmith synth` first)")
    return _png(_draw_estimate_vs_synthesis, report)


def _draw_estimate_vs_synthesis(report: dict):
    estimate = report["estimate"]
    columns = [("estimate", estimate["units"], estimate)]
    columns += [(board, figures["units"], figures) for board, figures in sorted(report["synth"].items())]
    panels = [("luts", "LUTs"), ("ffs", "flip-flops"), ("brams", "block RAM (kbit)"),
              ("dsps", "DSPs")]
    if not any(figures.get("dsps") for _, _, figures in columns):
        panels.pop()                                     # no DSP anywhere: no empty panel
    fig = _figure(2.4 * len(panels) + 0.6 * len(columns), 3.2)
    axes = fig.subplots(1, len(panels))
    colours = [GREY] + [BLUE, ORANGE, GREEN, PURPLE, RED] * 2
    for ax, (key, title) in zip(axes, panels):
        values, labels = [], []
        for name, units, figures in columns:
            count = figures.get(key)
            unit = units.get(key) or ""
            if key == "brams":
                value = float(count or 0) * figures.get("bram_kbit", 0)
                label = f"{count or 0:g} {unit}" if unit else "n/a"
            else:
                value = float(count or 0)
                label = f"{value:,.0f} {unit}" if count is not None else "n/a"
            values.append(value)
            labels.append(f"{name}\n{label}")
        ax.bar(range(len(columns)), values, color=colours[:len(columns)])
        ax.set_xticks(range(len(columns)), labels, fontsize=7,
                      rotation=0 if len(columns) <= 3 else 45, ha="center" if len(columns) <= 3 else "right")
        ax.set_title(title)
        ax.set_ylim(bottom=0)
        ax.ticklabel_format(axis="y", style="plain")
    fig.suptitle(f"{report['name']}: estimate (ECP5-fitted LUT4s) beside synthesis of the core")
    return fig


# --------------------------------------------------------------------------- sweep

def sweep_front(name: str, points: Sequence[dict], boards: Sequence[dict],
                baseline: dict | None = None) -> bytes:
    """The sweep's points and Pareto front, one panel per board.

    Parameters
    ----------
    name : str
        The network, for the title.
    points : sequence of dict
        ``{"target", "cycles", "luts", "pareto"}`` per point (``SweepPoint.as_json``).
    boards : sequence of dict
        ``{"name", "device", "clock_mhz", "luts", "lut_unit"}``: each board's LUT capacity
        is drawn as a vertical line, its clock gives the frames/s axis on the right.
    baseline : dict or None
        The model's own folding, drawn as a star.
    """
    if not points:
        raise ValueError("points must not be empty")
    if not boards:
        raise ValueError("boards must not be empty")
    return _png(_draw_sweep_front, name, list(points), list(boards), baseline)


def _draw_sweep_front(name, points, boards, baseline):
    cols = 1 if len(boards) == 1 else 2
    rows = math.ceil(len(boards) / cols)
    fig = _figure(5.2 * cols, 3.6 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).reshape(-1)
    front = sorted((p for p in points if p["pareto"]), key=lambda p: p["luts"])
    for ax, board in zip(axes, boards):
        capacity = board["luts"]
        ax.plot([p["luts"] for p in front], [p["cycles"] for p in front], color=BLUE, zorder=2,
                label="Pareto front")
        for chosen, colour, label in ((True, BLUE, "Pareto point"), (False, GREY, "dominated point")):
            fit = [p for p in points if p["pareto"] is chosen and p["luts"] <= capacity]
            if fit:
                ax.scatter([p["luts"] for p in fit], [p["cycles"] for p in fit], color=colour,
                           s=18, zorder=3, label=label)
        over = [p for p in points if p["luts"] > capacity]
        if over:
            ax.scatter([p["luts"] for p in over], [p["cycles"] for p in over], color=RED,
                       marker="x", s=30, zorder=4, label="over capacity")
        if baseline is not None:
            ax.scatter([baseline["luts"]], [baseline["cycles"]], color=ORANGE, marker="*", s=90,
                       zorder=5, label="model's own folding")
        ax.axvline(capacity, color=RED, linestyle="--", linewidth=1,
                   label=f"{board['device']}: {capacity:,} {board['lut_unit']}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("estimated LUT4 (ECP5-fitted)")
        ax.set_ylabel("cycles per frame (ideal)")
        clock = board["clock_mhz"]
        fps = ax.secondary_yaxis("right", functions=(
            lambda c, clock=clock: clock * 1e6 / _positive(c),
            lambda f, clock=clock: clock * 1e6 / _positive(f)))
        fps.set_ylabel(f"frames/s at {clock:g} MHz")
        ax.set_title(f"{board['name']} ({board['device']})")
        ax.legend(fontsize=7, loc="lower left")
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes[len(boards):]:
        ax.set_visible(False)
    fig.suptitle(f"{name}: cycles per frame against LUTs, one point per cycle target")
    return fig


def _positive(values):
    import numpy as np
    return np.maximum(np.asarray(values, dtype=float), 1e-9)


# --------------------------------------------------------------------------- bench

def bench_cycles(networks: Sequence[dict]) -> bytes:
    """Measured (Verilator, steady state) against ideal cycles per frame per network.

    ``networks``: ``{"name", "ideal_cycles_per_frame", "cycles_per_frame"}`` each (the
    bench JSON's entries); networks without both figures are left out.
    """
    rows = [n for n in networks if n.get("ideal_cycles_per_frame") and n.get("cycles_per_frame")]
    if not rows:
        raise ValueError("no network has both ideal and measured cycles per frame")
    return _png(_draw_bench_cycles, rows)


def _draw_bench_cycles(rows):
    from matplotlib.ticker import FuncFormatter
    fig = _figure(max(6.0, 1.3 * len(rows) + 2.5), 4.0)
    ax = fig.add_subplot()
    xs = range(len(rows))
    ideal = [r["ideal_cycles_per_frame"] for r in rows]
    measured = [r["cycles_per_frame"] for r in rows]
    ax.bar([x - 0.2 for x in xs], ideal, width=0.4, color=GREY, label="ideal (folding bound)")
    ax.bar([x + 0.2 for x in xs], measured, width=0.4, color=BLUE,
           label="measured (Verilator, steady state)")
    for x, i, m in zip(xs, ideal, measured):
        ax.text(x + 0.2, m, f"{m / i:.3f}x", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs), [r["name"] for r in rows])
    top = max(ideal + measured)
    if top / min(ideal + measured) > 20:               # networks of very different speeds
        ax.set_yscale("log")
        ax.set_ylim(top=top * 4)
    else:
        ax.set_ylim(0, top * 1.3)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_ylabel("cycles per frame")
    ax.set_title("bitsmith bench: measured against ideal cycles per frame")
    ax.legend(fontsize=8, loc="upper left")
    return fig


# --------------------------------------------------------------------------- bench: frames/s vs LUTs

def bench_fps_luts(networks: Sequence[dict], finn: Sequence[dict] = ()) -> bytes:
    """Frames/s against LUTs across foldings, one panel per board.

    Each network's line is its folding curve (``NetworkResult.sweep``: estimated LUTs in
    the board family's unit, frames/s at the family's clock goal); a filled marker is the
    benchmarked design as synthesised (Yosys LUTs, frames/s at nextpnr's Fmax and the
    measured cycles per frame); FINN's published points (``versus_finn`` rows with LUTs)
    appear on the Xilinx panels as stars. The dashed line is the device's LUT capacity.
    """
    boards = sorted({b for n in networks for b in (n.get("sweep") or {})})
    if not boards:
        raise ValueError("networks must carry folding curves (sweep) for at least one board")
    return _png(_draw_bench_fps_luts, list(networks), boards, list(finn))


def _draw_bench_fps_luts(networks, boards, finn):
    cols = 1 if len(boards) == 1 else min(3, len(boards))
    rows = math.ceil(len(boards) / cols)
    fig = _figure(4.8 * cols, 3.8 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).reshape(-1)
    colours = [BLUE, ORANGE, GREEN, PURPLE, RED, GREY]
    for ax, board in zip(axes, boards):
        capacity, family = None, None
        for k, net in enumerate(networks):
            curve = (net.get("sweep") or {}).get(board)
            if not curve:
                continue
            capacity, family, clock = curve["lut_capacity"], curve["family"], curve["clock_mhz"]
            pts = sorted(curve["points"], key=lambda p: p["luts"])
            colour = colours[k % len(colours)]
            ax.plot([p["luts"] for p in pts], [p["frames_per_s"] for p in pts], color=colour,
                    marker=".", linewidth=1, label=f"{net['name']} (estimate, {clock:g} MHz)")
            fig_ = (net.get("synth") or {}).get(board) or {}
            if fig_.get("luts") and fig_.get("fmax_mhz") and net.get("cycles_per_frame"):
                ax.scatter([fig_["luts"]], [fig_["fmax_mhz"] * 1e6 / net["cycles_per_frame"]],
                           color=colour, edgecolor="black", s=50, zorder=5,
                           label=f"{net['name']} synthesised, {fig_['fmax_mhz']:g} MHz")
        if family == "xc7":
            for row in finn:
                if row.get("luts") and row.get("frames_per_s"):
                    ax.scatter([row["luts"]], [row["frames_per_s"]], marker="*", s=110, color=RED,
                               zorder=6, label=f"FINN {row['network']} ({row['device']}, Vivado LUTs)")
        if capacity:
            ax.axvline(capacity, color=RED, linestyle="--", linewidth=1, label=f"capacity {capacity:,}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"LUTs ({'LUT6' if family == 'xc7' else 'LUT4'}, Yosys-calibrated estimate)")
        ax.set_ylabel("frames/s")
        ax.set_title(board)
        ax.legend(fontsize=6, loc="upper left")
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes[len(boards):]:
        ax.set_visible(False)
    return fig
