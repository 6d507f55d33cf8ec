"""Activation quantizers as integer step functions of a real value.

Each quantizer maps a real ``x`` to an integer code (``codes``), and a code back to the
real value the ONNX graph carries on (``real = code * out_mul + out_add``). Parameters are
arrays broadcastable to the tensor they quantize; :meth:`Quantizer.remap` moves them to
another layout (e.g. per hardware channel). The arithmetic is qonnx's own
(:mod:`qonnx.custom_op.general`), evaluated in float64.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
from qonnx.custom_op.general.quant import max_int, min_int, resolve_rounding_mode
from qonnx.custom_op.general.trunc import trunc_v1, trunc_v2

from ...ir import host


class Quantizer:
    """Base: ``codes(x)``, ``levels`` (lowest, highest code or None), output affine, host stage."""

    #: the two codes are -1/+1 (one threshold, out_scale 2, out_bias -1)
    bipolar: bool = False
    #: the array fields that broadcast over the tensor
    arrays: tuple[str, ...] = ()

    def codes(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @property
    def levels(self) -> tuple[int, int] | None:
        return None

    def out_affine(self) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def host_stage(self):
        return None

    def remap(self, fn: Callable[[np.ndarray], np.ndarray]) -> "Quantizer":
        return replace(self, **{name: fn(getattr(self, name)) for name in self.arrays})


def _f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class IntQuant(Quantizer):
    """qonnx ``Quant``: ``code = clip(round(x/scale + zp))``, ``real = (code - zp) * scale``."""

    scale: np.ndarray
    zero_point: np.ndarray
    bitwidth: int
    signed: bool
    narrow: bool
    rounding_mode: str
    arrays = ("scale", "zero_point")

    @property
    def bipolar(self) -> bool:
        return self.bitwidth == 1 and self.signed

    @property
    def levels(self) -> tuple[int, int]:
        if self.bipolar:
            return -1, 1
        args = (self.signed, self.narrow, self.bitwidth)
        return int(min_int(*args)), int(max_int(*args))

    def codes(self, x):
        y = _f64(x) / self.scale + self.zero_point
        if self.bipolar:
            return np.where(y >= 0, 1.0, -1.0)
        lo, hi = self.levels
        return resolve_rounding_mode(self.rounding_mode)(np.clip(y, lo, hi))

    def out_affine(self):
        return _f64(self.scale), -_f64(self.zero_point) * self.scale

    def host_stage(self):
        return host.Quantize(scale=np.asarray(self.scale, np.float32),
                             zero_point=np.asarray(self.zero_point, np.float32), bitwidth=self.bitwidth, signed=self.signed, narrow=self.narrow,
                             rounding_mode=self.rounding_mode)


@dataclass(frozen=True, eq=False)
class BipolarQuant(Quantizer):
    """qonnx ``BipolarQuant``: ``code = +1 if x >= 0 else -1``, ``real = code * scale``."""

    scale: np.ndarray
    arrays = ("scale",)
    bipolar = True

    @property
    def levels(self):
        return -1, 1

    def codes(self, x):
        return np.where(_f64(x) >= 0, 1.0, -1.0)

    def out_affine(self):
        return _f64(self.scale), np.zeros_like(_f64(self.scale))

    def host_stage(self):
        return host.BipolarQuantize()


@dataclass(frozen=True, eq=False)
class Sign(Quantizer):
    """ONNX ``Sign``: -1, 0, +1 (BIPOLAR when no input can be exactly zero)."""

    @property
    def levels(self):
        return -1, 1

    def codes(self, x):
        return np.sign(_f64(x))

    def out_affine(self):
        return np.float64(1.0), np.float64(0.0)

    def host_stage(self):
        return host.BipolarQuantize(sign=True)


@dataclass(frozen=True, eq=False)
class Thresholding(Quantizer):
    """qonnx ``MultiThreshold``: ``code = #(x >= T_i)``, ``real = out_scale * code + out_bias``.

    ``thresholds`` broadcasts over the tensor with one extra trailing axis of B thresholds.
    """

    thresholds: np.ndarray
    out_scale: float
    out_bias: float

    @property
    def levels(self):
        return 0, int(self.thresholds.shape[-1])

    def codes(self, x):
        x = _f64(x)
        t = self.thresholds
        return (x[..., None] >= t).sum(axis=-1).astype(np.float64)

    def out_affine(self):
        return np.float64(self.out_scale), np.float64(self.out_bias)

    def remap(self, fn):
        cols = [fn(self.thresholds[..., b]) for b in range(self.thresholds.shape[-1])]
        return replace(self, thresholds=np.stack(cols, axis=-1))

    def host_stage(self):
        return None  # the (C, B) thresholds and their channel axis: built by the handler


@dataclass(frozen=True, eq=False)
class Trunc(Quantizer):
    """qonnx ``Trunc`` (v1: 5 inputs, v2: 6 inputs): drops low bits of a quantized value."""

    scale: np.ndarray
    zero_point: np.ndarray
    input_bit_width: np.ndarray
    output_bit_width: np.ndarray
    rounding_mode: str
    output_scale: np.ndarray | None = None   # v2 only
    narrow: bool = False
    signed: bool = True
    arrays = ("scale", "zero_point")

    def remap(self, fn):
        out = super().remap(fn)
        return out if self.output_scale is None else replace(out, output_scale=fn(self.output_scale))

    def _trunc_scale(self):
        if self.output_scale is None:
            return 2.0 ** (_f64(self.input_bit_width) - _f64(self.output_bit_width))
        return 2 ** np.round(np.log2(_f64(self.output_scale) / self.scale))

    def out_affine(self):
        if self.output_scale is None:
            return _f64(self.scale), -_f64(self.zero_point) * self.scale
        out = _f64(self.output_scale)
        return out, -_f64(self.zero_point) / self._trunc_scale() * out

    def codes(self, x):
        x = _f64(x)
        if self.output_scale is None:
            y = trunc_v1(x, self.scale, self.zero_point, self.input_bit_width, self.output_bit_width,
                         self.rounding_mode)
        else:
            y = trunc_v2(x, self.scale, self.zero_point, self.input_bit_width, int(self.narrow),
                         int(self.signed), self.output_scale, self.output_bit_width, self.rounding_mode)
        mul, add = self.out_affine()
        return np.round((y - add) / mul)
