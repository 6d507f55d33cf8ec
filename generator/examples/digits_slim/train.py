"""Network slimming (arXiv 1708.06519) of the digits conv net, for ``--prune constant``.

Run ``python -m bitsmith.generator.examples.digits_slim.train`` (needs the ``train``
extra) to regenerate ``digits_slim.yaml`` and ``digits_slim.npz`` next to this file;
``python -m bitsmith.generator.examples.digits_slim.report`` measures the result.

The network, its quantization and its export are those of
:mod:`bitsmith.generator.examples.digits_cnn.train` (16 and 32 channels, TERNARY weights,
UINT2 activations); only the training differs:

1. **Sparsity training**: the loss adds ``L1 * sum |gamma|`` over both batch norms'
   scales, so channels the classifier can do without see their scale driven to zero;
2. **Slimming**: in each layer, the ``PRUNE`` fraction of the channels with the smallest
   ``|gamma|`` is switched off (the paper's one global cut over all layers took 15 of
   c0's 16 channels here, whose scales run smaller than c1's):
   ``gamma = beta = 0``, so ``z = 0`` and the rounding activation outputs 0 for every input;
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

from ..digits_cnn.train import YAML, _build_model, export, fit, integer_forward, training_data

HERE = Path(__file__).parent
MODEL = HERE / "digits_slim.yaml"
L1 = 1e-2          # weight of sum |gamma| in the loss (the paper's lambda)
PRUNE = 0.4        # fraction of each layer's batch-norm channels switched off


def train(epochs: int = 60, finetune: int = 40):
    """Sparsity training, slimming, fine-tuning; returns (model, masks, split)."""
    import torch
    xt, yt, split = training_data()
    net = _build_model()
    bns = (net.bn0, net.bn1)
    fit(net, xt, yt, epochs, 1e-2, penalty=lambda n: L1 * sum(bn.weight.abs().sum() for bn in bns))
    with torch.no_grad():
        masks = []
        for bn in bns:
            gamma = bn.weight.abs()
            cut = gamma.sort().values[int(PRUNE * len(gamma))]
            masks.append((gamma >= cut).float())

    def switch_off(_net):
        for bn, keep in zip(bns, masks):
            bn.weight.mul_(keep)
            bn.bias.mul_(keep)
    with torch.no_grad():
        switch_off(net)
    fit(net, xt, yt, finetune, 3e-3, after_step=switch_off)
    return net, masks, split


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
