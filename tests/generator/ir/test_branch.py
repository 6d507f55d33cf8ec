"""Branching IR: Fork/Add/Concat checks, golden functions, Graph.check over a DAG, serialisation."""

from __future__ import annotations

import re

import numpy as np
import pytest
from qonnx.core.datatype import DataType as DT

from bitsmith.generator.errors import FoldingError, ModelError
from bitsmith.generator.ir import Add, Concat, FifoEdge, Fork, Graph, MultiThreshold, Thresholds
from bitsmith.generator.ir.conv import Conv
from bitsmith.generator.ir.serialize import dump_graph, load_graph
from bitsmith.sim.golden import run_graph, run_node


def conv(rng, name, shape, oc, inputs=(), xdt="UINT2", thresholds=True):
    w = rng.integers(-2, 2, size=(oc, 3, 3, shape[2]))
    th = Thresholds(values=np.sort(rng.integers(-4, 5, size=(oc, 3)), axis=1),
                    out_dtype=DT["UINT2"]) if thresholds else None
    return Conv(name=name, in_shape=shape, in_dtype=DT[xdt], inputs=inputs, weights=w,
                weight_dtype=DT["INT2"], kernel=(3, 3), pad=(1, 1, 1, 1),
                acc_dtype=Conv.minimal_acc_dtype(w, DT["INT2"], DT[xdt]), thresholds=th, pe=1, simd=1)


def residual_graph(rng, shape=(4, 4, 3)):
    fork = Fork(name="f", in_shape=shape, in_dtype=DT["UINT2"], inputs=("input",), pe=1)
    body = conv(rng, "c", shape, shape[2], inputs=("f",))
    add = Add(name="sum", in_shape=shape, in_dtype=body.out_dtype, inputs=("c", "f"),
              in_dtype_b=DT["UINT2"], pe=1)
    return Graph(name="g", in_shape=shape, in_dtype=DT["UINT2"], nodes=(fork, body, add))


def test_chain_nodes_get_their_predecessor_as_input():
    rng = np.random.default_rng(0)
    a = conv(rng, "a", (4, 4, 2), 2)
    b = conv(rng, "b", (4, 4, 2), 2)
    g = Graph(name="g", in_shape=(4, 4, 2), in_dtype=DT["UINT2"], nodes=(a, b))
    assert [n.inputs for n in g.nodes] == [("input",), ("a",)]
    assert g.producers("b") == ("a",) and g.consumers("a") == (g.nodes[1],)
    assert g.output_node is g.nodes[1] and g.out_shape == (4, 4, 2)


def test_residual_subgraph_golden_helpers_and_round_trip():
    rng = np.random.default_rng(1)
    g = residual_graph(rng)
    g.check()
    assert g.output_node.name == "sum" and [n.name for n in g.consumers("f")] == ["c", "sum"]
    assert g.node("sum").out_dtype.name == "UINT3"            # 3 + 3 = 6 -> UINT3
    x = rng.integers(0, 4, size=(3, 4, 4, 3))
    np.testing.assert_array_equal(run_graph(g, x), x + run_node(g.node("c"), x))
    g = g.replace(fifos=(FifoEdge(src="f", src_port="b", dst="sum", port="b", depth=9, elems=1,
                                  elem_bits=2, peak=9),))
    back = load_graph(dump_graph(g))
    assert [n.inputs for n in back.nodes] == [n.inputs for n in g.nodes]
    assert back.fifos == g.fifos and back.fifos[0].bits == 18
    assert g.replace(nodes=g.nodes).fifos == () and g.replace(name="h").fifos == g.fifos
    np.testing.assert_array_equal(run_graph(back, x), run_graph(g, x))


@pytest.mark.parametrize("adt, bdt, ka, kb, lo, hi, out", [
    ("UINT2", "UINT2", 1, 1, 0, 6, "UINT3"),
    ("INT4", "UINT2", 1, 1, -8, 10, "INT5"),
    ("UINT2", "UINT2", 2, -1, -3, 6, "INT4"),
    ("BIPOLAR", "BIPOLAR", 1, 1, -2, 2, "INT3"),
    ("BIPOLAR", "UINT3", 3, 1, -3, 10, "INT5"),
])
def test_add_range_is_proven(adt, bdt, ka, kb, lo, hi, out):
    node = Add(name="a", in_shape=(2, 2, 2), in_dtype=DT[adt], in_dtype_b=DT[bdt], scale_a=ka, scale_b=kb,
               inputs=("x", "y"))
    node.check()
    assert node.out_range == (lo, hi) and node.out_dtype.name == out
    rng = np.random.default_rng(2)
    pick = (lambda dt: rng.choice([-1, 1], size=(5, 2, 2, 2)) if dt == "BIPOLAR"
            else rng.integers(DT[dt].min(), DT[dt].max() + 1, size=(5, 2, 2, 2)))
    a, b = pick(adt), pick(bdt)
    y = run_node(node, (a, b))
    np.testing.assert_array_equal(y, ka * a + kb * b)
    assert y.min() >= lo and y.max() <= hi


