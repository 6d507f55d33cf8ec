"""Train, prune and share an integer MLP on scikit-learn's digits (issue 5, item 5).

Run ``python -m bitsmith.generator.examples.digits_sparse.train`` to regenerate the two native
descriptions next to this file: ``digits_dense.yaml`` (the dense integer network) and
``digits_sparse.yaml`` (the same network after Deep Compression, on the EIE engine),
sharing ``digits_sparse.npz``. Pure numpy + scikit-learn, deterministic (seed 0).

Network: input the 8x8 image as integers 0..16 (UINT5); ``fc0`` 64 -> 256 with a
quantized ReLU to UINT3 (7 thresholds per neuron, the bias folded in); ``fc1`` 256 -> 10,
raw accumulator, the label is its argmax (no bias, so the argmax is exact in integers).

Deep Compression, as in the paper: train dense; prune by magnitude in steps to 93 %
(fc0) and 70 % (fc1), 89.9 % overall, retraining with the mask after each step; share
each layer's non-zero weights by k-means (15 centroids, linear initialisation, index
0 = zero) and fine-tune the centroids (the gradient of a centroid is the sum over its
weights); quantize weights to INT8 (per-layer scale) and the activation to UINT3. The
dense network is quantized the same way, so the two differ only by pruning and sharing.
The split is scikit-learn's ``train_test_split(test_size=0.2, random_state=0, stratify=y)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..digits.train import Adam

HERE = Path(__file__).parent
SEED = 0
HIDDEN = 256
# Gradual pruning (fc0, fc1 target sparsity per step, retrained after each step): the
# 10-output layer keeps more of its few weights; overall 89.9 % of the weights are zero.
SCHEDULE = ((0.5, 0.5), (0.8, 0.6), (0.9, 0.7), (0.93, 0.7))
BITS = 4
ACT_LEVELS = 7          # UINT3


def load_split():
    """Digits as integers 0..16: (x_train, x_test, y_train, y_test)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    x = digits.data.astype(np.int64)
    return train_test_split(x, digits.target, test_size=0.2, random_state=SEED, stratify=digits.target)


def forward(params, x):
    w0, b0, w1 = params
    z = x @ w0.T + b0
    h = np.maximum(z, 0)
    return z, h, h @ w1.T


def grads(params, x, y):
    w0, b0, w1 = params
    z, h, logits = forward(params, x)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    g = p; g[np.arange(len(y)), y] -= 1; g /= len(y)
    gw1 = g.T @ h
    gh = (g @ w1) * (z > 0)
    return [gh.T @ x, gh.sum(axis=0), gw1]


def fit(params, x, y, epochs, rng, *, masks=None, shared=None, lr=2e-3, batch=64):
    """Adam on the MLP; ``masks`` keep pruned weights at 0; ``shared`` = per weight layer
    (index, centroids): train the centroids only (Deep Compression fine-tuning)."""
    if shared is None:
        opt = Adam(params, lr)
    else:
        cents = [c for _, c in shared]
        opt = Adam(cents + [params[1]], lr)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            g = grads(params, x[idx], y[idx])
            if shared is None:
                if masks is not None:
                    g[0] = g[0] * masks[0]; g[2] = g[2] * masks[1]
                opt.step(g)
                if masks is not None:
                    params[0] *= masks[0]; params[2] *= masks[1]
            else:
                gc = [np.bincount(i.ravel(), weights=gw.ravel(), minlength=c.size) for (i, c), gw
                      in zip(shared, (g[0], g[2]))]
                for gci in gc:
                    gci[0] = 0.0                      # index 0 stays zero
                opt.step(gc + [g[1]])
                params[0][...] = shared[0][1][shared[0][0]]
                params[2][...] = shared[1][1][shared[1][0]]
    return params


def share(w, rng):
    """k-means (linear init) of the non-zeros of ``w``: (index array, centroids with [0] = 0)."""
    from sklearn.cluster import KMeans
    nz = w[w != 0].reshape(-1, 1)
    k = (1 << BITS) - 1
    km = KMeans(n_clusters=k, init=np.linspace(nz.min(), nz.max(), k).reshape(-1, 1), n_init=1,
                random_state=0).fit(nz)
    index = np.zeros(w.shape, dtype=np.int64)
    index[w != 0] = km.labels_ + 1
    return index, np.concatenate([[0.0], km.cluster_centers_.ravel()])


