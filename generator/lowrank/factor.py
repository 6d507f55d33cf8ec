"""Low-rank factorisation of one integer matrix layer (Denton et al. 2014, SVD).

A matrix layer computes ``acc = W x`` on its input ``x`` (in XNOR mode, both operands
BIPOLAR, the popcount ``(W x + MW) / 2``) and optionally thresholds it. It becomes two
layers, both plain multiply-accumulate units:

1. ``first``: ``a = A x`` with ``A`` of shape ``(R, MW)``, INTb weights and *no*
   thresholds: its raw accumulator, whose width is proven from ``A`` and the input range,
   is the narrow intermediate stream (at most :data:`MAX_INPUT_BITS` bits);
2. ``second``: ``acc' = B a`` with ``B`` of shape ``(MH, R)``, INTb weights, then the
   layer's thresholds, rescaled.

The factors come from the SVD ``W = U S V^T``: ``A = sqrt(S_R) V_R^T``,
``B = U_R sqrt(S_R)``. ``A`` is quantized per row to INTb (symmetric, ``2**(b-1) - 1``
levels each side) with scales ``alpha_i``; ``B diag(alpha)`` is quantized per tensor with
one scale ``beta``, so ``W ~= beta * B_q A_q`` and ``acc' ~= (W x) / beta``. One positive
scale per tensor keeps the order of a thresholdless layer's outputs (its argmax) and
lets a threshold ``T`` on ``W x`` become ``ceil(T / beta)`` on ``acc'`` (``acc' >= T/beta``
holds exactly when ``acc' >= ceil(T/beta)``, ``acc'`` being an integer). In XNOR mode the
thresholds are first moved from the popcount domain to the signed one: ``2 T - MW``.

**Rank.** An explicit ``R`` must satisfy ``1 <= R < min(MH, MW)``. ``auto`` picks the
smallest ``R`` whose leading singular values keep ``energy`` (default 99 %) of the
squared Frobenius norm, ``sum_{i<R} s_i^2 >= energy * sum_i s_i^2``; a layer where that
``R`` is not below ``min(MH, MW)`` or does not lower the multiply-accumulates
(``R (MH + MW) >= MH MW``) is left as it is.

**Bits.** ``bits`` (2..8) fixes b; ``None`` takes the widest b from 8 down to 2 whose
intermediate accumulator fits :data:`MAX_INPUT_BITS` bits, since the second layer
multiplies it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType

from ..errors import ModelError, OptionError
from ..ir import Thresholds, accumulator_range, smallest_dtype, xnor_mode
from ..ir.dense import MAX_INPUT_BITS, MAX_WEIGHT_BITS

DEFAULT_ENERGY = 0.99
"""The share of the squared singular values ``--low-rank auto`` keeps."""

MIN_BITS = 2


@dataclass(frozen=True)
class Factors:
    """The two integer layers replacing one matrix layer.

    Attributes
    ----------
    first, second :
        ``A_q`` ``(R, MW)`` and ``B_q`` ``(MH, R)``, integers of ``weight_dtype``.
    weight_dtype :
        ``INTb`` of both factors.
    mid_dtype :
        The first layer's accumulator (the intermediate stream's) datatype.
    thresholds :
        The second layer's thresholds (same shape, out datatype, scale and bias as the
        original's), or None.
    beta :
        ``W x ~= beta * acc'``.
    energy :
        The share of the squared singular values the rank keeps.
    """

    first: np.ndarray
    second: np.ndarray
    weight_dtype: DataType
    mid_dtype: DataType
    thresholds: Thresholds | None
    beta: float
    energy: float

    @property
    def rank(self) -> int:
        return int(self.first.shape[0])


def energy_rank(singular: np.ndarray, energy: float) -> int:
    """The smallest R with ``sum_{i<R} s_i^2 >= energy * sum s_i^2`` (at least 1)."""
    power = np.asarray(singular, dtype=np.float64) ** 2
    total = power.sum()
    if total == 0:
        return 1
    kept = np.cumsum(power) / total
    return int(min(np.searchsorted(kept, energy - 1e-12) + 1, len(power)))


def pays(rank: int, rows: int, cols: int) -> bool:
    """Whether rank R factors of an (rows, cols) matrix have fewer weights (and MACs)."""
    return rank < min(rows, cols) and rank * (rows + cols) < rows * cols


def quantize(values: np.ndarray, bits: int, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric round-to-nearest onto ``±(2**(bits-1) - 1)``; returns (integers, scales)."""
    qmax = 2 ** (bits - 1) - 1
    peak = np.abs(values).max(axis=axis, keepdims=axis is not None)
    scale = np.where(peak > 0, peak / qmax, 1.0)
    return np.clip(np.rint(values / scale), -qmax, qmax).astype(np.int64), scale


