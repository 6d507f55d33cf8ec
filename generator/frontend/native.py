"""bitsmith's own network description: YAML or JSON plus an ``.npz`` of integer arrays.

```yaml
name: digits_bnn
input: {shape: [64], dtype: BIPOLAR}        # [C] or [H, W, C]
arrays: digits.npz                           # relative to this file
layers:
  - {name: fc0, op: dense, weights: fc0_w, weight_dtype: BIPOLAR,
     thresholds: fc0_t, out_dtype: BIPOLAR, pe: 16, simd: 32}
  - {name: act, op: threshold, thresholds: t1, out_dtype: UINT2, out_bias: 0, pe: 4}
  - {name: fc2, op: dense, weights: fc2_w, weight_dtype: INT2}     # raw accumulator out
  - {name: top, op: topk, k: 1}
```

Layer ops: ``dense`` (weights ``(out_features, in_features)``; optional ``thresholds``
``(C, B)`` or ``(1, B)`` with ``out_dtype``, ``out_scale``, ``out_bias``; BIPOLAR outputs
default to scale 2, bias -1), ``threshold``, ``reshape`` (``shape``), ``topk`` (``k``),
plus the ops contributed by ``native_conv`` (convolutions, pooling, ``residual``),
``native_branch`` (``fork``, ``add``, ``concat``) and ``native_sparse``. ``pe``/``simd``
may be integers or ``auto`` (chosen by the folding pass). Accumulator widths are left
to the ``acc_widths`` pass. Every error names the file and layer.

Branches: a layer reads the previous layer's output unless it names its input with
``input: NAME`` (a layer name, or ``input`` for the network input); a layer with two or
more inputs (``add``, ``concat``) lists them with ``inputs: [a, b]``. A layer may only
read layers listed before it. The network output is the one layer nobody reads. A
tensor read by several layers is forked automatically (or write a ``fork`` layer).

```yaml
layers:
  - {name: stem, op: conv, weights: w0, weight_dtype: INT4, pad: 1, thresholds: t0, out_dtype: UINT4}
  - {name: a, op: conv, weights: w1, weight_dtype: INT4, pad: 1, thresholds: t1, out_dtype: UINT4}
  - {name: b, op: conv, weights: w2, weight_dtype: INT4, pad: 1, thresholds: t2, out_dtype: UINT4}
  - {name: sum, op: add, inputs: [b, stem]}                  # b + stem
```
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import yaml

from ..errors import BitsmithError, ModelError
from ..ir import Graph, LabelSelect, MatrixVector, MultiThreshold, Reshape, Thresholds, dtype
from ..ir.core import values_fit
from ..passes import settled as probe

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
            raise ModelError(f"{where}: array names must be strings, not {key!r}")
        if key not in self.data:
            raise ModelError(f"{where}: array {key!r} is not in {self.path.name if self.path else 'the arrays'}"
                             f" (has: {', '.join(sorted(self.data)) or 'nothing'})")
        self.used.add(key)
        return self.data[key]


def integer_array(arr: np.ndarray, what: str, where: str) -> np.ndarray:
    arr = np.asarray(arr)
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    raise ModelError(f"{where}: {what} must be integers")


def fold_value(spec: dict, key: str, where: str) -> int:
    value = spec.get(key, "auto")
    if value == "auto":
        return AUTO
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ModelError(f"{where}: {key} must be a positive integer or 'auto', not {value!r}")
    return value


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
        if isinstance(v, bool) or not isinstance(v, int):
            raise ModelError(f"{where}: {name} must be an integer, not {v!r}")
    th = Thresholds(values=values, out_dtype=odt, out_scale=scale, out_bias=bias)
    th.check(where, channels)
    return th


def parse_dense(spec, in_shape, in_dtype, arrays: Arrays, where: str):
    w = integer_array(arrays.get(spec.get("weights"), where), "weights", where)
    if w.ndim != 2:
        raise ModelError(f"{where}: weights must be 2-D (out_features, in_features), not shape {w.shape}")
    if w.shape[1] != in_shape[2]:
        raise ModelError(f"{where}: weights have {w.shape[1]} inputs but the layer receives "
                         f"{in_shape[2]} (input shape {tuple(in_shape)})")
    if "weight_dtype" not in spec:
        raise ModelError(f"{where}: weight_dtype is required")
    wdt = dtype(spec["weight_dtype"])
    if not values_fit(w, wdt):
        raise ModelError(f"{where}: weights outside {wdt.name} "
                         f"(found values {int(w.min())}..{int(w.max())})")
    th = parse_thresholds(spec, arrays, w.shape[0], where)
    return MatrixVector(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype, weights=w,
                        weight_dtype=wdt, acc_dtype=None, thresholds=th,
                        pe=fold_value(spec, "pe", where), simd=fold_value(spec, "simd", where))


def parse_threshold(spec, in_shape, in_dtype, arrays: Arrays, where: str):
    th = parse_thresholds(spec, arrays, in_shape[2], where)
    if th is None:
        raise ModelError(f"{where}: a threshold layer needs thresholds")
    return MultiThreshold(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype,
                          thresholds=th, pe=fold_value(spec, "pe", where))


def parse_reshape(spec, in_shape, in_dtype, arrays: Arrays, where: str):
    shape = spec.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d > 0 for d in shape) \
            or len(shape) not in (1, 3):
        raise ModelError(f"{where}: shape must be [C] or [H, W, C] of positive integers, not {shape!r}")
    shape = tuple(shape) if len(shape) == 3 else (1, 1, shape[0])
    if int(np.prod(shape)) != int(np.prod(in_shape)):
        raise ModelError(f"{where}: cannot reshape {tuple(in_shape)} to {shape}")
    return Reshape(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype, shape=shape)


def parse_topk(spec, in_shape, in_dtype, arrays: Arrays, where: str):
    k = spec.get("k", 1)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= in_shape[2]:
        raise ModelError(f"{where}: k must be an integer in 1..{in_shape[2]}, not {k!r}")
    return LabelSelect(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype, k=k,
                       pe=fold_value(spec, "pe", where))


def native_ops() -> dict[str, Callable]:
    ops = {"dense": parse_dense, "threshold": parse_threshold, "reshape": parse_reshape,
           "topk": parse_topk}
    for module in ("native_conv", "native_branch", "native_sparse"):
        try:
            mod = __import__(f"{__package__}.{module}", fromlist=["NATIVE_OPS"])
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{module}":
                raise
            continue
        ops.update(mod.NATIVE_OPS)
    return ops


def read_description(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        msg = str(exc).splitlines()[0]
        raise ModelError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {msg}") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: top level must be a mapping with 'input' and 'layers'")
    return data


def load_arrays(path: Path, data: dict) -> Arrays:
    ref = data.get("arrays")
    if ref is None:
        return Arrays(None, {})
    npz = (path.parent / ref) if not Path(ref).is_absolute() else Path(ref)
    try:
        with np.load(npz, allow_pickle=False) as f:
            return Arrays(npz, {k: f[k] for k in f.files})
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: cannot load arrays {ref!r}: {exc}") from None


def load_native(path: str | Path) -> Graph:
    """Read a native description into an (unfolded where 'auto') integer graph."""
    path = Path(path)
    data = read_description(path)
    unknown = set(data) - {"name", "input", "arrays", "layers"}
    if unknown:
        raise ModelError(f"{path}: unknown top-level key {sorted(unknown)[0]!r} "
                         f"(expected name, input, arrays, layers)")
    inp = data.get("input")
    if not isinstance(inp, dict) or "shape" not in inp or "dtype" not in inp:
        raise ModelError(f"{path}: 'input' must give shape and dtype")
    shape = inp["shape"]
    if not isinstance(shape, list) or len(shape) not in (1, 3) or \
            not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
        raise ModelError(f"{path}: input shape must be [C] or [H, W, C] of positive integers, not {shape!r}")
    in_shape = tuple(shape) if len(shape) == 3 else (1, 1, shape[0])
    try:
        in_dtype = dtype(inp["dtype"])
    except ModelError as exc:
        raise ModelError(f"{path}: input: {exc}") from None
    arrays = load_arrays(path, data)
    layers = data.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ModelError(f"{path}: 'layers' must be a non-empty list")
    tensors = {INPUT: (tuple(in_shape), in_dtype)}
    nodes = parse_layers(layers, INPUT, tensors, arrays, container=str(path), scope=path.name,
                         label="layer", default_name=lambda i: f"layer{i}")
    nodes = settle_forks(nodes, path.name)
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.replace("_", "a").isalnum() or name[0].isdigit():
        raise ModelError(f"{path}: name must be an identifier (letters, digits, _), not {name!r}")
    graph = Graph(name=name, in_shape=in_shape, in_dtype=in_dtype, nodes=tuple(nodes), input_name=INPUT)
    check_folding_later(graph, path)
    return graph


INPUT = "input"
"""The network input's name, for ``input:``/``inputs:``."""


