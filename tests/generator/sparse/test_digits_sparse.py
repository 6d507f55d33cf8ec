"""The pruned digits MLP example: ~90 % zeros, 4-bit codebooks, accuracy within 1 point."""

import numpy as np

from bitsmith.generator.examples.digits_sparse.train import HERE, load_split
from bitsmith.generator.frontend.native import load_native
from bitsmith.generator.ir.sparse import SparseMatrixVector
from bitsmith.sim.golden import run_graph


def accuracy(name):
    _, x, _, y = load_split()
    graph = load_native(HERE / name)
    return graph, float((run_graph(graph, x.reshape(-1, 1, 1, 64)).reshape(len(x), -1).argmax(1) == y).mean())


def test_pruned_digits_within_one_point_of_dense():
    dense, acc_dense = accuracy("digits_dense.yaml")
    sparse, acc_sparse = accuracy("digits_sparse.yaml")
    assert all(isinstance(n, SparseMatrixVector) and n.codebook_bits == 4 for n in sparse.nodes)
    weights = [n.dense_weights() for n in sparse.nodes]
    zeros = sum(int(np.count_nonzero(w == 0)) for w in weights) / sum(w.size for w in weights)
    assert 0.89 <= zeros <= 0.91
    assert all(np.unique(w[w != 0]).size <= 15 for w in weights)
    assert acc_dense >= 0.95 and acc_dense - acc_sparse <= 0.01
