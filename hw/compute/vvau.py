"""Vector-vector-activation unit (FINN's VVAU): the depthwise convolution engine."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..streams import (add_output_queue, check_dtype, check_int, check_int_array, delay,
                       accumulate_and_emit, elements, is_bipolar, next_mod, pack_codes,
                       product, ram_attrs)
from .mvau import MAX_INPUT_BITS, accumulator_range
from .threshold_unit import ThresholdTable

__all__ = ["VVAU"]


class VVAU(wiring.Component):
    """Per-channel dot products over a depthwise window stream, then optional thresholds.

    The input is the depthwise window stream of
    :class:`~hw.compute.sliding_window.SlidingWindow`: per output pixel, for each channel
    group ``cg`` of PE channels, the K = KH*KW window words in (kh, kw) order, element
    ``p`` being channel ``cg*PE + p``. For each channel ``c`` the unit accumulates
    ``acc[c] = sum_k w[c, k] * x[k, c]`` (true values; both BIPOLAR: XNOR mode,
    ``acc[c] = popcount(xnor)`` in ``[0, K]``) and emits one word of PE results per group:
    the multi-threshold of ``acc`` in ``out_dtype`` (DESIGN.md §2), or the accumulator in
    ``acc_dtype``.

    Parameters
    ----------
    weights : numpy.ndarray
        ``(C, K)`` integer weights of ``weight_dtype``, column ``k = kh*KW + kw``.
    weight_dtype : DataType
        Integer type of 1..8 bits.
    in_dtype : DataType
        Integer type of 1..16 bits (:data:`~hw.compute.mvau.MAX_INPUT_BITS`).
    acc_dtype : DataType
        Must hold the accumulator range of ``weights`` over ``in_dtype`` inputs.
    pe : int
        Channels per word (divides C).
    thresholds : numpy.ndarray, optional
        ``(C, B)`` or ``(1, B)`` ascending integer thresholds in the accumulator domain.
    out_dtype : DataType, optional
        Required with thresholds.
    out_scale, out_bias : int
        Threshold output mapping.

    Members
    -------
    i : In(stream.Signature(unsigned(pe * in_dtype.bitwidth())))
        ``C/PE * K`` words per output pixel.
    o : Out(stream.Signature(unsigned(pe * out_bits)))
        ``C/PE`` words per output pixel, NHWC.

    Latency and throughput
    ----------------------
    One input word per cycle: ``(C/PE) * K`` cycles per output pixel in steady state, the
    output never stalling the datapath (credit-controlled output FIFO as in
    :class:`~hw.compute.mvau.MVAU`). :attr:`latency`: cycles from the transfer of a
    group's last input word to its output word being valid, with no stall.
    """

    def __init__(self, *, weights, weight_dtype, in_dtype, acc_dtype, pe,
                 thresholds=None, out_dtype=None, out_scale=1, out_bias=0):
        w = check_int_array("weights", weights, 2)
        self.weight_dtype = check_dtype("weight_dtype", weight_dtype, max_bits=8)
        self.in_dtype = check_dtype("in_dtype", in_dtype, max_bits=MAX_INPUT_BITS)
        self.acc_dtype = check_dtype("acc_dtype", acc_dtype)
        self.channels, self.k = (int(d) for d in w.shape)
        if self.channels < 1 or self.k < 1:
            raise ValueError(f"weights must not be empty, not shape {w.shape}")
        self.pe = check_int("pe", pe)
        if self.channels % self.pe:
            raise ValueError(f"pe must divide C={self.channels}, not {pe!r}")
        if is_bipolar(self.weight_dtype):
            bad = w[np.abs(w) != 1]
        else:
            bad = w[(w < self.weight_dtype.min()) | (w > self.weight_dtype.max())]
        if bad.size:
            raise ValueError(f"weights must be values of {self.weight_dtype.name}, not {int(bad.flat[0])}")
        self.weights = w
        self.xnor = is_bipolar(self.weight_dtype) and is_bipolar(self.in_dtype)
        lo, hi = accumulator_range(w, self.weight_dtype, self.in_dtype)
        if is_bipolar(self.acc_dtype) or lo < self.acc_dtype.min() or hi > self.acc_dtype.max():
            raise ValueError(f"acc_dtype must hold the accumulator range {lo}..{hi}, "
                             f"not {self.acc_dtype.name}")
        self.folds = self.channels // self.pe
        if thresholds is None:
            if out_dtype is not None and out_dtype != self.acc_dtype:
                raise ValueError(f"out_dtype must be acc_dtype ({self.acc_dtype.name}) or None "
                                 f"without thresholds, not {out_dtype!r}")
            self.thresholds, self.out_dtype = None, self.acc_dtype
        else:
            if out_dtype is None:
                raise TypeError("out_dtype must be a qonnx DataType when thresholds are given, not None")
            self.thresholds = ThresholdTable(
                thresholds, channels=self.channels, pe=self.pe,
                in_lo=int(self.acc_dtype.min()), in_hi=int(self.acc_dtype.max()),
                out_dtype=out_dtype, out_scale=out_scale, out_bias=out_bias)
            self.out_dtype = self.thresholds.out_dtype
        self.in_bits = self.in_dtype.bitwidth()
        self.w_bits = self.weight_dtype.bitwidth()
        self.out_bits = self.out_dtype.bitwidth()
        thr_latency = self.thresholds.latency if self.thresholds is not None else 0
        self.write_latency = 3 + thr_latency   # issue -> x/w -> products -> accumulators -> thr
        self.out_fifo_depth = self.write_latency + 3
        self.latency = self.write_latency + 2
        super().__init__({
            "i": In(stream.Signature(self.pe * self.in_bits)),
            "o": Out(stream.Signature(self.pe * self.out_bits)),
        })

    @property
    def cycles_per_pixel(self) -> int:
        return self.folds * self.k

    def _weight_words(self) -> list[int]:
        """ROM contents: address ``cg*K + k`` holds the PE weights of kernel position k."""
        blocks = self.weights.reshape(self.folds, self.pe, self.k).transpose(0, 2, 1)
        return pack_codes(blocks.reshape(self.folds * self.k, self.pe), self.weight_dtype)

    def elaborate(self, platform):
        m = Module()
        k = Signal(range(self.k), name="k")
        cg = Signal(range(self.folds), name="cg")
        waddr = Signal(range(self.folds * self.k), name="waddr")
        credit_ok, take, w_en, w_data = add_output_queue(m, self.o, depth=self.out_fifo_depth)
        emits = k == self.k - 1
        can_go = ~emits | credit_ok
        fire = self.i.valid & can_go
        m.d.comb += [self.i.ready.eq(can_go), take.eq(fire & emits)]
        with m.If(fire):
            m.d.sync += [k.eq(Mux(emits, 0, k + 1)),
                         waddr.eq(next_mod(waddr, self.folds * self.k))]
            with m.If(emits):
                m.d.sync += cg.eq(next_mod(cg, self.folds))

        x_reg = Signal(len(self.i.payload), name="x_reg")
        with m.If(fire):
            m.d.sync += x_reg.eq(self.i.payload)
        words = self._weight_words()
        if len(words) == 1:
            w_word = Const(words[0], self.pe * self.w_bits)
        else:
            m.submodules.weights = rom = Memory(shape=self.pe * self.w_bits, depth=len(words), init=words,
                                                attrs=ram_attrs(len(words)))
            rd = rom.read_port()
            m.d.comb += rd.addr.eq(waddr)
            w_word = rd.data

        valid, first, last, fold = (delay(m, v, 1, n) for v, n in
                                    ((fire, "valid"), (k == 0, "first"), (emits, "last"), (cg, "fold")))
        x_codes = elements(x_reg, self.pe, self.in_bits)
        w_codes = elements(w_word, self.pe, self.w_bits)
        prods = []
        for p in range(self.pe):
            prod = product(w_codes[p], x_codes[p], self.weight_dtype, self.in_dtype)
            reg = Signal(prod.shape(), name=f"prod{p}")
            m.d.sync += reg.eq(prod)
            prods.append(reg)
        valid, first, last, fold = (delay(m, v, 1, n) for v, n in
                                    ((valid, "valid"), (first, "first"), (last, "last"), (fold, "fold")))
        accumulate_and_emit(m, sums=prods, valid=valid, firsts=[first], last=last, fold=fold,
                            acc_dtype=self.acc_dtype, thresholds=self.thresholds,
                            out_bits=self.out_bits, w_en=w_en, w_data=w_data)
        return m