def quantize(params, x_train, scales=None):
    """Integer arrays: INT8 weights (per-layer scale, or the given ``(s0, s1)``), UINT3
    activation thresholds."""
    w0, b0, w1 = params
    s_x = 1.0                                       # inputs are the integers themselves
    s0, s1 = scales if scales is not None else (np.abs(w0).max() / 127, np.abs(w1).max() / 127)
    q0 = np.round(w0 / s0).astype(np.int64)
    q1 = np.round(w1 / s1).astype(np.int64)
    _, h, _ = forward([q0 * s0, b0, w1], x_train)
    s_a = np.percentile(h[h > 0], 99.5) / ACT_LEVELS
    # q >= i  <=>  z >= (i - 0.5) * s_a  <=>  acc0 >= ((i - 0.5) * s_a - b0) / (s0 * s_x)
    levels = np.arange(1, ACT_LEVELS + 1) - 0.5
    t = np.ceil((levels[None, :] * s_a - b0[:, None]) / (s0 * s_x) - 1e-9).astype(np.int64)
    return {"fc0_w": q0, "fc0_t": t, "fc1_w": q1}


def integer_accuracy(arrays, x, y) -> float:
    acc0 = x @ arrays["fc0_w"].T
    h = (acc0[..., None] >= arrays["fc0_t"][None]).sum(axis=-1)
    return float(((h @ arrays["fc1_w"].T).argmax(axis=1) == y).mean())


def layer_yaml(name, op, extra):
    return "  - {" + f"name: {name}, op: {op}, " + extra + "}\n"


def train_dense(xs, y, rng):
    """The float MLP trained dense (60 epochs of Adam from a seeded normal start)."""
    params = [rng.normal(0, 0.1, (HIDDEN, 64)), np.zeros(HIDDEN), rng.normal(0, 0.1, (10, HIDDEN))]
    return fit(params, xs, y, 60, rng)


def main() -> None:
    x_tr, x_te, y_tr, y_te = load_split()
    rng = np.random.default_rng(SEED)
    xs = x_tr.astype(float)
    params = train_dense(xs, y_tr, rng)
    dense = quantize(params, xs)

    for step in SCHEDULE:
        masks = []
        for w, sparsity in zip((params[0], params[2]), step):
            cut = np.sort(np.abs(w).ravel())[int(sparsity * w.size)]
            masks.append((np.abs(w) >= cut).astype(float))
        params[0] *= masks[0]; params[2] *= masks[1]
        params = fit(params, xs, y_tr, 25, rng, masks=masks, lr=1e-3)
    shared = [share(params[0], rng), share(params[2], rng)]
    params[0][...] = shared[0][1][shared[0][0]]; params[2][...] = shared[1][1][shared[1][0]]
    params = fit(params, xs, y_tr, 30, rng, shared=shared, lr=3e-4)
    sparse = quantize(params, xs)

    arrays = {**{f"dense_{k}": v for k, v in dense.items()}, **{f"sparse_{k}": v for k, v in sparse.items()}}
    np.savez_compressed(HERE / "digits_sparse.npz", **arrays)
    for variant, fc in (("dense", "dense"), ("sparse", "sparse_dense")):
        hw0 = "n_pe: 16, queue_depth: 8" if fc == "sparse_dense" else "weight_dtype: INT8, pe: 16, simd: 16"
        hw1 = "n_pe: 5, queue_depth: 8" if fc == "sparse_dense" else "weight_dtype: INT8, pe: 10, simd: 16"
        text = (f"# Integer digits MLP ({variant}), written by train.py in this folder.\n"
                f"name: digits_{variant}\ninput: {{shape: [64], dtype: UINT5}}\narrays: digits_sparse.npz\nlayers:\n"
                + layer_yaml("fc0", fc, f"weights: {variant}_fc0_w, thresholds: {variant}_fc0_t, "
                                        f"out_dtype: UINT3, {hw0}")
                + layer_yaml("fc1", fc, f"weights: {variant}_fc1_w, {hw1}"))
        (HERE / f"digits_{variant}.yaml").write_text(text)
    for variant, a in (("dense", dense), ("sparse", sparse)):
        zeros = np.mean(np.concatenate([a["fc0_w"].ravel(), a["fc1_w"].ravel()]) == 0)
        print(f"{variant}: test accuracy {integer_accuracy(a, x_te, y_te):.4f}, train "
              f"{integer_accuracy(a, x_tr, y_tr):.4f}, weight sparsity {zeros:.3f}, distinct non-zero "
              f"values {[np.unique(a[k][a[k] != 0]).size for k in ('fc0_w', 'fc1_w')]}")


if __name__ == "__main__":
    main()
