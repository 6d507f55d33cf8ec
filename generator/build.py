"""The build flow: model file -> folded integer graph -> hardware -> the OUT/ bundle.

Steps (each a plain function, so tests and other commands can stop anywhere):

1. :func:`load_model` — front end by file type (``.onnx`` or native ``.yaml/.yml/.json``);
2. :func:`prepare` — host split defaults, then the pass pipeline (:func:`build_pipeline`:
   accumulator widths, ``--topk``, ``--sparse``, ``--shift``, fork insertion, folding, ``--winograd``, FIFO sizing);
3. :func:`elaborate` — lower every node onto ``hw`` stages, wire them into a
   :class:`~hw.top.Dataflow` netlist with the sized FIFOs, wrap it in the AXI4-Stream top;
4. :func:`write_bundle` — Verilog, ``design.json``, ``sim/``, reports, written atomically.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import ModelError, OptionError
from .estimate import BRAM_KBIT, MODEL, UNITS, Resources, fifo_resources, graph_cycles, node_cycles, node_resources
from .ir import Graph, dtype
from .ir.host import ToNHWC
from .ir.origin import describe_node
from .ir.serialize import FORMAT, dump_graph, load_graph
from .limits import MAX_ONNX_BYTES, check_graph, check_hardware
from .lowering import lower_node
from .outdir import check_out_dir, staging
from .passes import run_pipeline
from .passes.acc_widths import AccWidths
from .passes.fold import Fold
from .passes.insert_forks import InsertForks
from .passes.prune_channels import PruneChannels
from .passes.size_fifos import SizeFifos
from .passes.shift import Shift
from .passes.winograd import Winograd
from .passes.sparsify import Sparsify
from .passes.topk import AppendTopK
from .safeio import read_text, regular_file

log = logging.getLogger(__name__)

NATIVE_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class BuildOptions:
    """Options shared by build, golden, verify (DESIGN.md §5), one field per CLI option.

    Every field is checked when the options are made (:class:`~bitsmith.generator.errors.OptionError`
    naming it).

    Parameters
    ----------
    fold : str, Path or dict
        ``"auto"`` (keep the description's PE/SIMD, choose the ``auto`` ones), a JSON file,
        or the same mapping in memory, ``{layer: {"pe": P, "simd": S}}``.
    target_cycles : int, optional
        Refold every layer for at most this many cycles per frame.
    target_fps, clock_mhz : float, optional
        Together: a frame rate to reach at a clock (``target_cycles = clock / fps``).
    input_dtype : str, optional
        ONNX models: the input arrives as integers of this qonnx datatype (e.g. ``"UINT8"``).
    input_scale : float, optional
        ONNX models, with ``input_dtype``: the real input is the integers times this.
    topk : int, optional
        Select the top-K classes in hardware (the output becomes class indices).
    board : str, optional
        Synthesise for this board after building (see ``bitsmith boards``).
    sparse : {"off", "auto"}
        ``"auto"`` lowers layers with >= 50 % zero weights onto the sparse engine.

    Examples
    --------
    >>> BuildOptions(target_cycles=64, topk=1)
    BuildOptions(target_cycles=64, topk=1)
    """

    fold: str | Path | dict = "auto"
    target_cycles: int | None = None
    target_fps: float | None = None
    clock_mhz: float | None = None
    input_dtype: str | None = None
    input_scale: float | None = None
    topk: int | None = None
    board: str | None = None
    sparse: str = "off"
    shift: str = "off"
    winograd: str = "off"
    prune: str = "off"

    def __post_init__(self):
        if not isinstance(self.fold, (str, Path, dict)):
            raise OptionError(f"fold must be 'auto', a JSON file or a mapping {{layer: {{'pe': P, 'simd': S}}}}, "
                              f"not {self.fold!r:.80}")
        for name in ("target_cycles", "topk"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise OptionError(f"{name} must be a positive integer, not {value!r:.80}")
        for name in ("target_fps", "clock_mhz", "input_scale"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                      or not math.isfinite(value) or value <= 0):
                raise OptionError(f"{name} must be a positive finite number, not {value!r:.80}")
        if self.input_dtype is not None:
            if not isinstance(self.input_dtype, str):
                raise OptionError(f"input_dtype must be a qonnx datatype name such as 'UINT8', "
                                  f"not {self.input_dtype!r:.80}")
            try:
                dtype(self.input_dtype)
            except ModelError as exc:
                raise OptionError(f"input_dtype: {exc}") from None
        if self.input_scale is not None and self.input_dtype is None:
            raise OptionError("input_scale needs input_dtype (the input is then integers times the scale)")
        if self.board is not None and not isinstance(self.board, str):
            raise OptionError(f"board must be a board name (see `bitsmith boards`), not {self.board!r:.80}")
        if self.sparse not in ("off", "auto"):
            raise OptionError(f"sparse must be 'off' or 'auto', not {self.sparse!r:.80}")
        if self.shift not in ("off", "auto"):
            raise OptionError(f"shift must be 'off' or 'auto', not {self.shift!r:.80}")
        if self.winograd not in ("off", "auto"):
            raise OptionError(f"winograd must be 'off' or 'auto', not {self.winograd!r:.80}")
        if self.prune not in ("off", "constant"):
            raise OptionError(f"prune must be 'off' or 'constant', not {self.prune!r:.80}")

    def __repr__(self) -> str:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        given = [f"{k}={v!r}" for k, v in fields.items()
                 if v != {f.name: f.default for f in dataclasses.fields(self)}[k]]
        return f"BuildOptions({', '.join(given)})"

    def replace(self, **changes) -> "BuildOptions":
        """These options with ``changes``; an unknown name is an
        :class:`~bitsmith.generator.errors.OptionError` listing the valid ones."""
        valid = [f.name for f in dataclasses.fields(self)]
        unknown = sorted(set(changes) - set(valid))
        if unknown:
            raise OptionError(f"unknown option {unknown[0]!r} (valid: {', '.join(valid)})")
        return dataclasses.replace(self, **changes) if changes else self

    def fold_file(self) -> Path | None:
        """The ``--fold`` JSON file, None for ``auto`` or a mapping."""
        return None if isinstance(self.fold, dict) or self.fold in (None, "auto") else Path(self.fold)

    def resolved_target_cycles(self) -> int | None:
        if self.target_fps is not None or self.clock_mhz is not None:
            if self.target_cycles is not None:
                raise OptionError("give either --target-cycles or --target-fps with --clock-mhz, not both")
            if self.target_fps is None or self.clock_mhz is None:
                raise OptionError("--target-fps and --clock-mhz go together")
            if self.target_fps <= 0 or self.clock_mhz <= 0:
                raise OptionError("--target-fps and --clock-mhz must be positive")
            return max(1, int(self.clock_mhz * 1e6 // self.target_fps))
        return self.target_cycles


def parse_scale(text: str) -> float:
    """``"1/255"`` or ``"0.0039"`` -> float, for ``--input-scale``."""
    try:
        value = float(Fraction(text)) if "/" in text else float(text)
    except (ValueError, ZeroDivisionError, OverflowError):
        value = None
    if value is None or not math.isfinite(value) or value <= 0:
        raise OptionError(f"--input-scale must be a positive finite number or a fraction like 1/255, "
                          f"not {text!r}")
    return value


def load_model(path: str | Path, opts: BuildOptions) -> Graph:
    path = Path(path)
    regular_file(path, error=ModelError)
    graph = _front_end(path, opts)
    check_graph(graph)
    return graph


def _front_end(path: Path, opts: BuildOptions) -> Graph:
    if path.suffix == ".onnx":
        from .frontend.qonnx import load_onnx
        graph = load_onnx(path, input_dtype=dtype(opts.input_dtype) if opts.input_dtype else None,
                          input_scale=opts.input_scale, topk=opts.topk)
        # An ONNX graph carries no folding: every foldable layer is left to the folding pass.
        from .passes.fold import AUTO, fold_parameters
        return graph.replace(nodes=tuple(
            n.replace(**{k: AUTO for k in fold_parameters(n)}) for n in graph.nodes))
    if path.suffix in NATIVE_SUFFIXES:
        from .frontend.native import load_native
        return check_native_options(load_native(path), opts, path.name)
    raise ModelError(f"{path}: unknown model type {path.suffix!r} (expected .onnx, .yaml, .yml or .json)")


def check_native_options(graph: Graph, opts: BuildOptions, label: str) -> Graph:
    """A native model's ``graph``, refusing ONNX-only options (``label`` names the model)."""
    if opts.input_dtype is not None and dtype(opts.input_dtype) != graph.in_dtype:
        raise OptionError(f"--input-dtype {opts.input_dtype} differs from {label}'s input "
                          f"datatype {graph.in_dtype.name}")
    if opts.input_scale is not None:
        raise OptionError(f"--input-scale applies to ONNX models; {label} already takes integers")
    return graph


def build_pipeline(graph: Graph, opts: BuildOptions) -> tuple:
    """The passes :func:`prepare` runs for ``opts`` (see :mod:`bitsmith.generator.passes`).

    ``--prune constant`` runs ``prune_channels`` first, on the graph as the front end
    read it (its accumulators still unsized, its foldings as given).

    ``--topk`` is the ``topk`` pass for native models only: the ONNX front end (whose
    graphs carry ``provenance``) places a top-K itself, where the model's float tail ends.
    """
    fold_file = opts.fold_file()
    if fold_file is not None:
        regular_file(fold_file, "--fold", error=OptionError)
    passes = [PruneChannels()] if opts.prune == "constant" else []
    passes.append(AccWidths())
    if opts.topk is not None and not graph.provenance:
        passes.append(AppendTopK(k=opts.topk))
    if opts.sparse == "auto":
        passes.append(Sparsify())
    if opts.shift == "auto":
        passes.append(Shift())
    passes += [InsertForks(), Fold(target_cycles=opts.resolved_target_cycles(), fold_file=fold_file,
                    folding=opts.fold if isinstance(opts.fold, dict) else None)]
    if opts.winograd == "auto":
        passes.append(Winograd())
    passes.append(SizeFifos())
    return tuple(passes)


def prepare(graph: Graph, opts: BuildOptions) -> Graph:
    """Default host-pre, the pass pipeline, and a full consistency check after each pass."""
    if not graph.host_pre:
        graph = graph.replace(host_pre=(ToNHWC(shape=tuple(graph.in_shape)),))
    graph = run_pipeline(graph, build_pipeline(graph, opts))
    graph.check()
    return graph


def folds_to_board(opts: BuildOptions) -> bool:
    """``--board`` chooses the folding unless ``--fold FILE`` or a cycle/fps target does."""
    return (opts.board is not None and opts.fold in (None, "auto") and opts.target_cycles is None
            and opts.target_fps is None)


def prepare_for(graph: Graph, opts: BuildOptions, *, progress=None,
                slower_than: int | None = None) -> tuple[Graph, dict | None]:
    """:func:`prepare` ``graph`` (loaded) and, with ``opts.board``, :func:`fit_to_board` it:
    the one folding every command and the API build, simulate and verify. Returns the graph
    and the fit summary for the report (``None`` unless the board chose the folding)."""
    graph = prepare(graph, opts)
    if folds_to_board(opts) and progress is not None:
        progress(f"folding for {opts.board}" if slower_than is None else
                 f"folding for {opts.board}, slower than {slower_than} cycles/frame")
    return fit_to_board(graph, opts, slower_than=slower_than)


def fit_to_board(graph: Graph, opts: BuildOptions, *, slower_than: int | None = None) -> tuple[Graph, dict | None]:
    """``graph`` (prepared) refolded for ``opts.board`` when :func:`folds_to_board`, and
    the fit summary for the report (``None`` when the board did not choose). With a
    board, XNOR layers count the way its family counts best (:attr:`~.fit.family.Family.popcount`).
    ``slower_than``: only foldings of more cycles per frame (see :func:`.fit.search.fold_to_board`)."""
    if opts.board is None:
        return graph, None
    from bitsmith.boards.registry import get_board
    from .fit.family import with_family_popcount
    from .fit.search import fold_to_board
    board = get_board(opts.board)
    graph = with_family_popcount(graph, board.family)
    if not folds_to_board(opts):
        return graph, None
    if board.resources is None:
        return graph, None
    result = fold_to_board(graph, board, slower_than=slower_than)
    return result.chosen.graph, result.as_json()


# --------------------------------------------------------------------------- hardware

@dataclass
class Elaborated:
    top: object
    io: dict
    stages: list
    edges: list


def stream_io(graph: Graph, dataflow) -> dict:
    in_elems, out_elems = dataflow.in_elems, dataflow.out_elems
    in_total = int(np.prod(graph.in_shape))
    out_total = int(np.prod(graph.out_shape))
    if in_total % in_elems or out_total % out_elems:
        raise ModelError("internal: frame size is not a multiple of the stream word")
    from bitsmith.sim.packing import tdata_bits
    return {
        "top": graph.name,
        "verilog": f"rtl/{graph.name}.v",
        "in": {"dtype": graph.in_dtype.name, "shape": list(graph.in_shape), "elems_per_word": in_elems,
               "tdata_bits": tdata_bits(in_elems * graph.in_dtype.bitwidth()),
               "words_per_frame": in_total // in_elems},
        "out": {"dtype": graph.out_dtype.name, "shape": list(graph.out_shape), "elems_per_word": out_elems,
                "tdata_bits": tdata_bits(out_elems * graph.out_dtype.bitwidth()),
                "words_per_frame": out_total // out_elems},
    }


def sized(graph: Graph) -> Graph:
    """``graph`` with explicit forks and FIFO depths (a hand-built graph may lack them;
    a fork the pass inserts is folded like any auto layer)."""
    if graph.fifos:
        return graph
    return run_pipeline(graph, (InsertForks(), Fold(), SizeFifos()))


def netlist(graph: Graph) -> tuple[list, list]:
    """``(stages, edges)`` of the graph's :class:`~hw.top.Dataflow`, FIFO depths from
    ``graph.fifos`` (sized here when the graph has none yet)."""
    from bitsmith.hw.top import Edge
    from .netlist import wire
    graph = sized(graph)
    stages, wires = wire(graph, lambda node: lower_checked(graph, node))
    if not stages:
        raise ModelError(f"network {graph.name!r} has no hardware layers")
    depth = {(f.dst, f.port): f.depth for f in graph.fifos}
    edges = []
    for w in wires:
        if w.src != "input" and (w.dst, w.dst_port) not in depth:
            raise ModelError(f"network {graph.name!r}: no FIFO depth for the edge {w.src}.{w.src_port} -> "
                             f"{w.dst}.{w.dst_port} (the graph's fifos are stale; rerun the size_fifos pass)")
        edges.append(Edge(src=w.src, src_port=w.src_port, dst=w.dst, dst_port=w.dst_port,
                          depth=depth.get((w.dst, w.dst_port), 3)))
    return stages, edges


def lower_checked(graph: Graph, node) -> list:
    """``lower_node(node)``; a hardware component refusing its parameters (``ValueError`` /
    ``TypeError`` from its constructor: a datatype or size the hardware does not support)
    is the model's limit, reported as a :class:`ModelError` naming the layer."""
    try:
        return lower_node(node)
    except (ValueError, TypeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{describe_node(graph, node)}: the hardware does not support it: {reason}") from exc


def elaborate(graph: Graph) -> Elaborated:
    from bitsmith.hw.top import AxiStreamTop, Dataflow
    stages, edges = netlist(graph)
    dataflow = Dataflow(stages, edges)
    io = stream_io(graph, dataflow)
    top = AxiStreamTop(dataflow=dataflow, in_elem_bits=graph.in_dtype.bitwidth(),
                       in_elems=io["in"]["elems_per_word"], out_elem_bits=graph.out_dtype.bitwidth(),
                       out_elems=io["out"]["elems_per_word"], out_words_per_frame=io["out"]["words_per_frame"])
    return Elaborated(top=top, io=io, stages=stages, edges=edges)


def emit_verilog(top, name: str) -> str:
    """The design's Verilog: Amaranth's RTLIL, copied registers kept apart
    (:func:`~bitsmith.hw.streams.keep_replicas`), written by Yosys as ``verilog.convert``
    does (its RTLIL-to-Verilog step, private in Amaranth 0.5, which pyproject pins)."""
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    from amaranth.back import rtlil, verilog
    from bitsmith.hw.streams import keep_replicas
    return verilog._convert_rtlil_text(keep_replicas(rtlil.convert(top, name=name, emit_src=False)))


# --------------------------------------------------------------------------- reports

def layer_rows(graph: Graph) -> list[dict]:
    rows = []
    for node in graph.nodes:
        res = node_resources(node)
        row = {"name": node.name, "kind": type(node).__name__, "inputs": list(node.inputs),
               "in_shape": list(node.in_shape), "out_shape": list(node.out_shape),
               "in_dtype": node.in_dtype.name, "out_dtype": node.out_dtype.name,
               "cycles": node_cycles(node),
               "luts": res.luts, "ffs": res.ffs, "brams": res.brams, "dsps": res.dsps}
        for attr in ("pe", "simd", "n_pe", "queue_depth"):
            if hasattr(node, attr):
                row[attr] = getattr(node, attr)
        for attr in ("weight_dtype", "acc_dtype"):
            if getattr(node, attr, None) is not None:
                row[attr] = getattr(node, attr).name
        th = getattr(node, "thresholds", None)
        if th is not None:
            row["thresholds"] = th.steps
        if hasattr(node, "in_features"):
            row["mw"], row["mh"] = node.in_features, node.out_features
        rows.append(row)
    return rows


PRUNING_COLUMNS = ("layer", "kind", "in_before", "in_after", "out_before", "out_after", "removed", "kept")
"""Fields of a row of :attr:`Graph.pruning` (``prune_channels``), as the report names them."""


def family_estimates(graph: Graph, stages=None) -> dict:
    """The design's estimate on each FPGA family (:mod:`bitsmith.generator.fit`) that
    can build it (SPRAM weights: the iCE40 UltraPlus only)."""
    from .fit.estimate import estimate_design
    from .fit.family import FAMILIES
    from .fit.preload import runtime_layers
    spram = any(n.weight_memory == "spram" for n in runtime_layers(graph))
    return {name: estimate_design(graph, fam, stages=stages).as_json()
            for name, fam in FAMILIES.items() if fam.spram or not spram}


def make_report(graph: Graph, io: dict, generation_s: float, *, stages=None,
                fit: dict | None = None) -> dict:
    rows = layer_rows(graph)
    total = Resources()
    for node in graph.nodes:
        total = total + node_resources(node)
    fifos = [{"src": f"{f.src}.{f.src_port}", "dst": f"{f.dst}.{f.port}", "depth": f.depth,
              "peak": f.peak, "width": f.elems * f.elem_bits, "bits": f.bits} for f in graph.fifos]
    for f in graph.fifos:
        total = total + fifo_resources(f.depth, f.elems * f.elem_bits)
    ideal = graph_cycles(graph)
    bottleneck = max(rows, key=lambda r: r["cycles"])["name"] if rows else None
    return {
        "fifos": fifos,
        "fifo_bits": sum(f["bits"] for f in fifos),
        "name": graph.name,
        "ideal_cycles_per_frame": ideal,
        "bottleneck": bottleneck,
        "layers": rows,
        "estimate": {"luts": total.luts, "ffs": total.ffs, "brams": total.brams, "dsps": total.dsps,
                     "units": dict(UNITS), "bram_kbit": BRAM_KBIT, "model": MODEL},
        "io": io,
        "provenance": [list(r) for r in graph.provenance],
        "pruning": [dict(zip(PRUNING_COLUMNS, r)) for r in graph.pruning],
        "host_pre": [type(s).__name__ for s in graph.host_pre],
        "host_post": [type(s).__name__ for s in graph.host_post],
        "family_estimates": family_estimates(graph, stages),
        "fit": fit,
        "generation_seconds": round(generation_s, 3),
    }


# --------------------------------------------------------------------------- bundle

@dataclass(frozen=True, repr=False)
class BuildResult:
    """A written build folder (DESIGN.md §5).

    Members
    -------
    out_dir : Path
        The folder: ``design.json``, ``rtl/``, ``sim/``, ``report.*``.
    graph : Graph
        The folded integer graph that was lowered.
    io : dict
        The stream interface (``design.json``'s ``io``: dtypes, shapes, words per frame).
    report : dict
        ``report.json``: per-layer folding, cycles and estimates.
    synth : SynthResult or None
        The board flow's figures when the build named a board.
    """

    out_dir: Path
    graph: Graph
    io: dict
    report: dict
    synth: object = None

    def __repr__(self) -> str:
        from .results import short_repr
        r = self.report
        return short_repr("BuildResult", repr(r["name"]), out_dir=str(self.out_dir), layers=len(r["layers"]),
                          ideal_cycles_per_frame=r["ideal_cycles_per_frame"], bottleneck=r["bottleneck"],
                          luts=r["estimate"]["luts"], synth=self.synth)


def write_bundle(graph: Graph, out_dir: Path, *, progress=None, protect=(), fit: dict | None = None,
                 verilog_cache: bool = True) -> BuildResult:
    """Elaborate ``graph`` and write the whole OUT/ bundle atomically.

    ``out_dir`` is replaced only when it holds exactly an earlier bitsmith build, never
    when it is or contains one of the paths in ``protect`` (the command's inputs) or their
    folders (see :mod:`bitsmith.generator.outdir`). ``fit`` (from :func:`fit_to_board`)
    goes into the report. The Verilog comes from :mod:`bitsmith.generator.verilog_cache`
    when the same graph was converted before by the same code (``verilog_cache=False``:
    always convert).
    """
    from .report import write_report
    out_dir = Path(out_dir)
    check_out_dir(out_dir, protect)
    check_hardware(graph)           # the layers, before any FIFO sizing
    start = time.perf_counter()
    step = progress or (lambda msg: None)
    step("lowering to hardware")
    graph = sized(graph)
    check_hardware(graph)           # with the netlist's FIFOs
    elab = elaborate(graph)
    step("emitting Verilog")
    from .verilog_cache import cached_verilog
    graph_json = dump_graph(graph)
    verilog_text = cached_verilog(graph_json, lambda: emit_verilog(elab.top, graph.name),
                                  use_cache=verilog_cache, top=elab)
    from .fit.preload import PRELOAD_FILE, preload_frames
    preload = preload_frames(graph)
    if preload is not None:
        elab.io["preload_frames"] = len(preload)
    report = make_report(graph, elab.io, time.perf_counter() - start, stages=elab.stages,
                         fit=fit)
    design = {"format": FORMAT, "graph": graph_json, "io": elab.io,
              "ideal_cycles_per_frame": report["ideal_cycles_per_frame"], "layers": report["layers"]}
    with staging(out_dir, protect) as tmp:
        (tmp / "rtl").mkdir()
        (tmp / "rtl" / f"{graph.name}.v").write_text(verilog_text)
        (tmp / "design.json").write_text(json.dumps(design))
        if preload is not None:
            np.save(tmp / PRELOAD_FILE, preload)
        step("writing the report")
        write_report(tmp, report)
        step("writing the simulation bundle")
        from bitsmith.sim.rtl import write_sim_bundle
        write_sim_bundle(tmp / "sim", elab.io["verilog"], io_of(elab.io))
    return BuildResult(out_dir=out_dir, graph=graph, io=elab.io, report=report)


def io_of(io: dict):
    from bitsmith.sim.rtl import StreamIO
    return StreamIO(top=io["top"], in_bits=io["in"]["tdata_bits"], out_bits=io["out"]["tdata_bits"],
                    in_words_per_frame=io["in"]["words_per_frame"],
                    out_words_per_frame=io["out"]["words_per_frame"])


def read_bundle(out_dir: str | Path) -> tuple[Graph, dict]:
    """The graph and the ``design.json`` of a build folder, checked."""
    out_dir = Path(out_dir)
    path = out_dir / "design.json"
    if not out_dir.is_dir():
        raise ModelError(f"{out_dir}: not a bitsmith build (not a folder)")
    if not path.exists():
        raise ModelError(f"{out_dir}: not a bitsmith build (no design.json)")
    text = read_text(path, error=ModelError, max_bytes=MAX_ONNX_BYTES)
    try:
        design = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise ModelError(f"{path}: not a bitsmith design (nested too deeply)") from None
    if not isinstance(design, dict):
        raise ModelError(f"{path}: not a bitsmith design (not a JSON object)")
    if design.get("format") != FORMAT:
        raise ModelError(f"{path}: unknown format {design.get('format')!r} (expected {FORMAT})")
    if "graph" not in design:
        raise ModelError(f"{path}: not a bitsmith build's design (no graph)")
    try:
        graph = load_graph(design["graph"])
        graph.check()
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError, RecursionError) as exc:
        raise ModelError(f"{path}: not a valid bitsmith design ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    from bitsmith.boards.bundle import read_core_io
    read_core_io(out_dir)          # the io section and the Verilog, checked
    return graph, design


def build(model: str | Path, out_dir: str | Path, opts: BuildOptions, *, progress=None) -> BuildResult:
    step = progress or (lambda msg: None)
    protect = model_inputs(model, opts)
    check_out_dir(Path(out_dir), protect)
    step(f"reading {Path(model).name}")
    log.info("building %s into %s", model, out_dir)
    graph, fit = prepare_for(load_model(model, opts), opts, progress=step)
    return write_bundle(graph, Path(out_dir), progress=progress, protect=protect, fit=fit)


def model_inputs(model: str | Path, opts: BuildOptions) -> tuple[Path, ...]:
    """The files a build reads (the model, a --fold file): an output folder must not hold them."""
    return tuple(Path(p) for p in (model, opts.fold_file()) if p)