def layer_inputs(spec: dict, previous: str, tensors: dict, where: str) -> list[str]:
    """The tensors a layer reads: ``inputs`` (a list), ``input`` (a name) or the previous layer."""
    if "inputs" in spec and "input" in spec:
        raise ModelError(f"{where}: give input or inputs, not both")
    if "inputs" in spec:
        names = spec["inputs"]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ModelError(f"{where}: inputs must be a non-empty list of layer names, not {names!r}")
    else:
        names = spec.get("input", previous)
        if not isinstance(names, str):
            raise ModelError(f"{where}: input must be a layer name, not {names!r}")
        names = [names]
    for n in names:
        if n not in tensors:
            raise ModelError(f"{where}: input {n!r} is not a layer listed before this one "
                             f"(known: {', '.join(tensors)})")
    return names


def parse_layers(layers: list, first_input: str, tensors: dict, arrays: Arrays, *, container: str,
                 scope: str, label: str, default_name: Callable[[int], str]) -> list:
    """Parse a list of layer specs into nodes (the network's, or a residual body's).

    Each layer reads ``first_input`` (first layer) or the previous one unless it names
    its inputs; ``tensors`` maps every known tensor to ``(shape, dtype)`` and is updated.
    ``container`` prefixes errors about the list itself, ``scope`` the ones about a layer
    (``"<scope>: <label> 'name': problem"``); layers without a name get ``default_name(i)``.
    An op's parser gets ``(spec, in_shape, in_dtype, arrays, where)`` (``spec`` without
    ``input``/``inputs``), with tuples of shapes and dtypes for an op marked
    ``multi_input``, plus ``input_name=`` for an op marked ``takes_input_name``; it
    returns a node or a list of nodes whose last is the layer's output, named like the
    layer (the front end sets a single node's ``inputs``).
    """
    ops = native_ops()
    nodes, previous = [], first_input
    for i, spec in enumerate(layers):
        if not isinstance(spec, dict):
            raise ModelError(f"{container}: {label} {i} must be a mapping, not {spec!r}")
        spec = dict(spec)
        spec.setdefault("name", default_name(i))
        where = f"{scope}: {label} {spec['name']!r}"
        if not isinstance(spec["name"], str):
            raise ModelError(f"{where}: name must be a string")
        if spec["name"] in tensors:
            raise ModelError(f"{where}: duplicate layer name" if spec["name"] != INPUT else
                             f"{where}: {INPUT!r} names the network input")
        op = spec.get("op")
        if op not in ops:
            raise ModelError(f"{where}: unknown op {op!r} (supported: {', '.join(sorted(ops))})")
        try:
            inputs = layer_inputs(spec, previous, tensors, where)
            fn = ops[op]
            spec.pop("input", None)
            spec.pop("inputs", None)
            if getattr(fn, "multi_input", False):
                shapes = tuple(tensors[n][0] for n in inputs)
                dts = tuple(tensors[n][1] for n in inputs)
                made = fn(spec, shapes, dts, arrays, where)
            else:
                if len(inputs) != 1:
                    raise ModelError(f"{where}: op {op!r} takes one input, not {len(inputs)}")
                extra = {"input_name": inputs[0]} if getattr(fn, "takes_input_name", False) else {}
                made = fn(spec, tensors[inputs[0]][0], tensors[inputs[0]][1], arrays, where, **extra)
        except ModelError as exc:
            msg = str(exc)
            raise ModelError(msg if msg.startswith(scope) else f"{where}: {msg}") from None
        if isinstance(made, list):
            new = made
        else:
            new = [made.replace(inputs=tuple(inputs))]
        for node in new:
            if node.name in tensors:
                raise ModelError(f"{where}: layer name {node.name!r} is used twice")
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
