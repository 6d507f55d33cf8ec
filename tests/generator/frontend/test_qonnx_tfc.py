"""Acceptance: FINN's TFC-w1a1 and TFC-w2a2 (QONNX model zoo) through the QONNX front end.

Golden labels must equal the label shipped with the MNIST vector and qonnx's
``execute_onnx`` argmax of the original model on every one of 1,100 further frames
(random 0..255 images and scikit-learn digits upscaled to 28x28); the pre-top-K integer
outputs through host-post must match qonnx's float outputs to 1e-5 relative.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator.frontend.qonnx import load_onnx, reference_outputs
from bitsmith.generator.ir import LabelSelect, MatrixVector, MultiThreshold
from bitsmith.generator.ir.host import run_stages
from bitsmith.sim.golden import run_graph

MODELS = Path(__file__).resolve().parents[2] / "models"
UINT8 = dict(input_dtype=DataType["UINT8"], input_scale=1 / 255)


def frames() -> np.ndarray:
    """600 random images and 500 scikit-learn digits upscaled 8x8 -> 24x24, padded to 28x28."""
    from sklearn.datasets import load_digits
    rng = np.random.default_rng(2026)
    noise = rng.integers(0, 256, size=(600, 1, 28, 28))
    digits = load_digits().images[:500]                           # values 0..16
    big = np.kron(digits, np.ones((3, 3)))                          # (500, 24, 24)
    big = np.pad(big, ((0, 0), (2, 2), (2, 2)))
    digits = np.round(big * 255 / 16).astype(np.int64)[:, None]
    return np.concatenate([noise, digits]).astype(np.float32)


@pytest.fixture(scope="module")
def images():
    return frames()


def golden(graph, x):
    return run_graph(graph, run_stages(graph.host_pre, x))


@pytest.mark.parametrize("model", ["TFC_1W1A", "TFC_2W2A"])
def test_expected_label(model):
    graph = load_onnx(MODELS / f"{model}.onnx", topk=1, **UINT8)
    x = np.load(MODELS / "mnist_input.npy")
    expected = np.load(MODELS / "mnist_expected_output.npy")
    labels = run_stages(graph.host_post, golden(graph, x))
    assert labels.tolist() == expected.tolist() == [[7]]


@pytest.mark.parametrize("model", ["TFC_1W1A", "TFC_2W2A"])
def test_labels_equal_qonnx_on_1100_frames(model, images):
    path = MODELS / f"{model}.onnx"
    graph = load_onnx(path, topk=1, **UINT8)
    labels = golden(graph, images).reshape(-1)
    ref = reference_outputs(path, images / np.float32(255))
    want = ref.argmax(axis=1)
    bad = np.nonzero(labels != want)[0]
    assert len(images) >= 1000 and bad.size == 0, \
        f"{bad.size} mismatches, first frame {bad[:1]}: golden {labels[bad[:1]]} qonnx {want[bad[:1]]}"


@pytest.mark.parametrize("model", ["TFC_1W1A", "TFC_2W2A"])
def test_float_outputs_through_host_post(model, images):
    path = MODELS / f"{model}.onnx"
    graph = load_onnx(path, **UINT8)
    out = run_stages(graph.host_post, golden(graph, images))
    ref = reference_outputs(path, images / np.float32(255))
    assert out.dtype == np.float32 and out.shape == ref.shape == (len(images), 10)
    rel = np.abs(out.astype(np.float64) - ref) / np.abs(ref).max(axis=1, keepdims=True)
    assert rel.max() <= 1e-5


@pytest.mark.parametrize("model", ["TFC_1W1A", "TFC_2W2A"])
def test_float_input_quantized_on_host(model, images):
    path = MODELS / f"{model}.onnx"
    graph = load_onnx(path, topk=1)
    x = images[::5] / np.float32(255)
    assert type(graph.host_pre[-2]).__name__ in ("BipolarQuantize", "Quantize")
    labels = golden(graph, x).reshape(-1)
    assert np.array_equal(labels, reference_outputs(path, x).argmax(axis=1))


def test_tfc_w1a1_ir():
    graph = load_onnx(MODELS / "TFC_1W1A.onnx", topk=1, **UINT8)
    nodes = graph.nodes
    assert [type(n) for n in nodes] == [MultiThreshold] + [MatrixVector] * 4 + [LabelSelect]
    assert [n.name for n in nodes] == ["Thresholds0", "MVAU0", "MVAU1", "MVAU2", "MVAU3", "LabelSelect0"]
    th = nodes[0].thresholds
    assert nodes[0].in_dtype.name == "UINT8" and th.values.shape == (1, 1) and th.out_dtype.name == "BIPOLAR"
    # 2*(p/255) - 1 >= 0  <=>  p >= 127.5  <=>  p >= 128
    assert th.values.tolist() == [[128]] and (th.out_scale, th.out_bias) == (2, -1)
    mv = nodes[1:5]
    assert [(n.out_features, n.in_features) for n in mv] == [(64, 784), (64, 64), (64, 64), (10, 64)]
    assert all(n.xnor and n.weight_dtype.name == "BIPOLAR" and (n.pe, n.simd) == (1, 1) for n in mv)
    assert [n.acc_dtype.name for n in mv] == ["UINT10", "UINT7", "UINT7", "UINT7"]
    assert [n.thresholds.values.shape for n in mv[:3]] == [(64, 1)] * 3 and mv[3].thresholds is None
    assert nodes[5].k == 1
    became = {row[0]: row[2] for row in graph.provenance}
    assert became["BatchNormalization_0"] == "absorbed into thresholds of MVAU0"
    assert became["MatMul_3"].startswith("lowered to MVAU3 (MatrixVector 10x64, BIPOLAR weights, XNOR")
