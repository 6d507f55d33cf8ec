"""Dataflow chaining and the AXI4-Stream top: two MVAUs, width conversion, tlast, Verilog ports."""

from __future__ import annotations

import re

import numpy as np
import pytest
from amaranth.back import verilog
from qonnx.core.datatype import DataType

from bitsmith.hw.compute.mvau import MVAU
from bitsmith.hw.compute.thresholds import Thresholding
from bitsmith.hw.plumbing.fifo import StreamFifo
from bitsmith.hw.top import AxiStreamTop, Dataflow, Stage
from bitsmith.sim.packing import pack, unpack
from tests.hw.util import PATTERNS, assert_rejects, port, run_stream, run_streams

DT = DataType
MATRIX = [(i, b) for i in PATTERNS for b in PATTERNS]


def binary_net(seed=0):
    """XNOR layer 8->6 (BIPOLAR out, PE=2) then XNOR layer 6->3 (raw popcount, SIMD=3)."""
    rng = np.random.default_rng(seed)
    w1, w2 = rng.choice([-1, 1], (6, 8)), rng.choice([-1, 1], (3, 6))
    t1 = rng.integers(2, 7, (6, 1))
    l1 = MVAU(weights=w1, weight_dtype=DT["BIPOLAR"], in_dtype=DT["BIPOLAR"], acc_dtype=DT["UINT4"],
              pe=2, simd=4, thresholds=t1, out_dtype=DT["BIPOLAR"], out_scale=2, out_bias=-1)
    l2 = MVAU(weights=w2, weight_dtype=DT["BIPOLAR"], in_dtype=DT["BIPOLAR"], acc_dtype=DT["UINT3"],
              pe=1, simd=3)
    stages = [Stage(l1, "fc0", 1, 4, 1, 2, 4), Stage(l2, "fc1", 1, 3, 3, 1, 3)]

    def reference(x):
        a1 = (w1[None] == x[:, None]).sum(2)
        h = np.where(a1 >= t1[:, 0][None], 1, -1)
        return (w2[None] == h[:, None]).sum(2)
    return stages, reference


def axi_top(seed=0):
    stages, reference = binary_net(seed)
    top = AxiStreamTop(dataflow=Dataflow(stages), in_elem_bits=1, in_elems=4, out_elem_bits=3,
                       out_elems=1, out_words_per_frame=3)
    return top, reference


@pytest.mark.parametrize("idle,backpressure", MATRIX, ids=[f"{i}-{b}" for i, b in MATRIX])
def test_axi_top_two_mvaus(idle, backpressure):
    top, reference = axi_top()
    x = np.random.default_rng(5).choice([-1, 1], (6, 8))
    s = port(top.s_axis_tvalid, top.s_axis_tready, top.s_axis_tdata)
    m = port(top.m_axis_tvalid, top.m_axis_tready, top.m_axis_tdata)
    _, (cap,) = run_streams(top, [(s, pack(x, DT["BIPOLAR"], 4))], [(m, 18)], idle=idle,
                            backpressure=backpressure, seed=3, extras=[top.m_axis_tlast])
    got = unpack(cap.words, DT["UINT3"], 1).reshape(6, 3)
    expected = reference(x)
    for f in range(6):
        assert got[f].tolist() == expected[f].tolist(), f"frame {f}"
    assert [e[0] for e in cap.extras] == [0, 0, 1] * 6


def test_axi_top_ignores_tdata_padding():
    top, reference = axi_top()
    x = np.random.default_rng(6).choice([-1, 1], (2, 8))
    words = [w | 0xF0 for w in pack(x, DT["BIPOLAR"], 4)]
    s = port(top.s_axis_tvalid, top.s_axis_tready, top.s_axis_tdata)
    m = port(top.m_axis_tvalid, top.m_axis_tready, top.m_axis_tdata)
    _, (cap,) = run_streams(top, [(s, words)], [(m, 6)])
    assert cap.words == reference(x).reshape(-1).tolist()


def test_axi_top_verilog_ports():
    top, _ = axi_top()
    text = verilog.convert(top, name="bitsmith_top")
    header = re.search(r"module bitsmith_top\((.*?)\);", text, re.S).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted(
        ["clk", "rst", "s_axis_tdata", "s_axis_tvalid", "s_axis_tready",
         "m_axis_tdata", "m_axis_tvalid", "m_axis_tready", "m_axis_tlast"])
    for decl in ["input clk", "input rst", "input [7:0] s_axis_tdata", "input s_axis_tvalid",
                 "output s_axis_tready", "output [7:0] m_axis_tdata", "output m_axis_tvalid",
                 "input m_axis_tready", "output m_axis_tlast"]:
        assert re.search(rf"^\s*{re.escape(decl)};", text, re.M), decl


