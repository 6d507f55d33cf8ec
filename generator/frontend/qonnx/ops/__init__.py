"""One handler per ONNX op family: ``fn(state, node) -> None`` registered with :func:`handles`."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ....errors import ModelError

HANDLERS: dict[str, Callable] = {}
#: handlers of nodes joining two or more computed tensors: ``fn(state, node, inputs, shared)``
#: with the :class:`~..state.TensorState` of each input and whether it is read elsewhere too
JOINS: dict[str, Callable] = {}


def _registrar(table: dict[str, Callable]):
    def register(*op_types: str):
        def wrap(fn):
            for op in op_types:
                table[op] = fn
            return fn
        return wrap
    return register


#: ``@handles("Op", ...)`` registers a single-input handler, ``@joins(...)`` a join
handles = _registrar(HANDLERS)
joins = _registrar(JOINS)


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
    from ..weights import constant_value
    value = constant_value(st.model, node.input[index])
    if value is None:
        producer = st.model.find_producer(node.input[index])
        made = f"computed by node {producer.name!r} ({producer.op_type})" if producer is not None else "a graph input"
        raise ModelError(f"{where(node)}: the {what} must be a constant (an initializer or a quantizer of "
                         f"one), not {made}")
    return np.asarray(value)


def opset(st) -> int:
    for imp in st.model.model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return 9


from . import elementwise, layout, matmul, quantize, tail, conv, branch  # noqa: E402,F401  (registration)
