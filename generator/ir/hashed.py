"""HashedNets layers (Chen et al., arXiv 1504.04788): a virtual weight matrix drawn from K
stored weights by a hash of the indices and a sign hash."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType

from bitsmith.hw.compute.hashed_mvau import MAX_BUCKET_BITS, virtual_weights

from ..errors import ModelError
from .core import Node, Thresholds, register, values_fit
from .dense import _check_fold, accumulator_range, check_matrix_dtypes, MatrixVector


@register
@dataclass(frozen=True, eq=False)
class HashedMatrixVector(Node):
    """A dense layer whose ``(out_features, in_features)`` virtual matrix is
    ``W[i, j] = xi(i, j) * values[h(i, j)]`` (:func:`bitsmith.hw.compute.hashed_mvau.hash_indices`:
    ``h`` and the sign ``xi`` from one hash of ``(i, j, seed)``), applied per pixel. Only the
    ``K`` values are stored; the hardware recomputes the hash from its loop counters.

    ``values`` are integers of ``weight_dtype``, whose range must also hold their
    negations; ``K`` is a power of two (the hash keeps its low bits). Output: the
    multi-threshold of the accumulator, or the accumulator in ``acc_dtype``.
    """

    values: np.ndarray = None
    weight_dtype: DataType = None
    out_features: int = 0
    seed: int = 0
    acc_dtype: DataType = None
    thresholds: Thresholds | None = None
    pe: int = 1
    simd: int = 1

    kind = "hashed_mvau"
    xnor = False

    @property
    def in_features(self) -> int:
        return int(self.in_shape[2])

    @property
    def weights(self) -> np.ndarray:
        """The virtual ``(out_features, in_features)`` matrix."""
        return virtual_weights(self.values, self.out_features, self.in_features, self.seed)

    out_shape = MatrixVector.out_shape
    out_dtype = MatrixVector.out_dtype
    minimal_acc_dtype = staticmethod(MatrixVector.minimal_acc_dtype)
    cycles_per_vector = MatrixVector.cycles_per_vector

    def check(self) -> None:
        super().check()
        where = f"layer {self.name!r}"
        v = self.values
        if not isinstance(v, np.ndarray) or v.ndim != 1 or not np.issubdtype(v.dtype, np.integer):
            raise ModelError(f"{where}: values must be a 1-D integer array of bucket weights")
        k = int(v.size)
        if k < 2 or k & (k - 1) or k > 1 << MAX_BUCKET_BITS:
            raise ModelError(f"{where}: the bucket count must be a power of two in 2..{1 << MAX_BUCKET_BITS} "
                             f"(the hash keeps its low bits), not {k}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) \
                or not 0 <= self.seed < 1 << 32:
            raise ModelError(f"{where}: seed must be an integer in 0..2**32-1, not {self.seed!r}")
        if isinstance(self.out_features, bool) or not isinstance(self.out_features, (int, np.integer)) \
                or self.out_features < 1:
            raise ModelError(f"{where}: out_features must be a positive integer, not {self.out_features!r}")
        wdt = self.weight_dtype
        if wdt is None or wdt.name == "BIPOLAR" or not values_fit(np.concatenate([v, -v]), wdt):
            raise ModelError(f"{where}: weight datatype {getattr(wdt, 'name', None)} must hold every bucket "
                             f"value and its negation ({int(v.min())}..{int(v.max())}), and not be BIPOLAR")
        check_matrix_dtypes(self.name, wdt, self.in_dtype)
        lo, hi = accumulator_range(self.weights, wdt, self.in_dtype)
        if self.acc_dtype is None or not values_fit(np.array([lo, hi]), self.acc_dtype):
            raise ModelError(f"{where}: accumulator range {lo}..{hi} does not fit "
                             f"{getattr(self.acc_dtype, 'name', None)}")
        if self.thresholds is not None:
            self.thresholds.check(where, self.out_features)
        _check_fold(self.name, "SIMD", self.simd, self.in_features, "in_features")
        _check_fold(self.name, "PE", self.pe, self.out_features, "out_features")