def test_dataflow_three_kinds_of_stage():
    """INT MVAU (raw acc, PE=2) -> Thresholding (PE=3) -> MVAU: converters 2->3 and 3->2."""
    rng = np.random.default_rng(11)
    w1 = rng.integers(-2, 2, (6, 4))
    w2 = rng.integers(-2, 2, (2, 6))
    t = np.sort(rng.integers(-6, 7, (6, 3)), axis=1)
    l1 = MVAU(weights=w1, weight_dtype=DT["INT2"], in_dtype=DT["UINT2"], acc_dtype=DT["INT6"], pe=2, simd=2)
    act = Thresholding(thresholds=t, in_dtype=DT["INT6"], out_dtype=DT["UINT2"], channels=6, pe=3)
    l2 = MVAU(weights=w2, weight_dtype=DT["INT2"], in_dtype=DT["UINT2"], acc_dtype=DT["INT7"], pe=2, simd=2)
    df = Dataflow([Stage(l1, "fc0", 2, 2, 6, 2, 3), Stage(act, "act", 6, 3, 2, 3, 3),
                   Stage(l2, "fc1", 2, 2, 7, 2, 5)])
    x = rng.integers(0, 4, (7, 4))
    _, cap = run_stream(df, pack(x, DT["UINT2"], 2), 7, idle="random", backpressure="random", seed=2)
    h = (x @ w1.T)
    h = (h[:, :, None] >= t[None]).sum(2)
    expected = h @ w2.T
    assert unpack(cap.words, DT["INT7"], 2).reshape(7, 2).tolist() == expected.tolist()


def test_dataflow_inserts_converters_and_fifos():
    stages, _ = binary_net()
    df = Dataflow(stages)
    from amaranth.hdl import Fragment
    frag = Fragment.get(df, None)
    names = [name for _, name, _ in frag.subfragments]
    assert names == ["fc0", "fc1", "fc0_to_fc1", "fc0_fifo", "fc1_fifo"]


def fifo_stage(name="a", bits=4, elems=2, depth=3, **kw):
    args = dict(component=StreamFifo(width=bits * elems, depth=2), name=name, in_elem_bits=bits,
                in_elems=elems, out_elem_bits=bits, out_elems=elems, fifo_depth=depth)
    args.update(kw)
    return Stage(**args)


@pytest.mark.parametrize("factory,error,message", [
    (lambda: fifo_stage(component=object()), TypeError, "component must be a wiring.Component, not "),
    (lambda: fifo_stage(name="a b"), ValueError, "name must be a Python identifier other than 'input' and 'output', not 'a b'"),
    (lambda: fifo_stage(depth=2), ValueError, "fifo_depth must be an integer >= 3, not 2"),
    (lambda: fifo_stage(in_elems=3), ValueError, "stage 'a': port 'i' must have 3*4 = 12 payload bits, not 8"),
    (lambda: fifo_stage(out_elem_bits=0), ValueError, "out_elem_bits must be a positive integer, not 0"),
    (lambda: Dataflow([]), ValueError, "stages must not be empty"),
    (lambda: Dataflow([fifo_stage(), fifo_stage()]), ValueError, "stage name 'a' is used twice"),
    (lambda: Dataflow([fifo_stage(), fifo_stage("b", bits=2, elems=4)]), ValueError,
     "edge a.o -> b.i: stage 'b' takes 2-bit elements but stage 'a' produces 4-bit elements"),
    (lambda: AxiStreamTop(dataflow=Dataflow([fifo_stage()]), in_elem_bits=4, in_elems=3, out_elem_bits=4,
                          out_elems=2, out_words_per_frame=1), ValueError,
     "dataflow port 'i' must have 12 payload bits, not 8"),
    (lambda: AxiStreamTop(dataflow=Dataflow([fifo_stage()]), in_elem_bits=4, in_elems=2, out_elem_bits=4,
                          out_elems=2, out_words_per_frame=0), ValueError,
     "out_words_per_frame must be a positive integer, not 0"),
])
def test_top_rejects(factory, error, message):
    if message.endswith("not "):
        with pytest.raises(error, match=f"^{re.escape(message)}"):
            factory()
    else:
        assert_rejects(factory, error, message)


def test_axi_top_steady_state_cycles():
    """Both layers take (MH/PE)*(MW/SIMD) = 6 cycles per vector: the chain runs at 6 cycles/frame."""
    top, reference = axi_top()
    frames = 12
    x = np.random.default_rng(8).choice([-1, 1], (frames, 8))
    s = port(top.s_axis_tvalid, top.s_axis_tready, top.s_axis_tdata)
    m = port(top.m_axis_tvalid, top.m_axis_tready, top.m_axis_tdata)
    (src,), (cap,) = run_streams(top, [(s, pack(x, DT["BIPOLAR"], 4))], [(m, 3 * frames)])
    assert cap.words == reference(x).reshape(-1).tolist()
    firsts = cap.words and cap.cycles[::3]
    assert np.diff(firsts).tolist() == [6] * (frames - 1)
    # the s_axis register slice takes the second frame's 2 words early; then 6 per frame
    assert np.diff(src[::2]).tolist()[1:] == [6] * (frames - 2)


