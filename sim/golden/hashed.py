"""Golden function of the HashedNets layer: the virtual matrix from the hash, in integers."""

from __future__ import annotations

import numpy as np

from bitsmith.generator.ir.hashed import HashedMatrixVector

from . import golden
from .dense import apply_thresholds


@golden(HashedMatrixVector)
def hashed_matrix_vector(node: HashedMatrixVector, x: np.ndarray) -> np.ndarray:
    """``acc[r] = sum_c xi(r, c) * values[h(r, c)] * x[c]``."""
    acc = x.astype(np.int64) @ node.weights.T
    if node.thresholds is None:
        return acc
    return apply_thresholds(acc, node.thresholds)
