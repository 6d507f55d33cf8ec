"""Convolution and pooling nodes (residual blocks are subgraphs, see :mod:`.branch`).

Window order (shared by the golden model, the weights and the sliding-window unit):
a convolution's matrix has ``MW = KH*KW*IC`` columns ordered ``(kh, kw, ic)`` with the
input channel innermost, exactly the order in which the sliding-window unit (FINN's
ConvolutionInputGenerator) emits a window: for each kernel row ``kh``, each kernel column
``kw``, the ``IC`` channels of input pixel ``(oh*SH - pad_top + kh, ow*SW - pad_left + kw)``.
So ``Conv.weights`` ``(OC, KH, KW, IC)`` reshaped to ``(OC, KH*KW*IC)`` *is* the MVAU
weight matrix, and a PyTorch/ONNX ``(OC, IC, KH, KW)`` kernel must be transposed with
``w.transpose(0, 2, 3, 1)``.

Padding is zero padding. A zero is not a BIPOLAR value (FINN pads a BIPOLAR tensor by
first turning it into BINARY); here padding a BIPOLAR input is rejected with a clear
error, so the hardware and the golden model never disagree about what the pad means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType

from ..errors import FoldingError, ModelError
from .core import Node, Shape3, Thresholds, register, smallest_dtype, values_fit
from .dense import _check_fold, accumulator_range, xnor_mode


def _pair(node: str, what: str, value, minimum: int) -> tuple[int, int]:
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)):
        raise ModelError(f"layer {node!r}: {what} must be a pair of integers, not {value!r}")
    if any(int(v) < minimum for v in value):
        raise ModelError(f"layer {node!r}: {what} must be >= {minimum}, not {tuple(value)!r}")
    return int(value[0]), int(value[1])


def window_out_size(size: int, kernel: int, stride: int, pad_lo: int = 0, pad_hi: int = 0) -> int:
    """Output positions of a window sliding over ``size`` (floor mode, like ONNX/PyTorch)."""
    return (size + pad_lo + pad_hi - kernel) // stride + 1


def dtype_range(dt: DataType) -> tuple[int, int]:
    """Smallest and largest value of ``dt`` (BIPOLAR: -1, +1)."""
    return int(dt.min()), int(dt.max())


class _Window(Node):
    """Shared checks of the sliding-window nodes (kernel, stride, padding)."""

    kernel: tuple[int, int]
    stride: tuple[int, int]

    @property
    def padding(self) -> tuple[int, int, int, int]:
        return (0, 0, 0, 0)

    @property
    def out_hw(self) -> tuple[int, int]:
        h, w, _ = self.in_shape
        kh, kw = self.kernel
        sh, sw = self.stride
        pt, pl, pb, pr = self.padding
        return window_out_size(h, kh, sh, pt, pb), window_out_size(w, kw, sw, pl, pr)

    def check_window(self) -> None:
        Node.check(self)
        kh, kw = _pair(self.name, "kernel", self.kernel, 1)
        _pair(self.name, "stride", self.stride, 1)
        h, w, _ = self.in_shape
        pt, pl, pb, pr = self.padding
        if kh > h + pt + pb or kw > w + pl + pr:
            raise ModelError(f"layer {self.name!r}: kernel {tuple(self.kernel)} is larger than the "
                             f"padded input {(h + pt + pb, w + pl + pr)}")


@register
@dataclass(frozen=True, eq=False)
class Conv(_Window):
    """2-D convolution through an MVAU (or, ``depthwise``, a VVAU), per output pixel.

    ``weights`` is ``(OC, KH, KW, IC)`` integers of ``weight_dtype`` (depthwise:
    ``(C, KH, KW, 1)``, one kernel per channel, OC = IC = C). ``pad`` is
    ``(top, left, bottom, right)`` zero padding, each smaller than the kernel. With
    ``thresholds`` the output is the multi-threshold of the accumulator, else the raw
    accumulator in ``acc_dtype``; in XNOR mode (both BIPOLAR) the accumulator is the
    popcount of matching bits (DESIGN.md §2).

    Folding: standard conv, ``SIMD | IC`` (a window word carries SIMD channels of one
    kernel position) and ``PE | OC``; depthwise, ``PE | C`` channels per word and
    ``simd == 1``.
    """

    weights: np.ndarray = None
    weight_dtype: DataType = None
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)
    acc_dtype: DataType = None
    thresholds: Thresholds | None = None
    pe: int = 1
    simd: int = 1
    depthwise: bool = False

    kind = "conv"

    @property
    def padding(self) -> tuple[int, int, int, int]:
        return tuple(int(p) for p in self.pad)

    @property
    def in_channels(self) -> int:
        return int(self.in_shape[2])

    @property
    def out_channels(self) -> int:
        return int(self.weights.shape[0])

    @property
    def xnor(self) -> bool:
        return xnor_mode(self.weight_dtype, self.in_dtype)

    @property
    def out_shape(self) -> Shape3:
        oh, ow = self.out_hw
        return (oh, ow, self.out_channels)

    @property
    def out_dtype(self) -> DataType:
        """The thresholds' output type, else the accumulator's (its narrowest while the
        ``acc_widths`` pass has not set ``acc_dtype``)."""
        if self.thresholds is not None:
            return self.thresholds.out_dtype
        if self.acc_dtype is None:
            return self.minimal_acc_dtype(self.weights, self.weight_dtype, self.in_dtype)
        return self.acc_dtype

    def matrix(self) -> np.ndarray:
        """The MVAU weight matrix ``(OC, KH*KW*IC)``, columns in window order (kh, kw, ic).

        Depthwise: ``(C, KH*KW)``, the kernel of each channel in (kh, kw) order.
        """
        return self.weights.reshape(self.weights.shape[0], -1)

    @staticmethod
    def minimal_acc_dtype(weights: np.ndarray, weight_dtype: DataType, in_dtype: DataType) -> DataType:
        """Narrowest accumulator for ``weights`` (OC, KH, KW, IC or 1) over ``in_dtype`` inputs."""
        lo, hi = accumulator_range(weights.reshape(weights.shape[0], -1), weight_dtype, in_dtype)
        return smallest_dtype(lo, hi)

    def check(self) -> None:
        where = f"layer {self.name!r}"
        w = self.weights
        if not isinstance(w, np.ndarray) or w.ndim != 4:
            raise ModelError(f"{where}: weights must be a 4-D (OC, KH, KW, IC) array")
        if not np.issubdtype(w.dtype, np.integer):
            raise ModelError(f"{where}: weights must be integers, not {w.dtype}")
        pad = self.pad
        if (not isinstance(pad, (tuple, list)) or len(pad) != 4
                or not all(isinstance(p, (int, np.integer)) and p >= 0 for p in pad)):
            raise ModelError(f"{where}: pad must be 4 non-negative integers (top, left, bottom, right), "
                             f"not {pad!r}")
        self.check_window()
        kh, kw = self.kernel
        pt, pl, pb, pr = self.padding
        if max(pt, pb) >= kh or max(pl, pr) >= kw:
            raise ModelError(f"{where}: padding {self.padding} must be smaller than the kernel "
                             f"{(kh, kw)} on each side")
        if any(self.padding) and self.in_dtype.name == "BIPOLAR":
            raise ModelError(f"{where}: zero padding needs an input datatype that contains 0, not "
                             f"BIPOLAR (binarize to BINARY first or remove the padding)")
        if tuple(w.shape[1:3]) != (kh, kw):
            raise ModelError(f"{where}: weights have kernel {tuple(w.shape[1:3])} but kernel is {(kh, kw)}")
        ic = self.in_channels
        if self.depthwise:
            if w.shape[3] != 1 or w.shape[0] != ic:
                raise ModelError(f"{where}: depthwise weights must have shape ({ic}, {kh}, {kw}, 1), "
                                 f"not {tuple(w.shape)}")
        elif w.shape[3] != ic:
            raise ModelError(f"{where}: weights have {w.shape[3]} input channels but the layer "
                             f"receives {ic}")
        if not values_fit(w, self.weight_dtype):
            raise ModelError(f"{where}: weights have values outside {self.weight_dtype.name}")
        lo, hi = accumulator_range(self.matrix(), self.weight_dtype, self.in_dtype)
        if self.acc_dtype is None or not values_fit(np.array([lo, hi]), self.acc_dtype):
            name = getattr(self.acc_dtype, "name", None)
            raise ModelError(f"{where}: accumulator range {lo}..{hi} does not fit {name}")
        if self.thresholds is not None:
            self.thresholds.check(where, self.out_channels)
        if self.depthwise:
            _check_fold(self.name, "PE", self.pe, ic, "channels")
            if self.simd != 1:
                raise FoldingError(f"layer {self.name!r}: a depthwise convolution takes PE channels "
                                   f"per word and needs SIMD=1, not {self.simd!r}")
        else:
            _check_fold(self.name, "SIMD", self.simd, ic, "in_channels")
            _check_fold(self.name, "PE", self.pe, self.out_channels, "out_channels")

    def cycles_per_pixel(self) -> int:
        """MVAU (VVAU) cycles per output pixel: (OC/PE)*(KH*KW*IC/SIMD), depthwise (C/PE)*KH*KW."""
        kh, kw = self.kernel
        if self.depthwise:
            return (self.in_channels // self.pe) * kh * kw
        return (self.out_channels // self.pe) * (kh * kw * self.in_channels // self.simd)


@register
@dataclass(frozen=True, eq=False)
class MaxPool(_Window):
    """Max over KHxKW windows (no padding, floor mode); ``pe`` channels per stream word.

    Works on every input datatype; for BIPOLAR the max is the OR of the bits.
    """

    kernel: tuple[int, int] = (2, 2)
    stride: tuple[int, int] = (2, 2)
    pe: int = 1

    kind = "maxpool"

    @property
    def out_shape(self) -> Shape3:
        oh, ow = self.out_hw
        return (oh, ow, self.in_shape[2])

    def check(self) -> None:
        self.check_window()
        _check_fold(self.name, "PE", self.pe, self.in_shape[2], "channels")


@register
@dataclass(frozen=True, eq=False)
class GlobalAccPool(Node):
    """Sum over all H×W pixels per channel (global average pool without the divide).

    The output is ``(1, 1, C)`` in the smallest datatype holding ``H*W*[min, max]`` of the
    input, so it can never overflow; the 1/(H*W) scale belongs to the next threshold or
    the host. ``pe`` channels per stream word.
    """

    pe: int = 1

    kind = "global_pool"

    @property
    def out_shape(self) -> Shape3:
        return (1, 1, self.in_shape[2])

    @property
    def out_dtype(self) -> DataType:
        h, w, _ = self.in_shape
        lo, hi = dtype_range(self.in_dtype)
        return smallest_dtype(min(0, h * w * lo), h * w * hi)

    def check(self) -> None:
        super().check()
        _check_fold(self.name, "PE", self.pe, self.in_shape[2], "channels")
