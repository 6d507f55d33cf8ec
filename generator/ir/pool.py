"""Average pooling: the exact window sum, optionally truncated as qonnx's ``Trunc``.

The integer IR never divides by the window size: :class:`AvgPool` outputs the exact sum
of each KHxKW window (zero padding contributes nothing), in the smallest datatype that
holds ``KH*KW`` times the input range, just as :class:`~.conv.GlobalAccPool` does for the
whole map. The ``1/(KH*KW)`` belongs to what follows: the next layer's thresholds, the
host, or a front end's float chain.

Brevitas' ``TruncAvgPool2d`` instead divides by a power of two in the integers; it is
exported as a sum followed by a qonnx ``Trunc`` (opset 2). With ``shift``, ``rounding``,
``trunc_dtype`` and ``narrow`` the node computes exactly that op on the integer sum
``s`` (scale 1, zero point 0, output scale ``2**shift``)::

    y = clip(rounding(s / 2**shift), min_int, max_int)

where ``rounding`` is one of qonnx's modes (:data:`ROUNDING`: ``ROUND``/``HALF_EVEN``
round half to even, ``CEIL``, ``FLOOR``, ``UP`` away from zero, ``DOWN`` towards zero,
``HALF_UP`` half away from zero, ``HALF_DOWN`` half towards zero) and ``min_int``,
``max_int`` are qonnx's for ``trunc_dtype``'s signedness and bit width and ``narrow``.
qonnx clamps before rounding; with integer bounds and monotone rounding that is the
same as rounding first. Without ``trunc_dtype`` nothing is clipped and the output
datatype is proven from the rounded range.

ONNX ``AveragePool`` with ``count_include_pad=0`` divides border windows by the number of
input pixels they cover: a divisor that changes with the output position, which neither
a per-channel threshold nor a power-of-two shift can apply. The IR has no such mode; a
padded average pool must count the padding (``count_include_pad=1``, also PyTorch's
default), and the native description rejects the other (see ``native_pool``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType

from ..errors import ModelError
from .conv import _Pool, dtype_range
from .core import register, smallest_dtype

ROUNDING = ("ROUND", "HALF_EVEN", "CEIL", "FLOOR", "UP", "DOWN", "HALF_UP", "HALF_DOWN")
"""qonnx ``Trunc`` rounding modes (``ROUND`` and ``HALF_EVEN`` are the same)."""


def trunc_bounds(dt: DataType, narrow: bool) -> tuple[int, int]:
    """qonnx ``min_int``/``max_int`` of ``dt``'s signedness and bit width with ``narrow``."""
    bits, signed = dt.bitwidth(), dt.signed()
    if signed:
        return -(1 << (bits - 1)) + int(narrow), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1 - int(narrow)


def divide_rounded(values, shift: int, rounding: str):
    """``rounding(values / 2**shift)`` in exact integer arithmetic (numpy arrays or ints)."""
    values = np.asarray(values, dtype=np.int64)
    if shift == 0:
        return values
    q = values >> shift                              # floor
    r = values - (q << shift)                        # 0 <= r < 2**shift
    half = 1 << (shift - 1)
    negative = q < 0
    up = {
        "FLOOR": np.zeros_like(r, dtype=bool),
        "CEIL": r > 0,
        "DOWN": (r > 0) & negative,
        "UP": (r > 0) & ~negative,
        "ROUND": (r > half) | ((r == half) & (q & 1 == 1)),
        "HALF_UP": (r > half) | ((r == half) & ~negative),
        "HALF_DOWN": (r > half) | ((r == half) & negative),
    }
    up["HALF_EVEN"] = up["ROUND"]
    return q + up[rounding]


@register
@dataclass(frozen=True, eq=False)
class AvgPool(_Pool):
    """Sum over KHxKW windows (average pooling without the divide), optionally truncated.

    Fields of :class:`~.conv._Pool` (``kernel``, ``stride``, ``pad``, ``ceil_mode``,
    ``pe``); zero padding, so a BIPOLAR input (which has no 0) cannot be padded.
    ``shift`` (>= 0), ``rounding``, ``trunc_dtype`` (INTn/UINTn or None) and ``narrow``
    are qonnx ``Trunc``'s (module docstring); the defaults give the exact sum.
    """

    shift: int = 0
    rounding: str = "FLOOR"
    trunc_dtype: DataType | None = None
    narrow: bool = False

    kind = "avgpool"

    @property
    def window(self) -> int:
        return int(self.kernel[0]) * int(self.kernel[1])

    @property
    def sum_range(self) -> tuple[int, int]:
        """Exact bounds of a window sum (padding adds zeros, inside every integer range)."""
        lo, hi = dtype_range(self.in_dtype)
        return self.window * lo, self.window * hi

    @property
    def out_range(self) -> tuple[int, int]:
        lo, hi = (int(v) for v in divide_rounded(self.sum_range, self.shift, self.rounding))
        if self.trunc_dtype is not None:
            tlo, thi = trunc_bounds(self.trunc_dtype, self.narrow)
            lo, hi = min(max(lo, tlo), thi), min(max(hi, tlo), thi)
        return lo, hi

    @property
    def out_dtype(self) -> DataType:
        if self.trunc_dtype is not None:
            return self.trunc_dtype
        return smallest_dtype(*self.out_range)

    @property
    def is_identity(self) -> bool:
        return self.single_pixel and self.shift == 0 and self.trunc_dtype is None

    @property
    def single_pixel(self) -> bool:
        """A 1x1, stride-1 window with no padding: each output is one input pixel's value."""
        return _Pool.is_identity.fget(self)

    def check(self) -> None:
        super().check()
        where = f"layer {self.name!r}"
        if any(self.padding) and self.in_dtype.name == "BIPOLAR":
            raise ModelError(f"{where}: zero padding (or ceil_mode overhang) needs an input datatype that "
                             f"contains 0, not BIPOLAR (binarize to BINARY first or remove the padding)")
        if not isinstance(self.shift, (int, np.integer)) or isinstance(self.shift, bool) or self.shift < 0:
            raise ModelError(f"{where}: shift must be a non-negative integer, not {self.shift!r}")
        if self.rounding not in ROUNDING:
            raise ModelError(f"{where}: rounding must be one of {', '.join(ROUNDING)}, not {self.rounding!r}")
        if not isinstance(self.narrow, bool):
            raise ModelError(f"{where}: narrow must be true or false, not {self.narrow!r}")
        dt = self.trunc_dtype
        if dt is not None and not str(getattr(dt, "name", "")).startswith(("INT", "UINT")):
            raise ModelError(f"{where}: trunc_dtype must be an INTn or UINTn datatype, not "
                             f"{getattr(dt, 'name', dt)!r}")
        if self.narrow and dt is None:
            raise ModelError(f"{where}: narrow needs a trunc_dtype")
        if self.out_dtype.bitwidth() > 32:
            raise ModelError(f"{where}: the window sum needs {self.out_dtype.bitwidth()} bits, more than "
                             f"the 32 a stream element holds")
