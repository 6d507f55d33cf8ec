"""Deep Compression steps: pruning, k-means sharing, EIE encoding, Huffman, storage report."""

import numpy as np
import pytest

from bitsmith.generator.sparse import (compress, decode_columns, encode_columns, huffman_bits,
                              huffman_lengths, prune, share_weights, sparsity_of, storage_report)
from bitsmith.generator.sparse.encode import MAX_REL


# ---------------------------------------------------------------------------- pruning

@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.75, 0.9, 0.95])
def test_prune_reaches_target_and_keeps_the_largest(sparsity):
    rng = np.random.default_rng(1)
    w = rng.integers(-1000, 1000, (40, 30))
    p = prune(w, sparsity)
    zeros = np.count_nonzero(p == 0)
    assert zeros == max(int(np.ceil(sparsity * w.size - 1e-9)), np.count_nonzero(w == 0))
    kept = np.abs(w[p != 0])
    dropped = np.abs(w[(p == 0) & (w != 0)])
    assert np.all(p[p != 0] == w[p != 0])
    if dropped.size and kept.size:
        assert dropped.max() <= kept.min()


def test_prune_breaks_ties_by_index():
    w = np.array([[3, -1, 1, 2], [1, -1, 5, 1]])
    assert prune(w, 0.5).tolist() == [[3, 0, 0, 2], [0, 0, 5, 1]]


@pytest.mark.parametrize("args, error, message", [
    ((np.zeros(3), 1.0), ValueError, "sparsity must be in [0, 1), not 1.0"),
    ((np.zeros(3), "x"), TypeError, "sparsity must be a number, not 'x'"),
    (([1, 2], 0.5), TypeError, "weights must be a numpy array, not list"),
])
def test_prune_rejects(args, error, message):
    with pytest.raises(error, match=f"^{__import__('re').escape(message)}$"):
        prune(*args)


# ---------------------------------------------------------------------------- sharing

def test_share_is_lossless_with_few_values():
    w = np.array([[0, 3, -2], [3, 0, 7]])
    s = share_weights(w, 2)
    assert s.codebook.tolist() == [0, -2, 3, 7]
    assert np.array_equal(s.values(), w)


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 8])
def test_share_kmeans_codebook(bits):
    rng = np.random.default_rng(bits)
    w = prune(rng.integers(-120, 121, (64, 64)), 0.8)
    s = share_weights(w, bits)
    assert s.codebook.size == 1 << bits and s.codebook[0] == 0
    v = s.values()
    assert np.array_equal(v == 0, w == 0) or np.all(v[w == 0] == 0)   # zeros stay zero
    nz = w != 0
    assert v[nz].min() >= w[nz].min() and v[nz].max() <= w[nz].max()  # centroids are means
    levels = np.unique(v[nz])
    assert levels.size <= (1 << bits) - 1
    # every weight takes (one of) the nearest shared levels
    err = np.abs(w[nz] - v[nz])
    nearest = np.abs(w[nz][:, None] - levels[None, :]).min(axis=1)
    assert np.all(err <= nearest + 1)          # +1: centroids rounded to integers
    assert np.array_equal(share_weights(w, bits).codebook, s.codebook)    # deterministic


def test_share_float_weights_to_fixed_point():
    rng = np.random.default_rng(3)
    w = prune(rng.normal(0, 0.1, (32, 32)), 0.9)
    s = share_weights(w, 4)
    assert s.frac_bits == int(np.floor(np.log2(127 / np.abs(w).max())))
    real = s.values() * 2.0 ** -s.frac_bits
    assert np.abs(real - w)[w != 0].max() < np.abs(w).max() / 4


@pytest.mark.parametrize("bits, error, message", [
    (1, ValueError, "codebook bits must be 2..8, not 1"),
    (9, ValueError, "codebook bits must be 2..8, not 9"),
    (4.0, TypeError, "codebook bits must be an integer, not 4.0"),
])
def test_share_rejects_bits(bits, error, message):
    with pytest.raises(error, match=f"^{__import__('re').escape(message)}$"):
        share_weights(np.ones((2, 2)), bits)


# ---------------------------------------------------------------------------- encoding

