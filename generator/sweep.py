"""Design-space exploration: fold a network for a list of cycle targets, estimate each
design, and keep the Pareto front of cycles per frame against LUTs.

Every point is exactly what ``bitsmith build MODEL --target-cycles T`` would build: the
folding pass (:class:`~generator.passes.fold.Fold`) gives every foldable layer the
fewest parallel lanes that meet ``T``, and :mod:`bitsmith.generator.estimate` gives its ideal
cycles and resources. The points are independent, so they run in a local process pool
or, given a scheduler address, on a Dask distributed cluster (optional: Dask is not a
dependency of bitsmith). The model is read, checked and prepared once, in the calling
process; workers receive the prepared graph, so they need bitsmith but not the files.

``verify_frames > 0`` also builds every Pareto design and runs that many random frames
through Verilator, checking RTL == golden and measuring cycles per frame.
"""

from __future__ import annotations

import logging
import math
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .build import BuildOptions, load_model, prepare
from .errors import OptionError
from .estimate import UNITS, Resources, graph_cycles, node_cycles, node_resources
from .interrupt import install_in_worker, stop_workers
from .ir import Graph
from .passes.fold import Fold, best_folding, fold_parameters

log = logging.getLogger(__name__)

MAX_DEFAULT_POINTS = 8
DASK_HINT = "pip install dask distributed"


# --------------------------------------------------------------------------- targets

def cycle_bounds(graph: Graph) -> tuple[int, int]:
    """``(unrolled, folded)``: ideal cycles per frame with every foldable layer at its
    fastest folding, and with every folding parameter at 1."""
    fastest = [n.replace(**best_folding(n, 1)) if fold_parameters(n) else n for n in graph.nodes]
    slowest = [n.replace(**{k: 1 for k in fold_parameters(n)}) for n in graph.nodes]
    unrolled = max((node_cycles(n) for n in fastest), default=1)
    folded = max((node_cycles(n) for n in slowest), default=1)
    return max(1, unrolled), max(1, unrolled, folded)


def default_targets(unrolled: int, folded: int, max_points: int = MAX_DEFAULT_POINTS) -> list[int]:
    """Powers of two between the bounds, both bounds included, thinned evenly to at most
    ``max_points`` (the bounds are always kept)."""
    if not isinstance(unrolled, int) or not isinstance(folded, int) or not 1 <= unrolled <= folded:
        raise ValueError(f"bounds must be integers with 1 <= unrolled <= folded, not "
                         f"{unrolled!r}, {folded!r}")
    if not isinstance(max_points, int) or max_points < 2:
        raise ValueError(f"max_points must be an integer >= 2, not {max_points!r}")
    powers = [1 << k for k in range((unrolled - 1).bit_length(), folded.bit_length())
              if unrolled < 1 << k < folded]
    targets = sorted({unrolled, *powers, folded})
    if len(targets) > max_points:
        picks = np.unique(np.round(np.linspace(0, len(targets) - 1, max_points)).astype(int))
        targets = [targets[i] for i in picks]
    return targets


MAX_TARGETS = 256


def parse_targets(text: str) -> list[int]:
    """``"64,128,1024"`` -> ``[64, 128, 1024]`` (sorted, without repeats), for ``--targets``."""
    values = []
    for part in text.split(","):
        part = part.strip()
        if not (part.isascii() and part.isdigit()) or not 1 <= int(part) < 1 << 31:
            raise OptionError(f"--targets must be positive integers separated by commas, not {text!r:.200}")
        values.append(int(part))
    if len(set(values)) > MAX_TARGETS:
        raise OptionError(f"--targets gives {len(set(values))} targets; at most {MAX_TARGETS}")
    return sorted(set(values))


# --------------------------------------------------------------------------- points

