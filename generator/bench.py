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

import importlib.util
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
    reference : callable or None
        ``(model, graph, x, golden) -> [mismatch lines]``: the golden model's outputs
        against the original model's own execution (qonnx for ONNX networks).
    needs : tuple of str
        Python modules ``make`` needs (a missing one skips the network).
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
    reference: Callable[[object, Graph, np.ndarray, np.ndarray], list[str]] | None = None
    needs: tuple[str, ...] = ()


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


def _winograd_layer(engine: str) -> Graph:
    from .examples.winograd_layer import winograd_layer_graph
    return winograd_layer_graph(engine)


SQUEEZENET = "squeezenet"
"""The zoo's SqueezeNet-class network (:mod:`.examples.zoo`): Brevitas, 3x32x32 input."""


def _zoo_make(name: str) -> Callable[[], Path]:
    def make() -> Path:
        from .examples.zoo_cache import cached_export
        return cached_export(name)
    return make


def _zoo_floats(name: str, n: int):
    from .examples import zoo
    return zoo.inputs(name, n, seed=7)


def _zoo_inputs(name: str) -> Callable[[Graph, int], np.ndarray]:
    def inputs(graph: Graph, n: int) -> np.ndarray:
        from .ir.host import run_stages
        return run_stages(graph.host_pre, _zoo_floats(name, n))
    return inputs


