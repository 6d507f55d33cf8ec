"""Counterexamples the property tests found (shrunk by hypothesis), kept as explicit cases.

1. Negative threshold outputs narrower than the output datatype came out zero-extended:
   ``(y * out_scale + out_bias)[:out_bits]`` sliced a signed value narrower than
   ``out_bits`` (one threshold, ``out_scale=-1``: ``-1`` in INT4 came out as 7). Fixed in
   ``hw/compute/threshold_unit.py`` (the code goes through a signal of ``out_bits``, which
   sign-extends). Affects stand-alone thresholds, MVAU, VVAU and the sparse engine.
2. A reset in the middle of a vector left partial sums in the sparse engine's accumulator
   memory (see ``test_sparse_engine_reset_in_the_middle_of_a_vector``).
"""

from __future__ import annotations

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator.ir import Graph, MatrixVector, MultiThreshold, Thresholds
from tests.property.simulate import check_graph_in_amaranth, check_graph_reset_in_amaranth

DT = DataType


def graph_of(node) -> Graph:
    node.check()
    return Graph(name="reg", in_shape=node.in_shape, in_dtype=node.in_dtype, nodes=(node,))


def test_negative_scale_threshold_output_is_sign_extended():
    """The shrunk counterexample: BINARY in, thresholds [[0]], INT4 out, out_scale=-1."""
    node = MultiThreshold(name="t", in_shape=(1, 1, 1), in_dtype=DT["BINARY"],
                          thresholds=Thresholds(values=np.array([[0]]), out_dtype=DT["INT4"], out_scale=-1),
                          pe=1)
    check_graph_in_amaranth(graph_of(node), np.array([0, 1]).reshape(2, 1, 1, 1))


@pytest.mark.parametrize("scale, bias, out", [(1, -1, "INT8"), (-1, 0, "INT3"), (2, -3, "INT6"),
                                              (-1, 2, "INT4")])
def test_mvau_threshold_outputs_below_zero_in_a_wide_datatype(scale, bias, out):
    rng = np.random.default_rng(0)
    w = rng.integers(-2, 2, (4, 6))
    node = MatrixVector(name="fc", in_shape=(1, 1, 6), in_dtype=DT["UINT2"], weights=w,
                        weight_dtype=DT["INT2"], acc_dtype=DT["INT6"],
                        thresholds=Thresholds(values=np.array([[-1]]), out_dtype=DT[out], out_scale=scale,
                                              out_bias=bias), pe=2, simd=3)
    check_graph_in_amaranth(graph_of(node), rng.integers(0, 4, (6, 1, 1, 6)))


def sparse_graph(seed: int = 0) -> Graph:
    from bitsmith.generator.sparse.node import lossless_layer, sparse_node
    rng = np.random.default_rng(seed)
    w = rng.integers(-3, 4, (8, 6)) * (rng.random((8, 6)) < 0.5)
    node = sparse_node("sp", (1, 1, 6), DT["UINT3"], lossless_layer(w, 2), simd=6)
    return Graph(name="sp", in_shape=(1, 1, 6), in_dtype=DT["UINT3"], nodes=(node,))


@pytest.mark.parametrize("reset_after", [1, 2, 3])
@pytest.mark.parametrize("delay", [3, 5, 8])
def test_sparse_engine_reset_in_the_middle_of_a_vector(reset_after, delay):
    """2. The sparse engine kept the partial sums of a vector cut short by a reset in its
    accumulator memory (a memory is not reset) and added them to a later vector in the same
    bank. Found by the Verilator reset test on the digits_sparse example; fixed in
    ``hw/sparse/pe.py`` (after a reset each PE clears its accumulators before taking a token)."""
    graph = sparse_graph()
    x = np.random.default_rng(1).integers(1, 8, (6, 1, 1, 6))      # no zero: every column works
    check_graph_reset_in_amaranth(graph, x, reset_after, delay=delay)
