"""Matrix-vector, threshold, reshape and label-select nodes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType

from ..errors import FoldingError, ModelError
from .core import Node, Shape3, Thresholds, register, smallest_dtype, values_fit


def _check_fold(node: str, what: str, fold: int, size: int, size_name: str) -> None:
    if not isinstance(fold, int) or fold < 1:
        raise FoldingError(f"layer {node!r}: {what} must be a positive integer, not {fold!r}")
    if size % fold:
        raise FoldingError(f"layer {node!r}: {what}={fold} does not divide {size_name}={size}")


MAX_INPUT_BITS = 16
"""Widest input a matrix layer multiplies (``hw.compute.mvau``/``vvau`` take up to 16
bits): a wide sum, such as a global pool's, may feed a matrix layer directly."""

MAX_WEIGHT_BITS = 8
"""Widest weight a matrix layer holds."""

WEIGHT_MEMORIES = ("rom", "spram", "ram")
"""Where a matrix layer keeps its weights (``MatrixVector.weight_memory``)."""

POPCOUNTS = ("counters", "adders")
"""How an XNOR matrix layer counts (``popcount``): a counter tree, made for 6-input LUTs
(ECP5, Xilinx), or an adder tree (iCE40); ``build --board`` picks the board's."""


def check_popcount(where: str, popcount) -> None:
    if popcount not in POPCOUNTS:
        raise ModelError(f"{where}: popcount must be one of {', '.join(POPCOUNTS)}, not {popcount!r}")


def check_matrix_dtypes(node: str, weight_dtype: DataType, in_dtype: DataType) -> None:
    """Reject weights or inputs wider than the matrix units take, naming the layer."""
    if in_dtype.bitwidth() > MAX_INPUT_BITS:
        raise ModelError(f"layer {node!r}: input datatype {in_dtype.name} is wider than the "
                         f"{MAX_INPUT_BITS} bits a matrix layer multiplies; requantize it first "
                         f"(a threshold layer)")
    if weight_dtype.bitwidth() > MAX_WEIGHT_BITS:
        raise ModelError(f"layer {node!r}: weight datatype {weight_dtype.name} is wider than "
                         f"{MAX_WEIGHT_BITS} bits")


def xnor_mode(weight_dtype: DataType, in_dtype: DataType) -> bool:
    """Both operands BIPOLAR: the unit computes popcount(xnor(w, x))."""
    return weight_dtype.name == "BIPOLAR" and in_dtype.name == "BIPOLAR"


def accumulator_range(weights: np.ndarray, weight_dtype: DataType, in_dtype: DataType) -> tuple[int, int]:
    """Exact [min, max] of the accumulator over all inputs of ``in_dtype``, per the actual weights.

    XNOR mode counts matching bits, so the range is [0, MW] in the popcount domain.
    Otherwise, per output row: sum of min/max of w*x over the input range.
    """
    mh, mw = weights.shape
    if xnor_mode(weight_dtype, in_dtype):
        return 0, mw
    w = weights.astype(np.int64)
    xlo, xhi = int(in_dtype.min()), int(in_dtype.max())
    a, b = w * xlo, w * xhi
    lo = np.minimum(a, b).sum(axis=1)
    hi = np.maximum(a, b).sum(axis=1)
    return int(lo.min()), int(hi.max())


def matrix_out_dtype(node) -> DataType:
    """Output datatype of a matrix layer (:class:`MatrixVector`, a conv): its thresholds'
    output type, else its accumulator's (the narrowest while the ``acc_widths`` pass has
    not set ``acc_dtype``)."""
    if node.thresholds is not None:
        return node.thresholds.out_dtype
    if node.acc_dtype is None:
        return node.minimal_acc_dtype(node.weights, node.weight_dtype, node.in_dtype)
    return node.acc_dtype