def _zoo_reference(name: str):
    def reference(model, graph: Graph, x: np.ndarray, golden: np.ndarray) -> list[str]:
        from .frontend.qonnx import compare_with_reference
        return compare_with_reference(graph, Path(model), _zoo_floats(name, len(x)), golden)
    return reference


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
    Network(SQUEEZENET, f"SqueezeNet-class CIFAR-sized net (Brevitas: 2 fire modules, concat, 4-bit), "
            f"{CNV_TARGET_CYCLES} cycles target", None, _zoo_make(SQUEEZENET),
            _file_generator(BuildOptions(topk=1, target_cycles=CNV_TARGET_CYCLES)), _zoo_inputs(SQUEEZENET),
            frames=12, quick=False, reference=_zoo_reference(SQUEEZENET), needs=("torch", "brevitas"),
            note="trained briefly on random targets (no CIFAR offline): the figures are hardware, "
                 "not accuracy; golden == qonnx on every frame"),
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
    Network("conv3x3-direct", "one 3x3 INT8 conv, 8x8x12 -> 12, sliding window + MVAU (36 lanes)",
            None, lambda: _winograd_layer("direct"), lambda g: prepare(g, BuildOptions()), _random_inputs,
            frames=8, quick=False),
    Network("conv3x3-winograd", "the same conv as Winograd F(2x2,3x3) at the same cycles (16 lanes)",
            None, lambda: _winograd_layer("winograd"), lambda g: prepare(g, BuildOptions()), _random_inputs,
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
    generation_cpu_s: float | None = None
    ideal_cycles_per_frame: int | None = None
    cycles_per_frame: float | None = None
    mean_cycles_per_frame: float | None = None
    longest_frame_gap: int | None = None
    mismatches: int | None = None
    golden_s: float | None = None
    sim_s: float | None = None
    sim_cpu_s: float | None = None
    verilator_build_s: float | None = None
    estimate: dict | None = None
    synth: dict = field(default_factory=dict)
    details: list[str] = field(default_factory=list)
    ops_per_frame: int | None = None
    sim_cycles: int | None = None
    fit: dict | None = None
    family_estimates: dict | None = None
    sweep: dict = field(default_factory=dict)
    reference_mismatches: int | None = None
    """Frames where golden != the original model's own execution (None: not checked)."""

    @property
    def sim_cycles_per_s(self) -> float | None:
        """Simulated clock cycles per second of the Verilator run (packing included)."""
        return _rate(self.sim_cycles or 0, self.sim_s)

    @property
    def sim_cycles_per_cpu_s(self) -> float | None:
        """The same per second of CPU time (the harness process and bitsmith's packing):
        what one free core does, whatever else the machine runs."""
        return _rate(self.sim_cycles or 0, self.sim_cpu_s)

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
               "generation_cpu_s": _round(self.generation_cpu_s),
               "ideal_cycles_per_frame": self.ideal_cycles_per_frame,
               "cycles_per_frame": self.cycles_per_frame, "cycle_ratio": _round(self.cycle_ratio, 4),
               "mean_cycles_per_frame": self.mean_cycles_per_frame,
               "longest_frame_gap": self.longest_frame_gap,
               "mismatches": self.mismatches, "reference_mismatches": self.reference_mismatches,
               "golden_s": _round(self.golden_s), "golden_fps": _round(self.golden_fps, 1),
               "sim_s": _round(self.sim_s), "sim_fps": _round(self.sim_fps, 1),
               "verilator_build_s": _round(self.verilator_build_s),
               "estimate": self.estimate, "synth": self.synth,
               "ops_per_frame": self.ops_per_frame, "sim_cycles": self.sim_cycles,
               "sim_cycles_per_s": _round(self.sim_cycles_per_s, 1),
               "sim_cpu_s": _round(self.sim_cpu_s),
               "sim_cycles_per_cpu_s": _round(self.sim_cycles_per_cpu_s, 1), "fit": self.fit,
               "family_estimates": self.family_estimates, "sweep": self.sweep}
        if self.details:
            out["details"] = self.details[:10]
        return out


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished child processes (the harness)."""
    import resource
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


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

    board: str | None = None

    def as_json(self) -> dict:
        return {"format": FORMAT, "machine": machine(), "quick": self.quick, "board": self.board,
                "synth_boards": list(self.synth_boards), "estimate_units": dict(UNITS),
                "networks": [n.as_json() for n in self.networks],
                "versus_finn": versus_finn(self), "passed": self.passed}


def machine() -> dict:
    from bitsmith.sim.rtl.toolchain import verilator_version
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "verilator": verilator_version()}


# --------------------------------------------------------------------------- measuring

def bench(networks: Sequence[Network], *, synth: bool = True, frames: int | None = None, quick: bool = False,
          out_dir: Path | None = None, progress: Callable[[str], None] | None = None,
          finished: Callable[[NetworkResult], None] | None = None,
          board: str | None = None, seeds: int = 1) -> BenchResult:
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
    board : str or None
        Fold every network for this board (``build --board``: the fastest folding whose
        estimate fits) instead of the suite's own folding, and synthesise for it alone,
        at the family's clock goal (``fit.search.CLOCK_GOAL_MHZ``).
    seeds : int
        Place and route the iCE40/ECP5 designs with nextpnr seeds 1..``seeds``; the Fmax
        reported (and used for frames/s) is then the median seed's, beside the worst and
        the best (:func:`synth_figures`).
    """
    if frames is not None and (not isinstance(frames, int) or frames < 3):
        raise OptionError(f"--frames must be an integer >= 3 (steady state needs 3), not {frames!r}")
    if not isinstance(seeds, int) or isinstance(seeds, bool) or not 1 <= seeds <= MAX_SEEDS:
        raise OptionError(f"--seeds must be an integer from 1 to {MAX_SEEDS}, not {seeds!r}")
    step = progress or (lambda msg: None)
    finished = finished or (lambda result: None)
    if board is not None:
        from bitsmith.boards.registry import get_board
        get_board(board)
    boards = ((board,) if board is not None else SYNTH_BOARDS) if synth else ()
    if out_dir is not None:
        for net in networks:
            check_out_dir(Path(out_dir) / net.name)
    results = []
    with tempfile.TemporaryDirectory(prefix="bitsmith-bench-") as tmp:
        root = Path(out_dir) if out_dir is not None else Path(tmp)
        for net in networks:
            try:
                result = bench_network(net, root / net.name, boards=boards, frames=frames or net.frames,
                                       progress=lambda msg, net=net: step(f"{net.name}: {msg}"),
                                       fold_board=board, seeds=seeds)
            except BitsmithError as exc:        # a tool failed: report it, go on with the others
                log.warning("bench %s: %s", net.name, exc)
                result = NetworkResult(net.name, net.title, note=net.note, status="error",
                                       details=[_first_line(exc)])
            results.append(result)
            finished(result)
    return BenchResult(networks=results, synth_boards=boards, quick=quick, board=board)


