"""Low-rank factorisation of the digits MLP (``bitsmith compress --low-rank``), fine-tuned.

Run ``python -m bitsmith.generator.examples.digits_lowrank.train`` (needs the ``train``
extra) to regenerate ``digits_r{8,16,32}.yaml`` and their ``.npz`` next to this file;
``python -m bitsmith.generator.examples.digits_lowrank.report`` measures them.

For each rank R in :data:`RANKS`:

1. ``compress(digits.yaml, --low-rank R --layers fc0,fc1 --bits 4)``: fc0 (128x64) and fc1
   (128x128), binarized, each become ``fcK_lr`` (R x in, INT4, raw accumulator out) and
   ``fcK`` (128 x R, INT4, the rescaled BIPOLAR thresholds); fc2 (10 outputs) stays.
2. Fine-tuning in the integer domain of that description: latent float copies of the
   integer factors, rounded and clipped to INT4 in the forward pass with the
   straight-through estimator; the thresholds as float latents (exported as ``ceil``,
   exact since the accumulator is an integer); ``sign`` activations and fc2's binary
   weights with the straight-through estimator as in ``../digits/train.py``. Adam,
   :data:`EPOCHS` epochs, seed 0, the split of ``../digits/train.py``.
3. The fine-tuned integers replace the arrays of the description (same names, same
   datatypes; the INT4 clip keeps every proven accumulator width).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bitsmith.generator.lowrank import compress

from ..digits.train import MODEL as DIGITS
from ..digits.train import load_split

HERE = Path(__file__).parent
RANKS = (8, 16, 32)
BITS = 4
LAYERS = ("fc0", "fc1")
EPOCHS = 60
SEED = 0


def model_path(rank: int) -> Path:
    return HERE / f"digits_r{rank}.yaml"


def _ste_round(v):
    return v + (v.round() - v).detach()


def _ste_sign(v):
    import torch
    hard = torch.where(v >= 0, 1.0, -1.0)
    return torch.clamp(v, -1, 1) + (hard - torch.clamp(v, -1, 1)).detach()


class Factorised:
    """The factorised digits MLP over the arrays of a compressed description."""

    def __init__(self, arrays: dict[str, np.ndarray], names: dict[str, tuple[str, str, str]], qmax: int):
        import torch
        self.names, self.qmax = names, qmax
        f = lambda a: torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=True)  # noqa: E731
        self.p = {key: f(arrays[key]) for layer in names.values() for key in layer[:2]}
        self.t = {layer: f(arrays[names[layer][2]][:, 0]) for layer in names}
        self.w2 = f(arrays["fc2_w"] * 0.5)
        self.norm = {}

    def params(self):
        return [*self.p.values(), *self.t.values(), self.w2]

    def forward(self, x):
        import torch
        h = x
        for layer, (a, b, _) in self.names.items():
            aq = torch.clamp(_ste_round(self.p[a]), -self.qmax, self.qmax)
            bq = torch.clamp(_ste_round(self.p[b]), -self.qmax, self.qmax)
            z = (h @ aq.T) @ bq.T - self.t[layer]
            if layer not in self.norm:
                self.norm[layer] = float(z.detach().std()) + 1e-9
            h = _ste_sign(z / self.norm[layer])
        return (h @ _ste_sign(self.w2).T) / np.sqrt(h.shape[1])

    def export(self) -> dict[str, np.ndarray]:
        out = {}
        for layer, (a, b, t) in self.names.items():
            for key in (a, b):
                out[key] = np.clip(np.rint(self.p[key].detach().numpy()), -self.qmax, self.qmax).astype(np.int8)
            out[t] = np.ceil(self.t[layer].detach().numpy()).astype(np.int64).reshape(-1, 1)
        out["fc2_w"] = np.where(self.w2.detach().numpy() >= 0, 1, -1).astype(np.int8)
        return out


def layer_arrays(description: dict) -> dict[str, tuple[str, str, str]]:
    """``{layer: (first factor array, second factor array, thresholds)}`` of a compressed description."""
    by = {s["name"]: s for s in description["layers"]}
    return {layer: (by[layer + "_lr"]["weights"], by[layer]["weights"], by[layer]["thresholds"]) for layer in LAYERS}


def finetune(path: Path, epochs: int = EPOCHS, batch: int = 64, lr: float = 0.02) -> dict[str, np.ndarray]:
    """Fine-tune the compressed description at ``path``; returns its new arrays (all of them)."""
    import torch
    import yaml
    torch.manual_seed(SEED)
    x_tr, _, y_tr, _ = load_split()
    description = yaml.safe_load(path.read_text())
    with np.load(path.with_suffix(".npz")) as z:
        arrays = {k: z[k] for k in z.files}
    net = Factorised(arrays, layer_arrays(description), 2 ** (BITS - 1) - 1)
    xt = torch.tensor(x_tr, dtype=torch.float64)
    yt = torch.tensor(y_tr)
    opt = torch.optim.Adam(net.params(), lr=lr)
    rng = np.random.default_rng(SEED)
    for _ in range(epochs):
        order = rng.permutation(len(xt))
        for start in range(0, len(order), batch):
            idx = torch.from_numpy(order[start:start + batch])
            loss = torch.nn.functional.cross_entropy(net.forward(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                net.w2.clamp_(-1, 1)
    return {**arrays, **net.export()}


def make(rank: int, *, tune: bool = True) -> Path:
    """Compress the digits MLP at ``rank`` (and fine-tune it); returns the description."""
    path = model_path(rank)
    compress(DIGITS, path, rank=rank, layers=LAYERS, bits=BITS,
             command=f"bitsmith compress digits.yaml --low-rank {rank} --layers {','.join(LAYERS)} "
                     f"--bits {BITS} -o {path.name}")
    if tune:
        arrays = finetune(path)
        np.savez_compressed(path.with_suffix(".npz"), **arrays)
    return path


def main() -> None:
    for rank in RANKS:
        print(f"rank {rank}: {make(rank)}")


if __name__ == "__main__":
    main()
