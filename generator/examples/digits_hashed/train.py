"""Train the digits MLP as a HashedNets network (Chen et al., arXiv 1504.04788).

Run ``python -m bitsmith.generator.examples.digits_hashed.train`` to regenerate
``digits_hashed.yaml``, ``digits_small.yaml`` and ``digits_hashed.npz`` next to this file
(pure numpy + scikit-learn, deterministic, seed 0).

The network of :mod:`..digits_sparse.train` (64 UINT5 inputs -> 256, quantized ReLU to
UINT3 -> 10, label = argmax) with hashed layers: ``fc0`` draws its 16,384 virtual weights
from K = 2,048 values, ``fc1`` its 2,560 from 256 (8.2x fewer stored weights in all),
``W[i, j] = xi(i, j) * w[h(i, j)]`` with the hash the hardware computes
(:func:`bitsmith.hw.compute.hashed_mvau.hash_indices`, seeds 1 and 2). Training is Adam on
the K values (the gradient of a value is the signed sum of its virtual weights'
gradients), 80 epochs; the values are then quantized to INT8 (per-layer scale, +-127 so
every negation fits). For comparison at equal weight storage, ``digits_small.yaml`` is a
dense network of the same procedure with 31 hidden units (2,294 weights against the 2,304
stored values; 64 -> 31 -> 10).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bitsmith.hw.compute.hashed_mvau import hash_indices

from ..digits.train import Adam
from ..digits_sparse.train import HIDDEN, SEED, fit, grads, integer_accuracy, load_split, quantize

HERE = Path(__file__).parent
BUCKETS = (2048, 256)
SEEDS = (1, 2)
SMALL_HIDDEN = 31
EPOCHS = 80


def hashing(shape, buckets: int, seed: int):
    """``(bucket, sign)`` arrays of a virtual matrix of ``shape``."""
    bucket, negative = hash_indices(shape[0], shape[1], buckets, seed)
    return bucket, 1.0 - 2.0 * negative


def virtual(values, hashed):
    bucket, sign = hashed
    return sign * values[bucket]


def train_hashed(xs, y, rng, lr=2e-3, batch=64):
    """Adam on the bucket values of both layers and the hidden bias."""
    maps = [hashing((HIDDEN, 64), BUCKETS[0], SEEDS[0]), hashing((10, HIDDEN), BUCKETS[1], SEEDS[1])]
    values = [rng.normal(0, 0.1, BUCKETS[0]), rng.normal(0, 0.1, BUCKETS[1])]
    b0 = np.zeros(HIDDEN)
    opt = Adam([values[0], b0, values[1]], lr)
    for _ in range(EPOCHS):
        order = rng.permutation(len(xs))
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            params = [virtual(values[0], maps[0]), b0, virtual(values[1], maps[1])]
            g = grads(params, xs[idx], y[idx])
            gv = [np.bincount(m[0].ravel(), weights=(m[1] * gw).ravel(), minlength=v.size)
                  for m, gw, v in zip(maps, (g[0], g[2]), values)]
            opt.step([gv[0], g[1], gv[1]])
    return values, b0, maps


def main() -> None:
    x_tr, x_te, y_tr, y_te = load_split()
    rng = np.random.default_rng(SEED)
    xs = x_tr.astype(float)
    values, b0, maps = train_hashed(xs, y_tr, rng)
    scales = [np.abs(v).max() / 127 for v in values]
    params = [virtual(values[0], maps[0]), b0, virtual(values[1], maps[1])]
    hashed = quantize(params, xs, scales)
    arrays = {"fc0_v": np.round(values[0] / scales[0]).astype(np.int64), "fc0_t": hashed["fc0_t"],
              "fc1_v": np.round(values[1] / scales[1]).astype(np.int64)}
    for k, m in (("fc0", maps[0]), ("fc1", maps[1])):     # the export is the trained network
        assert (virtual(arrays[f"{k}_v"], m) == hashed[f"{k}_w"]).all()

    small = [rng.normal(0, 0.1, (SMALL_HIDDEN, 64)), np.zeros(SMALL_HIDDEN), rng.normal(0, 0.1, (10, SMALL_HIDDEN))]
    small = quantize(fit(small, xs, y_tr, EPOCHS, rng), xs)
    arrays.update({f"small_{k}": v for k, v in small.items()})
    np.savez_compressed(HERE / "digits_hashed.npz", **arrays)
    head = "name: digits_{}\ninput: {{shape: [64], dtype: UINT5}}\narrays: digits_hashed.npz\nlayers:\n"
    (HERE / "digits_hashed.yaml").write_text(
        "# Integer digits MLP with hashed weights (HashedNets), written by train.py in this folder.\n"
        + head.format("hashed")
        + f"  - {{name: fc0, op: hashed_dense, weights: fc0_v, buckets: {BUCKETS[0]}, seed: {SEEDS[0]}, "
          f"out_features: {HIDDEN}, weight_dtype: INT8, thresholds: fc0_t, out_dtype: UINT3, pe: 1, simd: 1}}\n"
        + f"  - {{name: fc1, op: hashed_dense, weights: fc1_v, buckets: {BUCKETS[1]}, seed: {SEEDS[1]}, "
          f"out_features: 10, weight_dtype: INT8, pe: 1, simd: 1}}\n")
    (HERE / "digits_small.yaml").write_text(
        f"# Dense integer digits MLP with {SMALL_HIDDEN} hidden units (the hashed one's weight storage), "
        "written by train.py in this folder.\n" + head.format("small")
        + "  - {name: fc0, op: dense, weights: small_fc0_w, weight_dtype: INT8, thresholds: small_fc0_t, "
          "out_dtype: UINT3, pe: 1, simd: 1}\n"
        + "  - {name: fc1, op: dense, weights: small_fc1_w, weight_dtype: INT8, pe: 1, simd: 1}\n")
    print(f"hashed: test accuracy {integer_accuracy(hashed, x_te, y_te):.4f}, train "
          f"{integer_accuracy(hashed, x_tr, y_tr):.4f}")
    print(f"dense {SMALL_HIDDEN} hidden: test accuracy {integer_accuracy(small, x_te, y_te):.4f}")


if __name__ == "__main__":
    main()