def bench_network(net: Network, out_dir: Path, *, boards: Sequence[str], frames: int,
                  progress: Callable[[str], None], fold_board: str | None = None,
                  seeds: int = 1) -> NetworkResult:
    from bitsmith.sim import rtl
    from bitsmith.sim.golden import run_graph
    from .build import io_of
    from .execute import compare, run_verilator

    if net.source is not None and not net.source.exists():
        return NetworkResult(net.name, net.title, note=net.note,
                             status=f"skipped: {net.source} not found (a source checkout has it)")
    missing = [m for m in net.needs if importlib.util.find_spec(m) is None]
    if missing:
        return NetworkResult(net.name, net.title, note=net.note,
                             status=f"skipped: needs {', '.join(missing)} (the train extra)")
    model = net.make()
    progress("generating Verilog")
    start, cpu = time.perf_counter(), cpu_seconds()    # Yosys runs in a child process
    prepared = graph = net.generate(model)
    fit = None
    if fold_board is not None:
        from .build import fit_to_board
        graph, fit = fit_to_board(prepared, BuildOptions(board=fold_board))
    prepare_s, prepare_cpu_s = time.perf_counter() - start, cpu_seconds() - cpu
    timing = {}

    def generate(graph, fit):
        """The bundle of ``graph``; the generation time is the passes' and this build's."""
        start, cpu = time.perf_counter(), cpu_seconds()
        built = write_bundle(graph, out_dir, fit=fit, verilog_cache=False)     # cold figures
        timing.update(s=prepare_s + time.perf_counter() - start, cpu_s=prepare_cpu_s + cpu_seconds() - cpu)
        return built

    synth: dict = {}
    if fold_board in boards:
        graph, fit, built, synth = fold_for_board(prepared, graph, fit, fold_board, generate, progress, seeds)
    else:
        built = generate(graph, fit)
    generation_s, generation_cpu_s = timing["s"], timing["cpu_s"]
    x = net.inputs(graph, frames)

    progress(f"golden model, {frames} frames")
    start = time.perf_counter()
    golden = run_graph(graph, x)
    golden_s = time.perf_counter() - start
    reference = None
    if net.reference is not None:
        progress(f"reference execution, {frames} frames")
        reference = net.reference(model, graph, x, golden)

    progress("Verilator: building the harness, profile-guided (cached by hash)")
    start = time.perf_counter()
    rtl.build(built.out_dir / built.io["verilog"], io_of(built.io), profile=True)
    verilator_build_s = time.perf_counter() - start
    progress(f"Verilator: {frames} frames")
    start, cpu = time.perf_counter(), cpu_seconds()
    run = run_verilator(built.out_dir, built.io, x, profile=True)
    sim_s, sim_cpu_s = time.perf_counter() - start, cpu_seconds() - cpu
    mismatches = compare(golden, run.outputs)

    estimate = {k: built.report["estimate"][k] for k in ("luts", "ffs", "brams", "dsps")}
    result = NetworkResult(
        net.name, net.title, note=net.note,
        status="ok" if not mismatches and not reference and run.protocol_errors == 0 else "mismatch",
        frames=frames, generation_s=generation_s, generation_cpu_s=generation_cpu_s, ideal_cycles_per_frame=graph_cycles(graph),
        cycles_per_frame=run.cycles_per_frame, mean_cycles_per_frame=run.mean_cycles_per_frame,
        longest_frame_gap=run.longest_frame_gap, mismatches=len(mismatches), golden_s=golden_s,
        sim_s=sim_s, sim_cpu_s=sim_cpu_s, verilator_build_s=verilator_build_s, estimate=estimate, details=mismatches[:10],
        ops_per_frame=ops_per_frame(graph), sim_cycles=run.total_cycles, fit=fit,
        family_estimates=built.report.get("family_estimates"),
        reference_mismatches=None if reference is None else len(reference))
    result.details.extend(f"reference: {line}" for line in (reference or [])[:10])
    progress("estimating other foldings (frames/s against LUTs)")
    result.sweep = folding_curves(graph, boards or SYNTH_BOARDS)
    if run.protocol_errors:
        result.details.append(f"{run.protocol_errors} stream protocol errors")
    result.synth.update(synth)
    for board in (b for b in boards if b not in synth):
        result.synth[board] = synth_figures(built.out_dir, board,
                                            lambda msg, board=board: progress(f"{board}: {msg}"),
                                            clock_mhz=clock_goal(board) if fold_board else None,
                                            seeds=seeds)
    return result


def fold_for_board(prepared: Graph, graph: Graph, fit: dict | None, board: str, generate: Callable,
                   progress: Callable[[str], None], seeds: int) -> tuple:
    """Build ``graph``, the board's folding of ``prepared`` (summary ``fit``), with
    ``generate(graph, fit)`` and synthesise it for ``board``; a folding the board's tools
    refuse is replaced by the next slower one the estimate fits, as ``build --board`` does
    (:func:`.fit.refold.synthesise_to_fit`). Returns the last folding built (graph and fit
    summary), its build and ``{board: figures}``."""
    from bitsmith.boards.flows.open_fpga import DoesNotFit
    from .build import fit_to_board
    from .fit.refold import synthesise_to_fit
    figures: dict = {}

    def synthesise(built):
        figures.clear()
        figures.update(synth_figures(built.out_dir, board, lambda msg: progress(f"{board}: {msg}"),
                                     clock_mhz=clock_goal(board), seeds=seeds))
        if figures.get("fits") is False:
            raise DoesNotFit(figures["reason"])
        return figures

    fitted = synthesise_to_fit(
        graph, fit, write=generate, synthesise=synthesise, progress=progress,
        refold=lambda cycles: fit_to_board(prepared, BuildOptions(board=board), slower_than=cycles))
    return fitted.graph, fitted.fit, fitted.built, {board: dict(figures)}


