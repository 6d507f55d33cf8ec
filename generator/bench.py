"""The benchmark suite of DESIGN.md §7, measured in one run on this machine.

For each network: generation time (model -> Verilog bundle), ideal cycles per frame
(the folding bound, :func:`bitsmith.generator.estimate.graph_cycles`) against the steady-state
cycles Verilator measures, golden-model and Verilator frames per second on the same
frames (RTL == golden is checked on every one), the analytical resource estimate, and
optionally real figures from Yosys / nextpnr for three devices (:data:`SYNTH_BOARDS`).
A network that does not fit a device is a result, not a failure.

Wall-clock figures depend on the machine and its load; cycle counts and their ratios do
not, and they are what tests may assert.
"""

from __future__ import annotations

import logging
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .build import BuildOptions, check_out_dir, load_model, prepare, write_bundle
from .errors import BitsmithError, OptionError
from .estimate import UNITS, graph_cycles
from .ir import Graph

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = Path(__file__).resolve().parent / "examples"
MODELS = ROOT / "tests" / "models"
TFC_FOLDING = EXAMPLES / "tfc" / "finn_folding.json"
CNV_TARGET_CYCLES = 65536

#: Devices of the synthesis columns: Artix-7 35T (Yosys ``synth_xilinx``, no Fmax without
#: Vivado), iCE40 UP5K and ECP5-85F (Yosys + nextpnr, Fmax from nextpnr).
SYNTH_BOARDS = ("arty_a7_35", "icebreaker", "ulx3s")
FORMAT = "bitsmith-bench/1"


# --------------------------------------------------------------------------- the suite

@dataclass(frozen=True)
class Network:
    """One benchmark network.

    Members
    -------
    name : str
        Key for ``--networks``.
    title : str
        What it is, for the table.
    source : Path or None
        The model file (``None``: built in Python); a missing file skips the network.
    make : callable
        ``() -> model``: what generation starts from (not timed).
    generate : callable
        ``model -> Graph``: read, prepare and fold (timed, with the Verilog emission).
    inputs : callable
        ``(graph, n) -> (n, H, W, C)`` integer frames.
    frames : int
        Frames measured by default.
    quick : bool
        Part of ``--quick``.
    note : str
        Shown under the table (how to read its cycle figures).
    """

    name: str
    title: str
    source: Path | None
    make: Callable[[], object]
    generate: Callable[[object], Graph]
    inputs: Callable[[Graph, int], np.ndarray]
    frames: int = 1000
    quick: bool = True
    note: str = ""


def _file_generator(opts: BuildOptions) -> Callable[[object], Graph]:
    def generate(path) -> Graph:
        return prepare(load_model(path, opts), opts)
    return generate


def _tiled(x: np.ndarray, n: int) -> np.ndarray:
    return np.resize(x, (n, *x.shape[1:]))


def _digits_inputs(graph: Graph, n: int) -> np.ndarray:
    from .examples.digits.train import load_split
    return _tiled(load_split()[1].reshape(-1, *graph.in_shape), n)


def _digits_sparse_inputs(graph: Graph, n: int) -> np.ndarray:
    from .examples.digits_sparse.train import load_split
    return _tiled(load_split()[1].reshape(-1, *graph.in_shape), n)


def _random_inputs(graph: Graph, n: int) -> np.ndarray:
    from .sweep import random_frames
    return random_frames(graph, n)


def _cnv_make() -> Graph:
    from .examples.cnv import cnv_graph
    return cnv_graph("w1a1", target_cycles=None)


def _cnv_inputs(graph: Graph, n: int) -> np.ndarray:
    from .examples.cnv import cnv_inputs
    return cnv_inputs(n, seed=7)


def _shift_layer(engine: str) -> Graph:
    from .examples.shift_layer import shift_layer_graph
    return shift_layer_graph(engine)


def _hashed_layer(engine: str) -> Graph:
    from .examples.hashed_layer import hashed_layer_graph
    return hashed_layer_graph(engine)


