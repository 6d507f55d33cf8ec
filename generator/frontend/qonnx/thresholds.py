"""Integer thresholds from a float chain and a quantizer (FINN's streamlining, made exact).

For an integer accumulator ``a`` in ``[lo, hi]`` and, per channel, a monotone
non-decreasing float function ``g(a) = codes(chain(a))``, the threshold of code level
``t`` is the smallest integer ``T`` with ``g(T) >= t`` (``hi + 1`` if there is none), so
``[a >= T] == [g(a) >= t]`` for every integer ``a`` in range: for an affine chain that is
``T = ceil`` of the float crossing point, with the quantizer's own tie rule. It is found
by bisection on the exact predicate, vectorised over channels and levels, so rounding
ties, clipping, ReLU and any composition of them come out right. Channels whose chain
slope is negative must be flipped by the caller first (negate the weight row).
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType

from ...ir.core import Thresholds, smallest_dtype
from . import chain as ch


def threshold_matrix(chain_c: list, quant, levels: np.ndarray, lo: int, hi: int, channels: int) -> np.ndarray:
    """``(C, L)`` int64: smallest ``a`` in ``[lo, hi+1]`` with ``codes(chain(a)) >= levels[l]``.

    ``chain_c`` and ``quant`` hold per-channel constants of shape ``(C, 1)``.
    """
    shape = (channels, len(levels))
    low = np.full(shape, lo, dtype=np.int64)
    high = np.full(shape, hi + 1, dtype=np.int64)
    target = np.asarray(levels, dtype=np.float64)[None, :]
    while np.any(low < high):
        mid = (low + high) // 2
        ok = quant.codes(ch.evaluate(chain_c, mid.astype(np.float64))) >= target
        high = np.where(ok & (low < high), mid, high)
        low = np.where(~ok & (low < high), mid + 1, low)
    return low


def build_thresholds(chain_c: list, quant, lo: int, hi: int, code_range: tuple[int, int],
                     channels: int) -> Thresholds:
    """The :class:`Thresholds` of ``quant(chain(a))`` for integer ``a`` in ``[lo, hi]``.

    ``code_range`` is the quantizer's lowest and highest code. Levels every accumulator
    crosses (or none does) are dropped and folded into ``out_bias``, so the output
    datatype is the narrowest that holds the reachable codes. BIPOLAR quantizers (and a
    ``Sign`` that can never see an exact zero) give one threshold with out_scale 2,
    out_bias -1.
    """
    cmin, cmax = code_range
    if quant.bipolar:
        t = threshold_matrix(chain_c, quant, np.array([1]), lo, hi, channels)
        return Thresholds(values=_compress(t), out_dtype=DataType["BIPOLAR"], out_scale=2, out_bias=-1)
    levels = np.arange(cmin + 1, cmax + 1)
    t = threshold_matrix(chain_c, quant, levels, lo, hi, channels)
    if (cmin, cmax) == (-1, 1) and type(quant).__name__ == "Sign" and np.array_equal(t[:, 0], t[:, 1]):
        return Thresholds(values=_compress(t[:, 1:]), out_dtype=DataType["BIPOLAR"], out_scale=2, out_bias=-1)
    always = 0
    while always < t.shape[1] and np.all(t[:, always] <= lo):
        always += 1
    never = t.shape[1]
    while never > always and np.all(t[:, never - 1] > hi):
        never -= 1
    t = t[:, always:never]
    bias = cmin + always
    return Thresholds(values=_compress(t), out_dtype=smallest_dtype(bias, bias + t.shape[1]),
                      out_scale=1, out_bias=int(bias))


def _compress(t: np.ndarray) -> np.ndarray:
    """One shared row when every channel has the same thresholds."""
    t = np.ascontiguousarray(t, dtype=np.int64)
    if t.shape[0] > 1 and np.all(t == t[:1]):
        return t[:1].copy()
    return t
