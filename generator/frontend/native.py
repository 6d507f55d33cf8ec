"""bitsmith's own network description: YAML or JSON plus an ``.npz`` of integer arrays.

```yaml
name: digits_bnn
input: {shape: [64], dtype: BIPOLAR}        # [C], [L, C] (a sequence) or [H, W, C]
arrays: digits.npz                           # relative to this file
layers:
  - {name: fc0, op: dense, weights: fc0_w, weight_dtype: BIPOLAR,
     thresholds: fc0_t, out_dtype: BIPOLAR, pe: 16, simd: 32}
  - {name: act, op: threshold, thresholds: t1, out_dtype: UINT2, out_bias: 0, pe: 4}
  - {name: fc2, op: dense, weights: fc2_w, weight_dtype: INT2}     # raw accumulator out
  - {name: top, op: topk, k: 1}
```

Layer ops: ``dense``, ``threshold``, ``reshape``, ``topk`` here, plus the ops of every
``native_*.py`` module of this package (conv, pooling, residual, branches, sparse...). Each op
declares its keys next to its parser with :func:`~.native_schema.native_op`; the file is
read within budgets (:mod:`.description`), its keys and value types checked against the
declarations, and every array converted exactly. ``docs/NATIVE.md`` (generated) lists
every op and key. Every error names the file and layer. A shape ``[L, C]`` (input or
``reshape``) is a sequence: the tensor ``(L, 1, C)`` the 1-D ops take (see
:mod:`bitsmith.generator.ir.conv`).

Adding an op (a few lines next to its parser)::

    @native_op("upsample", "Nearest-neighbour upsampling.",
               Key("scale", PAIR, "repeat factors [FH, FW]", required=True), PE)
    def parse_upsample(spec, in_shape, in_dtype, arrays, where): ...

then ``python -m bitsmith.generator.frontend.publish --write`` to republish.

Branches: a layer reads the previous layer's output unless it names its input with
``input: NAME`` (a layer name, or ``input`` for the network input); a layer with two or
more inputs (``add``, ``concat``) lists them with ``inputs: [a, b]``. A layer may only
read layers listed before it, so a description has no cycles. The network output is the
one layer nobody reads. A tensor read by several layers is forked automatically (or
write a ``fork`` layer). Accumulator widths are left to the ``acc_widths`` pass.

```yaml
layers:
  - {name: stem, op: conv, weights: w0, weight_dtype: INT4, pad: 1, thresholds: t0, out_dtype: UINT4}
  - {name: a, op: conv, weights: w1, weight_dtype: INT4, pad: 1, thresholds: t1, out_dtype: UINT4}
  - {name: b, op: conv, weights: w2, weight_dtype: INT4, pad: 1, thresholds: t2, out_dtype: UINT4}
  - {name: sum, op: add, inputs: [b, stem]}                  # b + stem
```
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import BitsmithError, ModelError
from ..ir import Graph, LabelSelect, MatrixVector, MultiThreshold, Reshape, Thresholds, dtype, host
from ..ir.integers import check_fits, to_int64
from ..ir.names import safe_name
from ..limits import MAX_LAYERS, TooLarge, check_tensor
from ..passes import settled as probe
from ..safeio import load_npz
from .description import read_description
from .native_schema import (ARRAY, DTYPE, FOLD, INT, INT_LIMIT, IDENT, OPS, SHAPE, Key, OpSpec,
                            check_description, check_keys, input_keys, int_range, native_op, short)

AUTO = 0  # folding placeholder resolved by generator.passes.fold


class Arrays:
    """The ``.npz`` arrays, with errors that name the layer asking for a missing one."""

    def __init__(self, path: Path | None, data: dict[str, np.ndarray]):
        self.path, self.data, self.used = path, data, set()

    def get(self, key, where: str, *, required: bool = True) -> np.ndarray | None:
        if key is None:
            if required:
                raise ModelError(f"{where}: missing array name")
            return None
        if not isinstance(key, str):
            raise ModelError(f"{where}: array names must be strings, not {short(key)}")
        if key not in self.data:
            raise ModelError(f"{where}: array {key!r} is not in {self.path.name if self.path else 'the arrays'}"
                             f" (has: {_listing(sorted(self.data)) or 'nothing'})")
        self.used.add(key)
        return self.data[key]


def _listing(names: list[str], limit: int = 20) -> str:
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def integer_array(arr: np.ndarray, what: str, where: str) -> np.ndarray:
    """``arr`` as exact int64 (see :func:`~generator.ir.integers.to_int64`)."""
    return to_int64(arr, f"{where}: {what}")


def matrix_weights(spec: dict, in_shape, arrays: "Arrays", where: str) -> np.ndarray:
    """The ``weights`` array of a matrix layer: exact integers, 2-D (out_features,
    in_features), as many inputs as the layer receives channels."""
    w = integer_array(arrays.get(spec.get("weights"), where), "weights", where)
    if w.ndim != 2:
        raise ModelError(f"{where}: weights must be 2-D (out_features, in_features), not shape {w.shape}")
    if w.shape[1] != in_shape[2]:
        raise ModelError(f"{where}: weights have {w.shape[1]} inputs but the layer receives "
                         f"{in_shape[2]} (input shape {tuple(in_shape)})")
    return w


def checked_weights(w: np.ndarray, wdt, where: str) -> None:
    """Refuse weights outside their datatype, naming the first one."""
    check_fits(w, wdt, f"{where}: weights")


def fold_value(spec: dict, key: str, where: str) -> int:
    value = spec.get(key, "auto")
    if value == "auto":
        return AUTO
    if not FOLD.accepts(value):
        raise ModelError(f"{where}: {key} must be {FOLD.text}, not {short(value)}")
    return value


# --------------------------------------------------------------------------- shared keys

WEIGHTS = Key("weights", ARRAY, "the weight matrix, (out_features, in_features)", required=True)
WEIGHT_DTYPE = Key("weight_dtype", DTYPE, "the datatype every weight must fit", required=True)
PE = Key("pe", FOLD, "processing elements: output channels computed in parallel (must divide them)",
         default="auto")
SIMD = Key("simd", FOLD, "input elements each PE takes per cycle (must divide the inputs)", default="auto")


def threshold_keys(required: bool = False) -> tuple[Key, ...]:
    """``thresholds``, ``out_dtype``, ``out_scale``, ``out_bias`` (qonnx MultiThreshold)."""
    return (
        Key("thresholds", ARRAY, "multi-threshold steps, (C, B) or (1, B) ascending integers: "
            "y = sum_i [acc >= T_i]", required=required,
            default_doc=None if required else "none: the layer outputs its accumulator"),
        Key("out_dtype", DTYPE, "the datatype of out_scale * y + out_bias", default_doc="required with thresholds"),
        Key("out_scale", INT, "output scale", default_doc="2 for a BIPOLAR out_dtype, else 1"),
        Key("out_bias", INT, "output bias", default_doc="-1 for a BIPOLAR out_dtype, else 0"),
    )


def parse_thresholds(spec: dict, arrays: Arrays, channels: int, where: str) -> Thresholds | None:
    if spec.get("thresholds") is None:
        for key in ("out_dtype", "out_scale", "out_bias"):
            if key in spec:
                raise ModelError(f"{where}: {key} given without thresholds")
        return None
    values = integer_array(arrays.get(spec["thresholds"], where), "thresholds", where)
    if values.ndim == 1:
        values = values.reshape(1, -1)
    if "out_dtype" not in spec:
        raise ModelError(f"{where}: thresholds need an out_dtype")
    odt = dtype(spec["out_dtype"])
    default_scale, default_bias = (2, -1) if odt.name == "BIPOLAR" else (1, 0)
    scale, bias = spec.get("out_scale", default_scale), spec.get("out_bias", default_bias)
    for name, v in (("out_scale", scale), ("out_bias", bias)):
        if not INT.accepts(v):
            raise ModelError(f"{where}: {name} must be {INT.text}, not {short(v)}")
    th = Thresholds(values=values, out_dtype=odt, out_scale=scale, out_bias=bias)
    th.check(where, channels)
    return th


# --------------------------------------------------------------------------- the ops

@native_op("dense", "A fully connected layer on a matrix-vector unit: acc = W x (XNOR-popcount when "
           "weights and inputs are BIPOLAR), then optionally a multi-threshold activation in the same "
           "unit; without thresholds it outputs the accumulator, its width proven from the weights.",
           WEIGHTS, WEIGHT_DTYPE, *threshold_keys(), PE, SIMD)
def parse_dense(spec, in_shape, in_dtype, arrays: Arrays, where: str):
    w = matrix_weights(spec, in_shape, arrays, where)
    wdt = dtype(spec["weight_dtype"])
    checked_weights(w, wdt, where)
    th = parse_thresholds(spec, arrays, w.shape[0], where)
    return MatrixVector(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype, weights=w,
                        weight_dtype=wdt, acc_dtype=None, thresholds=th,
                        pe=fold_value(spec, "pe", where), simd=fold_value(spec, "simd", where))


@native_op("threshold", "A stand-alone multi-threshold activation, per channel.",
           *threshold_keys(required=True), PE)
def parse_threshold(spec, in_shape, in_dtype, arrays: Arrays, where: str):
    th = parse_thresholds(spec, arrays, in_shape[2], where)
    return MultiThreshold(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype,
                          thresholds=th, pe=fold_value(spec, "pe", where))


FRAME_LAYOUTS = {1: "C", 2: "NLC", 3: "NHWC"}
"""The layout named for an input frame ``[C]``, ``[L, C]`` or ``[H, W, C]`` (batch first)."""


def shape3(shape) -> tuple[int, int, int]:
    """``[C]`` -> ``(1, 1, C)``, ``[L, C]`` -> ``(L, 1, C)`` (a sequence), ``[H, W, C]`` as is."""
    if len(shape) == 1:
        return (1, 1, shape[0])
    if len(shape) == 2:
        return (shape[0], 1, shape[1])
    return tuple(shape)


@native_op("reshape", "A new frame shape for the same values in the same (NHWC) order; free in hardware.",
           Key("shape", SHAPE, "the new frame shape, [C], [L, C] (a sequence) or [H, W, C], with as many "
               "elements", required=True))
def parse_reshape(spec, in_shape, in_dtype, arrays: Arrays, where: str):
    shape = shape3(spec["shape"])
    if int(np.prod(shape, dtype=object)) != int(np.prod(in_shape, dtype=object)):
        raise ModelError(f"{where}: cannot reshape {tuple(in_shape)} to {shape}")
    return Reshape(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype, shape=shape)


@native_op("topk", "The indices of the k largest values of a vector, best first (FINN's LabelSelect).",
           Key("k", int_range(1, INT_LIMIT), "how many indices", default=1), PE)
def parse_topk(spec, in_shape, in_dtype, arrays: Arrays, where: str):
    k = spec["k"]
    if not 1 <= k <= in_shape[2]:
        raise ModelError(f"{where}: k must be an integer in 1..{in_shape[2]}, not {k!r}")
    return LabelSelect(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype, k=k,
                       pe=fold_value(spec, "pe", where))


def native_ops() -> dict[str, OpSpec]:
    """Every native op: the ``native_*`` modules of this package are imported, so their
    ``@native_op`` parsers have registered. A module still exporting an undeclared
    ``NATIVE_OPS`` dict is a bug (its keys would go unchecked) and fails loudly."""
    package = importlib.import_module(__package__)
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("native_") and info.name != "native_schema":
            module = importlib.import_module(f"{__package__}.{info.name}")
            undeclared = set(getattr(module, "NATIVE_OPS", {})) - set(OPS)
            if undeclared:
                raise TypeError(f"{module.__name__}: native ops {sorted(undeclared)} have no key declaration; "
                                f"decorate their parsers with @native_op(name, doc, *keys)")
    return OPS


# --------------------------------------------------------------------------- the file

def load_arrays(path: Path, data: dict) -> Arrays:
    ref = data.get("arrays")
    if ref is None:
        return Arrays(None, {})
    npz = (path.parent / ref) if not Path(ref).is_absolute() else Path(ref)
    return Arrays(npz, load_npz(npz, f"{path}: arrays"))


def load_native(path: str | Path) -> Graph:
    """Read a native description into an (unfolded where 'auto') integer graph."""
    path = Path(path)
    return native_graph(read_description(path), path)


def native_graph(data, path: Path, arrays: Arrays | None = None) -> Graph:
    """The graph of a description already parsed into plain Python data (``read_description``,
    or a dict built in memory, see :func:`bitsmith.load`).

    ``path`` names the description in errors (and locates an ``arrays:`` file relative to
    it); ``arrays`` replaces the ``.npz`` the description names (a description given in
    memory with its arrays).
    """
    data = check_description(data, path)
    shape = data["input"]["shape"]
    in_shape = shape3(shape)
    check_tensor(in_shape, f"{path}: input")
    in_dtype = dtype(data["input"]["dtype"])
    layers = data["layers"]
    if len(layers) > MAX_LAYERS:
        raise TooLarge(f"{path}: {len(layers):,} layers; bitsmith's budget is {MAX_LAYERS:,}")
    if arrays is None:
        arrays = load_arrays(path, data)
    tensors = {INPUT: (tuple(in_shape), in_dtype)}
    nodes = parse_layers(layers, INPUT, tensors, arrays, container=str(path), scope=path.name,
                         label="layer", default_name=lambda i: f"layer{i}")
    if len(nodes) > MAX_LAYERS:
        raise TooLarge(f"{path}: {len(nodes):,} layers once residual blocks are expanded; bitsmith's "
                       f"budget is {MAX_LAYERS:,}")
    nodes = settle_forks(nodes, path.name)
    name = data.get("name", safe_name(path.stem))
    frame = host.InputFrame(shape=tuple(shape), layout=FRAME_LAYOUTS[len(shape)])
    graph = Graph(name=name, in_shape=in_shape, in_dtype=in_dtype, nodes=tuple(nodes), input_name=INPUT,
                  host_pre=(frame, host.ToNHWC(shape=in_shape)))
    check_folding_later(graph, path)
    return graph


INPUT = "input"
"""The network input's name, for ``input:``/``inputs:``."""


