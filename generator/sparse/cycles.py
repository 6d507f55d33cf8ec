"""Exact cycle model of ``bitsmith.hw.sparse.SparseEngine`` and the ideal (load-balance) bounds.

:func:`simulate` replays the engine's registers cycle by cycle for a source that is
always valid and a sink that is always ready; it knows only the control (column lengths
per PE, which activations are zero), not the arithmetic. The RTL tests assert that every
input and output transfer of the Amaranth simulation happens at the cycle predicted here.

Bounds, per input vector ``x``:

* ``pe_bound(x) = max_k sum_{c: x_c != 0} len_k(c)`` — the busiest PE's stored entries
  over the non-zero activations (the issue's "ideal bound": perfect load balance would
  let every PE finish with the busiest);
* ``broadcast_bound(x) = nnz(x)`` — one activation is broadcast per cycle.

Load-balance efficiency = 1 - idle PE-cycles / total PE-cycles = busy / (N * cycles).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CycleTrace:
    """What :func:`simulate` predicts.

    Members
    -------
    in_cycles, out_cycles : list of int
        Cycle of every input-word and output-word transfer (cycle 0 = first offered word).
    busy : int
        PE-cycles that issued a stored entry (summed over PEs).
    n_pe : int
    """

    in_cycles: list
    out_cycles: list
    busy: int
    n_pe: int

    @property
    def cycles(self) -> int:
        """First input transfer to last output transfer, inclusive."""
        return self.out_cycles[-1] - self.in_cycles[0] + 1

    @property
    def efficiency(self) -> float:
        return self.busy / (self.n_pe * self.cycles)


def pe_work(lengths: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``(V, N)`` stored entries each PE processes for each of the ``(V, MW)`` vectors ``x``."""
    return (np.asarray(x).reshape(-1, lengths.shape[1]) != 0).astype(np.int64) @ lengths.T


def pe_bound(lengths: np.ndarray, x: np.ndarray) -> int:
    """Sum over the vectors of the busiest PE's work."""
    return int(pe_work(lengths, x).max(axis=1).sum())


def broadcast_bound(x: np.ndarray, in_features: int) -> int:
    return int(np.count_nonzero(np.asarray(x).reshape(-1, in_features), axis=1).sum())


class _PE:
    __slots__ = ("queue", "active", "rem", "last", "bank", "owned", "done", "b_eov", "b_bank",
                 "c_eov", "c_bank")

    def __init__(self):
        self.queue = deque()
        self.active = False
        self.rem = 0
        self.last = False
        self.bank = 0
        self.owned = [False, False]
        self.done = [False, False]
        self.b_eov = self.c_eov = False
        self.b_bank = self.c_bank = 0


