"""Elementwise stage of Winograd F(2x2, 3x3): a matrix unit whose weights change with the
transform position."""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import BaseDataType, DataType

from ..streams import check_int, check_int_array, pack_codes
from .mvau import MVAU

__all__ = ["WinogradMVAU", "POSITIONS"]

#: Transform positions of an F(2x2, 3x3) tile (4x4).
POSITIONS = 16


class WinogradMVAU(MVAU):
    """The products of Winograd F(2x2, 3x3): ``M[t] = U[t] @ V[t]`` for each transform
    position ``t`` of each tile, summed over input channels.

    The input is a stream of vectors of IC transformed inputs ``V[t]`` (one per position,
    ``t = 0..15`` in turn, then the next tile); vector ``k`` is multiplied by the weight
    matrix ``U[k mod 16]`` (OC x IC). It is the :class:`~.mvau.MVAU` (same folding, fold
    order, latency, credits and timing) with a weight ROM of 16 matrices read in turn
    (:attr:`~.mvau.MVAU.weight_sets`): ``16 * (OC/PE) * (IC/SIMD)`` words, address
    ``(t*(OC/PE) + nf)*(IC/SIMD) + sf``. No thresholds: the output transform follows.

    Parameters
    ----------
    weights : numpy.ndarray
        ``(16, OC, IC)`` integer transformed weights of ``weight_dtype``.
    weight_dtype : DataType
        Integer type of at most 16 bits holding every weight (not BIPOLAR): the transform
        widens 8-bit weights to at most 12 bits, one 18x18 DSP product with the inputs.
    in_dtype : DataType
        Type of the transformed inputs, at most 16 bits.
    acc_dtype : DataType
        Must hold the accumulator range of every position's matrix.
    pe, simd : int
        Output channels per output word (divides OC), input channels per input word
        (divides IC).

    Members
    -------
    i : In(stream.Signature(unsigned(simd * in_dtype.bitwidth())))
        Transformed input vectors, IC/SIMD words each.
    o : Out(stream.Signature(unsigned(pe * acc_dtype.bitwidth())))
        OC/PE words per vector.

    Latency and throughput
    ----------------------
    As :class:`~.mvau.MVAU`: ``(OC/PE)*(IC/SIMD)`` cycles per vector (so
    ``16 * (OC/PE) * (IC/SIMD)`` per tile), :attr:`latency` cycles from the last input
    word of a vector to its first output word.
    """

    weight_sets = POSITIONS
    max_weight_bits = 16

    def __init__(self, *, weights: np.ndarray, weight_dtype: BaseDataType, in_dtype: BaseDataType,
                 acc_dtype: BaseDataType, pe: int, simd: int):
        u = check_int_array("weights", weights, 3)
        if u.shape[0] != POSITIONS or u.shape[1] < 1 or u.shape[2] < 1:
            raise ValueError(f"weights must have shape (16, OC, IC), not {u.shape}")
        pe = check_int("pe", pe)
        if u.shape[1] % pe:
            raise ValueError(f"pe must divide OC={u.shape[1]}, not {pe!r}")
        if getattr(weight_dtype, "name", None) == "BIPOLAR":
            raise ValueError("weight_dtype must be an integer type with a zero, not BIPOLAR")
        # checked as one stacked (16*OC, IC) matrix: every value, and the accumulator
        # range over all positions' rows
        super().__init__(weights=u.reshape(-1, u.shape[2]), weight_dtype=weight_dtype,
                         in_dtype=in_dtype, acc_dtype=acc_dtype, pe=pe, simd=simd)
        self.out_channels = int(u.shape[1])
        self.mh, self.nf = self.out_channels, self.out_channels // self.pe
        self._set_latency()

    def _weight_words(self) -> list[int]:
        """ROM contents: the MVAU's word order for each position's matrix, position-major."""
        codes = np.asarray(self.weight_codes(), dtype=np.int64)            # (16*OC, IC)
        blocks = codes.reshape(POSITIONS * self.nf, self.pe, self.sf, self.simd).transpose(0, 2, 1, 3)
        return pack_codes(blocks.reshape(-1, self.pe * self.simd), DataType[f"UINT{self.code_bits}"])
