"""Window max: the reduction half of a streaming max-pool (FINN's Pool_batch, max)."""

from __future__ import annotations

from amaranth.hdl import Mux, unsigned

from ..streams import check_dtype, is_bipolar
from .window_reduce import WindowReduce

__all__ = ["MaxPool"]


class MaxPool(WindowReduce):
    """Per-channel maximum over each window of a depthwise window stream.

    A max-pool layer is :class:`~hw.compute.sliding_window.SlidingWindow` (depthwise
    order, padding with the datatype's minimum) followed by this unit. Per output pixel
    the input holds, for each channel group of PE channels, ``window`` consecutive words
    (the KH*KW kernel positions); the unit emits one word per group with the largest
    element of each lane. Codes are compared by the value they stand for: two's
    complement for signed types, plain for unsigned ones and for BIPOLAR (bit 1 = +1 >
    bit 0 = -1, so the max of a BIPOLAR window is the OR of its bits). Output codes are
    input codes (same datatype).

    Parameters
    ----------
    dtype : DataType
        Element type (1..32 bits, BIPOLAR allowed).
    pe : int
        Channels per word.
    window : int
        Words per channel group and output pixel (KH*KW).

    Members
    -------
    i : In(stream.Signature(unsigned(pe * dtype.bitwidth())))
    o : Out(stream.Signature(unsigned(pe * dtype.bitwidth())))
        One word per ``window`` input words.

    Latency and throughput
    ----------------------
    Those of :class:`~hw.compute.window_reduce.WindowReduce`: one input word per cycle,
    ``window`` cycles per output word, ``o.valid`` a register.
    """

    def __init__(self, *, dtype, pe, window):
        self.dtype = check_dtype("dtype", dtype)
        bits = self.dtype.bitwidth()
        super().__init__(pe=pe, window=window, in_bits=bits, out_bits=bits, acc_shape=unsigned(bits))

    def combine(self, code, acc, first):
        if self.dtype.signed() and not is_bipolar(self.dtype):
            greater = code.as_signed() > acc.as_signed()
        else:
            greater = code > acc
        return Mux(first | greater, code, acc)

    def finish(self, m, acc):
        return acc
