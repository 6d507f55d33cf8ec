"""Storage of a compressed layer: bits before and after, index overhead, Huffman estimate."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .encode import REL_BITS, ColumnEncoding
from .huffman import huffman_bits


@dataclass(frozen=True)
class StorageReport:
    """Bit counts of one layer (all integers are bits unless named otherwise).

    ``dense_bits`` is the uncompressed matrix at ``dense_weight_bits`` per weight.
    ``sparse_bits`` is what the engine stores: entries (code + relative index), the
    column pointers of every PE and the codebook. ``index_bits`` is the part of it that
    is not weight codes (relative indices and pointers). ``huffman_bits`` replaces the
    fixed-width code and relative-index streams by their Huffman-coded sizes.
    """

    out_features: int
    in_features: int
    n_pe: int
    codebook_bits: int
    nonzeros: int
    padding_entries: int
    dense_weight_bits: int
    dense_bits: int
    entry_bits: int
    pointer_bits: int
    codebook_table_bits: int
    sparse_bits: int
    index_bits: int
    huffman_code_bits: int
    huffman_rel_bits: int
    huffman_bits: int

    @property
    def compression(self) -> float:
        return self.dense_bits / max(1, self.sparse_bits)

    @property
    def huffman_compression(self) -> float:
        return self.dense_bits / max(1, self.huffman_bits)

    @property
    def index_overhead(self) -> float:
        """Index bits per weight-code bit."""
        return self.index_bits / max(1, self.sparse_bits - self.index_bits)

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(compression=round(self.compression, 3),
                 huffman_compression=round(self.huffman_compression, 3),
                 index_overhead=round(self.index_overhead, 3))
        return d


def storage_report(enc: ColumnEncoding, codebook: np.ndarray, *, dense_weight_bits: int,
                   codebook_value_bits: int) -> StorageReport:
    """Account the storage of ``enc`` with ``codebook`` against a dense matrix."""
    bits = int(codebook.size).bit_length() - 1
    all_pairs = np.concatenate([e for e in enc.entries]) if enc.entries else np.zeros((0, 2), np.int64)
    n_entries = int(all_pairs.shape[0])
    padding = int(np.count_nonzero(all_pairs[:, 0] == 0))
    ptr_width = [max(1, int(len(e)).bit_length()) for e in enc.entries]
    pointer_bits = sum(w * (enc.in_features + 1) for w in ptr_width)
    entry_bits = n_entries * (bits + REL_BITS)
    table = int(codebook.size) * codebook_value_bits
    dense = enc.out_features * enc.in_features * dense_weight_bits
    h_code = huffman_bits(all_pairs[:, 0].tolist())
    h_rel = huffman_bits(all_pairs[:, 1].tolist())
    return StorageReport(
        out_features=enc.out_features, in_features=enc.in_features, n_pe=enc.n_pe,
        codebook_bits=bits, nonzeros=n_entries - padding, padding_entries=padding,
        dense_weight_bits=dense_weight_bits, dense_bits=dense, entry_bits=entry_bits,
        pointer_bits=pointer_bits, codebook_table_bits=table,
        sparse_bits=entry_bits + pointer_bits + table,
        index_bits=n_entries * REL_BITS + pointer_bits,
        huffman_code_bits=h_code, huffman_rel_bits=h_rel,
        huffman_bits=h_code + h_rel + pointer_bits + table)