@pytest.mark.parametrize("n_pe", [1, 2, 3, 4, 8, 64])
@pytest.mark.parametrize("sparsity", [0.5, 0.8, 0.95, 0.99])
def test_encoding_round_trip(n_pe, sparsity):
    rng = np.random.default_rng(n_pe)
    w = rng.integers(-50, 51, (n_pe * 40, 17))
    layer = compress(w, n_pe=n_pe, sparsity=sparsity, bits=4)
    enc = layer.encoding
    assert np.array_equal(decode_columns(enc), layer.shared.index.astype(np.int64))
    assert all(e[:, 1].max(initial=0) <= MAX_REL for e in enc.entries)
    assert enc.padding_entries() == int(sum(np.count_nonzero(e[:, 0] == 0) for e in enc.entries))
    assert [len(e) for e in enc.entries] == enc.col_ptr[:, -1].tolist()


@pytest.mark.parametrize("rows, expected", [
    ([0], [(5, 0)]),
    ([15], [(5, 15)]),
    ([16], [(0, 15), (5, 0)]),                      # 16 zeros: one padding entry
    ([31], [(0, 15), (5, 15)]),
    ([32], [(0, 15), (0, 15), (5, 0)]),
    ([3, 20], [(5, 3), (0, 15), (5, 0)]),           # gap of 16 after row 3
    ([3, 19], [(5, 3), (5, 15)]),                   # gap of exactly 15: no padding
    ([0, 1, 2], [(5, 0), (5, 0), (5, 0)]),
    ([], []),
])
def test_gap_padding(rows, expected):
    index = np.zeros((40, 1), dtype=np.int64)
    index[rows, 0] = 5
    enc = encode_columns(index, 1)
    assert [tuple(p) for p in enc.entries[0].tolist()] == expected
    assert np.array_equal(decode_columns(enc), index)


def test_interleaving_gaps_count_local_rows():
    # PE 1 of 2 owns rows 1, 3, 5, ...: global row 35 is its local row 17 -> one padding entry
    index = np.zeros((40, 2), dtype=np.int64)
    index[35, 1] = 3
    index[0, 0] = 2
    enc = encode_columns(index, 2)
    assert enc.entries[0].tolist() == [[2, 0]]
    assert enc.entries[1].tolist() == [[0, 15], [3, 1]]
    assert enc.col_ptr.tolist() == [[0, 1, 1], [0, 0, 2]]


def test_encode_rejects_pe_count():
    with pytest.raises(ValueError, match=r"^n_pe must be a positive divisor of out_features=10, not 4$"):
        encode_columns(np.zeros((10, 2), dtype=np.int64), 4)


# ---------------------------------------------------------------------------- Huffman, report

def test_huffman_lengths_textbook():
    symbols = "a" * 45 + "b" * 13 + "c" * 12 + "d" * 16 + "e" * 9 + "f" * 5
    lengths = huffman_lengths(symbols)
    assert lengths == {"a": 1, "b": 3, "c": 3, "d": 3, "e": 4, "f": 4}
    assert huffman_bits(symbols) == 45 + 3 * (13 + 12 + 16) + 4 * (9 + 5)


def test_huffman_is_a_complete_prefix_code():
    rng = np.random.default_rng(0)
    lengths = huffman_lengths(rng.geometric(0.3, 500).tolist())
    assert sum(2.0 ** -n for n in lengths.values()) == pytest.approx(1.0)
    assert huffman_lengths([7, 7, 7]) == {7: 1} and huffman_lengths([]) == {}


def test_storage_report_counts():
    index = np.zeros((8, 2), dtype=np.int64)
    index[[0, 5], 0] = 1
    index[7, 1] = 2
    codebook = np.array([0, 3, -2, 1])
    enc = encode_columns(index, 2)          # PE0: rows 0 (c0); PE1: rows 5 (c0), 7 (c1)
    r = storage_report(enc, codebook, dense_weight_bits=8, codebook_value_bits=8)
    assert (r.nonzeros, r.padding_entries) == (3, 0)
    assert r.dense_bits == 8 * 2 * 8
    assert r.entry_bits == 3 * (2 + 4)
    assert r.pointer_bits == 3 * 1 + 3 * 2          # PE0: 1 entry -> 1-bit pointers; PE1: 2 -> 2 bits
    assert r.sparse_bits == r.entry_bits + r.pointer_bits + 4 * 8
    assert r.index_bits == 3 * 4 + r.pointer_bits
    assert r.huffman_code_bits == huffman_bits([1, 1, 2]) == 3
    assert r.huffman_bits == r.huffman_code_bits + r.huffman_rel_bits + r.pointer_bits + 32
    assert r.as_dict()["compression"] == round(128 / r.sparse_bits, 3)


def test_sparsity_of():
    assert sparsity_of(np.array([0, 1, 0, 0])) == 0.75
