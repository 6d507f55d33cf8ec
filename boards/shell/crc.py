"""CRC-16/CCITT-FALSE byte step as an Amaranth expression (see :mod:`bitsmith.boards.protocol`)."""

from __future__ import annotations

from functools import reduce
from operator import xor

from amaranth import Cat, Value

from ..protocol import CRC_POLY


def _taps() -> list[frozenset[int]]:
    """For each bit of the next CRC, the inputs it XORs: crc bits 0..15, byte bits 16..23.

    The CRC is linear over GF(2), so eight serial shift steps collapse into one XOR per
    output bit; tracking the sets symbolically keeps the expression small.
    """
    bits = [frozenset({i}) for i in range(16)]
    for i in reversed(range(8)):
        feedback = bits[15] ^ frozenset({16 + i})
        shifted = [frozenset()] + bits[:15]
        bits = [shifted[j] ^ feedback if CRC_POLY >> j & 1 else shifted[j] for j in range(16)]
    return bits


_TAPS = _taps()


def crc16_step(crc: Value, byte: Value) -> Value:
    """The CRC register after shifting in ``byte`` MSB first (one XOR tree per bit)."""
    inputs = [crc[i] for i in range(16)] + [byte[i] for i in range(8)]
    return Cat(*(reduce(xor, (inputs[k] for k in sorted(taps))) for taps in _TAPS))
