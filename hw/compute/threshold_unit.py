"""The multi-threshold datapath shared by :class:`MVAU` and :class:`Thresholding`.

Not a component: :class:`ThresholdTable` validates a qonnx MultiThreshold table and builds,
inside its owner's module, the pipelined compare / count / encode stages (DESIGN.md §2):
``y = sum_i [x >= T_i]`` (non-strict), output ``out_scale*y + out_bias`` coded in
``out_dtype`` (BIPOLAR output: one threshold, scale 2, bias -1, so the code bit is ``y``).
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Const, Module, Signal, Value, signed
from amaranth.lib.memory import Memory
from qonnx.core.datatype import BaseDataType

from ..streams import (check_dtype, check_int, check_int_array, delay,
                       in_block_ram, is_bipolar, pipelined_sum, ram_attrs, rom_row_register)

__all__ = ["ThresholdTable"]


class ThresholdTable:
    """A validated threshold table for ``channels`` channels processed ``pe`` at a time.

    Parameters
    ----------
    thresholds : numpy.ndarray
        Integer thresholds, shape ``(channels, B)`` or ``(1, B)`` (shared), ascending per row.
    channels, pe : int
        Channel count and channels per word; fold ``f`` holds channels ``f*pe .. f*pe+pe-1``.
    in_lo, in_hi : int
        Range of the compared values; thresholds are clipped to ``[in_lo, in_hi+1]``.
    out_dtype : DataType
    out_scale, out_bias : int
    registered_rom : bool
        Register the ROM read data (and delay the values to match) before the compare, so
        no memory output feeds the comparators directly: one more cycle of :attr:`latency`
        when the table is in a ROM, nothing otherwise.

    The table lives in constants when it is shared or has one fold, else in a ROM with one
    row per fold (``pe*B`` thresholds of ``bits`` bits each).
    """

    def __init__(self, thresholds, *, channels: int, pe: int, in_lo: int, in_hi: int,
                 out_dtype: BaseDataType, out_scale: int, out_bias: int,
                 registered_rom: bool = False):
        t = check_int_array("thresholds", thresholds, 2)
        if t.shape[0] not in (1, channels) or t.shape[1] < 1:
            raise ValueError(f"thresholds must have shape ({channels}, B) or (1, B) with B >= 1, "
                             f"not {t.shape}")
        if np.any(np.diff(t, axis=1) < 0):
            row = int(np.nonzero(np.any(np.diff(t, axis=1) < 0, axis=1))[0][0])
            raise ValueError(f"thresholds must be ascending along each row, not row {row}: "
                             f"{t[row].tolist()}")
        self.out_dtype = check_dtype("out_dtype", out_dtype)
        self.out_scale = check_int("out_scale", out_scale, minimum=-(1 << 62))
        self.out_bias = check_int("out_bias", out_bias, minimum=-(1 << 62))
        self.steps = int(t.shape[1])
        if is_bipolar(out_dtype):
            if (self.steps, self.out_scale, self.out_bias) != (1, 2, -1):
                raise ValueError(f"a BIPOLAR out_dtype needs 1 threshold, out_scale=2 and out_bias=-1, "
                                 f"not {self.steps}, {self.out_scale} and {self.out_bias}")
        else:
            lo, hi = sorted((self.out_bias, self.out_scale * self.steps + self.out_bias))
            if lo < out_dtype.min() or hi > out_dtype.max():
                raise ValueError(f"out_dtype must hold the outputs {lo}..{hi}, not {out_dtype.name}")
        self.channels, self.pe = channels, pe
        self.folds = channels // pe
        t = np.clip(t, in_lo, in_hi + 1)
        self.shared = bool(np.all(t == t[0]))
        self.table = np.broadcast_to(t, (channels, self.steps)).reshape(self.folds, pe, self.steps)
        self.bits = max(in_lo.bit_length(), (in_hi + 1).bit_length()) + 1  # signed, holds in_hi+1
        if not isinstance(registered_rom, bool):
            raise TypeError(f"registered_rom must be a bool, not {registered_rom!r}")
        self.in_rom = not (self.shared or self.folds == 1)
        self.rom_register = registered_rom and self.in_rom

    @property
    def latency(self) -> int:
        """Cycles from values entering :meth:`build` to the output codes."""
        levels = (self.steps - 1).bit_length()
        return int(self.rom_register) + 1 + -(-levels // 2)

    def build(self, m: Module, *, fold_early: Value, values: list[Value], valid: Value,
              name: str = "thr") -> tuple[list[Value], Value]:
        """Add the threshold stages to ``m``.

        ``fold_early`` is the fold index one cycle before ``values``/``valid`` are presented
        (the ROM is read synchronously). Returns ``(codes, valid_out)``, ``latency`` cycles
        after ``values``.
        """
        if not self.in_rom:
            row = self.table[0]
            thr = [[Const(int(v), signed(self.bits)) for v in row[p]] for p in range(self.pe)]
        else:
            width = self.pe * self.steps * self.bits
            mask = (1 << self.bits) - 1
            init = []
            for f in range(self.folds):
                word = 0
                for k, v in enumerate(self.table[f].reshape(-1).tolist()):
                    word |= (int(v) & mask) << (k * self.bits)
                init.append(word)
            m.submodules[f"{name}_rom"] = rom = Memory(shape=width, depth=self.folds, init=init,
                                                       attrs=ram_attrs(self.folds))
            rd = rom.read_port()
            m.d.comb += rd.addr.eq(fold_early)
            row = rd.data
            if self.rom_register:
                # plain registers (no reset): the one after a block RAM can become its own
                # output register (boards.flows.ecp5_outreg); a smaller ROM's keeps its
                # repeated columns apart (rom_row_register)
                if in_block_ram(self.folds):
                    row = delay(m, rd.data, 1, f"{name}_row", reset_less=True)
                else:
                    row = rom_row_register(m, rd.data, init, f"{name}_row")
                values = [delay(m, v, 1, f"{name}_value{p}", reset_less=True)
                          for p, v in enumerate(values)]
                valid = delay(m, valid, 1, f"{name}_valid_rom")
            thr = [[row[(p * self.steps + b) * self.bits:(p * self.steps + b + 1) * self.bits].as_signed()
                    for b in range(self.steps)] for p in range(self.pe)]
        out_bits = self.out_dtype.bitwidth()
        codes = []
        for p in range(self.pe):
            ge = Signal(self.steps, name=f"{name}_ge{p}", reset_less=True)
            m.d.sync += ge.eq(Cat(values[p] >= thr[p][b] for b in range(self.steps)))
            y, _ = pipelined_sum(m, [ge[b] for b in range(self.steps)], name=f"{name}_cnt{p}")
            if is_bipolar(self.out_dtype):
                codes.append(y[0])
            else:
                # through a signal of out_bits: assignment sign-extends a negative result
                # (a slice of the narrower product would fill the high bits with zeros)
                code = Signal(out_bits, name=f"{name}_code{p}")
                m.d.comb += code.eq(y * self.out_scale + self.out_bias)
                codes.append(code)
        return codes, delay(m, valid, self.latency - int(self.rom_register), f"{name}_valid")
