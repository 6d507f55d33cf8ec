"""Branching nodes: fork a stream, add two streams, concatenate streams along channels.

With these, residual blocks (``x + body(x)``), downsampling blocks (a strided body plus
a strided 1x1 conv on the shortcut), MobileNet-v2 inverted residuals and SqueezeNet
fire modules are ordinary subgraphs of a :class:`~bitsmith.generator.ir.core.Graph`.

* :class:`Fork` copies its input tensor to ``outputs`` consumers. Lowering requires
  one wherever a tensor is read more than once (the ``insert_forks`` pass adds them).
* :class:`Add` is ``y = scale_a*a + scale_b*b`` element by element. The scales are
  *per tensor* nonzero integers with ``|k| <= MAX_ADD_SCALE``: an ONNX front end with
  different (power-of-two related) operand scales rescales the finer operand by an
  integer; per-channel scales are not supported (requantise with a threshold first).
  BIPOLAR inputs count as -1/+1. The output datatype is the smallest holding every sum
  of the two input ranges, so it never overflows.
* :class:`Concat` stacks two or more ``(H, W, C_k)`` tensors of one datatype into
  ``(H, W, sum C_k)``, input 0's channels first.

Each has a ``pe`` folding: elements per stream word; it must divide the channels of
every input (and of every Concat input).
"""

from __future__ import annotations

from dataclasses import dataclass

from qonnx.core.datatype import DataType

from ..errors import ModelError
from .conv import dtype_range
from .core import Node, Shape3, register, smallest_dtype
from .dense import _check_fold

MAX_ADD_SCALE = 255
"""Largest ``|scale_a|``, ``|scale_b|`` of an :class:`Add` (constant multipliers stay small)."""


def scaled_range(dt: DataType, k: int) -> tuple[int, int]:
    lo, hi = dtype_range(dt)
    return min(k * lo, k * hi), max(k * lo, k * hi)


@register
@dataclass(frozen=True, eq=False)
class Fork(Node):
    """Copies the input tensor to ``outputs`` (>= 2) consumers; ``pe`` elements per word."""

    outputs: int = 2
    pe: int = 1

    kind = "fork"

    @property
    def fan_out(self) -> int:
        return self.outputs

    def check(self) -> None:
        super().check()
        if isinstance(self.outputs, bool) or not isinstance(self.outputs, int) or self.outputs < 2:
            raise ModelError(f"layer {self.name!r}: a fork needs outputs >= 2, not {self.outputs!r}")
        _check_fold(self.name, "PE", self.pe, self.in_shape[2], "channels")


@register
@dataclass(frozen=True, eq=False)
class Add(Node):
    """``y = scale_a*a + scale_b*b`` of two tensors of shape ``in_shape``.

    ``inputs`` names ``(a, b)``; ``in_dtype`` is a's datatype, ``in_dtype_b`` b's.
    """

    in_dtype_b: DataType = None
    scale_a: int = 1
    scale_b: int = 1
    pe: int = 1

    kind = "add"

    @property
    def in_shapes(self) -> tuple[Shape3, ...]:
        return (tuple(self.in_shape), tuple(self.in_shape))

    @property
    def in_dtypes(self) -> tuple[DataType, ...]:
        return (self.in_dtype, self.in_dtype_b)

    @property
    def out_range(self) -> tuple[int, int]:
        alo, ahi = scaled_range(self.in_dtype, self.scale_a)
        blo, bhi = scaled_range(self.in_dtype_b, self.scale_b)
        return alo + blo, ahi + bhi

    @property
    def out_dtype(self) -> DataType:
        return smallest_dtype(*self.out_range)

    def check(self) -> None:
        super().check()
        where = f"layer {self.name!r}"
        if not hasattr(self.in_dtype_b, "bitwidth"):
            raise ModelError(f"{where}: the add needs the datatype of its second input, not "
                             f"{self.in_dtype_b!r}")
        for key in ("scale_a", "scale_b"):
            k = getattr(self, key)
            if isinstance(k, bool) or not isinstance(k, int) or k == 0 or abs(k) > MAX_ADD_SCALE:
                raise ModelError(f"{where}: {key} must be a nonzero integer in -{MAX_ADD_SCALE}.."
                                 f"{MAX_ADD_SCALE}, not {k!r}")
        lo, hi = self.out_range
        if max(-lo, hi) >= 1 << 31:
            raise ModelError(f"{where}: sums {lo}..{hi} do not fit 32 bits")
        _check_fold(self.name, "PE", self.pe, self.in_shape[2], "channels")


@register
@dataclass(frozen=True, eq=False)
class Concat(Node):
    """Channel concatenation of ``len(channels)`` tensors ``(H, W, channels[k])``.

    ``in_shape`` is input 0's shape (so ``in_shape[2] == channels[0]``); every input has
    the datatype ``in_dtype``.
    """

    channels: tuple[int, ...] = ()
    pe: int = 1

    kind = "concat"

    @property
    def in_shapes(self) -> tuple[Shape3, ...]:
        h, w, _ = self.in_shape
        return tuple((h, w, int(c)) for c in self.channels)

    @property
    def in_dtypes(self) -> tuple[DataType, ...]:
        return (self.in_dtype,) * len(self.channels)

    @property
    def out_shape(self) -> Shape3:
        h, w, _ = self.in_shape
        return (h, w, sum(int(c) for c in self.channels))

    def check(self) -> None:
        super().check()
        where = f"layer {self.name!r}"
        ch = self.channels
        if (not isinstance(ch, tuple) or len(ch) < 2
                or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in ch)):
            raise ModelError(f"{where}: a concat needs channels of two or more inputs as positive "
                             f"integers, not {ch!r}")
        if ch[0] != self.in_shape[2]:
            raise ModelError(f"{where}: channels[0]={ch[0]} differs from the input shape "
                             f"{tuple(self.in_shape)}")
        for k, c in enumerate(ch):
            _check_fold(self.name, "PE", self.pe, c, f"channels of input {k}")
