"""Negating weight rows so every channel's float chain is increasing (FINN's sign handling).

A quantizer or a max pool needs ``chain(acc)`` non-decreasing per channel. Where the
slope is negative, the layer computes the negated row instead: ``acc' = -acc`` (in XNOR
mode, the popcount of the negated row is ``MW - popcount``), and the chain is prefixed
with the map from ``acc'`` back to ``acc``.
"""

from __future__ import annotations

import numpy as np

from ...ir.dense import xnor_mode


def flip_rows(layer, flip: np.ndarray) -> tuple:
    """``(layer', mul, add)``: ``layer`` with the rows of ``flip`` negated (and its narrowest
    accumulator), and per-channel ``old_acc = mul * new_acc + add`` (1-D arrays)."""
    w = layer.weights
    w = np.where(flip.reshape((-1,) + (1,) * (w.ndim - 1)), -w, w)
    mw = w.reshape(w.shape[0], -1).shape[1] if xnor_mode(layer.weight_dtype, layer.in_dtype) else 0
    acc = type(layer).minimal_acc_dtype(w, layer.weight_dtype, layer.in_dtype)
    mul = np.where(flip, -1.0, 1.0)
    add = np.where(flip, float(mw), 0.0)
    return layer.replace(weights=w, acc_dtype=acc), mul, add