_TFC_OPTS = dict(input_dtype="UINT8", input_scale=1 / 255, topk=1, fold=str(TFC_FOLDING))

NETWORKS: dict[str, Network] = {n.name: n for n in (
    Network("digits", "digits MLP, w1a1 64-128-128-10 (bundled example, top-1)",
            EXAMPLES / "digits" / "digits.yaml", lambda: EXAMPLES / "digits" / "digits.yaml",
            _file_generator(BuildOptions(topk=1)), _digits_inputs),
    Network("tfc-w1a1", "FINN TFC-w1a1 784-64-64-64-10 at FINN's folding",
            MODELS / "TFC_1W1A.onnx", lambda: MODELS / "TFC_1W1A.onnx",
            _file_generator(BuildOptions(**_TFC_OPTS)), _random_inputs),
    Network("tfc-w2a2", "FINN TFC-w2a2 784-64-64-64-10 at TFC-w1a1's FINN folding",
            MODELS / "TFC_2W2A.onnx", lambda: MODELS / "TFC_2W2A.onnx",
            _file_generator(BuildOptions(**_TFC_OPTS)), _random_inputs),
    Network("digits-sparse", "digits MLP, pruned + shared INT weights on the EIE engine",
            EXAMPLES / "digits_sparse" / "digits_sparse.yaml",
            lambda: EXAMPLES / "digits_sparse" / "digits_sparse.yaml",
            _file_generator(BuildOptions(topk=1)), _digits_sparse_inputs,
            note="the sparse engine skips zero activations, so its cycles depend on the data; the "
                 "ideal figure is the bound with every activation non-zero"),
    Network("cnv-w1a1", f"FINN CNV-w1a1 topology (random weights), {CNV_TARGET_CYCLES} cycles target",
            None, _cnv_make, lambda g: prepare(g, BuildOptions(target_cycles=CNV_TARGET_CYCLES)),
            _cnv_inputs, frames=12, quick=False),
    Network("mvau-int8", "one 64x64 layer of power-of-two INT8 weights on the integer MVAU (PE=SIMD=8)",
            None, lambda: _shift_layer("mvau"), lambda g: prepare(g, BuildOptions()), _random_inputs,
            quick=False),
    Network("shift-int8", "the same layer, weights and folding on the shift unit (no multipliers)",
            None, lambda: _shift_layer("shift"), lambda g: prepare(g, BuildOptions()), _random_inputs,
            quick=False),
    Network("dense-256x64", "one 256x64 INT8 layer, fully folded, its matrix in the weight ROM",
            None, lambda: _hashed_layer("dense"), lambda g: prepare(g, BuildOptions()), _random_inputs,
            frames=8, quick=False),
    Network("hashed-256x64", "the same virtual matrix as a HashedNets layer (K = 2048 stored values)",
            None, lambda: _hashed_layer("hashed"), lambda g: prepare(g, BuildOptions()), _random_inputs,
            frames=8, quick=False),
)}


def select_networks(names: Sequence[str] | None = None, *, quick: bool = False) -> list[Network]:
    """The networks to run: ``names`` in the suite's order (all of them, or the quick ones)."""
    if names is None:
        return [n for n in NETWORKS.values() if n.quick or not quick]
    unknown = [name for name in names if name not in NETWORKS]
    if unknown or not names:
        raise OptionError(f"--networks: unknown network {(unknown or [''])[0]!r} "
                          f"(known: {', '.join(NETWORKS)})")
    return [n for n in NETWORKS.values() if n.name in names]


