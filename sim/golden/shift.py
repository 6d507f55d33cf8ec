"""Golden function of the shift (power-of-two) matrix layer: shifts and signs, in integers."""

from __future__ import annotations

import numpy as np

from bitsmith.generator.ir.shift import ShiftMatrixVector

from . import golden
from .dense import apply_thresholds


@golden(ShiftMatrixVector)
def shift_matrix_vector(node: ShiftMatrixVector, x: np.ndarray) -> np.ndarray:
    """``acc[r] = sum_c sum_t sign(T[r, c, t]) * (x[c] << log2|T[r, c, t]|)`` over the
    layer's power-of-two terms ``T`` (the hardware's arithmetic, term by term)."""
    terms = node.term_array()
    x = x.astype(np.int64)
    acc = np.zeros(x.shape[:-1] + (node.out_features,), dtype=np.int64)
    for t in range(terms.shape[-1]):
        mag = np.abs(terms[:, :, t])
        exp = np.where(mag > 0, np.log2(np.maximum(mag, 1)).astype(np.int64), 0)
        for e in np.unique(exp[mag > 0]).tolist():
            sel = (mag > 0) & (exp == e)
            signs = np.where(sel, np.sign(terms[:, :, t]), 0)       # (MH, MW) in {-1, 0, 1}
            acc += np.left_shift(x @ signs.T, e)
    if node.thresholds is None:
        return acc
    return apply_thresholds(acc, node.thresholds)