def test_concat_and_fork():
    node = Concat(name="cat", in_shape=(3, 3, 2), in_dtype=DT["UINT2"], channels=(2, 4, 6), pe=2,
                  inputs=("a", "b", "c"))
    node.check()
    assert node.out_shape == (3, 3, 12) and node.in_shapes == ((3, 3, 2), (3, 3, 4), (3, 3, 6))
    xs = tuple(np.full((1, 3, 3, c), k) for k, c in enumerate((2, 4, 6)))
    assert run_node(node, xs)[0, 0, 0].tolist() == [0] * 2 + [1] * 4 + [2] * 6
    f = Fork(name="f", in_shape=(3, 3, 2), in_dtype=DT["UINT2"], outputs=3)
    f.check()
    assert run_node(f, xs[0]) is xs[0]


@pytest.mark.parametrize("node, exc, msg", [
    (Add(name="a", in_shape=(2, 2, 2), in_dtype=DT["UINT2"], in_dtype_b=DT["UINT2"], scale_a=0),
     ModelError, "layer 'a': scale_a must be a nonzero integer in -255..255, not 0"),
    (Add(name="a", in_shape=(2, 2, 2), in_dtype=DT["UINT2"], in_dtype_b=DT["UINT2"], scale_b=300),
     ModelError, "layer 'a': scale_b must be a nonzero integer in -255..255, not 300"),
    (Add(name="a", in_shape=(2, 2, 2), in_dtype=DT["UINT2"], in_dtype_b=None),
     ModelError, "layer 'a': the add needs the datatype of its second input, not None"),
    (Add(name="a", in_shape=(2, 2, 3), in_dtype=DT["UINT2"], in_dtype_b=DT["UINT2"], pe=2),
     FoldingError, "layer 'a': PE=2 does not divide channels=3"),
    (Concat(name="c", in_shape=(2, 2, 2), in_dtype=DT["UINT2"], channels=(2,)),
     ModelError, "layer 'c': a concat needs channels of two or more inputs as positive integers, not (2,)"),
    (Concat(name="c", in_shape=(2, 2, 2), in_dtype=DT["UINT2"], channels=(4, 2)),
     ModelError, "layer 'c': channels[0]=4 differs from the input shape (2, 2, 2)"),
    (Concat(name="c", in_shape=(2, 2, 2), in_dtype=DT["UINT2"], channels=(2, 3), pe=2),
     FoldingError, "layer 'c': PE=2 does not divide channels of input 1=3"),
    (Fork(name="f", in_shape=(2, 2, 2), in_dtype=DT["UINT2"], outputs=1),
     ModelError, "layer 'f': a fork needs outputs >= 2, not 1"),
])
def test_node_errors(node, exc, msg):
    with pytest.raises(exc, match=f"^{re.escape(msg)}$"):
        node.check()


def graph_error(nodes, **kw):
    g = Graph(name="g", in_shape=(4, 4, 3), in_dtype=DT["UINT2"], nodes=tuple(nodes), **kw)
    with pytest.raises(ModelError) as info:
        g.check()
    return str(info.value)


def test_graph_check_errors():
    rng = np.random.default_rng(3)
    shape = (4, 4, 3)
    a = conv(rng, "a", shape, 3)
    b = conv(rng, "b", shape, 3, inputs=("a",))
    add = Add(name="s", in_shape=shape, in_dtype=DT["UINT2"], in_dtype_b=DT["UINT2"], inputs=("b", "a"))
    assert graph_error([a, b.replace(inputs=("zz",))]) == \
        "layer 'b' reads 'zz', which is neither a layer nor the graph input 'input'"
    assert graph_error([a.replace(inputs=("b",)), b]) == \
        "layer 'a' reads 'b', which is listed after it: the graph has a cycle (a -> b -> a)"
    assert graph_error([b.replace(inputs=("s",)), a.replace(inputs=("input",)),
                        add.replace(inputs=("a", "a"))]) == \
        "layer 'b' reads 's', which is listed after it: list the layers in topological order " \
        "(producers first)"
    assert graph_error([a, b, b.replace(name="c")]) == \
        "network 'g' must have exactly one output, not 2 (b, c)"
    assert graph_error([a, b.replace(name="a")]) == "layer name 'a' is used twice"
    assert graph_error([a.replace(name="input")]) == "layer name 'input' is the graph input's name"
    assert graph_error([a, add.replace(inputs=("a",))]) == "layer 's' takes 2 input(s), not 1 ('a')"
    assert graph_error([a, b, add.replace(in_dtype_b=DT["UINT3"])]) == \
        "layer 's': input 1 datatype UINT3 does not match 'a''s output UINT2"
    small = conv(rng, "p", (2, 2, 3), 3, inputs=("a",))
    assert graph_error([a, small]) == "layer 'p': input shape (2, 2, 3) does not match 'a''s output (4, 4, 3)"
    f = Fork(name="f", in_shape=shape, in_dtype=DT["UINT2"], outputs=3)
    assert graph_error([f, b.replace(inputs=("f",)), add.replace(inputs=("b", "f"))]) == \
        "layer 'f' forks to 3 consumers but 2 read it"


def test_tensor_read_twice_needs_a_fork_to_lower():
    rng = np.random.default_rng(4)
    g = residual_graph(rng)
    plain = g.replace(nodes=(g.nodes[1].replace(inputs=("input",)),
                             g.nodes[2].replace(inputs=("c", "input"))))
    plain.check()                                   # a valid DAG ...
    with pytest.raises(ModelError, match=r"^tensor 'input' feeds 2 layers \(c, sum\) without a fork; "
                                         r"run the insert_forks pass$"):
        plain.check_forks()                         # ... but not lowerable yet
