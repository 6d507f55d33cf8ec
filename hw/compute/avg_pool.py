"""Window sum with an optional power-of-two truncation: the reduction of an average pool."""

from __future__ import annotations

from amaranth.hdl import Mux, signed, unsigned

from ..streams import check_dtype, check_int, element_value
from .window_reduce import WindowReduce

__all__ = ["AvgPool", "ROUNDING", "divide_rounded"]

ROUNDING = ("ROUND", "HALF_EVEN", "CEIL", "FLOOR", "UP", "DOWN", "HALF_UP", "HALF_DOWN")
"""qonnx ``Trunc`` rounding modes (``ROUND`` and ``HALF_EVEN``: half to even)."""


def _rounds_up(rounding: str, *, odd, negative, above, half, nonzero, inv):
    """Whether ``floor(v / 2**s)`` moves up by one (works on bools and Amaranth values).

    ``above``/``half``/``nonzero``: the remainder is above, at, or not at half / zero;
    ``odd``, ``negative``: the floor quotient's lowest bit and sign; ``inv`` negates.
    """
    if rounding == "FLOOR":
        return False
    if rounding == "CEIL":
        return nonzero
    if rounding == "DOWN":
        return nonzero & negative
    if rounding == "UP":
        return nonzero & inv(negative)
    tie = {"ROUND": odd, "HALF_EVEN": odd, "HALF_UP": inv(negative), "HALF_DOWN": negative}[rounding]
    return above | (half & tie)


def divide_rounded(value: int, shift: int, rounding: str) -> int:
    """``rounding(value / 2**shift)`` of one integer, as the hardware computes it."""
    if shift == 0:
        return value
    q, r = value >> shift, value & ((1 << shift) - 1)
    h = 1 << (shift - 1)
    return q + int(_rounds_up(rounding, odd=bool(q & 1), negative=q < 0, above=r > h, half=r == h,
                              nonzero=r != 0, inv=lambda b: not b))


class AvgPool(WindowReduce):
    """Per-channel sum over each window of a depthwise window stream, then qonnx ``Trunc``.

    An average-pool layer is :class:`~hw.compute.sliding_window.SlidingWindow` (depthwise
    order, zero padding) followed by this unit. Each lane adds the true values of its
    ``window`` elements (BIPOLAR as -1/+1) into a register wide enough for every sum,
    then outputs ``clip(rounding(sum / 2**shift), lo, hi)`` (qonnx ``Trunc`` with scale
    1; ``shift=0`` and no ``clip`` is the exact sum) coded in ``out_dtype``.

    Parameters
    ----------
    in_dtype : DataType
        Input element type (1..32 bits).
    out_dtype : DataType
        Output type; must hold every result (else ``ValueError``).
    pe : int
        Channels per word.
    window : int
        Words per channel group and output pixel (KH*KW).
    shift : int
        Power of two to divide by (>= 0).
    rounding : str
        One of :data:`ROUNDING`.
    clip : tuple of int, optional
        ``(lo, hi)`` saturation bounds.

    Members
    -------
    i : In(stream.Signature(unsigned(pe * in_dtype.bitwidth())))
    o : Out(stream.Signature(unsigned(pe * out_dtype.bitwidth())))
        One word per ``window`` input words.

    Latency and throughput
    ----------------------
    Those of :class:`~hw.compute.window_reduce.WindowReduce`: one input word per cycle,
    ``window`` cycles per output word, ``o.valid`` a register.
    """

    def __init__(self, *, in_dtype, out_dtype, pe, window, shift=0, rounding="FLOOR", clip=None):
        self.in_dtype = check_dtype("in_dtype", in_dtype)
        self.out_dtype = check_dtype("out_dtype", out_dtype)
        window = check_int("window", window)
        self.shift = check_int("shift", shift, minimum=0)
        if rounding not in ROUNDING:
            raise ValueError(f"rounding must be one of {', '.join(ROUNDING)}, not {rounding!r}")
        self.rounding = rounding
        if clip is not None:
            if (not isinstance(clip, tuple) or len(clip) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) for v in clip)
                    or clip[0] > clip[1]):
                raise TypeError(f"clip must be a pair of integers (lo, hi) with lo <= hi, not {clip!r}")
        self.clip = clip
        self.sum_lo = window * int(self.in_dtype.min())
        self.sum_hi = window * int(self.in_dtype.max())
        lo, hi = (divide_rounded(v, self.shift, rounding) for v in (self.sum_lo, self.sum_hi))
        if clip is not None:
            lo, hi = min(max(lo, clip[0]), clip[1]), min(max(hi, clip[0]), clip[1])
        if self.out_dtype.name == "BIPOLAR" or lo < self.out_dtype.min() or hi > self.out_dtype.max():
            raise ValueError(f"out_dtype must hold the results {lo}..{hi}, not {self.out_dtype.name}")
        bits = max(self.sum_hi.bit_length(), (-self.sum_lo - 1).bit_length()) + 1
        super().__init__(pe=pe, window=window, in_bits=self.in_dtype.bitwidth(),
                         out_bits=self.out_dtype.bitwidth(), acc_shape=signed(bits))

    def combine(self, code, acc, first):
        return Mux(first, 0, acc) + element_value(code, self.in_dtype)

    def finish(self, m, acc):
        s = self.shift
        y = acc
        if s:
            q = acc >> s
            r = acc.as_unsigned()[:s]
            h = 1 << (s - 1)
            up = _rounds_up(self.rounding, odd=q[0], negative=q < 0, above=r > h, half=r == h,
                            nonzero=r != 0, inv=lambda b: ~b)
            y = q + up if up is not False else q
        if self.clip is not None:
            lo, hi = self.clip
            y = Mux(y < lo, lo, Mux(y > hi, hi, y))
        return y