@dataclass
class SweepPoint:
    """One folding of the network.

    Members
    -------
    target : int
        The cycle target given to the folding pass.
    cycles : int
        Ideal cycles per frame of the folded network (its slowest layer).
    resources : Resources
        Estimated LUT4/FF/BRAM18/DSP of all layers (:data:`bitsmith.generator.estimate.UNITS`).
    layers : dict
        ``{layer: {"pe": P, "simd": S, ...}}`` for the foldable layers.
    pareto : bool
        On the Pareto front of (cycles, LUTs) among the sweep's points.
    verify : dict or None
        With ``verify_frames``: ``frames``, ``mismatches``, ``cycles_per_frame`` (median),
        ``mean_cycles_per_frame``, ``longest_frame_gap``.
    """

    target: int
    cycles: int
    resources: Resources
    layers: dict
    pareto: bool = False
    verify: dict | None = None
    board: dict | None = None

    @property
    def meets_target(self) -> bool:
        return self.cycles <= self.target

    def as_json(self) -> dict:
        r = self.resources
        out = {"target": self.target, "cycles": self.cycles, "meets_target": self.meets_target,
               "luts": r.luts, "ffs": r.ffs, "brams": r.brams, "dsps": r.dsps,
               "pareto": self.pareto, "layers": self.layers}
        if self.verify is not None:
            out["verify"] = self.verify
        if self.board is not None:
            out["board"] = self.board
        return out


def folding_of(graph: Graph) -> dict:
    return {n.name: {k: getattr(n, k) for k in fold_parameters(n)}
            for n in graph.nodes if fold_parameters(n)}


def total_resources(graph: Graph) -> Resources:
    total = Resources()
    for node in graph.nodes:
        total = total + node_resources(node)
    return total


def fold_for(graph: Graph, target: int) -> Graph:
    return Fold(target_cycles=target).apply(graph)


def evaluate_point(task: tuple[Graph, int]) -> SweepPoint:
    """Worker: fold ``graph`` for ``target`` cycles and estimate the result."""
    graph, target = task
    folded = fold_for(graph, target)
    return SweepPoint(target=target, cycles=graph_cycles(folded), resources=total_resources(folded),
                      layers=folding_of(folded))


def random_frames(graph: Graph, frames: int, seed: int = 0) -> np.ndarray:
    """``frames`` random integer frames of the graph's input datatype (BIPOLAR as ±1)."""
    rng = np.random.default_rng(seed)
    shape = (frames, *graph.in_shape)
    dt = graph.in_dtype
    if dt.name == "BIPOLAR":
        return rng.choice(np.array([-1, 1], dtype=np.int64), size=shape)
    return rng.integers(int(dt.min()), int(dt.max()) + 1, size=shape, dtype=np.int64)


def verify_point(task: tuple[Graph, int, int]) -> dict:
    """Worker: build the design for ``target``, run ``frames`` random frames in Verilator
    and compare with the golden model."""
    from bitsmith.sim.golden import run_graph
    from .build import write_bundle
    from .execute import compare, run_verilator
    graph, target, frames = task
    folded = fold_for(graph, target)
    x = random_frames(folded, frames, seed=target)
    golden = run_graph(folded, x)
    with tempfile.TemporaryDirectory(prefix="bitsmith-sweep-") as tmp:
        built = write_bundle(folded, Path(tmp) / folded.name)
        rtl = run_verilator(built.out_dir, built.io, x)
    mismatches = compare(golden, rtl.outputs)
    return {"frames": frames, "mismatches": len(mismatches), "details": mismatches[:5],
            "protocol_errors": rtl.protocol_errors, "cycles_per_frame": rtl.cycles_per_frame,
            "mean_cycles_per_frame": rtl.mean_cycles_per_frame, "longest_frame_gap": rtl.longest_frame_gap,
            "ideal_cycles_per_frame": graph_cycles(folded),
            "passed": not mismatches and rtl.protocol_errors == 0}


def mark_pareto(points: Sequence[SweepPoint]) -> None:
    """Set ``pareto`` on the points no other point beats in both cycles and LUTs (the
    first of several identical designs, by target, stands for them)."""
    best_luts = math.inf
    for p in sorted(points, key=lambda p: (p.cycles, p.resources.luts, p.target)):
        p.pareto = p.resources.luts < best_luts
        best_luts = min(best_luts, p.resources.luts)


# --------------------------------------------------------------------------- executors

