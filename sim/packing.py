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


def encode(values: np.ndarray, dtype: DataType) -> np.ndarray:
    """Integer values of ``dtype`` -> unsigned element codes (``uint64``)."""
    values = np.asarray(values)
    if not np.all((values >= dtype.min()) & (values <= dtype.max())):
        bad = values[(values < dtype.min()) | (values > dtype.max())].flat[0]
        raise ValueError(f"value {bad} is outside {dtype.name}")
    values = values.astype(np.int64)
    if dtype.name == "BIPOLAR":
        if not np.all(np.abs(values) == 1):
            raise ValueError("BIPOLAR values must be -1 or +1")
        return ((values + 1) // 2).astype(np.uint64)
    bits = dtype.bitwidth()
    return (values & ((1 << bits) - 1)).astype(np.uint64)


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


def pack(values: np.ndarray, dtype: DataType, elems_per_word: int) -> list[int]:
    """Flat sequence of values -> list of words (element 0 in the LSBs).

    ``len(values)`` must be a multiple of ``elems_per_word``.
    """
    codes = encode(np.asarray(values).reshape(-1), dtype)
    if codes.size % elems_per_word:
        raise ValueError(f"{codes.size} elements do not fill words of {elems_per_word}")
    bits = element_bits(dtype)
    words = []
    for group in codes.reshape(-1, elems_per_word):
        word = 0
        for i, code in enumerate(group.tolist()):
            word |= int(code) << (i * bits)
        words.append(word)
    return words


def unpack(words, dtype: DataType, elems_per_word: int) -> np.ndarray:
    """List of words -> flat ``int64`` array of values."""
    bits = element_bits(dtype)
    mask = (1 << bits) - 1
    codes = np.empty(len(words) * elems_per_word, dtype=np.int64)
    k = 0
    for word in words:
        word = int(word)
        for i in range(elems_per_word):
            codes[k] = (word >> (i * bits)) & mask
            k += 1
    return decode(codes, dtype)


def tdata_bits(payload_bits: int) -> int:
    """AXI4-Stream ``tdata`` width: the payload padded to a multiple of 8."""
    return max(8, -(-payload_bits // 8) * 8)
