"""Train the bundled binarized MLP on scikit-learn's ``load_digits`` (no download).

Run ``python -m bitsmith.generator.examples.digits.train`` to regenerate ``digits.yaml`` and
``digits.npz`` next to this file. Pure numpy, deterministic (seed 0), ~20 s on a laptop core.

Network (all BIPOLAR, XNOR-popcount in hardware):

* input: the 8x8 image binarized at 8 (pixel > 7 -> +1, else -1), 64 values;
* fc0: 64 -> 128, sign(dot + b) -> BIPOLAR;  fc1: 128 -> 128, likewise;
* fc2: 128 -> 10, the raw popcount accumulator; the label is its argmax.

Training uses latent float weights binarized with sign() in the forward pass and the
straight-through estimator (gradient passed where |latent| <= 1) in the backward pass,
Adam, and a per-neuron bias. A bias b in front of ``sign`` becomes the integer threshold
of the popcount domain: with dot = 2*acc - MW, ``dot + b >= 0`` <=> ``acc >= ceil((MW - b) / 2)``.
The split is scikit-learn's ``train_test_split(test_size=0.2, random_state=0, stratify=y)``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
MODEL = HERE / "digits.yaml"
HIDDEN = (128, 128)
SEED = 0


def load_split():
    """Binarized digits, split as documented: (x_train, x_test, y_train, y_test)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    x = np.where(digits.data > 7, 1, -1).astype(np.int64)
    return train_test_split(x, digits.target, test_size=0.2, random_state=SEED, stratify=digits.target)


def sign(v):
    return np.where(v >= 0, 1.0, -1.0)


class Adam:
    def __init__(self, params, lr):
        self.params, self.lr, self.t = params, lr, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads):
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= 0.9; m += 0.1 * g
            v *= 0.999; v += 0.001 * g * g
            mh = m / (1 - 0.9 ** self.t); vh = v / (1 - 0.999 ** self.t)
            p -= self.lr * mh / (np.sqrt(vh) + 1e-8)


def train(epochs: int = 120, batch: int = 64):
    x_tr, x_te, y_tr, y_te = load_split()
    rng = np.random.default_rng(SEED)
    sizes = (64,) + HIDDEN + (10,)
    ws = [rng.uniform(-1, 1, (o, i)) * 0.5 for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [np.zeros(o) for o in sizes[1:-1]]
    opt = Adam(ws + bs, lr=3e-3)
    n_layers = len(ws)
    for epoch in range(epochs):
        order = rng.permutation(len(x_tr))
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            h, cache = x_tr[idx].astype(float), []
            for k in range(n_layers):
                wb = sign(ws[k])
                a = h @ wb.T
                scale = 1.0 / math.sqrt(ws[k].shape[1])
                if k < n_layers - 1:
                    z = (a + bs[k]) * scale
                    cache.append((h, wb, z, scale))
                    h = sign(z)
                else:
                    logits = a * scale
                    cache.append((h, wb, None, scale))
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            g = p; g[np.arange(len(idx)), y_tr[idx]] -= 1; g /= len(idx)
            gw, gb = [None] * n_layers, [None] * (n_layers - 1)
            for k in reversed(range(n_layers)):
                h_in, wb, z, scale = cache[k]
                if z is not None:
                    g = g * (np.abs(z) <= 1.0)          # STE through sign
                    gb[k] = g.sum(axis=0) * scale
                ga = g * scale
                gw[k] = (ga.T @ h_in) * (np.abs(ws[k]) <= 1.0)   # STE through sign(w)
                g = ga @ wb
            opt.step(gw + gb)
            for w in ws:
                np.clip(w, -1, 1, out=w)
    return ws, bs, (x_tr, x_te, y_tr, y_te)


def export(ws, bs) -> dict[str, np.ndarray]:
    """Integer arrays of the native description (weights ±1, popcount-domain thresholds)."""
    arrays = {}
    for k, w in enumerate(ws):
        arrays[f"fc{k}_w"] = sign(w).astype(np.int8)
        if k < len(bs):
            mw = w.shape[1]
            # dot + b >= 0  <=>  2*acc - MW + b >= 0  <=>  acc >= ceil((MW - b) / 2)
            t = np.ceil((mw - bs[k]) / 2.0).astype(np.int64)
            arrays[f"fc{k}_t"] = np.clip(t, 0, mw + 1).reshape(-1, 1)
    return arrays


def integer_forward(arrays, x):
    """Pure-integer inference of the exported arrays (used to report accuracy)."""
    h = x
    for k in range(3):
        w = arrays[f"fc{k}_w"].astype(np.int64)
        acc = ((h @ w.T) + w.shape[1]) // 2              # popcount of matches
        if k < 2:
            h = np.where(acc >= arrays[f"fc{k}_t"][:, 0], 1, -1)
    return acc.argmax(axis=1)


YAML = """\
# Binarized MLP for scikit-learn's digits, trained by train.py in this folder.
name: digits_bnn
input:
  shape: [64]
  dtype: BIPOLAR
arrays: digits.npz
layers:
  - {name: fc0, op: dense, weights: fc0_w, weight_dtype: BIPOLAR, thresholds: fc0_t, out_dtype: BIPOLAR, pe: 16, simd: 32}
  - {name: fc1, op: dense, weights: fc1_w, weight_dtype: BIPOLAR, thresholds: fc1_t, out_dtype: BIPOLAR, pe: 16, simd: 64}
  - {name: fc2, op: dense, weights: fc2_w, weight_dtype: BIPOLAR, pe: 5, simd: 64}
"""


def main() -> None:
    ws, bs, (x_tr, x_te, y_tr, y_te) = train()
    arrays = export(ws, bs)
    np.savez_compressed(HERE / "digits.npz", **arrays)
    MODEL.write_text(YAML)
    acc_tr = (integer_forward(arrays, x_tr) == y_tr).mean()
    acc_te = (integer_forward(arrays, x_te) == y_te).mean()
    print(f"integer model: train accuracy {acc_tr:.4f}, test accuracy {acc_te:.4f} ({len(y_te)} test images)")


if __name__ == "__main__":
    main()
