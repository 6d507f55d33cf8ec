"""CRC-16/CCITT-FALSE byte step as an Amaranth expression (see :mod:`boards.protocol`)."""

from __future__ import annotations

from amaranth import Mux, Value

from ..protocol import CRC_POLY


def crc16_step(crc: Value, byte: Value) -> Value:
    """The CRC register after shifting in ``byte`` MSB first (8 unrolled bit steps)."""
    for i in reversed(range(8)):
        feedback = crc[15] ^ byte[i]
        shifted = (crc << 1)[:16]
        crc = Mux(feedback, shifted ^ CRC_POLY, shifted)
    return crc
