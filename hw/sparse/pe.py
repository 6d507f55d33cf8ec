"""One EIE processing element: queue, pointers, sparse-matrix memory, codebook, MAC, accumulators."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from qonnx.core.datatype import BaseDataType

from ..streams import check_dtype, check_int, check_int_array, dtype_shape
from .pointers import ColumnPointers
from .scan import token_layout

__all__ = ["SparsePE", "REL_BITS", "MAX_QUEUE_DEPTH"]

REL_BITS = 4
MAX_QUEUE_DEPTH = 16


def row_bits(rows: int) -> int:
    return max(1, (rows - 1).bit_length())


class SparsePE(wiring.Component):
    """PE ``k`` of an EIE array: accumulates ``w[r, c] * x[c]`` for its rows ``r``.

    Every broadcast token (``tok_fire``) reads the column's two pointers (one cycle); a
    non-empty column, or the vector's last token, is then written into the activation
    queue as ``(start, end, value, last)`` — so empty columns cost this PE nothing. The
    PE pops an entry when idle or while issuing the last entry of the previous one, then
    issues one stored entry per cycle: sparse-matrix memory read (1 cycle), codebook
    lookup, relative-index walk and multiply (registered), accumulate into the
    accumulator of local row ``pos`` of the current bank. A vector's end (an ``eov``
    slot: after the last column of a ``last`` entry, or one cycle for an empty ``last``
    marker) marks the bank *owned* at issue and *done* two cycles later. The engine
    drains a done bank row by row (``drain_*``) and releases it; the PE issues into a
    bank only while it is not owned, so it can run one vector ahead of the drain.

    Parameters
    ----------
    entries : numpy.ndarray
        ``(n, 2)`` ``(code, rel)`` pairs of this PE (``bitsmith.generator.sparse.encode``).
    col_ptr : numpy.ndarray
        ``(MW+1,)`` column pointers into ``entries``.
    codebook : numpy.ndarray
        ``(2**b,)`` integer weight values, ``codebook[0] == 0``.
    weight_dtype, in_dtype, acc_dtype : DataType
        Codebook value, activation and accumulator types (``acc_dtype`` must hold every
        partial sum; the generator proves it from the weights and the input range).
    rows : int
        Local rows of this PE (``MH / N``).
    queue_depth : int
        Activation-queue entries, 1..16.

    Members
    -------
    tok_fire : In(1)
        A token is broadcast this cycle; ``tok`` holds it.
    tok : In(token_layout)
    ready : Out(1)
        This PE can take a token this cycle: fewer than ``queue_depth`` entries queued
        (a register, computed a cycle ahead; the queue holds ``queue_depth + 1`` so that
        the token before it, still on its way in, always fits too).
    drain_bank, drain_row : In
        Accumulator read by ``acc`` (combinational).
    drain_clear : In(1)
        Write 0 to the accumulator at ``drain_bank, drain_row``.
    drain_release : In(1)
        Bank ``drain_bank`` is drained: clear its owned/done flags.
    acc : Out(acc shape)
    done : Out(2)
        Per bank: the PE finished its part of the vector in that bank.
    busy : Out(1)
        A stored entry (or padding) is issued this cycle; the complement is an idle PE-cycle.

    Latency: token to queue 2 cycles, pop to first issue 1, issue to accumulate 2 cycles.
    After a reset the PE clears its ``2 * 2**row_bits`` accumulators (one per cycle) before
    it takes a token: a reset in the middle of a vector must not leave partial sums behind.
    """

    def __init__(self, *, entries: np.ndarray, col_ptr: np.ndarray, codebook: np.ndarray,
                 weight_dtype: BaseDataType, in_dtype: BaseDataType, acc_dtype: BaseDataType,
                 rows: int, queue_depth: int):
        self.entries = check_int_array("entries", entries, 2)
        if self.entries.shape[1] != 2:
            raise ValueError(f"entries must have shape (n, 2), not {self.entries.shape}")
        self.codebook = check_int_array("codebook", codebook, 1)
        size = self.codebook.size
        if size < 4 or size > 256 or size & (size - 1):
            raise ValueError(f"codebook must have 2**b entries with b in 2..8, not {size}")
        if self.codebook[0] != 0:
            raise ValueError(f"codebook[0] must be 0, not {int(self.codebook[0])}")
        self.bits = size.bit_length() - 1
        if self.entries.size and (self.entries[:, 0].min() < 0 or self.entries[:, 0].max() >= size
                                  or self.entries[:, 1].min() < 0
                                  or self.entries[:, 1].max() >= 1 << REL_BITS):
            raise ValueError("entries must hold codes in 0..2**b-1 and relative indices in 0..15")
        self.pointers = ColumnPointers(col_ptr=col_ptr)
        if self.pointers.col_ptr[-1] != len(self.entries):
            raise ValueError(f"col_ptr must end at {len(self.entries)} entries, not {int(self.pointers.col_ptr[-1])}")
        self.weight_dtype = check_dtype("weight_dtype", weight_dtype)
        self.in_dtype = check_dtype("in_dtype", in_dtype)
        self.acc_dtype = check_dtype("acc_dtype", acc_dtype, max_bits=64)
        self.rows = check_int("rows", rows)
        self.queue_depth = check_int("queue_depth", queue_depth)
        if queue_depth > MAX_QUEUE_DEPTH:
            raise ValueError(f"queue_depth must be 1..{MAX_QUEUE_DEPTH}, not {queue_depth!r}")
        self.acc_shape = dtype_shape(acc_dtype)
        columns = self.pointers.columns
        super().__init__({
            "tok_fire": In(1),
            "tok": In(token_layout(in_dtype, columns)),
            "ready": Out(1),
            "drain_bank": In(1),
            "drain_row": In(unsigned(row_bits(self.rows))),
            "drain_clear": In(1),
            "drain_release": In(1),
            "acc": Out(self.acc_shape),
            "done": Out(2),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.pointers = ptrs = self.pointers
        pw, rb, bits = ptrs.width, row_bits(self.rows), self.bits
        act_shape = dtype_shape(self.in_dtype)

        # -- token -> pointers -> queue ------------------------------------------------
        pend = Signal()
        pend_value = Signal(act_shape)
        pend_last = Signal()
        pend_flush = Signal()
        m.d.comb += ptrs.col.eq(self.tok.col)
        m.d.sync += [
            pend.eq(self.tok_fire),
            pend_value.eq(self.tok.value),
            pend_last.eq(self.tok.last),
            pend_flush.eq(self.tok.flush),
        ]
        start = Mux(pend_flush, ptrs.end, ptrs.start)            # a flush is an empty marker
        enqueue = pend & ((start != ptrs.end) | pend_last)

        vbits = len(pend_value)
        # one entry more than ``queue_depth``: ``ready`` looks only at the queue's level
        # register (a token taken now is written the cycle after, when the level may
        # have grown by the token before it), so no pointer read, compare or adder is in
        # the broadcast's ready chain across the PEs
        m.submodules.queue = queue = SyncFIFO(width=2 * pw + vbits + 1, depth=self.queue_depth + 1)
        m.d.comb += [
            queue.w_en.eq(enqueue),
            queue.w_data.eq(Cat(start, ptrs.end, pend_value, pend_last)),
        ]
        head_start = queue.r_data[:pw]
        head_end = queue.r_data[pw:2 * pw]
        head_value = queue.r_data[2 * pw:2 * pw + vbits]
        head_last = queue.r_data[-1]

        # -- issue: one stored entry per cycle -------------------------------------------
        active = Signal()
        cur = Signal(pw)
        end = Signal(pw)
        act = Signal(act_shape)
        last = Signal()
        first = Signal()
        issue_bank = Signal()
        owned = Signal(2)
        done = Signal(2)

        go = active & ~owned.bit_select(issue_bank, 1)
        finish = go & (cur + 1 >= end)
        entry = go & (cur != end)
        eov = finish & last
        want = ~active | finish
        pop = want & queue.r_rdy
        # After a reset the accumulators may hold partial sums of a vector the reset cut
        # short (a memory keeps its contents): sweep them to 0 before taking tokens.
        depth = 2 << rb
        clearing = Signal(init=1)
        clear_addr = Signal(range(depth))
        with m.If(clearing):
            m.d.sync += clear_addr.eq(clear_addr + 1)
            with m.If(clear_addr == depth - 1):
                m.d.sync += clearing.eq(0)
        # ``ready`` is a register holding what ``level < queue_depth and not clearing`` will
        # be, computed from the queue's level and this cycle's write and read: the engine
        # ANDs every PE's ready into the broadcast's enable, which fans out to all of them,
        # so each PE's part of that path starts at a flip-flop
        level_next = queue.level + (queue.w_en & queue.w_rdy) - (queue.r_en & queue.r_rdy)
        clearing_next = clearing & (clear_addr != depth - 1)
        ready = Signal(name="ready_r")
        m.d.sync += ready.eq((level_next < self.queue_depth) & ~clearing_next)
        m.d.comb += [
            queue.r_en.eq(pop),
            self.ready.eq(ready),
            self.busy.eq(entry),
        ]
        with m.If(pop):
            m.d.sync += [active.eq(1), cur.eq(head_start), end.eq(head_end),
                         act.eq(head_value.as_signed() if act_shape.signed else head_value),
                         last.eq(head_last), first.eq(1)]
        with m.Elif(finish):
            m.d.sync += active.eq(0)
        with m.Elif(go):
            m.d.sync += [cur.eq(cur + 1), first.eq(0)]

        # -- stage B: entry read, relative index walk, codebook lookup, multiply ----------------
        init = [int(c) | (int(r) << bits) for c, r in self.entries.tolist()] or [0]
        m.submodules.matrix = matrix = Memory(shape=bits + REL_BITS, depth=len(init), init=init)
        rd = matrix.read_port()
        m.d.comb += rd.addr.eq(cur)
        b_valid, b_eov, b_first, b_bank = Signal(), Signal(), Signal(), Signal()
        b_act = Signal(act_shape)
        m.d.sync += [b_valid.eq(entry), b_eov.eq(eov), b_first.eq(first), b_bank.eq(issue_bank),
                     b_act.eq(act)]
        code, rel = rd.data[:bits], rd.data[bits:]
        pos = Signal(rb)
        row = Mux(b_first, rel, pos + rel + 1)
        with m.If(b_valid):
            m.d.sync += pos.eq(row)
        wshape = dtype_shape(self.weight_dtype)
        if not wshape.signed and self.codebook.min() < 0:
            wshape = signed(wshape.width + 1)
        value = Array(Const(int(v), wshape) for v in self.codebook.tolist())[code]
        product = value * b_act

        # -- stage C: accumulate --------------------------------------------------------
        c_valid, c_eov, c_bank = Signal(), Signal(), Signal()
        c_row = Signal(rb)
        c_prod = Signal(product.shape())
        m.d.sync += [c_valid.eq(b_valid), c_eov.eq(b_eov), c_bank.eq(b_bank), c_row.eq(row),
                     c_prod.eq(product)]
        m.submodules.accs = accs = Memory(shape=self.acc_shape, depth=depth, init=[])
        acc_rd = accs.read_port(domain="comb")
        acc_wr = accs.write_port()
        drain_rd = accs.read_port(domain="comb")
        drain_wr = accs.write_port()
        m.d.comb += [
            acc_rd.addr.eq(Cat(c_row, c_bank)),
            acc_wr.addr.eq(Cat(c_row, c_bank)),
            acc_wr.data.eq(acc_rd.data + c_prod),
            acc_wr.en.eq(c_valid),
            drain_rd.addr.eq(Cat(self.drain_row, self.drain_bank)),
            drain_wr.addr.eq(Mux(clearing, clear_addr, Cat(self.drain_row, self.drain_bank))),
            drain_wr.data.eq(0),
            drain_wr.en.eq(self.drain_clear | clearing),
            self.acc.eq(drain_rd.data),
            self.done.eq(done),
        ]

        # -- bank flags -------------------------------------------------------------------
        with m.If(eov):
            m.d.sync += [owned.bit_select(issue_bank, 1).eq(1), issue_bank.eq(~issue_bank)]
        with m.If(c_eov):
            m.d.sync += done.bit_select(c_bank, 1).eq(1)
        with m.If(self.drain_release):
            m.d.sync += [owned.bit_select(self.drain_bank, 1).eq(0),
                         done.bit_select(self.drain_bank, 1).eq(0)]
        return m
