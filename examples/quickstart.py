# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # bitsmith quickstart: a conv net from numpy arrays to bit-exact RTL
#
# This notebook (jupytext percent format: open it in Jupyter with jupytext, or run it as a
# script) writes a small convolutional network for scikit-learn's 8x8 digits directly in
# Python, folds it two ways, runs the numpy golden model and Verilator, verifies the RTL
# bit for bit and plots the per-layer cycles of both foldings.
#
# The weights are not trained by gradient descent (that is Brevitas' job, see
# `docs/brevitas.md`): the convolution has random ternary kernels, its thresholds are
# quantiles of its own accumulators, and the classifier is a least-squares fit rounded
# to 8-bit weights. That gives a real accuracy figure (about 87 % on the test split) and
# keeps the example fast.

# %%
import os
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

import bitsmith

OUT = Path(os.environ.get("QUICKSTART_OUT", "quickstart-out"))
FRAMES = int(os.environ.get("QUICKSTART_FRAMES", "120"))   # test images run in Verilator
rng = np.random.default_rng(0)

digits = load_digits()
x_all = np.minimum(digits.images // 5, 3).astype(np.int64)[..., None]   # (N, 8, 8, 1), UINT2: 0..3
y_all = digits.target
x_train, y_train, x_test, y_test = x_all[:1400], y_all[:1400], x_all[1400:], y_all[1400:]
print(f"{len(x_train)} training and {len(x_test)} test images of shape {x_train.shape[1:]}")

# %% [markdown]
# ## 1. The convolution, and its thresholds from its own accumulators
#
# Conv weights are `(OC, KH, KW, IC)` (OHWI) by default; `weight_layout="OIHW"` takes
# PyTorch's order. A layer without `thresholds` outputs its accumulator, so a one-layer
# network gives us the accumulators to choose thresholds from: three ascending thresholds
# per channel make a `UINT2` activation, `y = sum_i [acc >= T_i]`.

# %%
conv_w = rng.choice([-1, 0, 1], size=(16, 3, 3, 1), p=[0.3, 0.4, 0.3])
probe = (bitsmith.Network("probe", input_shape=[8, 8, 1], input_dtype="UINT2")
         .conv(name="conv", weights=conv_w, weight_dtype="TERNARY", pad=1))
acc = bitsmith.golden(probe, x_train).outputs                     # (N, 8, 8, 16) integers
q = np.quantile(acc.reshape(-1, 16), [0.4, 0.65, 0.85], axis=0).T  # (16 channels, 3 steps)
conv_t = np.floor(q).astype(np.int64) + np.arange(3)              # strictly ascending
print("accumulator range", acc.min(), acc.max(), "-> thresholds per channel", conv_t.shape)

# %% [markdown]
# ## 2. The classifier: features from the golden model, a least-squares fit, 8-bit weights

# %%
features_net = (bitsmith.Network("digits", input_shape=[8, 8, 1], input_dtype="UINT2")
                .conv(name="conv", weights=conv_w, weight_dtype="TERNARY", pad=1, thresholds=conv_t,
                      out_dtype="UINT2")
                .maxpool(name="pool", kernel=2)
                .reshape(name="flat", shape=[256]))
feats = bitsmith.golden(features_net, x_train).outputs.reshape(len(x_train), -1).astype(float)
onehot = np.eye(10)[y_train] * 2 - 1
fit = np.linalg.lstsq(np.c_[feats, np.ones(len(feats))], onehot, rcond=None)[0][:-1].T   # (10, 256)
fc_w = np.round(fit / np.abs(fit).max() * 127).astype(np.int64)

net = (features_net
       .dense(name="fc", weights=fc_w, weight_dtype="INT8")      # (out_features, in_features)
       .topk(name="top", k=1))                                   # the class index, in hardware
net

# %% [markdown]
# ## 3. Fold it two ways
#
# `pe` and `simd` default to `auto`: the fold pass picks the cheapest folding that meets
# the target (`target_cycles`), or, without one, matches the slowest explicitly folded
# layer (1024 cycles when every layer is auto). A conv layer takes
# `(OC/PE) * (KH*KW*IC/SIMD)` cycles per output pixel.

# %%
small = bitsmith.fold(net)                       # every layer auto: at most 1024 cycles/frame
fast = bitsmith.fold(net, target_cycles=128)     # more PEs and SIMD lanes
for design in (small, fast):
    print(design)
    print("  folding:", design.folding)

# %% [markdown]
# ## 4. Golden model, build, Verilator

# %%
x, y = x_test[:FRAMES], y_test[:FRAMES]
ref = bitsmith.golden(fast, x)
print(ref, f"accuracy {np.mean(ref.outputs.reshape(-1) == y):.1%}")
runs = {}
for label, design in (("small", small), ("fast", fast)):
    built = bitsmith.build(design, OUT / label)
    rtl = bitsmith.simulate(built, x)
    assert np.array_equal(rtl.outputs, ref.outputs), f"{label}: RTL differs from the golden model"
    runs[label] = (design, built, rtl)
    print(built)
    print(rtl)

# %% [markdown]
# ## 5. Verify (build, Verilator, compare every frame; expected labels too)

# %%
result = bitsmith.verify(fast, x, expected=ref.outputs.reshape(-1))
print(result)
assert result.passed

# %% [markdown]
# ## 6. The report: per-layer cycles of both foldings, and the resource estimates

# %%
print(f"{'layer':8} {'kind':16} " + " ".join(f"{k + ' cycles':>14} {'pe/simd':>8}" for k in runs))
for rows in zip(*(d.layers for d, _, _ in runs.values())):
    print(f"{rows[0]['name']:8} {rows[0]['kind']:16} " + " ".join(
        f"{r['cycles']:>14} {str(r.get('pe', '-')) + '/' + str(r.get('simd', '-')):>8}" for r in rows))
for label, (design, built, rtl) in runs.items():
    est = built.report["estimate"]
    print(f"{label}: {rtl.cycles_per_frame:g} cycles/frame measured, {design.ideal_cycles_per_frame} ideal; "
          f"estimate {est['luts']} LUT, {est['ffs']} FF, {est['brams']} BRAM")

# %%
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots(figsize=(6, 3))
names = [r["name"] for r in small.layers]
for i, (label, (design, _, _)) in enumerate(runs.items()):
    ax.bar(np.arange(len(names)) + 0.4 * i, [r["cycles"] for r in design.layers], width=0.4, label=label)
ax.set_xticks(np.arange(len(names)) + 0.2, names)
ax.set_yscale("log")
ax.set_ylabel("cycles per frame")
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "cycles.png")
print(f"plot: {OUT / 'cycles.png'}")
