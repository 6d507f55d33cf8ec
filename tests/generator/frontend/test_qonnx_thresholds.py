"""Exhaustive check of streamlined thresholds over the whole accumulator range.

For every integer accumulator ``a`` in range and every channel, the integer
multi-threshold must give exactly the value qonnx computes in float for
``quantizer(chain(a))`` — including rounding ties (power-of-two scales put crossing
points exactly on half-integers), clipping, ReLU, negative scales (flipped rows) and
levels that no accumulator reaches.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from qonnx.custom_op.general.bipolar_quant import binary_quant
from qonnx.custom_op.general.multithreshold import multithreshold
from qonnx.custom_op.general.quant import quant as qonnx_quant

from bitsmith.generator.frontend.qonnx import chain as ch
from bitsmith.generator.frontend.qonnx import quantizers as qz
from bitsmith.generator.frontend.qonnx.thresholds import build_thresholds
from bitsmith.sim.golden.dense import apply_thresholds

LO, HI = -200, 200
CHANNELS = 4


def chains(kind: str):
    """Per-channel (C, 1) chains: exact power-of-two scales (ties) or irregular ones."""
    rng = np.random.default_rng({"pow2": 1, "irregular": 2}[kind])
    if kind == "pow2":
        mul = 2.0 ** rng.integers(-6, -1, size=(CHANNELS, 1))
        add = rng.integers(-40, 40, size=(CHANNELS, 1)) * 2.0 ** -3
    else:
        mul = rng.uniform(0.002, 0.05, size=(CHANNELS, 1))
        add = rng.normal(size=(CHANNELS, 1))
    return mul, add


QUANTIZERS = {
    "int2-signed-narrow": lambda: qz.IntQuant(np.float64(0.5), np.float64(0), 2, True, True, "ROUND"),
    "int4-signed": lambda: qz.IntQuant(np.float64(0.25), np.float64(0), 4, True, False, "ROUND"),
    "uint3-floor": lambda: qz.IntQuant(np.float64(0.125), np.float64(0), 3, False, False, "FLOOR"),
    "uint2-ceil": lambda: qz.IntQuant(np.float64(0.5), np.float64(0), 2, False, False, "CEIL"),
    "int3-zero-point": lambda: qz.IntQuant(np.float64(0.5), np.float64(1), 3, True, False, "ROUND"),
    "int1-bipolar": lambda: qz.IntQuant(np.float64(0.5), np.float64(0), 1, True, False, "ROUND"),
    "bipolar": lambda: qz.BipolarQuant(np.float64(0.75)),
    "sign": lambda: qz.Sign(),
    "multithreshold": lambda: qz.Thresholding(np.array([[-1.0, -0.25, 0.0, 0.5, 2.0]]), 0.5, -1.0),
}


def reference(name: str, q, x: np.ndarray) -> np.ndarray:
    """qonnx's float result for the real inputs ``x``."""
    if isinstance(q, qz.IntQuant):
        return qonnx_quant(x, q.scale, q.zero_point, np.float64(q.bitwidth), q.signed, q.narrow, q.rounding_mode)
    if isinstance(q, qz.BipolarQuant):
        return binary_quant(x, q.scale)
    if isinstance(q, qz.Sign):
        return np.sign(x)
    t = np.broadcast_to(q.thresholds.reshape(1, -1), (x.shape[1], q.thresholds.shape[-1]))
    return multithreshold(x, t, q.out_scale, q.out_bias)


@pytest.mark.parametrize("name, kind, relu, negative",
                         list(itertools.product(QUANTIZERS, ["pow2", "irregular"], [False, True], [False, True])))
def test_thresholds_match_float_quantizer_everywhere(name, kind, relu, negative):
    q = QUANTIZERS[name]()
    mul, add = chains(kind)
    if negative:
        mul = mul * np.where(np.arange(CHANNELS) % 2, -1.0, 1.0)[:, None]
    chain = [ch.affine(mul, add)] + ([ch.ReluStep()] if relu else [])
    acc = np.arange(LO, HI + 1)
    real_in = ch.evaluate(chain, acc[None, :].astype(np.float64))          # (C, A)
    want = reference(name, q, real_in.T.copy())                              # (A, C)
    # the caller's job for negative slopes: negate those rows, so the hardware sees -a
    flip = (ch.slope_sign(chain).reshape(-1) < 0) if np.ndim(ch.slope_sign(chain)) else np.zeros(CHANNELS, bool)
    sign = np.where(flip, -1.0, 1.0)[:, None]
    chain_hw = [ch.affine(sign, 0.0)] + chain
    lo, hi = (LO, HI) if not flip.any() else (-HI, HI)
    q_c = q.remap(lambda c: np.broadcast_to(np.asarray(c, np.float64).reshape(-1, 1)[:1], (CHANNELS, 1)))
    levels = q.levels
    th = build_thresholds(chain_hw, q_c, lo, hi, levels, CHANNELS)
    th.check("test", CHANNELS)
    hw_acc = acc[:, None] * sign[:, 0][None, :]                             # what the flipped unit accumulates
    codes = apply_thresholds(hw_acc.astype(np.int64), th)                    # (A, C)
    out_mul, out_add = q.out_affine()
    got = codes * np.float64(out_mul) + np.float64(out_add)
    assert np.array_equal(got, want.astype(np.float64)), \
        f"first mismatch at {np.argwhere(got != want)[0]}: {got[tuple(np.argwhere(got != want)[0])]} " \
        f"!= {want[tuple(np.argwhere(got != want)[0])]}"


def test_levels_nobody_reaches_are_trimmed():
    # ReLU before a signed 4-bit quantizer: codes -8..-1 are unreachable, and with a in
    # [-100, 100] so are 6 and 7 (a/20 <= 5): 5 thresholds, out_bias 0, UINT3
    q = qz.IntQuant(np.float64(1.0), np.float64(0), 4, True, False, "ROUND")
    chain = [ch.affine(np.full((2, 1), 0.05), np.zeros((2, 1))), ch.ReluStep()]
    th = build_thresholds(chain, q, -100, 100, q.levels, 2)
    assert th.out_dtype.name == "UINT3" and th.out_bias == 0 and th.steps == 5
    # crossing points a = 20*(t - 0.5) are exact ties, rounded half to even:
    # 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, 3.5 -> 4, 4.5 -> 4
    assert th.values.tolist() == [[11, 30, 51, 70, 91]]


def test_sign_without_exact_zero_is_bipolar():
    chain = [ch.affine(np.full((1, 1), 1.0), np.full((1, 1), 0.5))]       # a + 0.5 is never 0
    th = build_thresholds(chain, qz.Sign(), -10, 10, (-1, 1), 1)
    assert th.out_dtype.name == "BIPOLAR" and th.values.tolist() == [[0]]
    chain = [ch.affine(np.full((1, 1), 1.0), np.zeros((1, 1)))]            # a == 0 gives 0
    th = build_thresholds(chain, qz.Sign(), -10, 10, (-1, 1), 1)
    assert th.out_dtype.name == "INT2" and th.values.tolist() == [[0, 1]] and th.out_bias == -1
