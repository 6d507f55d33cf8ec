"""Magnitude pruning (Deep Compression, step 1)."""

from __future__ import annotations

import math

import numpy as np


def prune(weights: np.ndarray, sparsity: float) -> np.ndarray:
    """Zero the smallest-magnitude weights until at least ``sparsity`` of them are zero.

    Weights already zero count towards the target. Ties in magnitude are broken by the
    flat (row-major) index, lowest first, so the result is deterministic.

    Parameters
    ----------
    weights : numpy.ndarray
        Any shape, integer or float.
    sparsity : float
        Target fraction of zeros in ``[0, 1)``.

    Returns
    -------
    numpy.ndarray
        A copy of ``weights`` with ``ceil(sparsity * size)`` zeros (or more, if it had more).
    """
    if not isinstance(weights, np.ndarray):
        raise TypeError(f"weights must be a numpy array, not {type(weights).__name__}")
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)):
        raise TypeError(f"sparsity must be a number, not {sparsity!r}")
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be in [0, 1), not {sparsity!r}")
    out = weights.copy()
    flat = out.reshape(-1)
    target = math.ceil(sparsity * flat.size - 1e-9)
    zeros = int(np.count_nonzero(flat == 0))
    if zeros >= target:
        return out
    order = np.lexsort((np.arange(flat.size), np.abs(flat)))   # by |w|, then index
    nonzero = order[flat[order] != 0]
    flat[nonzero[:target - zeros]] = 0
    return out


def sparsity_of(weights: np.ndarray) -> float:
    """Fraction of exact zeros in ``weights``."""
    return float(np.count_nonzero(weights == 0)) / max(1, weights.size)
