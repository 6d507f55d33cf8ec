"""Deep Compression of one layer: prune, share, encode (the three steps together)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .encode import ColumnEncoding, encode_columns
from .prune import prune
from .share import SharedWeights, share_weights


@dataclass(frozen=True, eq=False)
class CompressedLayer:
    """A pruned, shared and encoded ``(MH, MW)`` matrix.

    Members
    -------
    shared : SharedWeights
        Codebook and index matrix.
    encoding : ColumnEncoding
        Per-PE compressed columns of ``shared.index``.
    """

    shared: SharedWeights
    encoding: ColumnEncoding

    @property
    def codebook(self) -> np.ndarray:
        return self.shared.codebook

    def weights(self) -> np.ndarray:
        """The pruned and shared integer matrix the encoding represents."""
        return self.shared.values()


def compress(weights: np.ndarray, *, n_pe: int, sparsity: float | None = None, bits: int = 4,
             frac_bits: int | None = None) -> CompressedLayer:
    """Prune ``weights`` to ``sparsity`` (``None``: keep its zeros), share into ``2**bits``
    fixed-point values, and encode for ``n_pe`` PEs."""
    if not isinstance(weights, np.ndarray) or weights.ndim != 2:
        raise TypeError(f"weights must be a 2-D numpy array, not {type(weights).__name__}")
    pruned = weights if sparsity is None else prune(weights, sparsity)
    shared = share_weights(pruned, bits, frac_bits=frac_bits)
    return CompressedLayer(shared, encode_columns(shared.index, n_pe))
