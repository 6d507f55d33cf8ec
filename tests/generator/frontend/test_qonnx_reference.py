"""golden == qonnx: every disagreement counted, tied labels judged by qonnx's own scores."""

from __future__ import annotations

import numpy as np
import pytest

import bitsmith.sim.golden as golden_module
from bitsmith.generator.frontend.qonnx import compare_with_reference, load_onnx, reference_outputs
from bitsmith.generator.ir.host import run_stages
from bitsmith.sim.golden import run_graph
from test_qonnx_models import Net


@pytest.fixture(scope="module")
def twin_classes(tmp_path_factory):
    """A 2-bit MLP with 4 classes whose classes 1 and 2 have identical weights (exact ties)."""
    rng = np.random.default_rng(3)
    w = rng.normal(size=(8, 4)).astype(np.float32)
    w[:, 2] = w[:, 1]
    net = Net((1, 8)).quant(0.5, 3, signed=1)
    net.op("MatMul", net.weight(w, 0.5, bits=3)).op("Mul", np.float32(0.25))
    path = net.save(tmp_path_factory.mktemp("ref") / "twins.onnx")
    graph = load_onnx(path, topk=2)
    x = (rng.normal(size=(60, 8)) * 2).astype(np.float32)
    labels = run_graph(graph, run_stages(graph.host_pre, x)).reshape(len(x), -1)
    scores = reference_outputs(path, x).reshape(len(x), -1)
    return path, graph, x, labels, scores


def test_every_disagreement_is_counted(twin_classes):
    path, graph, x, labels, scores = twin_classes
    assert compare_with_reference(graph, path, x, labels) == []
    wrong = labels.copy()
    order = np.argsort(-scores, axis=1, kind="stable")
    clear = np.nonzero(scores[np.arange(len(x)), order[:, 0]] > scores[np.arange(len(x)), order[:, 2]])[0]
    wrong[clear, 0] = order[clear, 2]             # a label of a clearly lower score, in first place
    problems = compare_with_reference(graph, path, x, wrong)
    assert len(clear) > 20 and len(problems) == len(clear)       # not cut at 20
    assert problems[0] == (f"frame {clear[0]}: labels {wrong[clear[0]].tolist()} != qonnx "
                           f"{order[clear[0], :2].tolist()}")


def test_twins_in_either_order_are_a_tie(twin_classes):
    path, graph, x, labels, scores = twin_classes
    swapped = labels.copy()
    twins = np.all(np.sort(labels, axis=1) == [1, 2], axis=1)
    assert twins.any()
    swapped[twins] = swapped[twins][:, ::-1]
    assert compare_with_reference(graph, path, x, swapped) == []


def test_ties_are_judged_by_qonnx_scores_not_the_golden_models(twin_classes, monkeypatch):
    """A golden model that scores every class the same must not excuse a wrong label."""
    path, graph, x, labels, scores = twin_classes
    flat = lambda g, xs, upto=None: np.zeros((len(xs), 1, 1, 4), dtype=np.int64)  # noqa: E731
    monkeypatch.setattr(golden_module, "run_graph", flat)
    order = np.argsort(-scores, axis=1, kind="stable")
    frame = int(np.nonzero(scores[np.arange(len(x)), order[:, 0]] > scores[np.arange(len(x)), order[:, 1]])[0][0])
    wrong = labels.copy()
    wrong[frame] = order[frame, 1::-1]            # the top two, swapped: not a tie for qonnx
    assert compare_with_reference(graph, path, x, wrong) == [
        f"frame {frame}: labels {wrong[frame].tolist()} != qonnx {order[frame, :2].tolist()}"]


def test_repeated_label_is_no_tie(twin_classes):
    path, graph, x, labels, scores = twin_classes
    twins = np.nonzero(np.all(np.sort(labels, axis=1) == [1, 2], axis=1))[0]
    frame = int(twins[0])
    wrong = labels.copy()
    wrong[frame] = [labels[frame, 0], labels[frame, 0]]      # both ranks the same twin
    assert len(compare_with_reference(graph, path, x, wrong)) == 1
