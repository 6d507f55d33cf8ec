"""Accumulator widths: the narrowest datatype that holds every accumulator value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from . import register_pass


def minimal_acc(node):
    """The narrowest accumulator of ``node`` (DESIGN.md §2, FINN's rule), or None if it
    has no accumulator to size."""
    fn = getattr(type(node), "minimal_acc_dtype", None)
    if fn is None or getattr(node, "weights", None) is None:
        return None
    return fn(node.weights, node.weight_dtype, node.in_dtype)


@register_pass
@dataclass(frozen=True)
class AccWidths:
    """Fill in every ``acc_dtype`` left ``None`` (front ends leave them to this pass)
    with the narrowest type holding the accumulator range of the actual weights over the
    input datatype; a given ``acc_dtype`` is kept (the node's check proves it holds)."""

    name: ClassVar[str] = "acc_widths"

    def apply(self, graph):
        nodes = []
        for n in graph.nodes:
            if hasattr(n, "acc_dtype") and n.acc_dtype is None:
                acc = minimal_acc(n)
                if acc is not None:
                    n = n.replace(acc_dtype=acc)
            nodes.append(n)
        return graph.replace(nodes=tuple(nodes))
