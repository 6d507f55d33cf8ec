"""Issue-4 acceptance in RTL: FINN's TFC models, RTL == golden == qonnx, label by label."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bitsmith.generator.build import BuildOptions
from bitsmith.generator.verify import verify

MODELS = Path(__file__).resolve().parents[2] / "models"
FINN_FOLDING = Path(__file__).resolve().parents[3] / "generator" / "examples" / "tfc" / "finn_folding.json"


def mnist_options(**kw) -> BuildOptions:
    return BuildOptions(input_dtype="UINT8", input_scale=1 / 255, topk=1, **kw)


def further_images(n_random: int = 600, n_digits: int = 500) -> np.ndarray:
    """Random 0..255 images and scikit-learn digits upscaled to 28x28, NCHW float32."""
    from sklearn.datasets import load_digits
    rng = np.random.default_rng(42)
    rand = rng.integers(0, 256, (n_random, 1, 28, 28))
    digits = np.kron(load_digits().images[:n_digits], np.ones((3, 3)))       # 24x24, 0..16
    img = np.zeros((n_digits, 28, 28))
    img[:, 2:26, 2:26] = np.round(digits * 255 / 16)
    return np.concatenate([rand, img.reshape(n_digits, 1, 28, 28)]).astype(np.float32)


@pytest.mark.verilator
@pytest.mark.parametrize("model", ["TFC_1W1A", "TFC_2W2A"])
def test_acceptance_mnist_vector(model):
    x = np.load(MODELS / "mnist_input.npy")
    expected = np.load(MODELS / "mnist_expected_output.npy")
    res = verify(MODELS / f"{model}.onnx", x, mnist_options(), expected=expected)
    assert res.passed, res.details
    assert res.mismatches == 0 and res.reference_mismatches == 0 and res.expected_mismatches == 0
    assert res.labels == expected.reshape(-1).tolist()


@pytest.mark.verilator
@pytest.mark.parametrize("model", ["TFC_1W1A", "TFC_2W2A"])
def test_1100_further_images_rtl_golden_qonnx_agree(model):
    x = further_images()
    res = verify(MODELS / f"{model}.onnx", x, mnist_options())
    assert res.frames == 1100
    assert (res.mismatches, res.reference_mismatches, res.protocol_errors) == (0, 0, 0), res.details
    assert (res.cycles_per_frame, res.mean_cycles_per_frame, res.longest_frame_gap) == \
        (res.ideal_cycles_per_frame,) * 3
    assert len(set(res.labels)) > 3          # not a constant network


@pytest.mark.verilator
def test_tfc_w1a1_at_finns_published_folding_runs_at_64_cycles():
    x = further_images(150, 50)
    res = verify(MODELS / "TFC_1W1A.onnx", x, mnist_options(fold=str(FINN_FOLDING)))
    assert res.passed, res.details
    layers = {row["name"]: row for row in res.report["layers"]}
    assert [(layers[f"MVAU{i}"]["pe"], layers[f"MVAU{i}"]["simd"]) for i in range(4)] == \
        [(16, 49), (8, 8), (8, 8), (10, 8)]
    # (MH/PE)(MW/SIMD) of the slowest layer: (64/16)(784/49) = (64/8)(64/8) = 64
    assert res.ideal_cycles_per_frame == 64
    assert (res.cycles_per_frame, res.mean_cycles_per_frame, res.longest_frame_gap) == (64,) * 3
