"""Network slimming (arXiv 1708.06519) of the digits conv net, for ``--prune constant``.

Run ``python -m bitsmith.generator.examples.digits_slim.train`` (needs the ``train``
extra) to regenerate ``digits_slim.yaml`` and ``digits_slim.npz`` next to this file;
``python -m bitsmith.generator.examples.digits_slim.report`` measures the result.

The network, its quantization and its export are those of
:mod:`bitsmith.generator.examples.digits_cnn.train` (16 and 32 channels, TERNARY weights,
UINT2 activations); only the training differs:

1. **Sparsity training**: the loss adds ``L1 * sum |gamma|`` over both batch norms'
   scales, so channels the classifier can do without see their scale driven to zero;
2. **Slimming**: in each batch norm, the channels whose ``|gamma|`` is below
   ``KEEP * max |gamma|`` of that layer are switched off: ``gamma = beta = 0``, so
   ``z = 0`` and the rounding activation outputs 0 for every input;
3. **Fine-tuning**: the rest trains on with those channels held at zero.

The export then gives each switched-off channel thresholds that no accumulator crosses
(``a == 0`` in ``_thresholds``): a constant-0 channel, which ``--prune constant`` removes
from the hardware exactly, together with c1's and fc's weights that read it. The
network is still the full 16/32-channel description: unpruned, it builds the original
hardware, pruned the slim one, and both compute the same labels bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..digits_cnn.train import SEED, YAML, _build_model, export, integer_forward, load_split

HERE = Path(__file__).parent
MODEL = HERE / "digits_slim.yaml"
L1 = 1e-2          # weight of sum |gamma| in the loss (the paper's lambda)
KEEP = 0.25        # keep channels whose |gamma| >= KEEP * max |gamma| of their layer


def _epochs(net, xt, yt, epochs: int, lr: float, masks=None, l1: float = 0.0, batch: int = 64):
    import torch
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    gen = torch.Generator().manual_seed(SEED)
    bns = (net.bn0, net.bn1)
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(xt), generator=gen)
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            loss = torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx])
            if l1:
                loss = loss + l1 * sum(bn.weight.abs().sum() for bn in bns)
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for m in (net.c0, net.c1, net.fc):
                    m.weight.clamp_(-1, 1)
                if masks is not None:
                    for bn, keep in zip(bns, masks):
                        bn.weight.mul_(keep)
                        bn.bias.mul_(keep)
        sched.step()
    net.eval()


def train(epochs: int = 60, finetune: int = 40):
    """Sparsity training, slimming, fine-tuning; returns (model, masks, split)."""
    import torch
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    x_tr, x_te, y_tr, y_te = load_split()
    xt = torch.tensor(x_tr.transpose(0, 3, 1, 2), dtype=torch.float32)
    yt = torch.tensor(y_tr, dtype=torch.long)
    net = _build_model()
    _epochs(net, xt, yt, epochs, 1e-2, l1=L1)
    masks = []
    with torch.no_grad():
        for bn in (net.bn0, net.bn1):
            g = bn.weight.abs()
            keep = (g >= KEEP * g.max()).float()
            bn.weight.mul_(keep)
            bn.bias.mul_(keep)
            masks.append(keep)
    _epochs(net, xt, yt, finetune, 3e-3, masks=masks)
    return net, masks, (x_tr, x_te, y_tr, y_te)


def main() -> None:
    net, masks, (x_tr, x_te, y_tr, y_te) = train()
    arrays = export(net)
    np.savez_compressed(HERE / "digits_slim.npz", **arrays)
    MODEL.write_text(YAML.replace("name: digits_cnn", "name: digits_slim")
                     .replace("arrays: digits_cnn.npz", "arrays: digits_slim.npz")
                     .replace("trained by train.py", "slimmed by train.py"))
    kept = [int(m.sum()) for m in masks]
    acc_tr = (integer_forward(arrays, x_tr) == y_tr).mean()
    acc_te = (integer_forward(arrays, x_te) == y_te).mean()
    print(f"channels kept: c0 {kept[0]}/16, c1 {kept[1]}/32; integer model: train accuracy {acc_tr:.4f}, "
          f"test accuracy {acc_te:.4f} ({len(y_te)} test images)")


if __name__ == "__main__":
    main()
