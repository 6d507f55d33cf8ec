"""The numpy golden model: one function per IR node kind, vectorised over the batch.

``run_graph(graph, x)`` runs the integer part of a network on ``x`` of shape
``(N, H, W, C)`` (int64 values; BIPOLAR as ±1) and returns ``(N, H', W', C')``.
Kinds register with :func:`golden`; every module in this package is imported on
first use, so a new ``sim/golden/<kind>.py`` plugs in by itself.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from bitsmith.generator.registry import Registry

GOLDEN = Registry(__name__, "golden function")
golden: Callable = GOLDEN.register
"""Decorator registering ``fn(node, x) -> y`` as the golden function of a node class."""


def run_node(node, x: np.ndarray) -> np.ndarray:
    fn = GOLDEN.lookup(node)
    if fn is None:
        raise NotImplementedError(f"no golden function for {type(node).__name__} "
                                  f"(have: {GOLDEN.supported()})")
    return fn(node, x)


def run_graph(graph, x: np.ndarray, *, upto: int | None = None) -> np.ndarray:
    """Run ``graph.nodes[:upto]`` on integer input ``x`` (N, H, W, C)."""
    x = np.asarray(x, dtype=np.int64)
    if x.shape[1:] != tuple(graph.in_shape):
        raise ValueError(f"input shape {x.shape[1:]} != graph input {tuple(graph.in_shape)}")
    for node in graph.nodes[:upto]:
        x = run_node(node, x)
    return x


def run_model(graph, x: np.ndarray) -> np.ndarray:
    """Host-pre -> integer graph -> host-post, as the deployed system runs it."""
    from bitsmith.generator.ir.host import run_stages
    return run_stages(graph.host_post, run_graph(graph, run_stages(graph.host_pre, x)))
