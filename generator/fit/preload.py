"""The frames that load run-time weights (SPRAM) after each reset.

A design whose first layer keeps its weights in run-time loaded memory
(``MatrixVector.weight_memory`` ``spram``/``ram``: an iCE40 UltraPlus's SPRAM cannot be
initialised by the bitstream) expects, after every reset, :func:`preload_frames` on its
input stream before the first real frame: ordinary input frames whose elements carry the
weight memory's words (:meth:`bitsmith.hw.compute.mvau.MVAU.load_words`). Each of them
produces one output frame of unspecified values, which whoever drives the design
discards. ``design.json``'s ``io.preload_frames`` says how many there are; the build
writes them to ``preload.npy`` (values of the input datatype, NHWC, like ``X.npy``).
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType

from ..errors import FoldingError
from ..ir import Graph, MultiThreshold, Reshape

PRELOAD_FILE = "preload.npy"


def runtime_layers(graph: Graph) -> list:
    """The layers whose weights are loaded at run time."""
    return [n for n in graph.nodes if getattr(n, "weight_memory", "rom") != "rom"]


def _prefix(graph: Graph, node) -> list:
    return list(graph.nodes[:graph.nodes.index(node)])


def check_runtime_layers(graph: Graph) -> None:
    """Only the first matrix layer may load its weights at run time, and only behind
    element-wise layers (thresholds, reshapes), which the load frames pass through."""
    layers = runtime_layers(graph)
    for node in layers:
        before = _prefix(graph, node)
        bad = [n for n in before if not isinstance(n, (MultiThreshold, Reshape))]
        if bad or len(layers) > 1 and node is not layers[0]:
            raise FoldingError(f"layer {node.name!r}: weight_memory {node.weight_memory} is possible "
                               f"on the first matrix layer only, behind thresholds or reshapes at "
                               f"most (the input stream loads it)")


def invert_thresholds(node: MultiThreshold, wanted: np.ndarray) -> np.ndarray:
    """Inputs of ``node`` (flat, NHWC order) whose outputs are ``wanted``: for each
    channel and output value, the smallest input value that gives it. A value no input
    gives (thresholds repeated or beyond the input range) is a :class:`FoldingError`."""
    dt = node.in_dtype
    candidates = np.arange(int(dt.min()), int(dt.max()) + 1, dtype=np.int64)
    if dt.name == "BIPOLAR":
        candidates = np.array([-1, 1], dtype=np.int64)
    if candidates.size > 1 << 16:
        raise FoldingError(f"layer {node.name!r}: its {dt.name} inputs are too wide to load "
                           f"run-time weights through")
    th = node.thresholds
    channels = node.in_shape[2]
    table = th.per_channel(channels)                                     # (C, B)
    outputs = th.out_scale * (candidates[None, :, None] >= table[:, None, :]).sum(axis=2) + th.out_bias
    wanted = np.asarray(wanted, dtype=np.int64).reshape(-1)
    channel = np.arange(wanted.size) % channels
    hit = outputs[channel] == wanted[:, None]                             # (E, candidates)
    missing = ~hit.any(axis=1)
    if missing.any():
        e = int(np.nonzero(missing)[0][0])
        raise FoldingError(f"layer {node.name!r}: no input gives output {int(wanted[e])} on channel "
                           f"{int(channel[e])}, so run-time weights cannot be loaded through it")
    return candidates[hit.argmax(axis=1)]


def preload_frames(graph: Graph) -> np.ndarray | None:
    """``(K, H, W, C)`` input values that load the run-time weights (``None``: none)."""
    check_runtime_layers(graph)
    layers = runtime_layers(graph)
    if not layers:
        return None
    from bitsmith.sim.packing import unpack
    from ..build import lower_checked
    node = layers[0]
    from .estimate import silence
    unit = lower_checked(graph, node)[0].component
    silence(unit)
    values = unpack(unit.load_words(), DataType[node.in_dtype.name], node.simd).reshape(-1)
    # whole frames of the matrix layer's input, padded with its all-zero-bits element
    frame = int(np.prod(node.in_shape))
    zero = -1 if node.in_dtype.name == "BIPOLAR" else 0
    values = np.concatenate([values, np.full(-len(values) % frame, zero, dtype=np.int64)])
    for before in reversed(_prefix(graph, node)):
        if isinstance(before, MultiThreshold):
            values = invert_thresholds(before, values)
    return values.reshape(-1, *graph.in_shape).astype(np.int64)