def clock_goal(board: str) -> float | None:
    """The core clock a board's folding is chosen for (``fit.search.CLOCK_GOAL_MHZ``);
    ``None`` for a board without a family estimate."""
    from bitsmith.boards.registry import get_board
    from .fit.family import FAMILIES, family_of
    from .fit.search import CLOCK_GOAL_MHZ
    family = get_board(board).family
    if family not in FAMILIES and family != "zynq7":
        return None
    return CLOCK_GOAL_MHZ[family_of(family).name]


def synth_figures(out_dir: Path, board: str, progress: Callable[[str], None],
                  clock_mhz: float | None = None, seeds: int = 1) -> dict:
    """``bitsmith.boards.synth`` figures for one board, with their ``units`` (LUT4 or LUT6,
    the block-RAM primitive); a design too big for the device gives ``fits: False`` and
    the reason, a tool failure ``error``.

    ``seeds`` > 1 (nextpnr boards only; the others are synthesised once): ``fmax_mhz`` is
    the median over the seeds (the lower middle one for an even count), ``fmax_worst_mhz``
    and ``fmax_best_mhz`` the extremes, ``fmax_seeds`` every seed's figure."""
    from bitsmith.boards import synth
    from bitsmith.boards.flows.open_fpga import DoesNotFit
    from bitsmith.boards.registry import get_board
    target = get_board(board)
    device = target.device
    start = time.perf_counter()
    try:
        figures = synth(out_dir, board, progress=progress, seeds=seeds if target.flow == "open" else 1,
                        **({} if clock_mhz is None else {"clock_mhz": clock_mhz}))
    except DoesNotFit as exc:
        return {"device": device, "fits": False, "reason": _first_line(exc),
                "seconds": round(time.perf_counter() - start, 1)}
    except BitsmithError as exc:
        return {"device": device, "fits": None, "error": _first_line(exc)}
    out = {"device": device, "fits": bool(figures.get("fits", True)),
           **{k: figures.get(k) for k in ("luts", "ffs", "brams", "dsps", "fmax_mhz", "units")},
           "seconds": round(time.perf_counter() - start, 1)}
    by_seed = [v for v in (figures.get("nextpnr_seeds") or {}).values() if v is not None]
    if len(by_seed) > 1:
        ranked = sorted(by_seed)
        out.update(fmax_mhz=ranked[(len(ranked) - 1) // 2], fmax_worst_mhz=ranked[0],
                   fmax_best_mhz=ranked[-1], fmax_seeds=figures["nextpnr_seeds"])
    return out


MAX_SEEDS = 20
"""Most nextpnr seeds ``bench --seeds`` runs per design."""


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# --------------------------------------------------------------------------- against FINN

def ops_per_frame(graph: Graph) -> int:
    """Operations per frame, FINN's way: two (a multiply and an add) per weight use of
    every matrix layer (dense: MW x MH per pixel; a convolution: its matrix per output pixel)."""
    from .ir import MatrixVector
    total = 0
    for node in graph.nodes:
        if isinstance(node, MatrixVector):
            h, w, _ = node.in_shape
            total += 2 * h * w * node.in_features * node.out_features
        elif hasattr(node, "matrix") and hasattr(node, "out_hw"):
            oh, ow = node.out_hw
            total += 2 * oh * ow * int(node.matrix().size)
    return total


@dataclass(frozen=True)
class Published:
    """A figure FINN's authors published for a network, as they measured it."""

    network: str
    source: str
    device: str
    clock_mhz: float
    frames_per_s: float
    luts: int | None
    ops_per_frame: int
    note: str = ""


#: FINN's published figures: TFC-w1a1 from the finn-examples repository (measured on a
#: PYNQ-Z1 at 100 MHz; its folding bound is 1.56 M frames/s, 64 cycles/frame) and
#: SFC-max from the FINN paper (Umuroglu et al., FPGA 2017: 784-256-256-256-10, fully
#: parallel, ZC706 at 200 MHz). LUTs are Vivado's; bitsmith's are Yosys's, which counts
#: differently (the core synthesised alone, other mapping of adders and memories), so
#: LUT ratios are indicative only.
FINN_PUBLISHED = (
    Published("tfc-w1a1", "finn-examples (PYNQ-Z1)", "xc7z020", 100.0, 837_019, None,
              2 * (784 * 64 + 64 * 64 * 2 + 64 * 10),
              "measured; folding bound 1.56 M frames/s at 100 MHz; LUTs not published"),
    Published("sfc-max", "FINN paper, SFC-max (ZC706)", "xc7z045", 200.0, 12_300_000, 91_131,
              2 * (784 * 256 + 256 * 256 * 2 + 256 * 10), "fully parallel 784-256-256-256-10"),
)


def versus_finn(res: "BenchResult") -> list[dict]:
    """Rows of the bitsmith-against-FINN table: each benchmarked network on each board it
    was synthesised for (frames/s at the achieved Fmax and the measured cycles per frame,
    LUTs, operations per cycle per LUT), then FINN's published figures."""
    rows = []
    for n in res.networks:
        if not n.cycles_per_frame or not n.ops_per_frame:
            continue
        for board, fig in n.synth.items():
            if not fig.get("fits") or fig.get("luts") is None:
                continue
            fmax = fig.get("fmax_mhz")
            rows.append(_row(n.name, f"bitsmith ({board})", fig.get("device"), fmax,
                             None if fmax is None else fmax * 1e6 / n.cycles_per_frame,
                             fig.get("luts"), (fig.get("units") or {}).get("luts", "LUT"),
                             n.ops_per_frame, n.cycles_per_frame,
                             "Yosys LUTs, nextpnr Fmax" if fmax is not None
                             else "Yosys LUTs; no Fmax without Vivado"))
    for p in FINN_PUBLISHED:
        rows.append(_row(p.network, f"FINN: {p.source}", p.device, p.clock_mhz, p.frames_per_s, p.luts,
                         "LUT6 (Vivado)", p.ops_per_frame, p.clock_mhz * 1e6 / p.frames_per_s, p.note))
    return rows


def _row(network, implementation, device, clock, fps, luts, unit, ops, cycles, note) -> dict:
    ops_per_cycle = ops / cycles if cycles else None
    return {"network": network, "implementation": implementation, "device": device,
            "clock_mhz": clock, "cycles_per_frame": None if cycles is None else round(cycles, 2),
            "frames_per_s": None if fps is None else round(fps, 1), "luts": luts, "lut_unit": unit,
            "ops_per_frame": ops,
            "ops_per_cycle": None if ops_per_cycle is None else round(ops_per_cycle, 1),
            "ops_per_cycle_per_lut": None if not luts or ops_per_cycle is None
            else round(ops_per_cycle / luts, 4),
            "note": note}


def folding_curves(graph: Graph, boards: Sequence[str], points: int = 12) -> dict:
    """Per board: estimated LUTs and frames/s (at the family's clock goal) of the network
    folded for cycle targets across its range (:func:`bitsmith.generator.sweep.default_targets`),
    for the frames/s-against-LUTs figure."""
    from bitsmith.boards.registry import get_board
    from .build import sized
    from .fit.estimate import estimate_design
    from .fit.family import family_of
    from .fit.search import CLOCK_GOAL_MHZ
    from .passes.fold import Fold
    from .sweep import cycle_bounds, default_targets
    base = graph.replace(nodes=tuple(n.replace(weight_memory="rom") if hasattr(n, "weight_memory") else n
                                     for n in graph.nodes))
    lo, hi = cycle_bounds(base)
    targets = default_targets(lo, hi, points)
    out: dict = {}
    cache: dict = {}
    folds: dict = {}                 # one folding per target, shared by the boards
    for name in boards:
        b = get_board(name)
        if b.resources is None:
            continue
        fam = family_of(b.family).name
        clock = CLOCK_GOAL_MHZ[fam]
        curve = []
        for t in targets:
            if t not in folds:       # folded and FIFO-sized once (sizing is the slow part)
                folds[t] = sized(Fold(target_cycles=t).apply(base))
            folded = folds[t]
            est = estimate_design(folded, fam, cache=cache)
            cycles = graph_cycles(folded)
            curve.append({"target": t, "cycles": cycles, "luts": est.luts, "brams": est.brams,
                          "frames_per_s": round(clock * 1e6 / max(1, cycles), 1)})
        out[name] = {"family": fam, "clock_mhz": clock, "lut_capacity": b.resources.luts,
                     "points": curve}
    return out
