"""(De)serialisation of the IR to plain JSON (``design.json`` is enough to rebuild)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
from qonnx.core.datatype import DataType

from ..errors import ModelError
from .core import NODE_KINDS, FifoEdge, Graph, Node, Thresholds
from . import host as _host

FORMAT = "bitsmith-design/1"


def to_jsonable(obj):
    """Recursively turn IR objects into JSON-compatible values."""
    if isinstance(obj, np.ndarray):
        return {"__array__": obj.tolist(), "dtype": str(obj.dtype), "shape": list(obj.shape)}
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if hasattr(obj, "bitwidth") and hasattr(obj, "name") and type(obj).__module__.startswith("qonnx"):
        return {"__dtype__": obj.name}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {"__kind__": _kind_name(type(obj))}
        for f in dataclasses.fields(obj):
            out[f.name] = to_jsonable(getattr(obj, f.name))
        return out
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    return obj


def _kind_name(cls: type) -> str:
    """Host stages are ``host.<Name>``: ``Reshape`` is both a layer and a host stage."""
    return f"host.{cls.__name__}" if _host.HOST_KINDS.get(cls.__name__) is cls else cls.__name__


def _kinds() -> dict[str, type]:
    kinds = {f"host.{name}": cls for name, cls in _host.HOST_KINDS.items()}
    kinds.update({name: cls for name, cls in _host.HOST_KINDS.items() if name not in NODE_KINDS})
    kinds.update(NODE_KINDS)
    kinds["Thresholds"] = Thresholds
    kinds["Graph"] = Graph
    kinds["FifoEdge"] = FifoEdge
    return kinds


def from_jsonable(obj):
    """Inverse of :func:`to_jsonable`."""
    if isinstance(obj, list):
        return tuple(from_jsonable(v) for v in obj)
    if not isinstance(obj, dict):
        return obj
    if "__array__" in obj:
        dt = np.dtype(obj["dtype"])
        if dt.kind not in "biuf":
            raise ModelError(f"design.json: arrays hold numbers, not {dt}")
        arr = np.array(obj["__array__"], dtype=dt)
        return arr.reshape(obj["shape"])
    if "__dtype__" in obj:
        return DataType[obj["__dtype__"]]
    if "__kind__" in obj:
        kinds = _kinds()
        kind = obj["__kind__"]
        if kind not in kinds:
            raise ModelError(f"design.json: unknown layer kind {kind!r}")
        cls = kinds[kind]
        fields = {f.name for f in dataclasses.fields(cls)}
        args = {k: from_jsonable(v) for k, v in obj.items() if k in fields}
        return cls(**args)
    return {k: from_jsonable(v) for k, v in obj.items()}


def dump_graph(graph: Graph) -> dict:
    return to_jsonable(graph)


def load_graph(data: dict) -> Graph:
    graph = from_jsonable(data)
    if not isinstance(graph, Graph):
        raise ModelError("design.json: 'graph' is not a bitsmith graph")
    if not isinstance(graph.nodes, tuple) or not all(isinstance(n, Node) for n in graph.nodes):
        raise ModelError("design.json: the graph's nodes are not bitsmith layers")
    if not all(isinstance(n.inputs, tuple) and all(isinstance(i, str) for i in n.inputs)
               for n in graph.nodes):
        raise ModelError("design.json: a layer's inputs are not a list of tensor names")
    if not isinstance(graph.fifos, tuple) or not all(isinstance(f, FifoEdge) for f in graph.fifos):
        raise ModelError("design.json: the graph's fifos are not a list of FIFO edges")
    for f in graph.fifos:
        if not all(isinstance(v, str) for v in (f.src, f.src_port, f.dst, f.port)) or not all(
                type(v) is int for v in (f.depth, f.elems, f.elem_bits, f.peak)) or f.depth < 3 \
                or f.elems < 1 or f.elem_bits < 1 or f.peak < 0:
            raise ModelError(f"design.json: a FIFO edge needs port names, a depth >= 3 and positive widths, "
                             f"not {f!r:.200}")
    stage_kinds = tuple(_host.HOST_KINDS.values())
    for part in ("host_pre", "host_post"):
        stages = getattr(graph, part)
        if not isinstance(stages, tuple) or not all(isinstance(s, stage_kinds) for s in stages):
            raise ModelError(f"design.json: the graph's {part} is not a list of host stages")
        for stage in stages:
            shape = getattr(stage, "shape", ())
            if not isinstance(shape, tuple) or not all(type(d) is int and d > 0 for d in shape):
                raise ModelError(f"design.json: {type(stage).__name__}.shape must be positive integers, "
                                 f"not {shape!r:.80}")
    return graph


def dumps(obj) -> str:
    return json.dumps(obj, indent=1)
