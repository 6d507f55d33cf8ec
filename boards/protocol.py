"""The UART framing protocol between a host and a board shell.

Both directions carry frames of bytes::

    request  (host -> board):  0xA5  CMD     LEN_LO LEN_HI  payload[LEN]  CRC_HI CRC_LO
    response (board -> host):  0x5A  STATUS  LEN_LO LEN_HI  payload[LEN]  CRC_HI CRC_LO

The CRC is CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection,
no final XOR) over every byte after the sync byte up to the end of the payload, sent most
significant byte first. Feeding the two CRC bytes through the same register leaves 0,
which is how the shell checks a request.

Commands: :data:`CMD_INFER` (payload: one input frame, the core's ``s_axis`` words in
order, each word's ``tdata`` little-endian in ``tdata_bits/8`` bytes; response payload:
one output frame, packed the same way) and :data:`CMD_INFO` (empty payload; response
payload: input and output frame lengths in bytes, 16-bit little-endian each).

Every request gets exactly one response. A request whose CRC fails, whose length or
command is wrong, or that stops arriving mid-frame (a lost byte: no byte for the shell's
timeout) is answered with a non-zero status and an empty payload, and nothing reaches the
core: the shell buffers a whole input frame and checks it before streaming it in.
"""

from __future__ import annotations

import enum

REQUEST_SYNC = 0xA5
RESPONSE_SYNC = 0x5A
CMD_INFER = 0x01
CMD_INFO = 0x02
CRC_INIT = 0xFFFF
CRC_POLY = 0x1021
HEADER_BYTES = 4        # sync, command/status, length (2)
TRAILER_BYTES = 2       # CRC-16
MAX_PAYLOAD = 0xFFFF


class Status(enum.IntEnum):
    """Response status byte."""

    OK = 0
    CRC = 1          # request CRC mismatch (a corrupted byte)
    LENGTH = 2       # length field does not match the command / the core's frame
    TIMEOUT = 3      # the request stopped arriving mid-frame (a lost byte)
    COMMAND = 4      # unknown command byte
    FRAMING = 5      # a UART stop bit was missing while receiving the request


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ CRC_POLY) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_TABLE = _crc_table()


def crc16(data: bytes, crc: int = CRC_INIT) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (``crc16(b"123456789") == 0x29B1``)."""
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


def _frame(sync: int, code: int, payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload must be at most {MAX_PAYLOAD} bytes, not {len(payload)}")
    body = bytes([code, len(payload) & 0xFF, len(payload) >> 8]) + bytes(payload)
    crc = crc16(body)
    return bytes([sync]) + body + bytes([crc >> 8, crc & 0xFF])


def request(command: int, payload: bytes = b"") -> bytes:
    """Encode a host -> board request frame."""
    return _frame(REQUEST_SYNC, command, payload)


def response(status: int, payload: bytes = b"") -> bytes:
    """Encode a board -> host response frame (used by models and tests)."""
    return _frame(RESPONSE_SYNC, status, payload)


def words_to_bytes(words: list[int], tdata_bits: int) -> bytes:
    """``tdata`` words -> payload bytes (each word little-endian in ``tdata_bits/8`` bytes)."""
    width = tdata_bits // 8
    return b"".join(int(w).to_bytes(width, "little") for w in words)


def bytes_to_words(data: bytes, tdata_bits: int) -> list[int]:
    """Payload bytes -> ``tdata`` words (inverse of :func:`words_to_bytes`)."""
    width = tdata_bits // 8
    if len(data) % width:
        raise ValueError(f"{len(data)} bytes are not a whole number of {width}-byte words")
    return [int.from_bytes(data[i:i + width], "little") for i in range(0, len(data), width)]