def residual_netlist(depth):
    """input -> Duplicate -> (Thresholding | FIFO) -> Add: y = t(x) + x, as a Dataflow netlist."""
    from bitsmith.hw.plumbing.add import Add
    from bitsmith.hw.plumbing.duplicate import Duplicate
    from bitsmith.hw.top import Edge, INPUT, OUTPUT
    rng = np.random.default_rng(12)
    t = np.sort(rng.integers(0, 4, (4, 3)), axis=1)
    dup = Stage(Duplicate(width=4, outputs=2), "fork", 2, 2, 2, 2, out_ports=("a", "b"))
    act = Stage(Thresholding(thresholds=t, in_dtype=DT["UINT2"], out_dtype=DT["UINT2"], channels=4, pe=1),
                "act", 2, 1, 2, 1)
    add = Stage(Add(a_dtype=DT["UINT2"], b_dtype=DT["UINT2"], out_dtype=DT["UINT3"], pe=2), "sum",
                (2, 2), 2, 3, 2, in_ports=("a", "b"))
    edges = [Edge(INPUT, "fork"), Edge("fork", "act", src_port="a"), Edge("act", "sum", dst_port="a"),
             Edge("fork", "sum", src_port="b", dst_port="b", depth=depth), Edge("sum", OUTPUT)]
    return [dup, act, add], edges, t


def test_dataflow_netlist_fork_and_join():
    stages, edges, t = residual_netlist(depth=6)
    df = Dataflow(stages, edges)
    assert (df.in_elems, df.out_elems, df.order) == (2, 2, ["fork", "act", "sum"])
    x = np.random.default_rng(13).integers(0, 4, (10, 4))
    _, cap = run_stream(df, pack(x, DT["UINT2"], 2), 20, idle="random", backpressure="random", seed=5)
    want = (x[:, :, None] >= t[None]).sum(2) + x
    assert unpack(cap.words, DT["UINT3"], 2).reshape(10, 4).tolist() == want.tolist()
    from amaranth.hdl import Fragment
    names = sorted(name for _, name, _ in Fragment.get(df, None).subfragments)
    assert names == ["act", "act_fifo", "act_to_sum", "fork", "fork_a_fifo", "fork_a_to_act",
                     "fork_b_fifo", "sum", "sum_fifo"]


def silenced(stages):
    """The stages of a netlist that is rejected: never elaborated, by design."""
    for s in stages:
        s.component._MustUse__silence = True
    return stages


@pytest.mark.parametrize("change, message", [
    (lambda s, e: (s, e[:-1]), "stage 'sum': output port 'o' is on no edge"),
    (lambda s, e: (s, e[1:]), "stage 'fork': input port 'i' is on no edge"),
    (lambda s, e: (s, e + [e[1]]), "edge fork.a -> act.i: port fork.a is on two edges"),
    (lambda s, e: (s, [e[0], e[1].__class__("act", "fork", dst_port="i")] + e[2:]),
     "edge act.o -> fork.i: port fork.i is on two edges"),
    (lambda s, e: (s, e[:1] + [e[1].__class__("fork", "nope", src_port="a")] + e[2:]),
     "edge fork.a -> nope.i: no stage named 'nope'"),
    (lambda s, e: (s, e[:1] + [e[1].__class__("fork", "act", src_port="z")] + e[2:]),
     "edge fork.z -> act.i: stage 'fork' has no output port 'z'"),
])
def test_dataflow_netlist_rejects(change, message):
    stages, edges, _ = residual_netlist(depth=6)
    silenced(stages)
    stages, edges = change(stages, list(edges))
    assert_rejects(lambda: Dataflow(stages, edges), ValueError, message)


def test_dataflow_netlist_rejects_a_cycle():
    from bitsmith.hw.plumbing.concat import Concat
    from bitsmith.hw.top import Edge, INPUT, OUTPUT
    stages, _, _ = residual_netlist(depth=6)
    cat = Stage(Concat(width=4, words=(1, 1)), "cat", 2, 2, 2, 2, in_ports=("i0", "i1"))
    silenced(stages + [cat])
    edges = [Edge(INPUT, "cat", dst_port="i0"), Edge("act", "cat", dst_port="i1"), Edge("cat", "fork"),
             Edge("fork", "act", src_port="a"), Edge("fork", OUTPUT, src_port="b")]
    assert_rejects(lambda: Dataflow([stages[0], stages[1], cat], edges), ValueError,
                   "the stages ['act', 'cat', 'fork'] form a cycle")
