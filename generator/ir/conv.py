"""Convolution and pooling nodes (residual blocks are subgraphs, see :mod:`.branch`).

Window order (shared by the golden model, the weights and the sliding-window unit):
a convolution's matrix has ``MW = KH*KW*IC`` columns ordered ``(kh, kw, ic)`` with the
input channel innermost, exactly the order in which the sliding-window unit (FINN's
ConvolutionInputGenerator) emits a window: for each kernel row ``kh``, each kernel column
``kw``, the ``IC`` channels of input pixel ``(oh*SH - pad_top + kh, ow*SW - pad_left + kw)``.
So ``Conv.weights`` ``(OC, KH, KW, IC)`` reshaped to ``(OC, KH*KW*IC)`` *is* the MVAU
weight matrix, and a PyTorch/ONNX ``(OC, IC, KH, KW)`` kernel must be transposed with
``w.transpose(0, 2, 3, 1)``.

A convolution pads with zero. A zero is not a BIPOLAR value (FINN pads a BIPOLAR tensor
by first turning it into BINARY); here padding a BIPOLAR input is rejected with a clear
error, so the hardware and the golden model never disagree about what the pad means.
A max-pool pads with its datatype's minimum, which no window maximum can exceed: the same
result as ONNX's -inf padding, in the datatype (BIPOLAR included: its minimum is -1).

Pools also take ``ceil_mode`` (ONNX/PyTorch): the output size rounds up, and a window
that would start in the bottom/right padding or beyond is dropped. The overhanging
windows are exactly windows over more bottom/right padding, so a pool's
:attr:`~_Pool.padding` is its effective padding, ceil-mode overhang included, and every
later stage (golden model, sliding window, estimates) needs nothing else.

1-D layers (``Conv1d``, ``MaxPool1d``, ``AvgPool1d``) are these 2-D nodes on ``(L, 1, C)``
tensors with ``(K, 1)`` kernels: a sequence is a column, so the sliding window's line
buffer holds about ``2K + S`` positions of ``C`` channels, not whole sequences (a
``(1, L, C)`` row would make it hold three sequences). The stream order is the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType

from ..errors import FoldingError, ModelError
from .core import Node, Shape3, Thresholds, register, smallest_dtype, values_fit
from .dense import (_check_fold, accumulator_range, check_matrix_dtypes, check_popcount,
                    matrix_out_dtype, xnor_mode)


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


def pool_out_size(size: int, kernel: int, stride: int, pad_lo: int, pad_hi: int, ceil_mode: bool) -> int:
    """Output positions of a pooling window (ONNX/PyTorch rules).

    Floor mode is :func:`window_out_size`. Ceil mode rounds the division up but drops a
    last window that would start in the ``pad_hi`` padding or beyond the input.
    """
    if not ceil_mode:
        return window_out_size(size, kernel, stride, pad_lo, pad_hi)
    out = -(-(size + pad_lo + pad_hi - kernel) // stride) + 1
    if (out - 1) * stride >= size + pad_lo:
        out -= 1
    return out


def check_pad(node: str, pad) -> tuple[int, int, int, int]:
    """``pad`` as four non-negative integers (top, left, bottom, right)."""
    if (not isinstance(pad, (tuple, list)) or len(pad) != 4
            or not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) and p >= 0 for p in pad)):
        raise ModelError(f"layer {node!r}: pad must be 4 non-negative integers (top, left, bottom, right), "
                         f"not {pad!r}")
    return tuple(int(p) for p in pad)


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

    def check_window(self, pad=(0, 0, 0, 0)) -> None:
        """Kernel and stride, and ``pad`` (the declared padding) smaller than the kernel."""
        Node.check(self)
        kh, kw = _pair(self.name, "kernel", self.kernel, 1)
        _pair(self.name, "stride", self.stride, 1)
        h, w, _ = self.in_shape
        pt, pl, pb, pr = pad
        if kh > h + pt + pb or kw > w + pl + pr:
            raise ModelError(f"layer {self.name!r}: kernel {tuple(self.kernel)} is larger than the "
                             f"padded input {(h + pt + pb, w + pl + pr)}")
        if max(pt, pb) >= kh or max(pl, pr) >= kw:
            raise ModelError(f"layer {self.name!r}: padding {tuple(pad)} must be smaller than the kernel "
                             f"{(kh, kw)} on each side")


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

    Folding: standard conv, ``SIMD | KH*KW*IC`` and ``PE | OC``. A window word carries
    SIMD consecutive elements of the flattened window (order (kh, kw, ic)): with
    ``SIMD | IC`` SIMD channels of one kernel position (the line-buffer sliding window),
    otherwise several kernel positions at once (:attr:`window_parallel`, FINN's MVAU
    with SIMD across the window: what lets a 1- or 3-channel first layer go below
    ``OH*OW*KH*KW`` cycles). Depthwise, ``PE | C`` channels per word and ``simd == 1``.
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
    winograd: str = "auto"
    """What the ``winograd`` pass (``--winograd auto``) may do with this layer: ``auto``
    convert it to :class:`~.winograd.WinogradConv` when it qualifies and the estimates
    favour it, ``off`` never (a native ``winograd: on`` layer is a ``WinogradConv`` already)."""
    popcount: str = "counters"
    """XNOR layers on the MVAU: ``counters`` or ``adders`` (:data:`.dense.POPCOUNTS`)."""

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
        return matrix_out_dtype(self)

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
        self.check_window(check_pad(self.name, self.pad))
        check_popcount(where, self.popcount)
        if self.winograd not in ("auto", "off"):
            raise ModelError(f"{where}: winograd must be 'auto' or 'off', not {self.winograd!r}")
        kh, kw = self.kernel
        check_matrix_dtypes(self.name, self.weight_dtype, self.in_dtype)
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
            _check_fold(self.name, "SIMD", self.simd, kh * kw * ic, "KH*KW*in_channels")
            _check_fold(self.name, "PE", self.pe, self.out_channels, "out_channels")

    @property
    def window_parallel(self) -> bool:
        """SIMD spans several kernel positions (it does not divide the input channels):
        the window comes from :class:`~bitsmith.hw.compute.parallel_window.ParallelWindow`."""
        return not self.depthwise and self.in_channels % self.simd != 0

    def cycles_per_pixel(self) -> int:
        """MVAU (VVAU) cycles per output pixel: (OC/PE)*(KH*KW*IC/SIMD), depthwise (C/PE)*KH*KW."""
        kh, kw = self.kernel
        if self.depthwise:
            return (self.in_channels // self.pe) * kh * kw
        return (self.out_channels // self.pe) * (kh * kw * self.in_channels // self.simd)


@dataclass(frozen=True, eq=False)
class _Pool(_Window):
    """Shared fields and checks of the window pools (max, average).

    ``pad`` is ``(top, left, bottom, right)``, each side smaller than the kernel;
    ``ceil_mode`` rounds the output size up (see the module docstring); ``pe`` channels
    per stream word.
    """

    kernel: tuple[int, int] = (2, 2)
    stride: tuple[int, int] = (2, 2)
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)
    ceil_mode: bool = False
    pe: int = 1

    @property
    def out_hw(self) -> tuple[int, int]:
        h, w, _ = self.in_shape
        (kh, kw), (sh, sw) = self.kernel, self.stride
        pt, pl, pb, pr = (int(p) for p in self.pad)
        return (pool_out_size(h, kh, sh, pt, pb, self.ceil_mode),
                pool_out_size(w, kw, sw, pl, pr, self.ceil_mode))

    @property
    def padding(self) -> tuple[int, int, int, int]:
        """Effective padding: ``pad`` plus the ceil-mode overhang at the bottom and right."""
        h, w, _ = self.in_shape
        (kh, kw), (sh, sw) = self.kernel, self.stride
        pt, pl, pb, pr = (int(p) for p in self.pad)
        oh, ow = self.out_hw
        return (pt, pl, max(pb, (oh - 1) * sh + kh - h - pt), max(pr, (ow - 1) * sw + kw - w - pl))

    @property
    def out_shape(self) -> Shape3:
        oh, ow = self.out_hw
        return (oh, ow, self.in_shape[2])

    @property
    def is_identity(self) -> bool:
        """A 1x1, stride-1 window with no padding passes every pixel through."""
        return (tuple(self.kernel) == (1, 1) and tuple(self.stride) == (1, 1)
                and not any(self.padding))

    def check(self) -> None:
        pad = check_pad(self.name, self.pad)
        if not isinstance(self.ceil_mode, bool):
            raise ModelError(f"layer {self.name!r}: ceil_mode must be true or false, not {self.ceil_mode!r}")
        self.check_window(pad)
        _check_fold(self.name, "PE", self.pe, self.in_shape[2], "channels")


@register
@dataclass(frozen=True, eq=False)
class MaxPool(_Pool):
    """Max over KHxKW windows; ``pe`` channels per stream word.

    Padding holds the input datatype's minimum (ONNX pads with -inf: the same maxima,
    since every window holds at least one input pixel). Works on every input datatype;
    for BIPOLAR the max is the OR of the bits and the pad is -1.
    """

    kind = "maxpool"

    @property
    def pad_value(self) -> int:
        """The value padding holds: the input datatype's minimum."""
        return int(self.in_dtype.min())


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