def dask_client(address: str):
    """A ``dask.distributed.Client`` connected to ``address``; OptionError if Dask is
    missing or the scheduler cannot be reached."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise OptionError(f"--scheduler needs Dask, which is not installed: {DASK_HINT}") from None
    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise OptionError(f"--scheduler {address}: cannot connect to a Dask scheduler ({reason})") from None


def run_tasks(fn: Callable, tasks: Sequence, *, jobs: int = 2, client=None,
              done: Callable[[int], None] | None = None) -> list:
    """``[fn(t) for t in tasks]`` on a Dask ``client``, in a pool of ``jobs`` processes,
    or in this process when ``jobs == 1``; ``done(k)`` after each of them."""
    done = done or (lambda k: None)
    results: list = [None] * len(tasks)
    if client is not None:
        from dask.distributed import as_completed as dask_completed
        futures = client.map(fn, list(tasks), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for k, future in enumerate(dask_completed(futures)):
            results[index[future.key]] = future.result()
            done(k + 1)
        return results
    if jobs == 1 or len(tasks) <= 1:
        for k, task in enumerate(tasks):
            results[k] = fn(task)
            done(k + 1)
        return results
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), initializer=install_in_worker) as pool:
        futures = {pool.submit(fn, task): i for i, task in enumerate(tasks)}
        try:
            for k, future in enumerate(as_completed(futures)):
                results[futures[future]] = future.result()
                done(k + 1)
        except KeyboardInterrupt:      # Ctrl-C or SIGTERM: the workers clean up and stop too
            stop_workers()
            pool.shutdown(cancel_futures=True)
            raise
    return results


# --------------------------------------------------------------------------- the sweep

@dataclass
class SweepResult:
    model: str
    name: str
    unrolled_cycles: int
    folded_cycles: int
    baseline: SweepPoint
    points: list[SweepPoint]
    executor: str
    board_fit: dict | None = None

    @property
    def pareto(self) -> list[SweepPoint]:
        return [p for p in self.points if p.pareto]

    @property
    def passed(self) -> bool:
        return all(p.verify is None or p.verify["passed"] for p in self.points)

    def as_json(self) -> dict:
        return {"model": self.model, "name": self.name, "units": dict(UNITS),
                "bounds": {"unrolled_cycles": self.unrolled_cycles, "folded_cycles": self.folded_cycles},
                "baseline": self.baseline.as_json(), "executor": self.executor,
                "points": [p.as_json() for p in self.points],
                "pareto": [p.target for p in self.pareto], "board_fit": self.board_fit,
                "passed": self.passed}


def sweep(model: str | Path, opts: BuildOptions, *, targets: Sequence[int] | None = None,
          jobs: int = 2, scheduler: str | None = None, verify_frames: int = 0,
          progress: Callable[[str], None] | None = None) -> SweepResult:
    """Fold ``model`` for every cycle target and return the points and their Pareto front.

    Parameters
    ----------
    model : str or Path
        A ``.onnx`` or native description, read with ``opts`` as ``build`` reads it
        (without ``target_cycles``/``target_fps``/``clock_mhz``: the targets replace them).
    targets : sequence of int or None
        Cycle targets; default :func:`default_targets` between the network's bounds.
    jobs : int
        Local worker processes (1: run in this process).
    scheduler : str or None
        Address of a Dask scheduler (``tcp://host:8786``); overrides ``jobs``.
    verify_frames : int
        Random frames to run through Verilator for each Pareto point (0: none).
    """
    step = progress or (lambda msg: None)
    if not isinstance(jobs, int) or jobs < 1:
        raise OptionError(f"--jobs must be a positive integer, not {jobs!r}")
    if not isinstance(verify_frames, int) or verify_frames < 0:
        raise OptionError(f"--verify must be a non-negative integer, not {verify_frames!r}")
    if opts.target_cycles is not None or opts.target_fps is not None or opts.clock_mhz is not None:
        raise OptionError("--target-cycles/--target-fps/--clock-mhz do not apply to sweep: give the "
                          "cycle targets with --targets")
    if targets is not None:
        if not targets or not all(isinstance(t, int) and t >= 1 for t in targets):
            raise OptionError(f"--targets must be positive integers, not {list(targets)!r}")
        targets = sorted(set(targets))
    step(f"reading {Path(model).name}")
    graph = prepare(load_model(model, opts), opts)
    unrolled, folded = cycle_bounds(graph)
    if targets is None:
        targets = default_targets(unrolled, folded)
    baseline = SweepPoint(target=graph_cycles(graph), cycles=graph_cycles(graph),
                          resources=total_resources(graph), layers=folding_of(graph))

    client = dask_client(scheduler) if scheduler is not None else None
    executor = f"dask {scheduler}" if client is not None else \
        ("in process" if jobs == 1 else f"{jobs} local processes")
    try:
        step(f"folding for {len(targets)} targets ({executor})")
        points = run_tasks(evaluate_point, [(graph, t) for t in targets], jobs=jobs, client=client,
                           done=lambda k: step(f"folded {k}/{len(targets)} targets ({executor})"))
        mark_pareto(points)
        front = [p for p in points if p.pareto]
        if verify_frames and front:
            step(f"Verilator: {len(front)} Pareto designs, {verify_frames} frames each")
            checks = run_tasks(verify_point, [(graph, p.target, verify_frames) for p in front],
                               jobs=jobs, client=client,
                               done=lambda k: step(f"verified {k}/{len(front)} Pareto designs"))
            for p, check in zip(front, checks):
                p.verify = check
    finally:
        if client is not None:
            client.close()
    board_fit = None
    if opts.board is not None:
        step(f"folding for {opts.board}")
        board_fit = mark_board_fit(graph, points, opts.board)
    log.info("sweep %s: %d points, %d on the Pareto front", graph.name, len(points), len(front))
    return SweepResult(model=str(model), name=graph.name, unrolled_cycles=unrolled,
                       folded_cycles=folded, baseline=baseline, points=points, executor=executor,
                       board_fit=board_fit)


def mark_board_fit(graph: Graph, points: Sequence[SweepPoint], board: str) -> dict | None:
    """With ``--board``: each point's estimate on the board's family and whether it fits
    the board's budget (``SweepPoint.board``), and the folding ``build --board`` would
    choose (:func:`bitsmith.generator.fit.search.fold_to_board`), which is returned."""
    from bitsmith.boards.registry import get_board
    from .fit.search import board_budget, evaluate, fold_to_board
    target = get_board(board)
    if target.resources is None:
        return None
    budget, cache = board_budget(target), {}
    for p in points:
        variants = evaluate(graph, p.target, target, budget, cache)
        best = next((c for c in variants if c.fits), variants[0])
        p.board = {"fits": best.fits, "spram_weights": best.spram, **best.total,
                   "over": best.over}
    return fold_to_board(graph, target).as_json()


# --------------------------------------------------------------------------- the plot

def plot_boards(board: str | None = None) -> list[dict]:
    """The boards a sweep plot draws: ``board`` alone, or every FPGA board of the registry
    (``{"name", "device", "clock_mhz", "luts", "lut_unit"}`` each)."""
    from bitsmith.boards.flows.counts import units
    from bitsmith.boards.registry import BOARDS, get_board
    chosen = [get_board(board)] if board is not None else list(BOARDS.values())
    out = [{"name": b.name, "device": b.device, "clock_mhz": b.clock_mhz, "luts": b.resources.luts,
            "lut_unit": units(b.family)["luts"]}
           for b in chosen if b.resources is not None and b.clock_mhz is not None]
    if not out:
        raise OptionError(f"--board {board}: has no LUTs to draw a sweep against")
    return out


def sweep_plot(result: SweepResult, boards: Sequence[dict]) -> bytes:
    """The PNG of ``result``: its points and Pareto front against each board's LUT capacity
    (:func:`bitsmith.generator.plots.sweep_front`)."""
    from .plots import sweep_front
    return sweep_front(result.name, [p.as_json() for p in result.points], boards,
                       baseline=result.baseline.as_json())
