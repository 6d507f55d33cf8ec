"""The reference: qonnx's own execution of the original model, and the golden-vs-qonnx check."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.change_batchsize import ChangeBatchSize
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.cleanup import cleanup_model

from ...errors import InputDataError
from ...ir import Graph, LabelSelect, host
from .reader import load_wrapper, single_frame

log = logging.getLogger(__name__)

BATCH = 512
RTOL = 1e-5


def _run(model, x: np.ndarray) -> np.ndarray:
    name = [i.name for i in model.graph.input if model.get_initializer(i.name) is None][0]
    with warnings.catch_warnings():   # qonnx warns about stale shape annotations of the original
        warnings.simplefilter("ignore")
        out = execute_onnx(model, {name: x})
    return np.asarray(out[model.graph.output[0].name])


def reference_outputs(path: Path, x: np.ndarray) -> np.ndarray:
    """qonnx ``execute_onnx`` of the original model on ``x`` (batch first), outputs stacked.

    Frames run in batches when the model allows it (qonnx's ``ChangeBatchSize`` after its
    cleanup); the batched result is checked against a single-frame run of the untouched
    model, and on any doubt every frame runs on its own.
    """
    single = single_frame(load_wrapper(path)).transform(InferShapes())
    in_name = [i.name for i in single.graph.input if single.get_initializer(i.name) is None][0]
    frame_shape = tuple(single.get_tensor_shape(in_name))
    x = np.asarray(x, dtype=np.float32)
    if x.shape[1:] != frame_shape[1:]:       # never reshaped to fit: that would hide a wrong layout
        raise InputDataError(f"{path}: frames of shape {x.shape[1:]} for a model input of "
                             f"{frame_shape[1:]}")
    first = _run(single, x[:1])
    outs = _batched(path, x, first)
    if outs is None:
        outs = np.concatenate([first] + [_run(single, x[i:i + 1]) for i in range(1, len(x))])
    return outs


def _batched(path: Path, x: np.ndarray, first: np.ndarray) -> np.ndarray | None:
    if len(x) == 1:
        return first
    outs = []
    models: dict[int, object] = {}
    try:
        for start in range(0, len(x), BATCH):
            chunk = x[start:start + BATCH]
            n = len(chunk)
            if n not in models:
                models[n] = cleanup_model(single_frame(load_wrapper(path))).transform(ChangeBatchSize(n)) \
                    .transform(InferShapes())
            y = _run(models[n], chunk)
            if y.shape[0] != n:
                return None
            outs.append(y)
    except Exception as exc:  # any qonnx/onnxruntime failure: fall back to frame by frame
        log.info("batched reference execution failed (%s); running frame by frame", exc)
        return None
    y = np.concatenate(outs)
    if y[:1].shape != first.shape or not _same(y[:1], first):
        log.info("batched reference differs from a single-frame run; running frame by frame")
        return None
    return y


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal, up to float32 summation order (onnxruntime picks kernels by batch size)."""
    if np.issubdtype(b.dtype, np.integer):
        return np.array_equal(a, b)
    return bool(np.all(np.abs(a.astype(np.float64) - b) <= 1e-6 * max(1.0, float(np.abs(b).max()))))


def model_input(graph: Graph, x: np.ndarray) -> np.ndarray:
    """The original model's input for ``x``: ``x * scale`` when the graph takes scaled integers."""
    for stage in graph.host_pre:
        if isinstance(stage, host.IntegerInput):
            return (np.asarray(x, dtype=np.float64) * stage.scale).astype(np.float32)
    return np.asarray(x, dtype=np.float32)


def compare_with_reference(graph: Graph, path: Path, x: np.ndarray, golden: np.ndarray) -> list[str]:
    """Every frame where the golden outputs and qonnx on the original model disagree, one line
    each (the whole list: ``verify`` counts them all).

    Labels (a graph ending in top-K) and integer outputs must be equal. Labels from a model
    whose qonnx output is float scores may differ in order only where *qonnx's own* scores
    tie: at every rank the golden label's qonnx score must equal the qonnx label's score
    within ``RTOL`` of the frame's largest score magnitude (float32 arithmetic in qonnx breaks
    ties between equal integer scores either way). The golden model's scores are not
    consulted, so a golden model that computes a wrong score cannot excuse itself. Float
    outputs (after host-post) must lie within ``RTOL`` of the largest output magnitude (so
    float32 noise on an exact zero is not an error). ``x`` is the model input as given to
    ``verify`` (scaled integers when the graph takes them).
    """
    ref = reference_outputs(Path(path), model_input(graph, x))
    n = len(golden)
    if isinstance(graph.output_node, LabelSelect):
        k = graph.output_node.k
        got = np.asarray(golden).reshape(n, -1)
        flat = ref.reshape(n, -1)
        if np.issubdtype(ref.dtype, np.integer):
            want = flat
            bad = np.nonzero(np.any(got != want, axis=1))[0]
        else:
            want = np.argsort(-flat, axis=1, kind="stable")[:, :k]
            bad = np.nonzero(np.any(got != want, axis=1))[0]
            scores = flat.astype(np.float64)
            rows = np.arange(n)[:, None]
            tol = RTOL * np.maximum(np.abs(scores).max(axis=1, initial=0.0), np.finfo(np.float32).tiny)
            valid = (got >= 0) & (got < flat.shape[1])
            got_scores = scores[rows, np.where(valid, got, 0)]
            distinct = np.all(np.diff(np.sort(got, axis=1), axis=1) != 0, axis=1)
            tied = distinct & np.all(valid & (np.abs(got_scores - scores[rows, want]) <= tol[:, None]),
                                     axis=1)
            if np.count_nonzero(tied[bad]):
                log.info("%d frames have labels ordered differently among equal qonnx scores",
                         int(np.count_nonzero(tied[bad])))
            bad = bad[~tied[bad]]
        return [f"frame {i}: labels {got[i].tolist()} != qonnx {want[i].tolist()}" for i in bad]
    final = host.run_stages(graph.host_post, golden)
    final = np.asarray(final).reshape(ref.shape)
    if np.issubdtype(ref.dtype, np.integer):
        bad_mask = final != ref
    else:
        err = np.abs(final.astype(np.float64) - ref.astype(np.float64))
        scale = max(float(np.abs(ref).max()), float(np.finfo(np.float32).tiny))
        bad_mask = err > RTOL * scale
    problems = []
    for i in np.nonzero(bad_mask.reshape(n, -1).any(axis=1))[0]:
        j = int(np.nonzero(bad_mask.reshape(n, -1)[i])[0][0])
        problems.append(f"frame {i} output {j}: golden {final.reshape(n, -1)[i, j]!r} != qonnx "
                        f"{ref.reshape(n, -1)[i, j]!r}")
    return problems
