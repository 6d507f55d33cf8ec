"""Train the digits MLP with power-of-two weights, Incremental Network Quantization style.

Run ``python -m bitsmith.generator.examples.digits_shift.train`` to regenerate
``digits_shift.yaml`` and ``digits_shift.npz`` next to this file (pure numpy + scikit-learn,
deterministic, seed 0). The network and data are those of the 8-bit model of
:mod:`..digits_sparse.train` (64 UINT5 inputs -> 256, quantized ReLU to UINT3 -> 10, raw
accumulator, label = argmax), trained the same way (60 epochs of Adam); then INQ (Zhou et
al., arXiv 1702.03044): per layer a scale ``s`` with ``max|w| = 64 s``; repeatedly take the
largest-magnitude weights not yet quantized up to 50 %, 75 %, 87.5 % and 100 % of the
layer, set them to ``s * sign(w) * 2**e`` (``e = round(log2(|w|/s))`` clipped to 0..6, 0
below ``2**-0.5 s``), freeze them, and retrain the others (15 epochs each). Every weight
ends as 0 or ``±2**e``, ``e`` in 0..6: the INT8 range, one shift each (``shift_dense``,
``weight_dtype: POW2``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..digits.train import Adam
from ..digits_sparse.train import SEED, grads, integer_accuracy, load_split, quantize, train_dense

HERE = Path(__file__).parent
STEPS = (0.5, 0.75, 0.875, 1.0)
MAX_EXPONENT = 6


def power_of_two(w: np.ndarray, s: float) -> np.ndarray:
    """``w`` rounded to ``s * {0, ±2**e}``, ``e`` in 0..:data:`MAX_EXPONENT` (in the log domain)."""
    mag = np.abs(w) / s
    e = np.clip(np.round(np.log2(np.maximum(mag, 1e-30))), 0, MAX_EXPONENT)
    return np.where(mag < 2 ** -0.5, 0.0, np.sign(w) * s * 2.0 ** e)


def fit_frozen(params, frozen, x, y, epochs, rng, lr=1e-3, batch=64):
    """Adam on the weights not ``frozen`` (boolean masks of fc0, fc1) and the bias."""
    opt = Adam(params, lr)
    keep = [params[0][frozen[0]].copy(), params[2][frozen[1]].copy()]
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            g = grads(params, x[idx], y[idx])
            g[0][frozen[0]] = 0.0; g[2][frozen[1]] = 0.0
            opt.step(g)
            params[0][frozen[0]] = keep[0]; params[2][frozen[1]] = keep[1]
    return params


def inq(params, x, y, rng):
    """Quantize ``params`` to powers of two in :data:`STEPS`; returns them and the scales."""
    scales = [np.abs(params[0]).max() / 2 ** MAX_EXPONENT, np.abs(params[2]).max() / 2 ** MAX_EXPONENT]
    frozen = [np.zeros(params[0].shape, bool), np.zeros(params[2].shape, bool)]
    for fraction in STEPS:
        for k, (i, s) in enumerate(zip((0, 2), scales)):
            w = params[i]
            count = int(round(fraction * w.size)) - int(frozen[k].sum())
            free = np.flatnonzero(~frozen[k])
            pick = free[np.argsort(-np.abs(w.ravel()[free]), kind="stable")[:count]]
            w.ravel()[pick] = power_of_two(w.ravel()[pick], s)
            frozen[k].ravel()[pick] = True
        if fraction < 1.0:
            params = fit_frozen(params, frozen, x, y, 15, rng)
    return params, scales


def main() -> None:
    x_tr, x_te, y_tr, y_te = load_split()
    rng = np.random.default_rng(SEED)
    xs = x_tr.astype(float)
    params = train_dense(xs, y_tr, rng)
    dense = quantize(params, xs)                     # the 8-bit model (as digits_sparse's dense one)
    params, scales = inq(params, xs, y_tr, rng)
    shift = quantize(params, xs, scales)
    for k in ("fc0_w", "fc1_w"):
        mags = np.abs(shift[k][shift[k] != 0])
        assert ((mags & (mags - 1)) == 0).all() and mags.max() <= 2 ** MAX_EXPONENT
    np.savez_compressed(HERE / "digits_shift.npz", **shift)
    (HERE / "digits_shift.yaml").write_text(
        "# Integer digits MLP with power-of-two weights (INQ), written by train.py in this folder.\n"
        "name: digits_shift\ninput: {shape: [64], dtype: UINT5}\narrays: digits_shift.npz\nlayers:\n"
        "  - {name: fc0, op: shift_dense, weights: fc0_w, weight_dtype: POW2, exponents: [0, 6], "
        "thresholds: fc0_t, out_dtype: UINT3, pe: 16, simd: 16}\n"
        "  - {name: fc1, op: shift_dense, weights: fc1_w, weight_dtype: POW2, exponents: [0, 6], "
        "pe: 10, simd: 16}\n")
    for name, a in (("8-bit", dense), ("power-of-two", shift)):
        print(f"{name}: test accuracy {integer_accuracy(a, x_te, y_te):.4f}, train "
              f"{integer_accuracy(a, x_tr, y_tr):.4f}")


if __name__ == "__main__":
    main()
