"""Stand-alone multi-threshold activation (qonnx MultiThreshold), PE channels per word."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from qonnx.core.datatype import BaseDataType

from ..streams import (add_output_queue, check_dtype, check_int, delay, element_value, elements,
                       next_mod)
from .threshold_unit import ThresholdTable

__all__ = ["Thresholding"]


class Thresholding(wiring.Component):
    """Multi-threshold activation over a channel-innermost stream.

    Element ``p`` of word ``k`` is channel ``(k mod C/PE)*PE + p``; its output is
    ``out_scale * sum_i [x >= T[c, i]] + out_bias`` coded in ``out_dtype`` (DESIGN.md §2),
    where ``x`` is the true input value (BIPOLAR inputs are -1/+1).

    Parameters
    ----------
    thresholds : numpy.ndarray
        ``(channels, B)`` or ``(1, B)`` ascending integer thresholds, ``B >= 1``.
    in_dtype, out_dtype : DataType
        Integer qonnx types (1..32 bits).
    out_scale, out_bias : int
    channels : int
        Channel count C; the fold counter cycles over C/PE words.
    pe : int
        Channels per word; must divide ``channels``.

    Members
    -------
    i : In(stream.Signature(unsigned(pe * in_dtype.bitwidth())))
    o : Out(stream.Signature(unsigned(pe * out_dtype.bitwidth())))

    Latency and throughput
    ----------------------
    One word per cycle. :attr:`latency` cycles from an input transfer to its output word
    being valid (no stall). Like :class:`~hw.compute.mvau.MVAU`, the datapath runs freely
    behind a credit-controlled output FIFO; ``i.ready`` depends on registers only.
    """

    def __init__(self, *, thresholds: np.ndarray, in_dtype: BaseDataType, out_dtype: BaseDataType,
                 out_scale: int = 1, out_bias: int = 0, channels: int, pe: int):
        self.in_dtype = check_dtype("in_dtype", in_dtype)
        self.channels = check_int("channels", channels)
        self.pe = check_int("pe", pe)
        if self.channels % self.pe:
            raise ValueError(f"pe must divide channels={self.channels}, not {pe!r}")
        check_dtype("out_dtype", out_dtype)
        self.table = ThresholdTable(thresholds, channels=self.channels, pe=self.pe,
                                    in_lo=int(in_dtype.min()), in_hi=int(in_dtype.max()),
                                    out_dtype=out_dtype, out_scale=out_scale, out_bias=out_bias)
        self.out_dtype = out_dtype
        self.folds = self.channels // self.pe
        self.write_latency = 1 + self.table.latency
        self.out_fifo_depth = self.write_latency + 3
        self.latency = self.write_latency + 2
        super().__init__({
            "i": In(stream.Signature(self.pe * in_dtype.bitwidth())),
            "o": Out(stream.Signature(self.pe * out_dtype.bitwidth())),
        })

    def elaborate(self, platform):
        m = Module()
        credit_ok, take, w_en, w_data = add_output_queue(m, self.o, depth=self.out_fifo_depth)
        fire = self.i.valid & credit_ok
        m.d.comb += [self.i.ready.eq(credit_ok), take.eq(fire)]

        fold = Signal(range(self.folds), name="fold")
        with m.If(fire):
            m.d.sync += fold.eq(next_mod(fold, self.folds))
        x_reg = Signal(len(self.i.payload), name="x_reg")
        m.d.sync += x_reg.eq(self.i.payload)
        valid = delay(m, fire, 1, "valid")
        values = [element_value(c, self.in_dtype)
                  for c in elements(x_reg, self.pe, self.in_dtype.bitwidth())]
        codes, out_valid = self.table.build(m, fold_early=fold, values=values, valid=valid)
        out_bits = self.out_dtype.bitwidth()
        m.d.comb += [w_en.eq(out_valid), w_data.eq(Cat(c[:out_bits] for c in codes))]
        return m
