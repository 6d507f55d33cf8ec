"""Golden functions of the convolution and pooling node kinds.

Convolutions are im2col in numpy (columns in window order (kh, kw, c), see
:mod:`bitsmith.generator.ir.conv`) followed by the dense helpers; nothing here mirrors the
hardware's line buffers or loop order.
"""

from __future__ import annotations

import numpy as np

from bitsmith.generator.ir.conv import Conv, GlobalAccPool, MaxPool

from . import golden
from .dense import apply_thresholds, xnor_popcount


def windows(x: np.ndarray, kernel, stride, pad=(0, 0, 0, 0), pad_value: int = 0) -> np.ndarray:
    """All KHxKW windows of ``x`` (N, H, W, C) after padding with ``pad_value``:
    (N, OH, OW, KH, KW, C), floor mode over the padded map."""
    kh, kw = kernel
    sh, sw = stride
    pt, pl, pb, pr = pad
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=pad_value)
    view = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))  # N, H', W', C, KH, KW
    view = view[:, ::sh, ::sw]
    return np.moveaxis(view, 3, -1)                                             # N, OH, OW, KH, KW, C


@golden(Conv)
def conv(node: Conv, x: np.ndarray) -> np.ndarray:
    win = windows(x.astype(np.int64), node.kernel, node.stride, node.padding)
    n, oh, ow = win.shape[:3]
    weights = node.matrix().astype(np.int64)
    if node.depthwise:
        # (N, OH, OW, KH*KW, C) . (C, KH*KW) -> (N, OH, OW, C)
        cols = win.reshape(n, oh, ow, -1, win.shape[-1])
        acc = np.einsum("nhwkc,ck->nhwc", cols, weights)
        if node.xnor:
            acc = (acc + weights.shape[1]) // 2              # popcount of matching bits
    else:
        cols = win.reshape(n, oh, ow, -1)
        acc = xnor_popcount(cols, weights) if node.xnor else cols @ weights.T
    if node.thresholds is None:
        return acc
    return apply_thresholds(acc, node.thresholds)


@golden(MaxPool)
def maxpool(node: MaxPool, x: np.ndarray) -> np.ndarray:
    return windows(x.astype(np.int64), node.kernel, node.stride, node.padding,
                   node.pad_value).max(axis=(3, 4))


@golden(GlobalAccPool)
def global_acc_pool(node: GlobalAccPool, x: np.ndarray) -> np.ndarray:
    return x.astype(np.int64).sum(axis=(1, 2), keepdims=True)