def signed_thresholds(th: Thresholds, xnor: bool, in_features: int) -> np.ndarray:
    """Threshold values on the signed dot product ``W x`` (popcount ``T`` -> ``2T - MW``)."""
    values = th.values.astype(np.int64)
    return 2 * values - in_features if xnor else values


def check_rank(rank: int, rows: int, cols: int, where: str) -> None:
    """Refuse a rank that is not an integer in ``1 .. min(rows, cols) - 1``."""
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
        raise OptionError(f"{where}: --low-rank must be a positive integer or 'auto', not {rank!r}")
    if rank >= min(rows, cols):
        raise OptionError(f"{where}: rank {rank} must be less than min(out_features, in_features) = "
                          f"{min(rows, cols)} (matrix {rows}x{cols})")


def bit_choices(bits: int | None) -> list[int]:
    """The factor widths to try, widest first."""
    return [bits] if bits is not None else list(range(MAX_WEIGHT_BITS, MIN_BITS - 1, -1))


def too_wide(where: str, rank: int, bits: int, mid: DataType) -> ModelError:
    return ModelError(f"{where}: the intermediate accumulator of rank-{rank} INT{bits} factors needs "
                      f"{mid.name}, wider than the {MAX_INPUT_BITS} bits the second layer multiplies; "
                      f"use fewer --bits or a lower rank")


def mid_dtype(first: np.ndarray, bits: int, in_dtype: DataType) -> DataType:
    """The accumulator datatype of INTb weights ``first`` on ``in_dtype`` inputs."""
    lo, hi = accumulator_range(first, DataType[f"INT{bits}"], in_dtype)
    return smallest_dtype(lo, hi)


def factorise(matrix: np.ndarray, weight_dtype: DataType, in_dtype: DataType, thresholds: Thresholds | None,
              *, rank: int, bits: int | None = None, where: str = "layer") -> Factors:
    """Factor the integer ``matrix`` ``(MH, MW)`` of a layer into two integer layers.

    Parameters
    ----------
    matrix :
        The layer's weight matrix (a conv's ``(OC, KH*KW*IC)`` in window order).
    weight_dtype, in_dtype :
        The layer's weight and input datatypes (both BIPOLAR: XNOR mode).
    thresholds :
        The layer's thresholds on its accumulator, or None.
    rank :
        R, ``1 <= R < min(MH, MW)``.
    bits :
        Factor weight bits (2..8), or None for the widest whose intermediate fits.
    where :
        Names the layer in errors.
    """
    rows, cols = matrix.shape
    check_rank(rank, rows, cols, where)
    w = matrix.astype(np.float64)
    u, s, vt = np.linalg.svd(w, full_matrices=False)
    root = np.sqrt(s[:rank])
    a = root[:, None] * vt[:rank]
    b = u[:, :rank] * root[None, :]
    energy = float((s[:rank] ** 2).sum() / max((s ** 2).sum(), 1e-300))
    choices = bit_choices(bits)
    for nbits in choices:
        wdt = DataType[f"INT{nbits}"]
        a_q, alpha = quantize(a, nbits, axis=1)
        mid = mid_dtype(a_q, nbits, in_dtype)
        if mid.bitwidth() <= MAX_INPUT_BITS:
            break
    else:
        raise too_wide(where, rank, choices[-1], mid)
    b_q, beta = quantize(b * alpha[:, 0][None, :], nbits, axis=None)
    beta = float(beta)
    new_th = None
    if thresholds is not None:
        signed = signed_thresholds(thresholds, xnor_mode(weight_dtype, in_dtype), cols)
        values = np.ceil(signed / beta - 1e-9).astype(np.int64)
        new_th = Thresholds(values=values, out_dtype=thresholds.out_dtype,
                            out_scale=thresholds.out_scale, out_bias=thresholds.out_bias)
    return Factors(first=a_q, second=b_q, weight_dtype=wdt, mid_dtype=mid, thresholds=new_th,
                   beta=beta, energy=energy)


def singular_values(matrix: np.ndarray) -> np.ndarray:
    """The singular values of an integer matrix, largest first."""
    return np.linalg.svd(matrix.astype(np.float64), compute_uv=False)
