"""The public Python API: load, fold, build, golden, simulate, verify, synthesise.

Everything here is re-exported by :mod:`bitsmith`; the ``bitsmith`` command line is a thin
layer over these functions (it parses options, reads and writes ``.npy`` files and prints).
A typical session::

    import numpy as np, bitsmith
    net = (bitsmith.Network("tiny", input_shape=[16], input_dtype="BIPOLAR")
           .dense(weights=w0, weight_dtype="BIPOLAR", thresholds=t0, out_dtype="BIPOLAR")
           .dense(weights=w1, weight_dtype="BIPOLAR")
           .topk(k=1))
    design = bitsmith.fold(net, target_cycles=16)      # PE/SIMD for at most 16 cycles/frame
    built = bitsmith.build(design, "out/tiny")          # Verilog, design.json, sim/, reports
    ref = bitsmith.golden(design, x)                    # the numpy golden model
    rtl = bitsmith.simulate(built, x)                   # Verilator (or simulator="amaranth")
    assert np.array_equal(ref.outputs, rtl.outputs)
    print(bitsmith.verify(design, x))                   # all of the above, checked

Every function takes a model in any form :func:`load` accepts, options as a
:class:`BuildOptions` and/or keyword arguments naming its fields, and returns a frozen
result whose ``repr`` is one short line (shapes, dtypes, cycle counts: never weights).
Errors the user can fix are :class:`~bitsmith.generator.errors.BitsmithError` subclasses
with one line naming the file, layer or option.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .generator.build import (BuildOptions, BuildResult, check_native_options, load_model, make_report,
                              prepare_for, read_bundle, write_bundle)
from .generator.errors import BitsmithError, ModelError, OptionError
from .generator.execute import Waves, run_amaranth, run_verilator
from .generator.ir import Graph
from .generator.ir.host import run_stages
from .generator.results import GoldenResult, SimResult, SynthResult, short_repr
from .generator.verify import VerifyResult, verify_graph

__all__ = ["BuildOptions", "BuildResult", "Design", "GoldenResult", "Model", "Network", "SimResult",
           "SynthResult", "VerifyResult", "build", "fold", "golden", "load", "open_build", "simulate",
           "synthesise", "verify", "run_on_board", "BoardRun"]

log = logging.getLogger(__name__)

Progress = Callable[[str], None] | None

LOAD_OPTIONS = ("input_dtype", "input_scale", "topk")
"""Options an ONNX model is read with (the front end places quantizers and top-K)."""

SIMULATORS = ("verilator", "amaranth")


def _options(options: BuildOptions | None, overrides: dict) -> BuildOptions:
    if options is not None and not isinstance(options, BuildOptions):
        raise OptionError(f"options must be a bitsmith.BuildOptions, not {type(options).__name__}")
    return (options or BuildOptions()).replace(**overrides)


def _step(progress: Progress) -> Callable[[str], None]:
    return progress or (lambda msg: None)


def _shape_text(dtype, shape) -> str:
    return f"{dtype.name}[{', '.join(str(d) for d in shape)}]"


# --------------------------------------------------------------------------- models

@dataclass(frozen=True, repr=False)
class Model:
    """A network as read by :func:`load`: the integer graph, not yet folded.

    Members
    -------
    graph : Graph
        The integer IR (``bitsmith.generator.ir``); layers left at ``pe``/``simd``
        ``auto`` (0) are folded by :func:`fold`.
    source : str
        Where it came from: the file, or ``<dict>``, ``<Network 'name'>``, ``<ModelProto>``,
        ``<ModelWrapper>``, ``<torch Module 'Class'>``.
    options : BuildOptions
        The options it was read with (an ONNX model's ``input_dtype``, ``input_scale``
        and ``topk`` are placed by the front end).
    path : Path or None
        The model file, when it came from one (never overwritten by a build).
    onnx : bytes or None
        The serialized ONNX model (a file's or one given in memory), for :func:`verify`'s
        check against qonnx's execution of the original model.
    """

    graph: Graph
    source: str
    options: BuildOptions = BuildOptions()
    path: Path | None = None
    onnx: bytes | None = None

    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def is_onnx(self) -> bool:
        return self.onnx is not None or (self.path is not None and self.path.suffix == ".onnx")

    def __repr__(self) -> str:
        g = self.graph
        return short_repr("Model", repr(g.name), f"source={self.source!r}", f"layers={len(g.nodes)}",
                          f"input={_shape_text(g.in_dtype, g.in_shape)}",
                          f"output={_shape_text(g.out_dtype, g.out_shape)}")


@dataclass(frozen=True, repr=False)
class Design:
    """A folded model (:func:`fold`): every layer's PE/SIMD, accumulator widths and FIFO
    depths settled, ready for :func:`build`, :func:`golden` or :func:`verify`.

    Members
    -------
    model : Model
        What was folded.
    graph : Graph
        The folded graph.
    options : BuildOptions
        The options it was folded with.
    fit : dict or None
        With ``board=`` and no folding of its own (no ``fold`` file or mapping, cycle or
        fps target): the board's choice, the fastest folding whose per-family estimate
        fits the board (``report.json``'s ``fit``); else ``None``.
    """

    model: Model
    graph: Graph
    options: BuildOptions
    fit: dict | None = None

    @property
    def name(self) -> str:
        return self.graph.name

    @cached_property
    def layers(self) -> tuple[dict, ...]:
        """One row per layer, as in ``report.json``: kind, shapes, dtypes, ``pe``/``simd``,
        ideal cycles and the resource estimate."""
        from .generator.build import layer_rows
        return tuple(layer_rows(self.graph))

    @property
    def ideal_cycles_per_frame(self) -> int:
        """The folding bound, the slowest layer's cycles per frame."""
        from .generator.estimate import graph_cycles
        return graph_cycles(self.graph)

    @property
    def bottleneck(self) -> str | None:
        """The name of the slowest layer."""
        return max(self.layers, key=lambda r: r["cycles"])["name"] if self.layers else None

    @property
    def folding(self) -> dict[str, dict[str, int]]:
        """``{layer: {"pe": P, "simd": S}}`` of the foldable layers: the ``fold=`` mapping
        (or ``--fold`` JSON) that reproduces this design."""
        return {r["name"]: {k: r[k] for k in ("pe", "simd") if k in r}
                for r in self.layers if "pe" in r or "simd" in r}

    def __repr__(self) -> str:
        return short_repr("Design", repr(self.name), f"layers={len(self.graph.nodes)}",
                          ideal_cycles_per_frame=self.ideal_cycles_per_frame, bottleneck=self.bottleneck)


@dataclass(frozen=True, repr=False)
class Network:
    """A native description written in Python: ``Network(...).dense(...).conv(...)``.

    Each layer method returns a new network with the layer appended. The methods are the
    native ops of ``docs/NATIVE.md`` (``dense``, ``threshold``, ``conv``, ``maxpool``,
    ``add``, ``topk``, ...: every op the native front end declares), and take that op's
    keys as keyword arguments; :meth:`layer` takes the op by name. A key given a numpy
    array (``weights``, ``thresholds``) is stored with the network and named after the
    layer, so no ``.npz`` file is needed. The network is checked when it is loaded
    (:func:`load`, or any function given it), with the same messages as a file.

    Parameters
    ----------
    name : str
        The network's name, the Verilog top module (an identifier).
    input_shape : sequence of int
        One frame: ``[C]``, ``[L, C]`` (a sequence) or ``[H, W, C]``.
    input_dtype : str
        The input's qonnx datatype (``"BIPOLAR"``, ``"UINT8"``, ...).

    Examples
    --------
    >>> w = np.where(np.arange(32).reshape(2, 16) % 3, 1, -1)
    >>> net = Network("tiny", input_shape=[16], input_dtype="BIPOLAR").dense(
    ...     weights=w, weight_dtype="BIPOLAR", pe=2, simd=4)
    >>> net
    Network('tiny', input=BIPOLAR[16], layers=['layer0: dense'])
    """

    name: str
    input_shape: tuple
    input_dtype: str
    layers: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "input_shape", tuple(self.input_shape)
                           if isinstance(self.input_shape, (list, tuple)) else self.input_shape)

    def layer(self, op: str, name: str | None = None, **keys) -> "Network":
        """This network with a layer of native ``op`` appended (``keys``: the op's keys).

        Unnamed layers are called ``layer<i>`` as in a file.
        """
        if not isinstance(op, str):
            raise OptionError(f"op must be a native op name, not {op!r:.80}")
        spec = {"name": name if name is not None else f"layer{len(self.layers)}", "op": op, **keys}
        return dataclasses.replace(self, layers=self.layers + (spec,))

    def __getattr__(self, op: str):
        if op.startswith("_"):
            raise AttributeError(op)
        from .generator.frontend.native import native_ops
        if op not in native_ops():
            raise AttributeError(f"'Network' has no attribute {op!r} (native ops: "
                                 f"{', '.join(sorted(native_ops()))})")

        def add(name: str | None = None, **keys) -> Network:
            return self.layer(op, name, **keys)
        add.__doc__ = native_ops()[op].doc
        add.__name__ = op
        return add

    def __dir__(self):
        from .generator.frontend.native import native_ops
        return sorted(set(super().__dir__()) | set(native_ops()))

    def description(self) -> tuple[dict, dict[str, np.ndarray]]:
        """``(description, arrays)``: the native description as plain data, every array
        key replaced by the name of its entry in ``arrays`` (``<layer>_<key>``)."""
        arrays: dict[str, np.ndarray] = {}

        def lift(value, label: str):
            if isinstance(value, np.ndarray):
                key = label
                while key in arrays:
                    key += "_"
                arrays[key] = value
                return key
            if isinstance(value, dict):
                return {k: lift(v, f"{label}_{k}" if k != "layers" else label) for k, v in value.items()}
            if isinstance(value, (list, tuple)) and any(isinstance(v, (np.ndarray, dict)) for v in value):
                return [lift(v, f"{label}_{i}") for i, v in enumerate(value)]
            return list(value) if isinstance(value, tuple) else value

        layers = []
        for spec in self.layers:
            name = spec["name"] if isinstance(spec.get("name"), str) else "layer"
            layers.append({k: lift(v, f"{name}_{k}") if k not in ("name", "op") else v for k, v in spec.items()})
        shape = list(self.input_shape) if isinstance(self.input_shape, tuple) else self.input_shape
        return ({"name": self.name, "input": {"shape": shape, "dtype": self.input_dtype}, "layers": layers},
                arrays)

    def save(self, path: str | Path) -> Path:
        """Write the description to ``path`` (``.yaml`` or ``.json``) and its arrays to an
        ``.npz`` beside it (same stem); returns ``path``. ``bitsmith build path`` reads it."""
        import json

        import yaml
        path = Path(path)
        if path.suffix not in (".yaml", ".yml", ".json"):
            raise OptionError(f"a native description is a .yaml, .yml or .json file, not {path.name!r}")
        data, arrays = self.description()
        if arrays:
            data = {**data, "arrays": path.with_suffix(".npz").name}
            np.savez(path.with_suffix(".npz"), **arrays)
        text = json.dumps(data, indent=1) if path.suffix == ".json" else yaml.safe_dump(data, sort_keys=False)
        path.write_text(text)
        return path

    def __repr__(self) -> str:
        shape = ", ".join(str(d) for d in self.input_shape) if isinstance(self.input_shape, tuple) \
            else repr(self.input_shape)
        layers = [f"{s.get('name')}: {s.get('op')}" for s in self.layers]
        return f"Network({self.name!r}, input={self.input_dtype}[{shape}], layers={layers!r})"


# --------------------------------------------------------------------------- load

def load(source: Any, options: BuildOptions | None = None, *, arrays: Mapping[str, np.ndarray] | None = None,
         example_input=None, progress: Progress = None, **overrides) -> Model:
    """Read a network into a :class:`Model`.

    Parameters
    ----------
    source
        * a path (``str`` or ``Path``): ``.onnx`` (QONNX / FINN-ONNX) or a native
          ``.yaml``/``.yml``/``.json`` description with its ``.npz``;
        * an ``onnx.ModelProto`` or a qonnx ``ModelWrapper``, held in memory;
        * a native description as a ``dict`` (the file's content) with its ``arrays``;
        * a :class:`Network`;
        * a Brevitas (torch) module, exported on the fly with Brevitas' QONNX exporter
          (needs the ``train`` extra) — give ``example_input``;
        * a :class:`Model` (returned as it is).
    options : BuildOptions, optional
        ``input_dtype``, ``input_scale`` and ``topk`` matter here (ONNX); the others are
        kept for :func:`fold`.
    arrays : mapping of str to numpy.ndarray, optional
        The integer arrays a ``dict`` description names (instead of an ``.npz``).
    example_input : torch.Tensor or tuple of int, optional
        A torch module's example input, or its shape (batch first) for a random one.
    progress : callable, optional
        Called with a short message at each step.
    **overrides
        :class:`BuildOptions` fields.

    Returns
    -------
    Model

    Raises
    ------
    ModelError
        A malformed or unsupported model, naming the file or layer.
    OptionError
        A bad option, or a source of a kind bitsmith cannot read.

    Examples
    --------
    >>> m = bitsmith.load("tests/models/TFC_2W2A.onnx", input_dtype="UINT8", input_scale=1/255)
    >>> m = bitsmith.load({"input": {"shape": [4], "dtype": "BIPOLAR"},
    ...                    "layers": [{"op": "dense", "weights": "w", "weight_dtype": "BIPOLAR"}]},
    ...                   arrays={"w": np.ones((2, 4), dtype=int)})
    """
    opts = _options(options, overrides)
    if isinstance(source, Model):
        _check_load_options(source, opts)
        return source
    if isinstance(source, Network):
        data, net_arrays = source.description()
        return _from_description(data, net_arrays, opts, f"<Network {source.name!r}>")
    if isinstance(source, Mapping):
        if arrays is not None and not isinstance(arrays, Mapping):
            raise OptionError(f"arrays must map names to numpy arrays, not {type(arrays).__name__}")
        return _from_description(dict(source), dict(arrays or {}), opts, "<dict>")
    if arrays is not None:
        raise OptionError("arrays go with a description given as a dict")
    if isinstance(source, (str, Path)):
        path = Path(source)
        _step(progress)(f"reading {path.name}")
        graph = load_model(path, opts)
        return Model(graph=graph, source=str(path), options=opts, path=path)
    proto, kind = _onnx_proto(source)
    if proto is not None:
        return _from_onnx_bytes(proto.SerializeToString(), opts, kind, proto.graph.name or "model")
    if _is_torch_module(source):
        return _from_torch(source, example_input, opts)
    raise OptionError(f"cannot load a {type(source).__name__}: give a model file, an onnx ModelProto, a qonnx "
                      f"ModelWrapper, a native description dict, a bitsmith.Network or a torch module")


def _check_load_options(model: Model, opts: BuildOptions) -> None:
    for key in LOAD_OPTIONS if model.is_onnx else ("input_dtype", "input_scale"):
        if getattr(opts, key) != getattr(model.options, key) and getattr(opts, key) is not None:
            raise OptionError(f"{key} is read with the model: pass it to bitsmith.load "
                              f"({model.name!r} was loaded with {key}={getattr(model.options, key)!r})")


def _from_description(data: dict, arrays: dict, opts: BuildOptions, source: str) -> Model:
    from .generator.frontend.native import Arrays, native_graph
    from .generator.limits import check_graph
    checked = {}
    for key, value in arrays.items():
        a = np.asarray(value)
        if not isinstance(key, str) or a.dtype.kind not in "biuf":
            raise ModelError(f"{source}: array {key!r} must be a numeric numpy array, not {a.dtype}")
        checked[key] = a
    if "arrays" in data:
        raise ModelError(f"{source}: a description given in memory takes its arrays as arrays=, "
                         f"not an 'arrays' file")
    label = Path(source)
    graph = native_graph(data, label, Arrays(None, checked))
    check_graph(graph)
    return Model(graph=check_native_options(graph, opts, source), source=source, options=opts)


def _onnx_proto(source):
    """``(ModelProto, kind)`` for an onnx ``ModelProto`` or a qonnx ``ModelWrapper``."""
    import onnx
    if isinstance(source, onnx.ModelProto):
        return source, "<ModelProto>"
    from qonnx.core.modelwrapper import ModelWrapper
    if isinstance(source, ModelWrapper):
        return source.model, "<ModelWrapper>"
    return None, None


@contextlib.contextmanager
def _onnx_file(data: bytes, name: str, label: str):
    """``data`` as ``<tmp>/<name>.onnx``; errors naming the temporary file name ``label``."""
    from .generator.ir.names import safe_name
    with tempfile.TemporaryDirectory(prefix="bitsmith-onnx-") as tmp:
        path = Path(tmp) / f"{safe_name(name)}.onnx"
        path.write_bytes(data)
        try:
            yield path
        except BitsmithError as exc:
            text = str(exc).replace(str(path), label).replace(str(tmp), label)
            raise type(exc)(text) from None


def _from_onnx_bytes(data: bytes, opts: BuildOptions, label: str, name: str) -> Model:
    with _onnx_file(data, name, label) as path:
        graph = load_model(path, opts)
    return Model(graph=graph, source=label, options=opts, onnx=data)


def _is_torch_module(source) -> bool:
    import sys
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(source, torch.nn.Module)


def _from_torch(module, example_input, opts: BuildOptions) -> Model:
    try:
        import torch
        from brevitas.export import export_qonnx
    except ImportError:
        raise OptionError("loading a torch module needs the train extra (torch, brevitas): "
                          "pip install 'bitsmith[train]'") from None
    if example_input is None:
        raise OptionError("a torch module needs example_input= (a tensor, or the input shape batch first)")
    if not isinstance(example_input, torch.Tensor):
        shape = tuple(example_input)
        if not shape or not all(isinstance(d, int) and d > 0 for d in shape):
            raise OptionError(f"example_input must be a tensor or a shape of positive integers, "
                              f"not {example_input!r:.80}")
        example_input = torch.randn(shape)
    name = type(module).__name__
    with tempfile.TemporaryDirectory(prefix="bitsmith-export-") as tmp:
        path = Path(tmp) / "model.onnx"
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                export_qonnx(module, example_input, export_path=str(path), dynamo=False)
        finally:
            module.train(was_training)
        data = path.read_bytes()
    return _from_onnx_bytes(data, opts, f"<torch Module {name!r}>", name)


def _as_model(source, opts: BuildOptions, progress: Progress = None) -> Model:
    if isinstance(source, (Design, BuildResult)):
        raise OptionError(f"a {type(source).__name__} is already folded: give the model, or no options")
    return load(source, opts, progress=progress)


# --------------------------------------------------------------------------- fold, build

def fold(model: Any, options: BuildOptions | None = None, *, progress: Progress = None, **overrides) -> Design:
    """Run the pass pipeline: accumulator widths, top-K, sparsify, forks, folding, FIFO sizing.

    Parameters
    ----------
    model
        Anything :func:`load` accepts.
    options : BuildOptions, optional
        ``fold`` (``"auto"``, a JSON file or a ``{layer: {"pe": P, "simd": S}}`` mapping),
        ``target_cycles`` or ``target_fps`` with ``clock_mhz``, ``topk``, ``sparse``, ``shift``,
        ``winograd``; ``board``: without a folding of its own, the fastest folding that fits
        the board (``Design.fit``), XNOR layers counting as the board's family does best.
    progress : callable, optional
        Called with a short message at each step.
    **overrides
        :class:`BuildOptions` fields.

    Returns
    -------
    Design

    Raises
    ------
    FoldingError
        A folding that does not divide a layer's dimensions.

    Examples
    --------
    >>> fast = bitsmith.fold(net, target_cycles=8)
    >>> small = bitsmith.fold(net, fold={"fc0": {"pe": 1, "simd": 4}})
    >>> fast.ideal_cycles_per_frame, fast.folding
    """
    opts = _options(options, overrides)
    m = _as_model(model, opts, progress)
    # what the model was read with, unless given again (an ONNX model refuses a change: load)
    opts = opts.replace(**{k: getattr(m.options, k) for k in LOAD_OPTIONS if getattr(opts, k) is None})
    graph, fit = prepare_for(m.graph, opts, progress=progress)
    return Design(model=m, graph=graph, options=opts, fit=fit)


def _design(model, options, overrides, progress) -> Design:
    if isinstance(model, Design):
        if options is not None or overrides:
            raise OptionError("a Design is already folded: give its options to bitsmith.fold")
        return model
    return fold(model, options, progress=progress, **overrides)


def _protected(model, opts: BuildOptions, protect) -> tuple[Path, ...]:
    files = [Path(p) for p in protect]
    path = model.model.path if isinstance(model, Design) else \
        model.path if isinstance(model, Model) else Path(model) if isinstance(model, (str, Path)) else None
    return tuple(p for p in [path, opts.fold_file()] + files if p is not None)


def build(model: Any, out_dir: str | Path, options: BuildOptions | None = None, *, progress: Progress = None,
          protect=(), **overrides) -> BuildResult:
    """Fold ``model`` (unless it is a :class:`Design`) and write the build folder ``out_dir``.

    ``out_dir`` gets ``design.json``, ``rtl/<name>.v``, ``sim/``, ``report.json``/``.md``/
    ``.html``, written atomically; an existing ``out_dir`` is replaced only when it holds
    exactly an earlier bitsmith build, never when it holds the model or a path in
    ``protect``. With ``board=``, the board's flow runs too (:func:`synthesise`) and the
    result's ``synth`` holds its figures.

    Returns
    -------
    BuildResult
        ``out_dir``, the folded ``graph``, the stream ``io`` and the ``report``.

    Examples
    --------
    >>> built = bitsmith.build("model.yaml", "out/model", target_cycles=64)
    >>> built.report["ideal_cycles_per_frame"], built.report["estimate"]["luts"]
    """
    from .generator.outdir import check_out_dir
    opts = model.options if isinstance(model, Design) and options is None and not overrides \
        else _options(options, overrides)
    if opts.board:
        from .boards import get_board
        get_board(opts.board)           # an unknown board is refused before anything is built
    keep = _protected(model, opts, protect)
    check_out_dir(Path(out_dir), keep)
    log.info("building %s into %s", model if isinstance(model, (str, Path)) else repr(model), out_dir)
    design = _design(model, options, overrides, progress)
    if not opts.board:
        return write_bundle(design.graph, Path(out_dir), progress=progress, protect=keep, fit=design.fit)
    return _synthesise_fitting(design, Path(out_dir), keep, progress)


def _synthesise_fitting(design: Design, out_dir: Path, keep, progress) -> BuildResult:
    """Build and synthesise ``design`` for its board; when the board chose the folding
    (``design.fit``) and the design does not fit after all, the next slower folding the
    estimate fits (:func:`bitsmith.generator.fit.refold.synthesise_to_fit`). The report's
    ``fit.refused`` lists the foldings the tools refused and why."""
    from .generator.fit.refold import synthesise_to_fit
    opts = design.options
    fitted = synthesise_to_fit(
        design.graph, design.fit, progress=progress,
        write=lambda graph, fit: write_bundle(graph, out_dir, progress=progress, protect=keep, fit=fit),
        synthesise=lambda built: synthesise(built, opts.board, clock_mhz=opts.clock_mhz, progress=progress),
        refold=lambda cycles: prepare_for(design.model.graph, opts, progress=progress, slower_than=cycles))
    if fitted.refusal is not None:
        raise fitted.refusal
    return dataclasses.replace(fitted.built, synth=fitted.synth)


def open_build(out_dir: str | Path) -> BuildResult:
    """The :class:`BuildResult` of an existing build folder (its ``design.json`` checked).

    Examples
    --------
    >>> built = bitsmith.open_build("out/model")
    """
    graph, design = read_bundle(out_dir)
    return BuildResult(out_dir=Path(out_dir), graph=graph, io=design["io"],
                       report=make_report(graph, design["io"], 0.0))


def _built(build_or_dir) -> BuildResult:
    if isinstance(build_or_dir, BuildResult):
        return build_or_dir
    if isinstance(build_or_dir, (str, Path)):
        return open_build(build_or_dir)
    raise OptionError(f"give a BuildResult or a build folder, not {type(build_or_dir).__name__}")


# --------------------------------------------------------------------------- run

def golden(model: Any, x: np.ndarray, options: BuildOptions | None = None, *, x_name: str = "x",
           progress: Progress = None, **overrides) -> GoldenResult:
    """Run the numpy golden model (host-pre, the integer core, host-post) on ``x``.

    Parameters
    ----------
    model
        Anything :func:`fold` accepts, a :class:`Design`, or a :class:`BuildResult`.
    x : numpy.ndarray
        The model's own input, batch first (integers of the input datatype for a native
        model; floats for an ONNX model, quantized as its input quantizer does).
    x_name : str
        How errors about ``x`` name it.

    Returns
    -------
    GoldenResult
        ``outputs`` (after host-post) and ``core_outputs`` (what the hardware emits).

    Examples
    --------
    >>> y = bitsmith.golden(design, x).outputs
    """
    from .generator.dataio import hardware_input
    from .sim.golden import run_graph
    graph = model.graph if isinstance(model, BuildResult) and options is None and not overrides \
        else _design(model, options, overrides, progress).graph
    xi = hardware_input(graph, np.asarray(x), x_name)
    _step(progress)(f"golden model on {len(xi)} frames")
    core = run_graph(graph, xi)
    return GoldenResult(outputs=run_stages(graph.host_post, core), core_outputs=core)


def simulate(build: BuildResult | str | Path, x: np.ndarray, *, simulator: str = "verilator",
             waves: str | Path | Waves | None = None, idle: str = "none", backpressure: str = "none",
             x_name: str = "x", progress: Progress = None) -> SimResult:
    """Run a built design on ``x`` in Verilator (compiled once, cached) or the Amaranth simulator.

    Parameters
    ----------
    build : BuildResult, str or Path
        A :func:`build` result or a build folder.
    x : numpy.ndarray
        The model's own input, batch first (host-pre runs in numpy, as in :func:`golden`).
    simulator : {"verilator", "amaranth"}
    waves : str, Path or Waves, optional
        Write a VCD of the run (named signals; a :class:`~bitsmith.generator.execute.Waves`
        picks every signal or a window of frames).
    idle, backpressure : {"none", "cycle", "random"}
        Verilator only: source idle and sink backpressure patterns.

    Returns
    -------
    SimResult
        Outputs and measured cycles per frame.

    Examples
    --------
    >>> rtl = bitsmith.simulate(built, x)
    >>> rtl.cycles_per_frame, rtl.outputs.shape
    """
    from .generator.dataio import hardware_input
    from .generator.safeio import is_vcd, output_file
    if simulator not in SIMULATORS:
        raise OptionError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    if simulator == "amaranth" and (idle, backpressure) != ("none", "none"):
        raise OptionError("idle and backpressure patterns apply to the Verilator simulator")
    built = _built(build)
    xi = hardware_input(built.graph, np.asarray(x), x_name)
    with contextlib.ExitStack() as stack:
        if isinstance(waves, (str, Path)):
            tmp = stack.enter_context(output_file(waves, "waves", suffix_ok=is_vcd,
                                                  protect=(built.out_dir / "design.json",)))
            waves = Waves(Path(tmp))
        elif waves is not None and not isinstance(waves, Waves):
            raise OptionError(f"waves must be a .vcd path, not {type(waves).__name__}")
        _step(progress)(f"simulating {len(xi)} frames in {simulator}")
        if simulator == "verilator":
            run = run_verilator(built.out_dir, built.io, xi, idle=idle, backpressure=backpressure, waves=waves)
        else:
            run = run_amaranth(built.graph, xi, waves=waves)
    return SimResult(outputs=run_stages(built.graph.host_post, run.outputs), core_outputs=run.outputs,
                     simulator=simulator, cycles_per_frame=run.cycles_per_frame, total_cycles=run.total_cycles,
                     protocol_errors=run.protocol_errors, mean_cycles_per_frame=run.mean_cycles_per_frame,
                     longest_frame_gap=run.longest_frame_gap)


def verify(model: Any, x: np.ndarray, options: BuildOptions | None = None, *, expected: np.ndarray | None = None,
           out_dir: str | Path | None = None, idle: str = "none", backpressure: str = "none", x_name: str = "x",
           protect=(), progress: Progress = None, **overrides) -> VerifyResult:
    """Build, run Verilator, and check RTL == golden on every frame of ``x`` (DESIGN.md §5).

    An ONNX model's golden outputs are also checked against qonnx's execution of the
    original model; ``expected`` (outputs or labels) is checked against the final outputs.

    Parameters
    ----------
    model
        Anything :func:`fold` accepts, or a :class:`Design`.
    x : numpy.ndarray
        The model's own input, batch first.
    expected : numpy.ndarray, optional
        Expected outputs, or labels (compared with the argmax of scores).
    out_dir : str or Path, optional
        Keep the build there (default: a temporary folder).

    Returns
    -------
    VerifyResult
        ``passed``, mismatch counts, measured and ideal cycles per frame, ``details``.

    Examples
    --------
    >>> res = bitsmith.verify("tests/models/TFC_2W2A.onnx", x, topk=1)
    >>> res.passed, res.cycles_per_frame, res.ideal_cycles_per_frame
    """
    from .generator.outdir import check_out_dir
    opts = model.options if isinstance(model, Design) and options is None and not overrides \
        else _options(options, overrides)
    keep = _protected(model, opts, protect)
    if out_dir is not None:
        check_out_dir(Path(out_dir), keep)
    design = _design(model, options, overrides, progress)
    m = design.model
    with contextlib.ExitStack() as stack:
        reference = None
        if m.onnx is not None:
            reference = stack.enter_context(_onnx_file(m.onnx, m.name, m.source))
        elif m.is_onnx:
            reference = m.path
        return verify_graph(design.graph, np.asarray(x), x_source=x_name, expected=expected,
                            out_dir=None if out_dir is None else Path(out_dir), idle=idle,
                            backpressure=backpressure, progress=progress, protect=keep, reference=reference)


def synthesise(build: BuildResult | str | Path, board: str, *, clock_mhz: float | None = None, seeds: int = 1,
               baud: int = 115200, progress: Progress = None) -> SynthResult:
    """Synthesise (and place and route, where the flow is open) a build for ``board``.

    Writes ``board/<board>/`` in the build folder (bitstream or vendor project scripts,
    ``synth.json``) and refreshes its report with the figures.

    Parameters
    ----------
    build : BuildResult, str or Path
        A :func:`build` result or a build folder.
    board : str
        A board name (``bitsmith boards`` lists them).
    clock_mhz : float, optional
        The core clock (default: the board's oscillator).
    seeds : int
        iCE40/ECP5: place and route with seeds 1..N and keep the fastest.
    baud : int
        The UART shell's baud rate.

    Returns
    -------
    SynthResult
        ``luts``, ``ffs``, ``brams``, ``dsps``, ``fmax_mhz``, ``fits`` and all figures.

    Examples
    --------
    >>> s = bitsmith.synthesise(built, "icebreaker")
    >>> s.luts, s.fmax_mhz, s.fits
    """
    from .generator.outdir import board_folder
    from .generator.report import synthesise as run_flow
    if not isinstance(build, (BuildResult, str, Path)):
        raise OptionError(f"give a BuildResult or a build folder, not {type(build).__name__}")
    out_dir = build.out_dir if isinstance(build, BuildResult) else Path(build)
    figures = run_flow(Path(out_dir), board, clock_mhz=clock_mhz, progress=progress, baud=baud, seeds=seeds,
                       guard=board_folder)
    return SynthResult(out_dir=Path(out_dir), board=board, figures=figures)


@dataclass(frozen=True, repr=False)
class BoardRun:
    """What :func:`run_on_board` got back from the board.

    Members
    -------
    outputs : numpy.ndarray
        The model's outputs, batch first, after host-post (a bare core's: its integer frames).
    core_outputs : numpy.ndarray
        The core's integer output frames, as the board sent them.
    board : str
        The board name.
    """

    outputs: np.ndarray
    core_outputs: np.ndarray
    board: str

    def __repr__(self) -> str:
        return short_repr("BoardRun", repr(self.board), frames=len(self.core_outputs), outputs=self.outputs)


def run_on_board(build: BuildResult | str | Path, x: np.ndarray, *, board: str, port: str, baud: int | None = None,
                 timeout: float | None = None, retries: int = 3, x_name: str = "x",
                 board_label: str = "board") -> BoardRun:
    """Run the frames of ``x`` on a board programmed from ``build``, through its UART shell.

    Exactly as :func:`simulate` runs them in Verilator: host-pre turns the model's input into
    the core's integer frames, the board computes, host-post finishes. A build folder
    without a graph (a bare core) takes and returns the core's integer frames as they are.

    Parameters
    ----------
    build : BuildResult, str or Path
        The build the board was programmed from (its ``design.json`` says how frames are packed).
    x : numpy.ndarray
        The model's own input, batch first.
    board : str
        The board (iCE40/ECP5 boards and Xilinx 7-series boards built with the UART shell).
    port : str
        The serial device.
    baud : int, optional
        Default: the rate :func:`synthesise` built the shell with, else 115200.
    timeout : float, optional
        Seconds allowed per response (default from the frame sizes and the baud rate).
    retries : int
        Re-sends of a frame after a detected error (a CRC mismatch, a lost byte).
    board_label : str
        How errors about ``board`` name it (the CLI says ``--board``).

    Returns
    -------
    BoardRun

    Examples
    --------
    >>> y = bitsmith.run_on_board("out/net", x, board="icebreaker", port="/dev/ttyUSB1").outputs
    """
    import json

    from .boards import get_board
    from .boards.bundle import read_core_io
    from .boards.host import Link, board_baud, default_timeout, open_port, run_frames
    from .boards.synth import DEFAULT_BAUD
    from .generator.dataio import hardware_input
    from .generator.execute import with_preload
    spec = get_board(board)
    if spec.flow != "open" and spec.family != "xc7":
        raise OptionError(f"{board_label} {spec.name}: no UART shell on this board "
                          f"(use the generated PYNQ driver on the board itself)")
    if not isinstance(build, (BuildResult, str, Path)):
        raise OptionError(f"give a BuildResult or a build folder, not {type(build).__name__}")
    out = build.out_dir if isinstance(build, BuildResult) else Path(build)
    core = read_core_io(out)
    x = np.asarray(x)
    graph = None
    if isinstance(build, BuildResult):
        graph = build.graph
    elif "graph" in json.loads((out / "design.json").read_bytes()):
        graph = open_build(out).graph
    if graph is not None:
        x = hardware_input(graph, x, x_name)
    # weights in SPRAM: their loading frames go first (after a reset they load the
    # weights; once loaded they are ordinary frames), and their outputs are dropped
    x, skip = with_preload(out, json.loads((out / "design.json").read_bytes())["io"], x)
    baud = baud or board_baud(out, spec.name, DEFAULT_BAUD)
    with open_port(port, baud) as serial_port:
        link = Link(serial_port, timeout_s=timeout or default_timeout(core, baud), retries=retries)
        y = run_frames(core, link, x, where=x_name)[skip:]
    return BoardRun(outputs=y if graph is None else run_stages(graph.host_post, y), core_outputs=y,
                    board=spec.name)
