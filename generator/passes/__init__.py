"""Graph passes: small objects with a ``name`` and ``run(graph) -> graph``.

A pipeline is a tuple of passes; :func:`run_pipeline` checks the graph after each one
so a broken pass is caught where it happens.
"""

from __future__ import annotations

from typing import Protocol


class Pass(Protocol):
    name: str

    def run(self, graph): ...


def run_pipeline(graph, passes):
    for p in passes:
        graph = p.run(graph)
        graph.check()
    return graph
