"""Checks on the raw ONNX protobuf, before qonnx touches it.

qonnx's clean-up executes every node whose inputs are constants (``FoldConstants``) and
runs shape inference; on a malformed or hostile graph that can allocate without bound
(a ``ConstantOfShape`` of 10^12 elements), loop (a cycle) or fail deep inside a library.
So first, on the protobuf alone:

* every standard-domain node matches its ONNX schema (attribute types, input counts);
* every op is one the front end lowers or a shape-plumbing op exporters emit and the
  clean-up folds away (:data:`PLUMBING_OPS`); ops that create data from sizes
  (``ConstantOfShape``, ``Expand``, ``Tile``, ``Range``...) are refused;
* every tensor a node reads is a graph input, an initializer or another node's output,
  each tensor has one producer, and the nodes form no cycle;
* every initializer decodes, with at most :data:`~generator.limits.MAX_ARRAY_ELEMENTS`;
* the graph input's shape is fixed (only the batch axis may be symbolic) and within
  :data:`~generator.limits.MAX_TENSOR_ELEMENTS`;
* every tensor shape ONNX's own shape inference can derive is within the array budget.
"""

from __future__ import annotations

import onnx
from onnx import numpy_helper

from ...errors import ModelError
from ...limits import MAX_ARRAY_ELEMENTS, MAX_LAYERS, MAX_TENSOR_ELEMENTS, TooLarge

#: Ops the exporters emit to compute shapes from constants; the clean-up folds them
#: (their results are no larger than their inputs). Any left afterwards is refused there.
PLUMBING_OPS = ("Constant", "Shape", "Gather", "Concat", "Cast", "Slice", "Pow", "Sqrt", "Neg",
                "Reciprocal", "Floor", "Ceil", "Abs", "Clip", "Round", "Min", "Max", "Log", "Exp")

MAX_NODES = 16 * MAX_LAYERS


def _elements(dims) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def _check_ops(graph, path, supported) -> None:
    allowed = set(supported) | set(PLUMBING_OPS)
    if len(graph.node) > MAX_NODES:
        raise TooLarge(f"{path}: {len(graph.node):,} nodes; bitsmith's budget is {MAX_NODES:,}")
    for node in graph.node:
        if node.op_type not in allowed:
            raise ModelError(f"{path}: node {node.name!r} ({node.op_type}) is not supported; supported "
                             f"ops: {', '.join(supported)}")


def _check_wiring(graph, path) -> None:
    known = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    producer: dict[str, str] = {}
    for node in graph.node:
        for out in node.output:
            if not out:
                continue
            if out in producer or out in known - {""}:
                raise ModelError(f"{path}: tensor {out!r} is produced twice (by node {node.name!r})")
            producer[out] = node.name
    for node in graph.node:
        for name in node.input:
            if name not in known and name not in producer:
                raise ModelError(f"{path}: node {node.name!r} ({node.op_type}) reads {name!r}, which is no "
                                 f"graph input, initializer or node output (a missing initializer?)")
    for out in graph.output:
        if out.name not in producer and out.name not in known:
            raise ModelError(f"{path}: the graph output {out.name!r} is produced by no node")
    # Kahn's algorithm: a node runs once all its inputs exist; nodes that never can are a cycle
    waiting = {}
    readers: dict[str, list[int]] = {}
    ready = []
    for k, node in enumerate(graph.node):
        missing = {i for i in node.input if i not in known}
        waiting[k] = len(missing)
        for name in missing:
            readers.setdefault(name, []).append(k)
        if not missing:
            ready.append(k)
    done = 0
    while ready:
        k = ready.pop()
        done += 1
        for out in graph.node[k].output:
            for j in readers.get(out, ()):
                waiting[j] -= 1
                if waiting[j] == 0:
                    ready.append(j)
    if done != len(graph.node):
        node = graph.node[next(k for k, w in waiting.items() if w > 0)]
        raise ModelError(f"{path}: the graph has a cycle through node {node.name!r} ({node.op_type})")


def _check_nodes(model, path) -> None:
    """Standard-domain nodes against their ONNX schema (attribute types, input counts)."""
    ctx = onnx.checker.C.CheckerContext()
    ctx.ir_version = model.ir_version
    ctx.opset_imports = {o.domain: o.version for o in model.opset_import}
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx"):
            continue
        try:
            onnx.checker.check_node(node, ctx)
        except Exception as exc:  # onnx.checker.ValidationError and whatever the schema lookup raises
            first = str(exc).strip().splitlines()
            raise ModelError(f"{path}: node {node.name!r} ({node.op_type}) is malformed: "
                             f"{first[0] if first else type(exc).__name__}") from None


def _check_initializers(graph, path) -> None:
    for t in graph.initializer:
        n = _elements(t.dims)
        if any(d < 0 for d in t.dims) or n > MAX_ARRAY_ELEMENTS:
            raise TooLarge(f"{path}: initializer {t.name!r} has shape {tuple(t.dims)}; bitsmith's budget is "
                           f"{MAX_ARRAY_ELEMENTS:,} elements per array")
        try:
            arr = numpy_helper.to_array(t)
        except Exception as exc:  # onnx raises ValueError, TypeError, KeyError... for a damaged tensor
            raise ModelError(f"{path}: initializer {t.name!r} is corrupt ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
        if arr.size != n:
            raise ModelError(f"{path}: initializer {t.name!r} holds {arr.size} values, its shape says {n}")


def _check_input(graph, path) -> None:
    inits = {t.name for t in graph.initializer}
    for inp in graph.input:
        if inp.name in inits:
            continue
        dims = inp.type.tensor_type.shape.dim
        shape = []
        for axis, d in enumerate(dims):
            if d.HasField("dim_value") and d.dim_value > 0:
                shape.append(d.dim_value)
            elif axis == 0:
                shape.append(1)           # a symbolic batch axis: fixed to one frame
            else:
                raise ModelError(f"{path}: model input {inp.name!r}: axis {axis} has no fixed positive size "
                                 f"({d.dim_param or d.dim_value}); only the batch axis may be symbolic")
        n = _elements(shape)
        if n > MAX_TENSOR_ELEMENTS:
            raise TooLarge(f"{path}: model input {inp.name!r} has shape {tuple(shape)}, {n:,} elements a frame; "
                           f"bitsmith's budget is {MAX_TENSOR_ELEMENTS:,}")


def _check_inferred(model, path) -> None:
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # a graph shape inference cannot read: qonnx's clean-up will say why
        return
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            n = _elements(d.dim_value for d in dims)
            if n > MAX_ARRAY_ELEMENTS:
                raise TooLarge(f"{path}: tensor {vi.name!r} would have shape {tuple(d.dim_value for d in dims)}; "
                               f"bitsmith's budget is {MAX_ARRAY_ELEMENTS:,} elements per tensor")


def check_proto(model: onnx.ModelProto, path, supported) -> None:
    """Raise :class:`ModelError` (or :class:`~generator.limits.TooLarge`) for anything above."""
    if not model.HasField("graph") or not model.graph.node:
        raise ModelError(f"{path}: the ONNX model has no graph nodes")
    graph = model.graph
    _check_ops(graph, path, supported)
    _check_nodes(model, path)
    _check_wiring(graph, path)
    _check_initializers(graph, path)
    _check_input(graph, path)
    _check_inferred(model, path)
