"""One handler per ONNX op family: ``fn(state, node) -> None`` registered with :func:`handles`."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ....errors import ModelError

HANDLERS: dict[str, Callable] = {}


def handles(*op_types: str):
    def wrap(fn):
        for op in op_types:
            HANDLERS[op] = fn
        return fn
    return wrap


def where(node) -> str:
    return f"node {node.name!r} ({node.op_type})"


def attr(node, name: str, default=None):
    from onnx import helper
    for a in node.attribute:
        if a.name == name:
            value = helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


def constant(st, node, index: int, what: str) -> np.ndarray:
    """Initializer input ``index`` of ``node``, or a ModelError naming it."""
    if index >= len(node.input) or not node.input[index]:
        raise ModelError(f"{where(node)}: the {what} input is missing")
    value = st.model.get_initializer(node.input[index])
    if value is None:
        raise ModelError(f"{where(node)}: the {what} must be a constant, not a computed tensor")
    return np.asarray(value)


def opset(st) -> int:
    for imp in st.model.model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return 9


from . import elementwise, layout, matmul, quantize, tail, conv  # noqa: E402,F401  (registration)
