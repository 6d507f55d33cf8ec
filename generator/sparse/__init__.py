"""Deep Compression for the EIE-style sparse engine (DESIGN.md §6).

* :func:`prune` — magnitude pruning to a target sparsity;
* :func:`share_weights` — k-means weight sharing into a ``2**b`` fixed-point codebook;
* :func:`encode_columns` / :func:`decode_columns` — per-PE compressed columns;
* :func:`storage_report` — bits before/after, index overhead, Huffman estimate;
* :func:`compress` — the three steps; :func:`sparse_node` — an IR node from them;
* :func:`sparsify_graph` — ``--sparse auto``.
"""

from .compress import CompressedLayer, compress
from .encode import REL_BITS, ColumnEncoding, decode_columns, encode_columns
from .huffman import huffman_bits, huffman_lengths
from .prune import prune, sparsity_of
from .report import StorageReport, storage_report
from .share import SharedWeights, share_weights

__all__ = ["CompressedLayer", "compress", "REL_BITS", "ColumnEncoding", "decode_columns",
           "encode_columns", "huffman_bits", "huffman_lengths", "prune", "sparsity_of",
           "StorageReport", "storage_report", "SharedWeights", "share_weights",
           "sparse_node", "sparsify_graph"]


def sparse_node(*args, **kwargs):
    """See :func:`bitsmith.generator.sparse.node.sparse_node` (imported lazily: it needs the IR)."""
    from .node import sparse_node as build
    return build(*args, **kwargs)


def sparsify_graph(graph, threshold: float = 0.5):
    """See :func:`bitsmith.generator.sparse.node.sparsify_graph`."""
    from .node import sparsify_graph as run
    return run(graph, threshold)