def simulate(lengths: np.ndarray, x: np.ndarray, *, simd: int, queue_depth: int,
                    rows: int, drain_latency: int, max_cycles: int = 10_000_000) -> CycleTrace:
    """Cycle-exact replay of ``bitsmith.hw.sparse.SparseEngine`` (see the module docstring).

    Parameters
    ----------
    lengths : numpy.ndarray
        ``(N, MW)`` stored entries per PE and column (``node.column_lengths()``).
    x : numpy.ndarray
        Input vectors, ``(V, MW)`` or any shape with ``MW`` innermost; only zero/non-zero matters.
    simd, queue_depth, rows : int
        Input elements per word, activation-queue depth, local rows per PE (``MH/N``).
    drain_latency : int
        ``SparseEngine.latency`` (1 + threshold pipeline stages).
    """
    n_pe, mw = lengths.shape
    nz = np.asarray(x).reshape(-1, mw) != 0
    vectors = nz.shape[0]
    words_per_vec = mw // simd
    words = [row[w * simd:(w + 1) * simd] for row in nz.tolist() for w in range(words_per_vec)]
    lengths = np.asarray(lengths).tolist()
    pes = [_PE() for _ in range(n_pe)]

    # scanner registers
    held, mask, base, last_word = False, [], 0, False
    word_index, next_word = 0, 0
    # the scanner's two-word output slice (``NonZeroScan``), the token register between
    # it and the broadcast, then the pointer stage's
    out_slice = deque()
    tok_valid, tok = False, (0, False, False)
    pend, pend_col, pend_last, pend_flush = False, 0, False, False
    # drain registers
    d_bank, d_row = 0, 0
    credit = drain_latency + 3
    releases = {}           # cycle -> number of credits given back
    in_cycles, out_cycles = [], []
    busy = 0
    expected_out = vectors * rows
    # after reset every PE clears its 2 banks of 2**row_bits accumulators, one per cycle,
    # before it takes a token (``SparsePE``)
    clear_cycles = 2 << max(1, (rows - 1).bit_length())
    t = 0
    while len(out_cycles) < expected_out:
        if t > max_cycles:
            raise RuntimeError(f"cycle model did not finish in {max_cycles} cycles")
        # ---- combinational values of cycle t ----
        any_left = any(mask) if held else False
        out_valid = held and (any_left or last_word)
        if any_left:
            lo = mask.index(True)
            single = sum(mask) == 1
            tok_col, tok_last, tok_flush = base + lo, last_word and single, False
        else:
            lo, single = -1, True
            tok_col, tok_last, tok_flush = base, True, True
        enq, go, finish, entry, eov, pop, ready = [], [], [], [], [], [], []
        for k, pe in enumerate(pes):
            length = 0 if (not pend or pend_flush) else lengths[k][pend_col]
            e = pend and (length > 0 or pend_last)
            g = pe.active and not pe.owned[pe.bank]
            f = g and pe.rem <= 1
            p = (not pe.active or f) and len(pe.queue) > 0
            enq.append((e, length, pend_last))
            go.append(g)
            finish.append(f)
            entry.append(g and pe.rem > 0)
            eov.append(f and pe.last)
            pop.append(p)
            ready.append(len(pe.queue) < queue_depth and t >= clear_cycles)
        all_ready = all(ready)
        fire = tok_valid and all_ready
        advance = not tok_valid or fire
        slice_valid, slice_ready = len(out_slice) > 0, len(out_slice) < 2
        sent = out_valid and slice_ready
        finishing = held and ((any_left and single and sent) or (not any_left and last_word and sent)
                              or (not any_left and not last_word))
        in_ready = (not held) or finishing
        in_fire = in_ready and next_word < len(words)
        all_done = all(pe.done[d_bank] for pe in pes)
        take = all_done and credit > 0
        release = take and d_row == rows - 1
        give = releases.pop(t, 0)
        if give:
            out_cycles.append(t)
        busy += sum(entry)

        # ---- register updates at the end of cycle t ----
        if in_fire:
            in_cycles.append(t)
            held, mask = True, list(words[next_word])
            base, last_word = word_index * simd, word_index == words_per_vec - 1
            word_index = 0 if word_index == words_per_vec - 1 else word_index + 1
            next_word += 1
        elif finishing:
            held = False
        elif sent:
            mask[lo] = False
        for k, pe in enumerate(pes):
            e, length, last = enq[k]
            head = pe.queue.popleft() if pop[k] else None
            if e:
                pe.queue.append((length, last))
            if head is not None:
                pe.active, pe.rem, pe.last = True, head[0], head[1]
            elif finish[k]:
                pe.active = False
            elif go[k]:
                pe.rem -= 1
            if pe.c_eov:
                pe.done[pe.c_bank] = True
            pe.c_eov, pe.c_bank = pe.b_eov, pe.b_bank
            pe.b_eov, pe.b_bank = eov[k], pe.bank
            if eov[k]:
                pe.owned[pe.bank] = True
                pe.bank ^= 1
            if release:
                pe.owned[d_bank] = pe.done[d_bank] = False
        pend, (pend_col, pend_last, pend_flush) = fire, tok
        if advance:
            tok_valid = slice_valid
            if slice_valid:
                tok = out_slice.popleft()
        if sent:
            out_slice.append((tok_col, tok_last, tok_flush))
        if take:
            releases[t + drain_latency + 2] = 1
            credit -= 1
            if release:
                d_row, d_bank = 0, d_bank ^ 1
            else:
                d_row += 1
        credit += give
        t += 1
    return CycleTrace(in_cycles, out_cycles, busy, n_pe)
