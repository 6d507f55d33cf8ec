"""Power-of-two weights run by shifts (ShiftCNN, arXiv 1706.02393; INQ, arXiv 1702.03044).

A weight of a :class:`ShiftMatrixVector` is the sum of at most ``terms`` signed powers of
two, ``w = sum_t s_t * 2**e_t`` (``s_t`` in {-1, 0, +1}); ``terms = 1`` is the
logarithmic/INQ form ``{0, ±2**e}``, ``terms = N`` ShiftCNN's N-term form. The
decomposition used is the non-adjacent form (canonical signed digits), which has the
fewest non-zero terms of any signed-binary form, so a weight fits ``N`` terms exactly
when its non-adjacent form has at most ``N`` non-zero digits. Exponents are
non-negative: the IR holds integers (a fractional power of two is the layer's scale,
which the thresholds absorb when the front end streamlines the model).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from .core import register
from .dense import MatrixVector

MAX_TERMS = 4
"""Most power-of-two terms per weight (ShiftCNN used 2 or 3)."""


def naf_terms(weights: np.ndarray) -> np.ndarray:
    """``(..., D)`` signed powers of two summing to each weight, fewest first-non-zero
    (non-adjacent form, lowest exponent first; ``D`` the most any weight needs, >= 1).

    Every entry is 0 or ``±2**e``; ``terms.sum(-1) == weights`` exactly.
    """
    w = np.asarray(weights, dtype=np.int64)
    rest = w.copy()
    out = []
    while True:
        odd = (rest & 1) == 1
        # digit +1 when rest = 1 (mod 4), -1 when rest = 3 (mod 4), else 0
        digit = np.where(odd, 2 - (rest & 3), 0)
        out.append(digit)
        rest = (rest - digit) >> 1
        if not rest.any():
            break
    digits = np.stack(out, axis=-1)                     # (..., bits), digit k weighs 2**k
    weights_of = np.left_shift(np.int64(1), np.arange(digits.shape[-1], dtype=np.int64))
    values = digits * weights_of
    # pack each weight's non-zero digits to the front, lowest exponent first
    order = np.argsort(digits == 0, axis=-1, kind="stable")
    packed = np.take_along_axis(values, order, axis=-1)
    need = max(1, int(np.count_nonzero(digits, axis=-1).max(initial=0)))
    return packed[..., :need]


def terms_needed(weights: np.ndarray) -> int:
    """Fewest signed powers of two per weight that express every weight (>= 1)."""
    return int(naf_terms(weights).shape[-1])


def shift_terms(weights: np.ndarray, terms: int) -> np.ndarray:
    """``(MH, MW, terms)`` power-of-two terms of ``weights`` (zero-padded to ``terms``).

    Raises :class:`ValueError` naming the first weight that needs more than ``terms``.
    """
    t = naf_terms(weights)
    if t.shape[-1] > terms:
        idx = np.argwhere(np.count_nonzero(t, axis=-1) > terms)[0]
        raise ValueError(f"weight {int(np.asarray(weights)[tuple(idx)])} at {tuple(int(i) for i in idx)} "
                         f"is not a sum of {terms} signed power(s) of two")
    pad = np.zeros(t.shape[:-1] + (terms - t.shape[-1],), dtype=np.int64)
    return np.concatenate([t, pad], axis=-1)


def exponent_range(terms: np.ndarray) -> tuple[int, int]:
    """``(lowest, highest)`` exponent of the non-zero terms (``(0, 0)`` if none)."""
    mags = np.abs(terms[terms != 0])
    if not mags.size:
        return 0, 0
    exps = np.log2(mags).astype(np.int64)
    return int(exps.min()), int(exps.max())


@register
@dataclass(frozen=True, eq=False)
class ShiftMatrixVector(MatrixVector):
    """A :class:`MatrixVector` whose weights are sums of ``terms`` signed powers of two,
    run by :class:`bitsmith.hw.compute.shift_mvau.ShiftMVAU`: every product is a barrel
    shift of the input by a stored exponent and a sign change (fixed wiring when the layer
    is fully unrolled), never a multiplier. Same integer results as the dense node.

    Refused: BIPOLAR weights (XNOR mode or a sign mux is already what the MVAU does) and
    weights that need more than ``terms`` power-of-two terms.
    """

    terms: int = 1

    kind = "shift_mvau"

    def check(self) -> None:
        super().check()
        where = f"layer {self.name!r}"
        if isinstance(self.terms, bool) or not isinstance(self.terms, (int, np.integer)) \
                or not 1 <= self.terms <= MAX_TERMS:
            raise ModelError(f"{where}: terms must be an integer in 1..{MAX_TERMS}, not {self.terms!r}")
        if self.weight_dtype.name == "BIPOLAR":
            raise ModelError(f"{where}: a shift layer needs integer weights with a zero, not BIPOLAR "
                             f"(a BIPOLAR layer runs as XNOR/sign on the MVAU)")
        try:
            shift_terms(self.weights, int(self.terms))
        except ValueError as exc:
            raise ModelError(f"{where}: {exc}") from None

    @classmethod
    def from_dense(cls, node: MatrixVector, terms: int) -> "ShiftMatrixVector":
        """The shift layer computing what the dense ``node`` computes (same fields)."""
        return cls(**{f.name: getattr(node, f.name) for f in dataclasses.fields(node)}, terms=terms)

    def term_array(self) -> np.ndarray:
        """``(MH, MW, terms)`` power-of-two terms of the weights."""
        return shift_terms(self.weights, int(self.terms))
