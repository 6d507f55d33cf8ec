"""Accuracy and storage of the dense vs the pruned-and-shared digits MLP.

Run ``python -m bitsmith.generator.examples.digits_sparse.report``: golden-model (integer)
accuracy of both networks on the test split, and per-layer storage of the sparse one
(``bitsmith.generator.sparse.storage_report``) against the dense INT8 matrices.
"""

from __future__ import annotations

from bitsmith.generator.frontend.native import load_native
from bitsmith.generator.sparse import ColumnEncoding, storage_report
from bitsmith.sim.golden import run_graph

from .train import HERE, load_split


def main() -> None:
    _, x_te, _, y_te = load_split()
    x = x_te.reshape(-1, 1, 1, 64)
    for variant in ("dense", "sparse"):
        graph = load_native(HERE / f"digits_{variant}.yaml")
        labels = run_graph(graph, x).reshape(len(x), -1).argmax(axis=1)
        print(f"{variant}: test accuracy {(labels == y_te).mean():.4f} ({len(y_te)} images)")
    graph = load_native(HERE / "digits_sparse.yaml")
    dense_bits = sparse_bits = huffman = 0
    for node in graph.nodes:
        enc = ColumnEncoding(node.entries, node.col_ptr, node.out_features)
        r = storage_report(enc, node.codebook, dense_weight_bits=8,
                           codebook_value_bits=node.weight_dtype.bitwidth())
        dense_bits, sparse_bits, huffman = dense_bits + r.dense_bits, sparse_bits + r.sparse_bits, \
            huffman + r.huffman_bits
        print(f"{node.name}: {r.nonzeros} non-zeros + {r.padding_entries} padding, {r.dense_bits} -> "
              f"{r.sparse_bits} bits ({r.compression:.1f}x; index overhead {r.index_overhead:.2f} "
              f"bits per code bit), Huffman {r.huffman_bits} bits ({r.huffman_compression:.1f}x)")
    print(f"total: {dense_bits} -> {sparse_bits} bits ({dense_bits / sparse_bits:.1f}x), "
          f"Huffman {huffman} bits ({dense_bits / huffman:.1f}x)")


if __name__ == "__main__":
    main()