@register
@dataclass(frozen=True, eq=False)
class MatrixVector(Node):
    """FINN's matrix-vector-threshold unit (MVAU), applied per pixel.

    ``weights`` is ``(MH, MW)`` = (out_features, in_features) integers of
    ``weight_dtype``; the input's channel count is MW. With ``thresholds`` the output
    is the multi-threshold of the accumulator; without, the raw accumulator in
    ``acc_dtype``. In XNOR mode (both BIPOLAR) the accumulator is the popcount of
    matching bits and thresholds live in that domain (DESIGN.md §2).
    """

    weights: np.ndarray = None
    weight_dtype: DataType = None
    acc_dtype: DataType = None
    thresholds: Thresholds | None = None
    pe: int = 1
    simd: int = 1
    weight_memory: str = "rom"
    """``rom``: weights in the memory's initial contents; ``spram`` (iCE40 UltraPlus
    SB_SPRAM256KA) or ``ram``: loaded at run time through the input stream after each
    reset (only the network's first layer: :mod:`bitsmith.generator.fit.preload`)."""
    popcount: str = "counters"
    """XNOR layers: ``counters`` or ``adders`` (:data:`POPCOUNTS`); the same results and
    cycles, other LUT and flip-flop counts."""

    kind = "mvau"

    @property
    def in_features(self) -> int:
        return int(self.weights.shape[1])

    @property
    def out_features(self) -> int:
        return int(self.weights.shape[0])

    @property
    def xnor(self) -> bool:
        return xnor_mode(self.weight_dtype, self.in_dtype)

    @property
    def out_shape(self) -> Shape3:
        h, w, _ = self.in_shape
        return (h, w, self.out_features)

    @property
    def out_dtype(self) -> DataType:
        return matrix_out_dtype(self)

    @staticmethod
    def minimal_acc_dtype(weights, weight_dtype, in_dtype) -> DataType:
        lo, hi = accumulator_range(weights, weight_dtype, in_dtype)
        return smallest_dtype(lo, hi)

    def check(self) -> None:
        super().check()
        where = f"layer {self.name!r}"
        w = self.weights
        if w is None or w.ndim != 2:
            raise ModelError(f"{where}: weights must be a 2-D (out_features, in_features) array")
        if not np.issubdtype(w.dtype, np.integer):
            raise ModelError(f"{where}: weights must be integers, not {w.dtype}")
        if self.in_shape[2] != w.shape[1]:
            raise ModelError(f"{where}: weights have {w.shape[1]} inputs but the layer receives "
                             f"{self.in_shape[2]} channels")
        if not values_fit(w, self.weight_dtype):
            bad = w[~np.isin(w, [-1, 1])] if self.weight_dtype.name == "BIPOLAR" else \
                w[(w < self.weight_dtype.min()) | (w > self.weight_dtype.max())]
            raise ModelError(f"{where}: weight value {int(bad.flat[0])} is outside {self.weight_dtype.name}")
        check_matrix_dtypes(self.name, self.weight_dtype, self.in_dtype)
        lo, hi = accumulator_range(w, self.weight_dtype, self.in_dtype)
        if not values_fit(np.array([lo, hi]), self.acc_dtype):
            raise ModelError(f"{where}: accumulator range {lo}..{hi} does not fit {self.acc_dtype.name}")
        if self.thresholds is not None:
            self.thresholds.check(where, self.out_features)
        _check_fold(self.name, "SIMD", self.simd, self.in_features, "in_features")
        _check_fold(self.name, "PE", self.pe, self.out_features, "out_features")
        check_popcount(where, self.popcount)
        if self.weight_memory not in WEIGHT_MEMORIES:
            raise ModelError(f"{where}: weight_memory must be one of {', '.join(WEIGHT_MEMORIES)}, "
                             f"not {self.weight_memory!r}")
        if self.weight_memory != "rom" and self.cycles_per_vector() == 1:
            raise FoldingError(f"{where}: weight_memory {self.weight_memory} needs more than one "
                               f"weight word (PE < out_features or SIMD < in_features)")

    def cycles_per_vector(self) -> int:
        return (self.out_features // self.pe) * (self.in_features // self.simd)


@register
@dataclass(frozen=True, eq=False)
class MultiThreshold(Node):
    """Stand-alone multi-threshold activation, PE channels per cycle."""

    thresholds: Thresholds = None
    pe: int = 1

    kind = "thresholds"

    @property
    def out_dtype(self) -> DataType:
        return self.thresholds.out_dtype

    def check(self) -> None:
        super().check()
        self.thresholds.check(f"layer {self.name!r}", self.in_shape[2])
        _check_fold(self.name, "PE", self.pe, self.in_shape[2], "channels")


@register
@dataclass(frozen=True, eq=False)
class Reshape(Node):
    """Relabel the NHWC stream as another shape (e.g. flatten); free in hardware."""

    shape: Shape3 = None

    kind = "reshape"

    @property
    def out_shape(self) -> Shape3:
        return tuple(self.shape)

    def check(self) -> None:
        super().check()
        if int(np.prod(self.shape)) != int(np.prod(self.in_shape)):
            raise ModelError(f"layer {self.name!r}: cannot reshape {self.in_shape} to {self.shape}")


@register
@dataclass(frozen=True, eq=False)
class LabelSelect(Node):
    """Top-K (FINN's LabelSelect): the indices of the K largest of C values, largest first.

    Ties go to the lower index. Output shape ``(1, 1, K)``, UINT indices.

    With ``key_scale``/``key_bias`` (C integers each, scales positive) class ``c`` is ranked
    by the integer key ``key_scale[c]*x[c] + key_bias[c]`` instead of ``x[c]``: a
    classifier's per-class bias and scale applied exactly before the comparison (the ONNX
    front end derives them, see ``frontend/qonnx/ops/tail.py``).
    """

    k: int = 1
    pe: int = 1
    key_scale: tuple[int, ...] | None = None
    key_bias: tuple[int, ...] | None = None

    kind = "labelselect"

    @property
    def out_shape(self) -> Shape3:
        return (1, 1, self.k)

    @property
    def keyed(self) -> bool:
        return self.key_scale is not None

    @property
    def key_range(self) -> tuple[int, int]:
        """Smallest and largest key (the values themselves without keys)."""
        lo, hi = (-1, 1) if self.in_dtype.name == "BIPOLAR" else (int(self.in_dtype.min()), int(self.in_dtype.max()))
        if not self.keyed:
            return lo, hi
        return (min(m * lo + b for m, b in zip(self.key_scale, self.key_bias)),
                max(m * hi + b for m, b in zip(self.key_scale, self.key_bias)))

    @property
    def out_dtype(self) -> DataType:
        return smallest_dtype(0, max(1, self.in_shape[2] - 1))

    def check(self) -> None:
        super().check()
        if self.in_shape[0] != 1 or self.in_shape[1] != 1:
            raise ModelError(f"layer {self.name!r}: top-K needs a vector input, not {self.in_shape}")
        if not isinstance(self.k, int) or not 1 <= self.k <= self.in_shape[2]:
            raise ModelError(f"layer {self.name!r}: K must be 1..{self.in_shape[2]}, not {self.k!r}")
        if (self.key_scale is None) != (self.key_bias is None):
            raise ModelError(f"layer {self.name!r}: key_scale and key_bias come together")
        if self.keyed:
            c = self.in_shape[2]
            for key in ("key_scale", "key_bias"):
                v = getattr(self, key)
                if (not isinstance(v, tuple) or len(v) != c
                        or not all(isinstance(e, int) and not isinstance(e, bool) for e in v)):
                    raise ModelError(f"layer {self.name!r}: {key} must be {c} integers, not {v!r}")
            if min(self.key_scale) < 1:
                raise ModelError(f"layer {self.name!r}: key_scale must be positive, not {self.key_scale!r}")
            lo, hi = self.key_range
            if max(-lo, hi) >= 1 << 31:
                raise ModelError(f"layer {self.name!r}: keys {lo}..{hi} do not fit 32 bits")
        _check_fold(self.name, "PE", self.pe, self.in_shape[2], "channels")
