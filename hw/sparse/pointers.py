"""Column pointers of one PE in two banks, so both pointers of a column arrive together."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..streams import check_int_array

__all__ = ["ColumnPointers"]


class ColumnPointers(wiring.Component):
    """Read ``(ptr[c], ptr[c+1])`` of column ``c`` in one cycle from two single-port ROMs.

    The ``MW+1`` pointers are split by parity: the even bank holds ``ptr[0], ptr[2], ...``,
    the odd bank ``ptr[1], ptr[3], ...``. Column ``c`` reads the even bank at
    ``(c+1)//2`` and the odd bank at ``c//2``; one of them is ``ptr[c]`` and the other
    ``ptr[c+1]`` depending on the parity of ``c`` (registered with the read).

    Parameters
    ----------
    col_ptr : numpy.ndarray
        ``(MW+1,)`` non-decreasing integers from 0.

    Members
    -------
    col : In(unsigned)
        Column to read (sampled every cycle).
    start, end : Out(unsigned)
        ``ptr[col]`` and ``ptr[col+1]`` of the column presented one cycle earlier.

    Latency: 1 cycle; a new column every cycle.
    """

    def __init__(self, *, col_ptr: np.ndarray):
        ptr = check_int_array("col_ptr", col_ptr, 1)
        if ptr.size < 2 or ptr[0] != 0 or np.any(np.diff(ptr) < 0):
            raise ValueError(f"col_ptr must rise from 0 over at least 2 entries, not {ptr.tolist()[:8]}")
        self.col_ptr = ptr
        self.columns = ptr.size - 1
        self.width = max(1, int(ptr[-1]).bit_length())
        super().__init__({
            "col": In(unsigned(max(1, (self.columns - 1).bit_length()))),
            "start": Out(unsigned(self.width)),
            "end": Out(unsigned(self.width)),
        })

    def elaborate(self, platform):
        m = Module()
        even, odd = self.col_ptr[0::2], self.col_ptr[1::2]
        m.submodules.even = even_mem = Memory(shape=self.width, depth=even.size, init=even.tolist())
        m.submodules.odd = odd_mem = Memory(shape=self.width, depth=odd.size, init=odd.tolist())
        even_rd, odd_rd = even_mem.read_port(), odd_mem.read_port()
        col_odd = Signal()
        m.d.comb += [
            even_rd.addr.eq((self.col + 1) >> 1),
            odd_rd.addr.eq(self.col >> 1),
        ]
        m.d.sync += col_odd.eq(self.col[0])
        m.d.comb += [
            self.start.eq(Mux(col_odd, odd_rd.data, even_rd.data)),
            self.end.eq(Mux(col_odd, even_rd.data, odd_rd.data)),
        ]
        return m
