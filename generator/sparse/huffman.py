"""Huffman code lengths (Deep Compression, step 3: estimate only, not in hardware)."""

from __future__ import annotations

import heapq
from collections import Counter
from typing import Hashable, Iterable


def huffman_lengths(symbols: Iterable[Hashable]) -> dict:
    """Code length of every distinct symbol of an optimal prefix code for ``symbols``.

    A single distinct symbol gets length 1 (a code needs at least one bit per symbol).
    Ties are broken by insertion order, so the result is deterministic.
    """
    counts = Counter(symbols)
    if not counts:
        return {}
    if len(counts) == 1:
        return {next(iter(counts)): 1}
    # heap items: (weight, tiebreak, symbols of the subtree)
    heap = [(n, i, [s]) for i, (s, n) in enumerate(counts.items())]
    heapq.heapify(heap)
    lengths = dict.fromkeys(counts, 0)
    tick = len(heap)
    while len(heap) > 1:
        w1, _, a = heapq.heappop(heap)
        w2, _, b = heapq.heappop(heap)
        for s in a + b:
            lengths[s] += 1
        heapq.heappush(heap, (w1 + w2, tick, a + b))
        tick += 1
    return lengths


def huffman_bits(symbols: Iterable[Hashable]) -> int:
    """Total bits of ``symbols`` under their Huffman code (the code table not counted)."""
    symbols = list(symbols)
    lengths = huffman_lengths(symbols)
    return sum(lengths[s] for s in symbols)
