"""The EIE-style sparse matrix-vector node (DESIGN.md §6)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType

from ..errors import FoldingError, ModelError
from .core import Node, Shape3, Thresholds, register, values_fit
from .dense import accumulator_range

MAX_PE = 64
MAX_QUEUE_DEPTH = 16
REL_BITS = 4


def entry_rows(entries: np.ndarray, col_ptr: np.ndarray, n_pe: int, pe: int) -> tuple[np.ndarray, np.ndarray]:
    """Global rows and columns of every stored entry of PE ``pe`` (padding included).

    Walks the relative indices: within a column, ``local = prev + rel + 1`` from ``-1``.
    """
    lengths = np.diff(col_ptr)
    cols = np.repeat(np.arange(lengths.size), lengths)
    step = entries[:, 1] + 1
    pos = np.cumsum(step)
    starts = np.repeat(np.concatenate([[0], pos])[col_ptr[:-1]], lengths)
    local = pos - starts - 1
    return local * n_pe + pe, cols


@register
@dataclass(frozen=True, eq=False)
class SparseMatrixVector(Node):
    """A pruned, codebook-shared dense layer run by the EIE-style engine, applied per pixel.

    The weights exist only in encoded form (``bitsmith.generator.sparse.encode``): PE ``k`` of
    ``n_pe`` owns rows ``r ≡ k (mod n_pe)`` and stores, per column, ``(code, rel)`` pairs
    (``entries[k]`` is ``(n_k, 2)``, column ``c`` at ``col_ptr[k, c]:col_ptr[k, c+1]``).
    Weight value = ``codebook[code]`` (integers of ``weight_dtype``; ``codebook[0] == 0`` is
    zero and padding). ``acc[r] = sum_c w[r, c] * x[c]``; zero activations contribute nothing
    and cost no PE cycles. Output: multi-threshold of ``acc`` or raw ``acc`` in ``acc_dtype``.

    ``simd`` input elements arrive per stream word; ``queue_depth`` is the activation
    queue of every PE; output words carry ``n_pe`` channels (channel order).
    """

    codebook: np.ndarray = None
    weight_dtype: DataType = None
    entries: tuple = ()
    col_ptr: np.ndarray = None
    out_features: int = 0
    acc_dtype: DataType = None
    thresholds: Thresholds | None = None
    n_pe: int = 1
    queue_depth: int = 8
    simd: int = 1

    kind = "sparse_mvau"

    @property
    def in_features(self) -> int:
        return int(self.in_shape[2])

    @property
    def codebook_bits(self) -> int:
        return int(self.codebook.size).bit_length() - 1

    @property
    def rows_per_pe(self) -> int:
        return self.out_features // self.n_pe

    @property
    def out_shape(self) -> Shape3:
        h, w, _ = self.in_shape
        return (h, w, self.out_features)

    @property
    def out_dtype(self) -> DataType:
        return self.thresholds.out_dtype if self.thresholds is not None else self.acc_dtype

    def column_lengths(self) -> np.ndarray:
        """``(n_pe, in_features)`` stored entries per PE and column (padding included)."""
        return np.diff(self.col_ptr, axis=1)

    def dense_weights(self) -> np.ndarray:
        """The ``(out_features, in_features)`` integer matrix the encoding represents."""
        w = np.zeros((self.out_features, self.in_features), dtype=np.int64)
        for k, e in enumerate(self.entries):
            rows, cols = entry_rows(e, self.col_ptr[k], self.n_pe, k)
            w[rows, cols] += self.codebook[e[:, 0]]
        return w

    def check(self) -> None:
        super().check()
        where = f"layer {self.name!r}"
        if self.in_dtype.name == "BIPOLAR" or not self.in_dtype.is_integer():
            raise ModelError(f"{where}: the sparse engine needs integer activations with a zero "
                             f"(INTn, UINTn, BINARY, TERNARY), not {self.in_dtype.name}")
        for what, value, hi in (("n_pe", self.n_pe, MAX_PE), ("queue_depth", self.queue_depth, MAX_QUEUE_DEPTH)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= hi:
                raise FoldingError(f"{where}: {what} must be an integer in 1..{hi}, not {value!r}")
        if isinstance(self.out_features, bool) or not isinstance(self.out_features, (int, np.integer)) \
                or self.out_features < 1:
            raise ModelError(f"{where}: out_features must be a positive integer, not {self.out_features!r}")
        if self.out_features % self.n_pe:
            raise FoldingError(f"{where}: n_pe={self.n_pe} does not divide out_features={self.out_features}")
        if isinstance(self.simd, bool) or not isinstance(self.simd, (int, np.integer)) or self.simd < 1 \
                or self.in_features % self.simd:
            raise FoldingError(f"{where}: simd must be a positive divisor of in_features="
                               f"{self.in_features}, not {self.simd!r}")
        cb = self.codebook
        if not isinstance(cb, np.ndarray) or cb.ndim != 1 or not np.issubdtype(cb.dtype, np.integer) \
                or cb.size not in [1 << b for b in range(2, 9)]:
            raise ModelError(f"{where}: codebook must be 2**b integers with b in 2..8")
        if cb[0] != 0:
            raise ModelError(f"{where}: codebook entry 0 must be 0 (zero/padding), not {int(cb[0])}")
        if self.weight_dtype is None or not values_fit(cb, self.weight_dtype) or self.weight_dtype.name == "BIPOLAR":
            raise ModelError(f"{where}: codebook values {int(cb.min())}..{int(cb.max())} do not fit "
                             f"{getattr(self.weight_dtype, 'name', None)}")
        self._check_encoding(where)
        lo, hi = accumulator_range(self.dense_weights(), self.weight_dtype, self.in_dtype)
        if self.acc_dtype is None or not values_fit(np.array([lo, hi]), self.acc_dtype):
            raise ModelError(f"{where}: accumulator range {lo}..{hi} does not fit "
                             f"{getattr(self.acc_dtype, 'name', None)}")
        if self.thresholds is not None:
            self.thresholds.check(where, self.out_features)

    def _check_encoding(self, where: str) -> None:
        ptr = self.col_ptr
        if not isinstance(self.entries, tuple) or len(self.entries) != self.n_pe:
            raise ModelError(f"{where}: entries must be a tuple of {self.n_pe} arrays (one per PE)")
        if not isinstance(ptr, np.ndarray) or ptr.shape != (self.n_pe, self.in_features + 1) \
                or not np.issubdtype(ptr.dtype, np.integer):
            raise ModelError(f"{where}: col_ptr must be integers of shape ({self.n_pe}, {self.in_features + 1})")
        for k, e in enumerate(self.entries):
            if not isinstance(e, np.ndarray) or e.ndim != 2 or e.shape[1] != 2 \
                    or not np.issubdtype(e.dtype, np.integer):
                raise ModelError(f"{where}: entries of PE {k} must be an (n, 2) integer array")
            if ptr[k, 0] != 0 or ptr[k, -1] != len(e) or np.any(np.diff(ptr[k]) < 0):
                raise ModelError(f"{where}: column pointers of PE {k} must rise from 0 to {len(e)}")
            if e.size and (e[:, 0].min() < 0 or e[:, 0].max() >= self.codebook.size):
                raise ModelError(f"{where}: PE {k} has a codebook index outside 0..{self.codebook.size - 1}")
            if e.size and (e[:, 1].min() < 0 or e[:, 1].max() > (1 << REL_BITS) - 1):
                raise ModelError(f"{where}: PE {k} has a relative index outside 0..{(1 << REL_BITS) - 1}")
            rows, _ = entry_rows(e, ptr[k], self.n_pe, k)
            if rows.size and rows.max() >= self.out_features:
                raise ModelError(f"{where}: PE {k} encodes a row beyond out_features={self.out_features}")
