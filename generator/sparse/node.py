"""From compressed weights to the IR node, and ``--sparse auto``."""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType

from ..ir import Graph, MatrixVector, Thresholds, smallest_dtype
from ..ir.dense import accumulator_range
from ..ir.sparse import MAX_PE, SparseMatrixVector
from .compress import CompressedLayer
from .encode import check_decodes_to, encode_columns
from .share import SharedWeights

DEFAULT_PE = 16
DEFAULT_QUEUE_DEPTH = 8
MAX_INPUT_WORD_BITS = 2048


def largest_divisor(n: int, limit: int) -> int:
    return max(d for d in range(1, min(n, limit) + 1) if n % d == 0)


def default_simd(in_features: int, in_dtype: DataType) -> int:
    """Whole vector per input word (zero activations then cost nothing), up to 2048 bits."""
    return largest_divisor(in_features, max(1, MAX_INPUT_WORD_BITS // in_dtype.bitwidth()))


def sparse_node(name: str, in_shape, in_dtype: DataType, layer: CompressedLayer, *,
                thresholds: Thresholds | None = None, n_pe: int | None = None,
                queue_depth: int = DEFAULT_QUEUE_DEPTH, simd: int | None = None,
                acc_dtype: DataType | None = None, source: np.ndarray | None = None) -> SparseMatrixVector:
    """A checked :class:`SparseMatrixVector` running ``layer`` (its encoding's PE count wins
    unless ``n_pe`` differs, in which case the index matrix is re-encoded).

    The encoding is decoded on its own and must give back ``source``, the integer matrix
    the layer was made from (default: the layer's shared matrix ``layer.weights()``; pass
    the original weights when the codebook is lossless), else
    :class:`~bitsmith.generator.errors.CheckFailed`.
    """
    enc = layer.encoding
    if n_pe is not None and n_pe != enc.n_pe:
        enc = encode_columns(layer.shared.index, n_pe)
    cb = layer.codebook
    weights = layer.weights() if source is None else np.asarray(source)
    check_decodes_to(enc, cb, weights, f"layer {name!r}")
    wdt = smallest_dtype(min(0, int(cb.min())), max(1, int(cb.max())))
    if acc_dtype is None:
        acc_dtype = smallest_dtype(*accumulator_range(weights, wdt, in_dtype))
    node = SparseMatrixVector(
        name=name, in_shape=tuple(in_shape), in_dtype=in_dtype, codebook=cb.astype(np.int64),
        weight_dtype=wdt, entries=enc.entries, col_ptr=enc.col_ptr,
        out_features=enc.out_features, acc_dtype=acc_dtype, thresholds=thresholds,
        n_pe=enc.n_pe, queue_depth=queue_depth,
        simd=default_simd(in_shape[2], in_dtype) if simd is None else simd)
    node.check()
    return node


def lossless_layer(weights: np.ndarray, n_pe: int, bits: int | None = None) -> CompressedLayer | None:
    """The exact codebook encoding of integer ``weights`` with ``2**bits`` entries (default:
    the fewest that fit); None if the distinct non-zero values do not fit."""
    levels = np.unique(weights[weights != 0])
    need = max(2, int(levels.size).bit_length())
    bits = need if bits is None else bits
    if need > bits or bits > 8:
        return None
    codebook = np.zeros(1 << bits, dtype=np.int64)
    codebook[1:1 + levels.size] = levels
    index = np.zeros(weights.shape, dtype=np.uint8)
    index[weights != 0] = np.searchsorted(levels, weights[weights != 0]) + 1
    shared = SharedWeights(codebook, index, 0)
    return CompressedLayer(shared, encode_columns(index, n_pe))


def sparsify_graph(graph: Graph, threshold: float = 0.5) -> Graph:
    """Replace every integer :class:`MatrixVector` with at least ``threshold`` zero weights
    by an equivalent :class:`SparseMatrixVector` (same integer results, lossless codebook).

    XNOR/BIPOLAR layers have no zero weights or activations and stay dense, as do layers
    with more than 255 distinct non-zero weight values.
    """
    nodes = []
    for node in graph.nodes:
        if (isinstance(node, MatrixVector) and not node.xnor and node.in_dtype.name != "BIPOLAR"
                and node.weight_dtype.name != "BIPOLAR"
                and np.count_nonzero(node.weights == 0) >= threshold * node.weights.size):
            pe = node.pe if 1 <= node.pe <= MAX_PE else largest_divisor(node.out_features, DEFAULT_PE)
            layer = lossless_layer(node.weights, pe)
            if layer is not None:
                simd = node.simd if node.simd >= 1 else None
                node = sparse_node(node.name, node.in_shape, node.in_dtype, layer,
                                   thresholds=node.thresholds, simd=simd, acc_dtype=node.acc_dtype,
                                   source=node.weights).replace(inputs=node.inputs)
        nodes.append(node)
    return graph.replace(nodes=tuple(nodes))
