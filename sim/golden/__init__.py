"""The numpy golden model: one function per IR node kind, vectorised over the batch.

``run_graph(graph, x)`` runs the integer part of a network on ``x`` of shape
``(N, H, W, C)`` (int64 values; BIPOLAR as ±1) and returns ``(N, H', W', C')``: every
node in graph order, on the tensors its ``inputs`` name. A golden function takes the
input array of a one-input node, or the tuple of input arrays of a node with several.
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


def run_node(node, x) -> np.ndarray:
    fn = GOLDEN.lookup(node)
    if fn is None:
        raise NotImplementedError(f"no golden function for {type(node).__name__} "
                                  f"(have: {GOLDEN.supported()})")
    return fn(node, x)


def run_graph(graph, x: np.ndarray, *, upto: int | None = None) -> np.ndarray:
    """Run ``graph.nodes[:upto]`` on integer input ``x`` (N, H, W, C).

    Returns the graph output, or with ``upto`` the tensor of the last node run.
    """
    x = np.asarray(x, dtype=np.int64)
    if x.shape[1:] != tuple(graph.in_shape):
        raise ValueError(f"input shape {x.shape[1:]} != graph input {tuple(graph.in_shape)}")
    nodes = graph.nodes[:upto]
    if not nodes:
        return x
    tensors = {graph.input_name: x}
    left = {}
    for node in nodes:
        for src in node.inputs:
            left[src] = left.get(src, 0) + 1
    for node in nodes:
        args = [tensors[src] for src in node.inputs]
        for src in node.inputs:      # free a tensor once its last reader has it
            left[src] -= 1
            if not left[src]:
                del tensors[src]
        tensors[node.name] = run_node(node, args[0] if len(args) == 1 else tuple(args))
    last = nodes[-1].name if upto is not None else graph.output_node.name
    return tensors[last]


def run_model(graph, x: np.ndarray) -> np.ndarray:
    """Host-pre -> integer graph -> host-post, as the deployed system runs it."""
    from bitsmith.generator.ir.host import run_stages
    return run_stages(graph.host_post, run_graph(graph, run_stages(graph.host_pre, x)))
