"""Golden functions of the dense node kinds."""

from __future__ import annotations

import numpy as np

from bitsmith.generator.ir.core import Thresholds
from bitsmith.generator.ir.dense import LabelSelect, MatrixVector, MultiThreshold, Reshape

from . import golden


def apply_thresholds(acc: np.ndarray, th: Thresholds) -> np.ndarray:
    """qonnx MultiThreshold on the last axis of ``acc``: out_scale * #(acc >= T) + out_bias."""
    channels = acc.shape[-1]
    t = th.per_channel(channels).astype(np.int64)           # (C, B)
    y = (acc[..., :, None] >= t).sum(axis=-1)                # (..., C)
    return th.out_scale * y + th.out_bias


def xnor_popcount(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """popcount(xnor(w, x)) for BIPOLAR x (..., MW) and weights (MH, MW), on packed bits."""
    mw = weights.shape[1]
    xb = np.packbits(x > 0, axis=-1)                         # (..., ceil(MW/8)) uint8
    wb = np.packbits(weights > 0, axis=-1)                   # (MH, ceil(MW/8))
    pad = xb.shape[-1] * 8 - mw                              # packbits pads with zeros
    del pad  # padding bits are 0 in both operands, so they never mismatch
    flat = xb.reshape(-1, xb.shape[-1])
    out = np.empty((flat.shape[0], weights.shape[0]), dtype=np.int64)
    chunk = max(1, (1 << 24) // max(1, wb.size))             # bound the temporary to ~16 MB
    for start in range(0, flat.shape[0], chunk):
        part = flat[start:start + chunk]
        out[start:start + chunk] = np.bitwise_count(part[:, None, :] ^ wb).sum(axis=-1, dtype=np.int64)
    return mw - out.reshape(x.shape[:-1] + (weights.shape[0],))


@golden(MatrixVector)
def matrix_vector(node: MatrixVector, x: np.ndarray) -> np.ndarray:
    if node.xnor:
        acc = xnor_popcount(x, node.weights)
    else:
        acc = x.astype(np.int64) @ node.weights.astype(np.int64).T
    if node.thresholds is None:
        return acc
    return apply_thresholds(acc, node.thresholds)


@golden(MultiThreshold)
def multi_threshold(node: MultiThreshold, x: np.ndarray) -> np.ndarray:
    return apply_thresholds(x.astype(np.int64), node.thresholds)


@golden(Reshape)
def reshape(node: Reshape, x: np.ndarray) -> np.ndarray:
    return x.reshape((x.shape[0],) + tuple(node.shape))


@golden(LabelSelect)
def label_select(node: LabelSelect, x: np.ndarray) -> np.ndarray:
    v = x.reshape(x.shape[0], -1).astype(np.int64)
    if node.keyed:
        v = v * np.asarray(node.key_scale, np.int64) + np.asarray(node.key_bias, np.int64)
    # Stable sort on the negated values: largest first, ties to the lower index.
    order = np.argsort(-v, axis=-1, kind="stable")[:, : node.k]
    return order.reshape(x.shape[0], 1, 1, node.k).astype(np.int64)
