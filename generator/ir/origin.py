"""Where a layer came from, for error messages: its ONNX node, from ``Graph.provenance``."""

from __future__ import annotations

from ..errors import BitsmithError
from .core import Graph


def describe_node(graph: Graph, node) -> str:
    """``layer 'MVAU0' (MatrixVector, from ONNX node 'MatMul_0')``: the layer and its origin."""
    origin = next((f", from ONNX node {name!r}" for name, _, became in graph.provenance
                   if f"lowered to {node.name} " in f"{became} "), "")
    return f"layer {node.name!r} ({type(node).__name__}{origin})"


def check_naming_origin(graph: Graph) -> None:
    """``graph.check()``; an error about one layer (``"layer 'X': ..."``) names the layer
    as :func:`describe_node` does, with the ONNX node it came from."""
    try:
        graph.check()
    except BitsmithError as exc:
        message = str(exc)
        for node in graph.nodes:
            prefix = f"layer {node.name!r}: "
            if message.startswith(prefix):
                raise type(exc)(f"{describe_node(graph, node)}: {message[len(prefix):]}") from None
        raise
