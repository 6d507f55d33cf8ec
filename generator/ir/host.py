"""Host stages: the float glue the hardware does not run (DESIGN.md §4).

A host stage is a frozen dataclass with ``run(x: np.ndarray) -> np.ndarray`` working on
the whole batch. ``Graph.host_pre`` maps the model's own input to the integer values
the hardware consumes (shape ``(N, H, W, C)``); ``Graph.host_post`` maps the hardware's
integer output ``(N, H, W, C)`` to the model's output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOST_KINDS: dict[str, type] = {}


def host_stage(cls):
    """Decorator: register a host stage class for (de)serialisation."""
    HOST_KINDS[cls.__name__] = cls
    return cls


@host_stage
@dataclass(frozen=True, eq=False)
class InputFrame:
    """The model's own input frame: ``shape`` (without the batch axis) in ``layout``.

    First in ``host_pre``. A batch must have exactly this frame shape; a lone frame gains
    its batch axis. Anything else is refused, never reshaped (:mod:`bitsmith.generator.dataio`
    words the error for the command line).
    """

    shape: tuple
    layout: str = "NHWC"

    def run(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.shape == tuple(self.shape):
            return x[None]
        if x.shape[1:] != tuple(self.shape):
            raise ValueError(f"frames of shape {x.shape[1:]}, the model takes {tuple(self.shape)} "
                             f"({self.layout})")
        return x


@host_stage
@dataclass(frozen=True, eq=False)
class ToNHWC:
    """Reshape a batch to ``(N, H, W, C)``; ``layout`` is ``"NHWC"`` or ``"NCHW"`` (transposed)."""

    shape: tuple  # (H, W, C)
    layout: str = "NHWC"

    def run(self, x: np.ndarray) -> np.ndarray:
        h, w, c = self.shape
        n = x.shape[0]
        if self.layout == "NCHW":
            return np.asarray(x).reshape(n, c, h, w).transpose(0, 2, 3, 1)
        return np.asarray(x).reshape(n, h, w, c)


@host_stage
@dataclass(frozen=True, eq=False)
class Flatten:
    """Reshape ``(N, H, W, C)`` to ``(N, H*W*C)``."""

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x).reshape(x.shape[0], -1)


def run_stages(stages, x: np.ndarray) -> np.ndarray:
    for stage in stages:
        x = stage.run(x)
    return x


# --------------------------------------------------------------------------- QONNX host stages
# The stages below replay float ONNX operations on the host exactly as qonnx executes them
# (float32 elementwise arithmetic, numpy quantizers), so host-pre produces the very integers
# the original model computes. Shapes given to them leave out the batch axis.

def _float32(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


@host_stage
@dataclass(frozen=True, eq=False)
class IntegerInput:
    """The model input is ``x * scale`` with integer ``x`` of ``dtype``; checks and passes ``x``.

    ``scale`` documents the contract (``--input-dtype/--input-scale``); the reference
    execution of the original model is fed ``x * scale``.
    """

    dtype: object  # qonnx DataType
    scale: float = 1.0

    def run(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if not np.all(np.isfinite(x)) or not np.all(x == np.round(x)):
            raise ValueError(f"inputs must be integers of {self.dtype.name}")
        if self.dtype.name == "BIPOLAR":
            if np.any(np.abs(x) != 1):
                raise ValueError("inputs must be BIPOLAR values -1 or +1")
        elif np.any(x < self.dtype.min()) or np.any(x > self.dtype.max()):
            raise ValueError(f"inputs must lie in {self.dtype.name} [{self.dtype.min()}, {self.dtype.max()}]")
        return x.astype(np.int64)


@host_stage
@dataclass(frozen=True, eq=False)
class Reshape:
    """ONNX Reshape of every frame to ``shape`` (batch axis kept)."""

    shape: tuple

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x).reshape((x.shape[0],) + tuple(self.shape))


@host_stage
@dataclass(frozen=True, eq=False)
class Transpose:
    """ONNX Transpose with ``perm`` over the frame axes (the batch axis stays first)."""

    perm: tuple

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x).transpose((0,) + tuple(int(p) + 1 for p in self.perm))


@host_stage
@dataclass(frozen=True, eq=False)
class Elementwise:
    """ONNX ``Add``/``Sub``/``Mul``/``Div`` with a constant, or ``Relu``, in float32 like qonnx.

    ``constant_first`` means ``constant op x`` (matters for Sub and Div).
    """

    op: str
    constant: np.ndarray | None = None
    constant_first: bool = False

    def run(self, x: np.ndarray) -> np.ndarray:
        x = _float32(x)
        if self.op == "Relu":
            return np.maximum(x, np.float32(0))
        c = _float32(self.constant)
        a, b = (c, x) if self.constant_first else (x, c)
        if self.op == "Add":
            return a + b
        if self.op == "Sub":
            return a - b
        if self.op == "Mul":
            return a * b
        if self.op == "Div":
            return a / b
        raise ValueError(f"elementwise op must be Add, Sub, Mul, Div or Relu, not {self.op!r}")


@host_stage
@dataclass(frozen=True, eq=False)
class Affine:
    """``x * mul + add`` per element (float64); ``mul``/``add`` broadcast over a frame."""

    mul: np.ndarray
    add: np.ndarray

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) * self.mul + self.add


@host_stage
@dataclass(frozen=True, eq=False)
class Quantize:
    """qonnx ``Quant``: the integer codes ``clip(round(x/scale + zero_point))`` (float32 math).

    A signed 1-bit quantizer gives the BIPOLAR codes -1/+1, as qonnx computes it.
    """

    scale: np.ndarray
    zero_point: np.ndarray
    bitwidth: int
    signed: bool
    narrow: bool
    rounding_mode: str = "ROUND"

    def run(self, x: np.ndarray) -> np.ndarray:
        from qonnx.custom_op.general.quant import max_int, min_int, resolve_rounding_mode
        y = _float32(x) / _float32(self.scale) + _float32(self.zero_point)
        if self.bitwidth == 1 and self.signed:
            return np.where(y >= 0, 1, -1).astype(np.int64)
        lo = min_int(self.signed, self.narrow, self.bitwidth)
        hi = max_int(self.signed, self.narrow, self.bitwidth)
        y = np.clip(y, lo, hi)
        return resolve_rounding_mode(self.rounding_mode)(y).astype(np.int64)


@host_stage
@dataclass(frozen=True, eq=False)
class BipolarQuantize:
    """qonnx ``BipolarQuant`` / ONNX ``Sign`` codes: +1 where ``x >= 0`` (Sign: ``x > 0``), else -1.

    ``sign`` keeps ONNX Sign's 0 for an exact zero.
    """

    sign: bool = False

    def run(self, x: np.ndarray) -> np.ndarray:
        x = _float32(x)
        if self.sign:
            return np.sign(x).astype(np.int64)
        return np.where(x >= 0, 1, -1).astype(np.int64)


@host_stage
@dataclass(frozen=True, eq=False)
class ThresholdCount:
    """qonnx ``MultiThreshold`` codes: the number of thresholds ``x >= T`` per channel.

    ``thresholds`` is ``(C, B)`` or ``(1, B)``; ``axis`` is the ONNX channel axis (batch is 0).
    """

    thresholds: np.ndarray
    axis: int = 1

    def run(self, x: np.ndarray) -> np.ndarray:
        x = np.moveaxis(_float32(x), self.axis, -1)
        t = _float32(self.thresholds)
        count = (x[..., None] >= t).sum(axis=-1)
        return np.moveaxis(count, -1, self.axis).astype(np.int64)


@host_stage
@dataclass(frozen=True, eq=False)
class FromNHWC:
    """Hardware output ``(N, H, W, C)`` to the ONNX tensor: ``y[n, i] = x[n].flat[index[i]]``."""

    index: np.ndarray  # ONNX frame shape, flat NHWC positions

    def run(self, x: np.ndarray) -> np.ndarray:
        flat = np.asarray(x).reshape(x.shape[0], -1)
        return flat[:, self.index.reshape(-1)].reshape((x.shape[0],) + self.index.shape)


@host_stage
@dataclass(frozen=True, eq=False)
class Softmax:
    """ONNX Softmax over ONNX ``axis`` (>= 1, batch is 0); ``coerce_2d`` (opset < 13) takes
    the softmax over all axes from ``axis`` on."""

    axis: int
    coerce_2d: bool = False

    def run(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        shape = x.shape
        if self.coerce_2d:
            x = x.reshape(shape[: self.axis] + (-1,))
        ax = -1 if self.coerce_2d else self.axis
        y = np.exp(x - x.max(axis=ax, keepdims=True))
        return (y / y.sum(axis=ax, keepdims=True)).reshape(shape)


@host_stage
@dataclass(frozen=True, eq=False)
class Cast:
    """Cast to a numpy dtype (``"float32"``, ``"int64"``)."""

    dtype: str

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x).astype(self.dtype)
