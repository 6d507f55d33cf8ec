"""Golden function of the sparse (EIE) node: straight from its encoding, in integers."""

from __future__ import annotations

import numpy as np

from bitsmith.generator.ir.sparse import SparseMatrixVector, entry_rows

from . import golden
from .dense import apply_thresholds


@golden(SparseMatrixVector)
def sparse_matrix_vector(node: SparseMatrixVector, x: np.ndarray) -> np.ndarray:
    """``acc[r] = sum over stored entries (r, c, code) of x[c] * codebook[code]``."""
    lead = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1]).astype(np.int64)
    acc = np.zeros((flat.shape[0], node.out_features), dtype=np.int64)
    codebook = node.codebook.astype(np.int64)
    for k, e in enumerate(node.entries):
        rows, cols = entry_rows(e, node.col_ptr[k], node.n_pe, k)
        contrib = flat[:, cols] * codebook[e[:, 0]]          # (P, n_k)
        np.add.at(acc.T, rows, contrib.T)
    acc = acc.reshape(lead + (node.out_features,))
    if node.thresholds is None:
        return acc
    return apply_thresholds(acc, node.thresholds)