def layer_inputs(spec: dict, opspec: OpSpec, previous: str, tensors: dict, listed: set, where: str) -> list[str]:
    """The tensors a layer reads: its ``inputs`` (a multi-input op), its ``input``, or the
    layer before (``previous``); each must be in ``tensors`` (``listed``: every layer name
    of the list, to tell a later layer from an unknown one)."""
    given = check_keys({k: spec[k] for k in ("input", "inputs") if k in spec}, input_keys(opspec),
                       where, opspec.op)
    names = list(given["inputs"]) if opspec.multi_input else [given.get("input", previous)]
    for n in names:
        if n in tensors:
            continue
        if n == spec["name"]:
            raise ModelError(f"{where}: input {n!r} is the layer itself (a cycle)")
        if n in listed:
            raise ModelError(f"{where}: input {n!r} is listed after this layer (a layer reads only "
                             f"layers listed before it, so the network has no cycle)")
        raise ModelError(f"{where}: input {n!r} is not a layer listed before this one "
                         f"(known: {_listing(list(tensors))})")
    return names


def parse_layers(layers: list, first_input: str, tensors: dict, arrays: Arrays, *, container: str,
                 scope: str, label: str, default_name: Callable[[int], str]) -> list:
    """Parse a list of layer specs into nodes (the network's, or a residual body's).

    Each layer reads ``first_input`` (first layer) or the previous one unless it names
    its inputs; ``tensors`` maps every known tensor to ``(shape, dtype)`` and is updated.
    ``container`` prefixes errors about the list itself, ``scope`` the ones about a layer
    (``"<scope>: <label> 'name': problem"``); layers without a name get ``default_name(i)``.
    An op's parser gets ``(spec, in_shape, in_dtype, arrays, where)`` (``spec`` without
    ``input``/``inputs``), with tuples of shapes and dtypes for a ``multi_input`` op,
    plus ``input_name=`` for a ``takes_input_name`` one (see
    :class:`~.native_schema.OpSpec`); it
    returns a node or a list of nodes whose last is the layer's output, named like the
    layer (the front end sets a single node's ``inputs``).
    """
    ops = native_ops()
    nodes, previous = [], first_input
    listed = {name for i, spec in enumerate(layers) if isinstance(spec, dict)
              for name in (spec.get("name", default_name(i)),) if isinstance(name, str)}
    for i, spec in enumerate(layers):
        if not isinstance(spec, dict):
            raise ModelError(f"{container}: {label} {i} must be a mapping, not {short(spec)}")
        spec = dict(spec)
        spec.setdefault("name", default_name(i))
        name = spec["name"]
        if not IDENT.accepts(name):
            raise ModelError(f"{scope}: {label} {i}: name must be {IDENT.text}, not {short(name)}")
        where = f"{scope}: {label} {name!r}"
        if name in tensors:             # ('input', the network input's name, is a Verilog keyword)
            raise ModelError(f"{where}: duplicate layer name")
        op = spec.get("op")
        if not isinstance(op, str) or op not in ops:
            close = difflib.get_close_matches(op, list(ops), n=1) if isinstance(op, str) else []
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ModelError(f"{where}: unknown op {short(op)} ({hint}supported: {', '.join(sorted(ops))})")
        try:
            opspec = ops[op]
            inputs = layer_inputs(spec, opspec, previous, tensors, listed, where)
            spec = {k: v for k, v in spec.items() if k not in ("input", "inputs")}
            if opspec.multi_input:
                made = opspec.parse(spec, tuple(tensors[n][0] for n in inputs),
                                    tuple(tensors[n][1] for n in inputs), arrays, where)
            else:
                extra = {"input_name": inputs[0]} if opspec.takes_input_name else {}
                made = opspec.parse(spec, tensors[inputs[0]][0], tensors[inputs[0]][1], arrays, where,
                                    **extra)
        except ModelError as exc:
            msg = str(exc)
            raise type(exc)(msg if msg.startswith(scope) else f"{where}: {msg}") from None
        new = made if isinstance(made, list) else [made.replace(inputs=tuple(inputs))]
        for node in new:
            if node.name in tensors:
                raise ModelError(f"{where}: layer name {node.name!r} is used twice")
            check_tensor(node.out_shape, f"{where}: output" if node is new[-1] else
                         f"{where}: layer {node.name!r} output")
            tensors[node.name] = (tuple(node.out_shape), node.out_dtype)
        nodes.extend(new)
        previous = new[-1].name
    return nodes


def settle_forks(nodes: list, scope: str) -> list:
    """Give every ``fork`` layer written without ``outputs`` its number of readers."""
    from ..ir.branch import Fork
    out = []
    for node in nodes:
        if isinstance(node, Fork):
            readers = sum(src == node.name for n in nodes for src in n.inputs)
            if readers < 2 or node.outputs not in (0, readers):
                want = "two or more" if not node.outputs else node.outputs
                raise ModelError(f"{scope}: layer {node.name!r}: the fork has {readers} reader(s), "
                                 f"not {want}")
            node = node.replace(outputs=readers)
        out.append(node)
    return out


def check_folding_later(graph: Graph, path: Path) -> None:
    """Check everything but 'auto' foldings (the fold pass fills and rechecks those)."""
    try:
        graph.replace(nodes=tuple(probe(n) for n in graph.nodes)).check()
    except BitsmithError as exc:
        raise type(exc)(f"{path.name}: {exc}") from None
