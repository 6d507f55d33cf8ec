"""Element encoding and word packing shared by every driver and testbench.

DESIGN.md §2–3: a stream word carries ``n`` elements of ``w`` bits, element ``i`` at
bits ``[i*w, (i+1)*w)``. Element codes:

* ``BIPOLAR``: bit 1 <-> +1, bit 0 <-> -1.
* signed types (``INTn``, ``TERNARY``): two's complement in ``w`` bits.
* unsigned types (``UINTn``, ``BINARY``): the value itself.

Words are Python ``int`` so any width works; arrays of words are ``dtype=object``
when wider than 63 bits.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType


def element_bits(dtype: DataType) -> int:
    """Bits one element of ``dtype`` occupies on a stream."""
    return dtype.bitwidth()


def encode(values: np.ndarray, dtype: DataType, out_dtype=np.uint64) -> np.ndarray:
    """Integer values of ``dtype`` -> unsigned element codes (``out_dtype``, wide enough
    for the codes; ``uint64`` by default)."""
    values = np.asarray(values)
    if values.size and (values.min() < dtype.min() or values.max() > dtype.max()):
        bad = values[(values < dtype.min()) | (values > dtype.max())].flat[0]
        raise ValueError(f"value {bad} is outside {dtype.name}")
    if dtype.name == "BIPOLAR":
        if values.size and np.any(values == 0):
            raise ValueError("BIPOLAR values must be -1 or +1")
        return (values > 0).astype(out_dtype)
    bits = dtype.bitwidth()
    if dtype.min() >= 0:                     # unsigned: the value is its code
        return values.astype(out_dtype)
    return (values.astype(np.int64) & ((1 << bits) - 1)).astype(out_dtype)


def decode(codes: np.ndarray, dtype: DataType) -> np.ndarray:
    """Unsigned element codes -> integer values of ``dtype`` (``int64``)."""
    codes = np.asarray(codes).astype(np.int64)
    if dtype.name == "BIPOLAR":
        return 2 * (codes & 1) - 1
    bits = dtype.bitwidth()
    codes = codes & ((1 << bits) - 1)
    if dtype.signed():
        codes = np.where(codes >= (1 << (bits - 1)), codes - (1 << bits), codes)
    return codes


def pack_bytes(values: np.ndarray, dtype: DataType, elems_per_word: int,
               nbytes: int | None = None) -> np.ndarray:
    """Flat sequence of values -> ``(words, nbytes)`` ``uint8``: each word little endian,
    element 0 in the LSBs, zero-padded to ``nbytes`` (default: the payload's bytes).

    The word-file layout of the RTL runners, built without one Python ``int`` per word
    (the fast path for large runs); processed in chunks to bound the temporaries.
    """
    values = np.asarray(values).reshape(-1)
    if values.size % elems_per_word:
        raise ValueError(f"{values.size} elements do not fill words of {elems_per_word}")
    bits = element_bits(dtype)
    payload = -(-elems_per_word * bits // 8)
    nbytes = payload if nbytes is None else nbytes
    if nbytes < payload:
        raise ValueError(f"{elems_per_word} elements of {bits} bits do not fit {nbytes} bytes")
    words = values.size // elems_per_word
    out = np.zeros((words, nbytes), dtype=np.uint8)
    if bits in (8, 16, 32, 64) or (8 % bits == 0 and elems_per_word * bits % 8 == 0):
        # byte-aligned elements, or whole bytes of 1-, 2- or 4-bit elements: no bit matrix
        if bits >= 8:
            raw = encode(values, dtype, f"<u{bits // 8}").view(np.uint8)
        else:
            codes = encode(values, dtype, np.uint8)
            per_byte = 8 // bits
            shifts = np.arange(0, 8, bits, dtype=np.uint8)
            raw = np.bitwise_or.reduce(codes.reshape(-1, per_byte) << shifts, axis=1)
        out[:, :payload] = raw.reshape(words, payload)
        return out
    step = max(1, (1 << 20) // max(1, elems_per_word * bits))
    for start in range(0, words, step):
        part = encode(values[start * elems_per_word:(start + step) * elems_per_word], dtype)
        part = part.reshape(-1, elems_per_word)
        # bit j of element i of a word -> bit i*bits + j of the word
        bitmat = ((part[:, :, None] >> np.arange(bits, dtype=np.uint64)) & 1).astype(np.uint8)
        bitmat = bitmat.reshape(len(part), elems_per_word * bits)
        out[start:start + len(part), :payload] = np.packbits(bitmat, axis=1, bitorder="little")
    return out


def pack(values: np.ndarray, dtype: DataType, elems_per_word: int) -> list[int]:
    """Flat sequence of values -> list of words (element 0 in the LSBs).

    ``len(values)`` must be a multiple of ``elems_per_word``. Vectorised through a bit
    matrix (:func:`pack_bytes`), so it costs one ``int.from_bytes`` per word.
    """
    return [int.from_bytes(row.tobytes(), "little") for row in pack_bytes(values, dtype, elems_per_word)]


def unpack(words, dtype: DataType, elems_per_word: int) -> np.ndarray:
    """List of words -> flat ``int64`` array of values."""
    bits = element_bits(dtype)
    total = elems_per_word * bits
    nbytes = max(1, -(-total // 8))
    raw = np.frombuffer(b"".join(int(w).to_bytes(nbytes + 8, "little")[:nbytes] for w in words),
                        dtype=np.uint8).reshape(len(words), nbytes)
    bitmat = np.unpackbits(raw, axis=1, bitorder="little")[:, :total]
    bitmat = bitmat.reshape(len(words), elems_per_word, bits).astype(np.int64)
    codes = (bitmat << np.arange(bits, dtype=np.int64)).sum(axis=2)
    return decode(codes.reshape(-1), dtype)


def tdata_bits(payload_bits: int) -> int:
    """AXI4-Stream ``tdata`` width: the payload padded to a multiple of 8."""
    return max(8, -(-payload_bits // 8) * 8)
