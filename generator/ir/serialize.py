"""(De)serialisation of the IR to plain JSON (``design.json`` is enough to rebuild)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
from qonnx.core.datatype import DataType

from ..errors import ModelError
from .core import NODE_KINDS, FifoEdge, Graph, Thresholds
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
        out = {"__kind__": type(obj).__name__}
        for f in dataclasses.fields(obj):
            out[f.name] = to_jsonable(getattr(obj, f.name))
        return out
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    return obj


def _kinds() -> dict[str, type]:
    kinds = dict(NODE_KINDS)
    kinds["Thresholds"] = Thresholds
    kinds["Graph"] = Graph
    kinds["FifoEdge"] = FifoEdge
    kinds.update(_host.HOST_KINDS)
    return kinds


def from_jsonable(obj):
    """Inverse of :func:`to_jsonable`."""
    if isinstance(obj, list):
        return tuple(from_jsonable(v) for v in obj)
    if not isinstance(obj, dict):
        return obj
    if "__array__" in obj:
        arr = np.array(obj["__array__"], dtype=obj["dtype"])
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
    return graph


def dumps(obj) -> str:
    return json.dumps(obj, indent=1)
