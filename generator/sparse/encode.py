"""EIE's interleaved compressed-column encoding (DESIGN.md §6).

PE ``k`` of ``N`` owns rows ``r ≡ k (mod N)``; its local row ``j`` is global row
``j*N + k``. For every column, a PE stores its non-zeros top to bottom as
``(code, rel)`` pairs: ``code`` is the codebook index, ``rel`` the number of zero rows
(of that PE) skipped since the previous stored entry of the column, in 4 bits. A gap of
more than 15 zeros is bridged by padding entries ``(0, 15)``, each standing for 15 zeros
and itself (a zero). So the local row of entry ``i`` is ``p_i = p_{i-1} + rel_i + 1``
with ``p_{-1} = -1``. Column ``c`` of PE ``k`` is ``entries[k][ptr[k, c]:ptr[k, c+1]]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CheckFailed

REL_BITS = 4
MAX_REL = (1 << REL_BITS) - 1


@dataclass(frozen=True, eq=False)
class ColumnEncoding:
    """Per-PE compressed columns.

    Members
    -------
    entries : tuple of numpy.ndarray
        One ``(n_k, 2)`` int64 array per PE: ``[:, 0]`` codebook index, ``[:, 1]`` relative index.
    col_ptr : numpy.ndarray
        ``(N, MW+1)`` int64 column pointers per PE (``col_ptr[k, -1] == n_k``).
    out_features : int
        Rows of the matrix (a multiple of N).
    """

    entries: tuple
    col_ptr: np.ndarray
    out_features: int

    @property
    def n_pe(self) -> int:
        return len(self.entries)

    @property
    def in_features(self) -> int:
        return int(self.col_ptr.shape[1]) - 1

    def column_lengths(self) -> np.ndarray:
        """``(N, MW)`` stored entries (with padding) of each column in each PE."""
        return np.diff(self.col_ptr, axis=1)

    def padding_entries(self) -> int:
        return int(sum(np.count_nonzero(e[:, 0] == 0) for e in self.entries))


def encode_columns(index: np.ndarray, n_pe: int) -> ColumnEncoding:
    """Encode a ``(MH, MW)`` codebook-index matrix (0 = zero) for ``n_pe`` PEs."""
    if not isinstance(index, np.ndarray) or index.ndim != 2:
        raise TypeError(f"index must be a 2-D numpy array, not {type(index).__name__}")
    if isinstance(n_pe, bool) or not isinstance(n_pe, (int, np.integer)):
        raise TypeError(f"n_pe must be an integer, not {n_pe!r}")
    rows, cols = index.shape
    if n_pe < 1 or rows % n_pe:
        raise ValueError(f"n_pe must be a positive divisor of out_features={rows}, not {n_pe!r}")
    entries, col_ptr = [], np.zeros((n_pe, cols + 1), dtype=np.int64)
    for k in range(n_pe):
        local = index[k::n_pe]                       # (MH/N, MW): local row j = global j*N + k
        pairs = []
        for c in range(cols):
            prev = -1
            for j in np.flatnonzero(local[:, c]).tolist():
                gap = j - prev - 1
                while gap > MAX_REL:
                    pairs.append((0, MAX_REL))
                    gap -= MAX_REL + 1
                pairs.append((int(local[j, c]), gap))
                prev = j
            col_ptr[k, c + 1] = len(pairs)
        entries.append(np.array(pairs, dtype=np.int64).reshape(-1, 2))
    return ColumnEncoding(tuple(entries), col_ptr, rows)


def decode_columns(enc: ColumnEncoding) -> np.ndarray:
    """The ``(MH, MW)`` codebook-index matrix of an encoding (inverse of :func:`encode_columns`)."""
    n = enc.n_pe
    index = np.zeros((enc.out_features, enc.in_features), dtype=np.int64)
    for k, pairs in enumerate(enc.entries):
        for c in range(enc.in_features):
            pos = -1
            for code, rel in pairs[enc.col_ptr[k, c]:enc.col_ptr[k, c + 1]].tolist():
                pos += rel + 1
                if code:
                    index[pos * n + k, c] = code
    return index


def check_decodes_to(enc: ColumnEncoding, codebook: np.ndarray, weights: np.ndarray, where: str) -> None:
    """Decode ``enc`` on its own and compare it with the ``weights`` it was made from.

    The golden model and the hardware both read the encoding, so an encoder bug would make
    them agree on the wrong matrix; this check walks the columns again with
    :func:`decode_columns` (not the code the golden model uses) and raises
    :class:`~bitsmith.generator.errors.CheckFailed` naming the first differing weight.
    """
    weights = np.asarray(weights)
    if weights.shape != (enc.out_features, enc.in_features):
        raise CheckFailed(f"{where}: the sparse encoding holds a {enc.out_features}x{enc.in_features} "
                          f"matrix, the weights are {weights.shape[0]}x{weights.shape[1]}")
    decoded = np.asarray(codebook, dtype=np.int64)[decode_columns(enc)]
    bad = np.argwhere(decoded != weights)
    if bad.size:
        r, c = (int(i) for i in bad[0])
        raise CheckFailed(f"{where}: the sparse encoding decodes to weight {int(decoded[r, c])} at row {r}, "
                          f"column {c}, not {int(weights[r, c])} as in the weights it was made from "
                          f"({len(bad)} weights differ; an encoder bug)")