def parse_networks(text: str) -> list[str]:
    """``"digits,tfc-w1a1"`` -> names, for ``--networks``."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    select_networks(names)
    return names


# --------------------------------------------------------------------------- results

@dataclass
class NetworkResult:
    name: str
    title: str
    status: str                           # "ok", "mismatch", "error" or "skipped: <why>"
    note: str = ""
    frames: int = 0
    generation_s: float | None = None
    ideal_cycles_per_frame: int | None = None
    cycles_per_frame: float | None = None
    mean_cycles_per_frame: float | None = None
    longest_frame_gap: int | None = None
    mismatches: int | None = None
    golden_s: float | None = None
    sim_s: float | None = None
    verilator_build_s: float | None = None
    estimate: dict | None = None
    synth: dict = field(default_factory=dict)
    details: list[str] = field(default_factory=list)

    @property
    def cycle_ratio(self) -> float | None:
        if self.cycles_per_frame is None or not self.ideal_cycles_per_frame:
            return None
        return self.cycles_per_frame / self.ideal_cycles_per_frame

    @property
    def golden_fps(self) -> float | None:
        return _rate(self.frames, self.golden_s)

    @property
    def sim_fps(self) -> float | None:
        return _rate(self.frames, self.sim_s)

    def as_json(self) -> dict:
        out = {"name": self.name, "title": self.title, "status": self.status, "note": self.note,
               "frames": self.frames,
               "generation_s": _round(self.generation_s),
               "ideal_cycles_per_frame": self.ideal_cycles_per_frame,
               "cycles_per_frame": self.cycles_per_frame, "cycle_ratio": _round(self.cycle_ratio, 4),
               "mean_cycles_per_frame": self.mean_cycles_per_frame,
               "longest_frame_gap": self.longest_frame_gap,
               "mismatches": self.mismatches,
               "golden_s": _round(self.golden_s), "golden_fps": _round(self.golden_fps, 1),
               "sim_s": _round(self.sim_s), "sim_fps": _round(self.sim_fps, 1),
               "verilator_build_s": _round(self.verilator_build_s),
               "estimate": self.estimate, "synth": self.synth}
        if self.details:
            out["details"] = self.details[:10]
        return out


def _rate(frames: int, seconds: float | None) -> float | None:
    return frames / seconds if seconds and frames else None


def _round(v, digits: int = 3):
    return None if v is None else round(v, digits)


@dataclass
class BenchResult:
    networks: list[NetworkResult]
    synth_boards: tuple[str, ...]
    quick: bool

    @property
    def passed(self) -> bool:
        return all(n.status not in ("mismatch", "error") for n in self.networks)

    def as_json(self) -> dict:
        return {"format": FORMAT, "machine": machine(), "quick": self.quick,
                "synth_boards": list(self.synth_boards), "estimate_units": dict(UNITS),
                "networks": [n.as_json() for n in self.networks], "passed": self.passed}


def machine() -> dict:
    from bitsmith.sim.rtl.toolchain import verilator_version
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "verilator": verilator_version()}


# --------------------------------------------------------------------------- measuring

def bench(networks: Sequence[Network], *, synth: bool = True, frames: int | None = None, quick: bool = False,
          out_dir: Path | None = None, progress: Callable[[str], None] | None = None,
          finished: Callable[[NetworkResult], None] | None = None) -> BenchResult:
    """Measure ``networks`` one after the other.

    Parameters
    ----------
    networks : sequence of Network
        From :func:`select_networks`.
    synth : bool
        Also synthesise for :data:`SYNTH_BOARDS` (slow: minutes per network).
    frames : int or None
        Frames per network (default: each network's own :attr:`Network.frames`).
    quick : bool
        Recorded in the result (the caller chose the quick suite).
    out_dir : Path or None
        Keep the builds in ``out_dir/<network>/`` (default: a temporary folder).
    progress, finished : callable or None
        Called with a step description, and with each network's result.
    """
    if frames is not None and (not isinstance(frames, int) or frames < 3):
        raise OptionError(f"--frames must be an integer >= 3 (steady state needs 3), not {frames!r}")
    step = progress or (lambda msg: None)
    finished = finished or (lambda result: None)
    boards = SYNTH_BOARDS if synth else ()
    if out_dir is not None:
        for net in networks:
            check_out_dir(Path(out_dir) / net.name)
    results = []
    with tempfile.TemporaryDirectory(prefix="bitsmith-bench-") as tmp:
        root = Path(out_dir) if out_dir is not None else Path(tmp)
        for net in networks:
            try:
                result = bench_network(net, root / net.name, boards=boards, frames=frames or net.frames,
                                       progress=lambda msg, net=net: step(f"{net.name}: {msg}"))
            except BitsmithError as exc:        # a tool failed: report it, go on with the others
                log.warning("bench %s: %s", net.name, exc)
                result = NetworkResult(net.name, net.title, note=net.note, status="error",
                                       details=[_first_line(exc)])
            results.append(result)
            finished(result)
    return BenchResult(networks=results, synth_boards=boards, quick=quick)


def bench_network(net: Network, out_dir: Path, *, boards: Sequence[str], frames: int,
                  progress: Callable[[str], None]) -> NetworkResult:
    from bitsmith.sim import rtl
    from bitsmith.sim.golden import run_graph
    from .build import io_of
    from .execute import compare, run_verilator

    if net.source is not None and not net.source.exists():
        return NetworkResult(net.name, net.title, note=net.note,
                             status=f"skipped: {net.source} not found (a source checkout has it)")
    model = net.make()
    progress("generating Verilog")
    start = time.perf_counter()
    graph = net.generate(model)
    built = write_bundle(graph, out_dir)
    generation_s = time.perf_counter() - start
    x = net.inputs(graph, frames)

    progress(f"golden model, {frames} frames")
    start = time.perf_counter()
    golden = run_graph(graph, x)
    golden_s = time.perf_counter() - start

    progress("Verilator: building the harness (cached by hash)")
    start = time.perf_counter()
    rtl.build(built.out_dir / built.io["verilog"], io_of(built.io))
    verilator_build_s = time.perf_counter() - start
    progress(f"Verilator: {frames} frames")
    start = time.perf_counter()
    run = run_verilator(built.out_dir, built.io, x)
    sim_s = time.perf_counter() - start
    mismatches = compare(golden, run.outputs)

    estimate = {k: built.report["estimate"][k] for k in ("luts", "ffs", "brams", "dsps")}
    result = NetworkResult(
        net.name, net.title, note=net.note,
        status="ok" if not mismatches and run.protocol_errors == 0 else "mismatch",
        frames=frames, generation_s=generation_s, ideal_cycles_per_frame=graph_cycles(graph),
        cycles_per_frame=run.cycles_per_frame, mean_cycles_per_frame=run.mean_cycles_per_frame,
        longest_frame_gap=run.longest_frame_gap, mismatches=len(mismatches), golden_s=golden_s,
        sim_s=sim_s, verilator_build_s=verilator_build_s, estimate=estimate, details=mismatches[:10])
    if run.protocol_errors:
        result.details.append(f"{run.protocol_errors} stream protocol errors")
    for board in boards:
        result.synth[board] = synth_figures(built.out_dir, board,
                                            lambda msg, board=board: progress(f"{board}: {msg}"))
    return result


def synth_figures(out_dir: Path, board: str, progress: Callable[[str], None]) -> dict:
    """``bitsmith.boards.synth`` figures for one board, with their ``units`` (LUT4 or LUT6,
    the block-RAM primitive); a design too big for the device gives ``fits: False`` and
    the reason, a tool failure ``error``."""
    from bitsmith.boards import synth
    from bitsmith.boards.flows.open_fpga import DoesNotFit
    from bitsmith.boards.registry import get_board
    device = get_board(board).device
    start = time.perf_counter()
    try:
        figures = synth(out_dir, board, progress=progress)
    except DoesNotFit as exc:
        return {"device": device, "fits": False, "reason": _first_line(exc),
                "seconds": round(time.perf_counter() - start, 1)}
    except BitsmithError as exc:
        return {"device": device, "fits": None, "error": _first_line(exc)}
    return {"device": device, "fits": bool(figures.get("fits", True)),
            **{k: figures.get(k) for k in ("luts", "ffs", "brams", "dsps", "fmax_mhz", "units")},
            "seconds": round(time.perf_counter() - start, 1)}


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
