"""Matrix-vector unit whose products are shifts and sign changes (power-of-two weights)."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Const, Mux, Value
from qonnx.core.datatype import BaseDataType

from ..streams import check_int_array, element_value, is_bipolar
from .mvau import MVAU

__all__ = ["ShiftMVAU", "term_fields"]


def term_fields(terms: np.ndarray) -> tuple[int, int]:
    """``(lowest exponent, exponent field bits)`` of the non-zero terms of ``terms``."""
    mags = np.abs(terms[terms != 0]).astype(np.int64)
    if not mags.size:
        return 0, 0
    exps = [int(v).bit_length() - 1 for v in np.unique(mags).tolist()]
    return min(exps), (max(exps) - min(exps)).bit_length()


class ShiftMVAU(MVAU):
    """Folded matrix-vector unit for weights that are sums of signed powers of two.

    Computes what :class:`~.mvau.MVAU` computes (same folding, same stream words, same
    cycles and latency) for ``weights = terms.sum(-1)``, but each lane's product is
    ``sum_t s_t * (x << e_t)``: a barrel shift of the input by the stored exponent (one
    multiplexer level per exponent bit), a sign change and a zero gate per term, never a
    multiplier. When the layer is fully unrolled (one weight word) the codes are
    constants and the shifts become fixed wiring.

    Each weight is stored as ``N`` term codes of ``2 + E`` bits, term ``t`` at bits
    ``[t*(2+E), (t+1)*(2+E))``: bit 0 non-zero, bit 1 negative, bits ``2..`` the exponent
    minus the lowest exponent of the layer ``e0`` (``E`` = bits of the exponent span;
    the constant shift by ``e0`` is wiring). A negative term contributes the one's
    complement ``~(x << e)`` (``= -(x << e) - 1``, folded into the shifter's last LUT level),
    so no lane has an adder of its own: the ROM words of the first synapse fold also hold,
    per PE, the count of negative terms of its row (:attr:`extra_bits` bits, 0 in the
    other folds' words), at which the PE's accumulator starts.

    Parameters
    ----------
    terms : numpy.ndarray
        ``(MH, MW, N)`` integers, each 0 or ``±2**e`` (``e >= 0``); ``N`` in 1..4.
    weight_dtype : DataType
        Integer type holding every ``terms.sum(-1)`` (not BIPOLAR), at most 8 bits.
    in_dtype, acc_dtype, pe, simd, thresholds, out_dtype, out_scale, out_bias, weight_memory
        As for :class:`~.mvau.MVAU` (a run-time weight load carries the term codes and
        per-PE counts as stored, :meth:`~.mvau.MVAU.weight_words`).

    Members
    -------
    i, o
        As for :class:`~.mvau.MVAU`.

    Latency and throughput
    ----------------------
    As :class:`~.mvau.MVAU`: ``(MH/PE)*(MW/SIMD)`` cycles per vector, :attr:`latency`
    cycles from the last input word of a vector to its first output word.
    """

    def __init__(self, *, terms: np.ndarray, weight_dtype: BaseDataType, in_dtype: BaseDataType,
                 acc_dtype: BaseDataType, pe: int, simd: int, thresholds: np.ndarray | None = None,
                 out_dtype: BaseDataType | None = None, out_scale: int = 1, out_bias: int = 0,
                 weight_memory: str = "rom"):
        t = check_int_array("terms", terms, 3)
        if not 1 <= t.shape[2] <= 4:
            raise ValueError(f"terms must have 1..4 terms per weight (last axis), not shape {t.shape}")
        mags = np.abs(t.astype(np.int64))
        bad = t[(mags != 0) & ((mags & (mags - 1)) != 0)]
        if bad.size:
            raise ValueError(f"terms must be 0 or signed powers of two, not {int(bad.flat[0])}")
        if getattr(weight_dtype, "name", None) == "BIPOLAR":
            raise ValueError("weight_dtype must be an integer type with a zero, not BIPOLAR")
        self.terms = t.astype(np.int64)
        self.n_terms = int(t.shape[2])
        self.e0, self.exp_bits = term_fields(self.terms)
        super().__init__(weights=self.terms.sum(axis=-1), weight_dtype=weight_dtype, in_dtype=in_dtype,
                         acc_dtype=acc_dtype, pe=pe, simd=simd, thresholds=thresholds,
                         out_dtype=out_dtype, out_scale=out_scale, out_bias=out_bias,
                         weight_memory=weight_memory)
        mh = self.terms.shape[0]
        negatives = (self.terms < 0).reshape(mh, -1).sum(axis=-1)
        self.extra_bits = int(negatives.max(initial=0)).bit_length()

    @property
    def term_bits(self) -> int:
        return 2 + self.exp_bits

    @property
    def code_bits(self) -> int:
        return self.n_terms * self.term_bits

    def weight_codes(self) -> np.ndarray:
        mh, mw, n = self.terms.shape
        codes = np.zeros((mh, mw), dtype=object)
        for t in range(n):
            v = self.terms[:, :, t]
            mag = np.abs(v)
            exp = np.zeros_like(mag)
            nz = mag != 0
            exp[nz] = np.log2(mag[nz]).astype(np.int64) - self.e0
            code = nz.astype(np.int64) | ((v < 0).astype(np.int64) << 1) | (exp << 2)
            codes = codes + (code.astype(object) << (t * self.term_bits))
        return codes

    def word_extra(self, nf: int, sf: int, pe: int) -> int:
        """Negative terms of row ``pe`` (all its weights) with the first synapse fold's
        weights, 0 with the others: the PE's accumulator starts at the count."""
        return int(np.count_nonzero(self.terms[pe] < 0)) if sf == 0 else 0

    def pe_term(self, extra: Value) -> Value:
        return extra.as_unsigned()

    #: Products are shifts and sign changes, never a multiplier.
    multiplier_lanes = False

    def lane_product(self, w_code: Value, x_code: Value) -> Value:
        """``sum_t`` of ``(x << e_t)`` or its one's complement ``~(x << e_t)`` (negative
        terms) or 0: no adder per term. ``-v == ~v + 1``, so the PE's accumulator starts at
        its row's count of negative terms (:meth:`word_extra`, stored with the weights)."""
        x = element_value(x_code, self.in_dtype)
        total = None
        for t in range(self.n_terms):
            code = w_code[t * self.term_bits:(t + 1) * self.term_bits]
            mag = Mux(code[0], x, 0)                 # the zero gate, at the narrow end
            if self.exp_bits:
                mag = mag << code[2:]
            if self.e0:
                mag = mag << self.e0
            wide = mag.as_signed() if self.in_dtype.signed() or is_bipolar(self.in_dtype) \
                else Cat(mag, Const(0, 1)).as_signed()
            term = Mux(code[1], ~wide, wide)
            total = term if total is None else total + term
        return total
