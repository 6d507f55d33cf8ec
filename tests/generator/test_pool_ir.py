"""Pooling / upsampling IR: checks with pinned messages, golden functions vs nested loops,
qonnx's Trunc and PyTorch, datatypes, serialisation and cycle formulas."""

from __future__ import annotations

import re

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator.errors import FoldingError, ModelError
from bitsmith.generator.estimate import node_cycles
from bitsmith.generator.ir import Graph, MatrixVector
from bitsmith.generator.ir.conv import Conv, GlobalAccPool, MaxPool
from bitsmith.generator.ir.pool import ROUNDING, AvgPool, divide_rounded, trunc_bounds
from bitsmith.generator.ir.resize import Upsample
from bitsmith.generator.ir.serialize import dump_graph, load_graph
from bitsmith.sim.golden import run_graph, run_node

DT = DataType


def values(rng, dt, shape):
    if dt.name == "BIPOLAR":
        return rng.choice([-1, 1], size=shape)
    return rng.integers(int(dt.min()), int(dt.max()) + 1, size=shape)


def naive_pool(node, x, reduce):
    """Direct loops over the padded-and-overhanging windows, only input pixels counted."""
    n, h, w, c = x.shape
    oh, ow, _ = node.out_shape
    (kh, kw), (sh, sw) = node.kernel, node.stride
    pt, pl = node.pad[0], node.pad[1]
    out = np.empty((n, oh, ow, c), dtype=np.int64)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    vals = [x[b, i * sh - pt + di, j * sw - pl + dj, ch] for di in range(kh) for dj in range(kw)
                            if 0 <= i * sh - pt + di < h and 0 <= j * sw - pl + dj < w]
                    out[b, i, j, ch] = reduce(vals)
    return out


POOL_CASES = [
    dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1, 1, 1)),
    dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1, 1, 1), ceil_mode=True),
    dict(kernel=(2, 2), stride=(2, 2), ceil_mode=True),
    dict(kernel=(3, 2), stride=(1, 3), pad=(2, 0, 1, 1), ceil_mode=True),
    dict(kernel=(3, 1), stride=(2, 1), pad=(1, 0, 0, 0)),
]


@pytest.mark.parametrize("cfg", POOL_CASES)
@pytest.mark.parametrize("dt", ["INT4", "BIPOLAR", "UINT2"])
def test_maxpool_golden_equals_nested_loops(cfg, dt):
    rng = np.random.default_rng(1)
    node = MaxPool(name="p", in_shape=(7, 6, 3), in_dtype=DT[dt], **cfg)
    node.check()
    x = values(rng, DT[dt], (2, 7, 6, 3))
    np.testing.assert_array_equal(run_node(node, x), naive_pool(node, x, max))


@pytest.mark.parametrize("cfg", POOL_CASES)
@pytest.mark.parametrize("dt", ["INT4", "UINT2"])
def test_avgpool_golden_is_the_window_sum(cfg, dt):
    rng = np.random.default_rng(2)
    node = AvgPool(name="a", in_shape=(7, 6, 3), in_dtype=DT[dt], **cfg)
    node.check()
    x = values(rng, DT[dt], (2, 7, 6, 3))
    y = run_node(node, x)
    np.testing.assert_array_equal(y, naive_pool(node, x, sum))
    lo, hi = node.sum_range
    assert node.out_dtype.min() <= lo and hi <= node.out_dtype.max()


def test_avgpool_dtypes():
    def out(dt, kernel, **kw):
        return AvgPool(name="a", in_shape=(4, 4, 1), in_dtype=DT[dt], kernel=kernel, **kw).out_dtype.name
    assert out("UINT4", (2, 2)) == "UINT6"          # 4 * 15 = 60
    assert out("INT4", (3, 3)) == "INT8"            # 9 * [-8, 7] = [-72, 63]
    assert out("BIPOLAR", (2, 2)) == "INT4"         # [-4, 4]
    assert out("UINT8", (2, 2), shift=2) == "UINT8"  # 1020 >> 2 = 255
    assert out("UINT8", (2, 2), shift=2, rounding="CEIL") == "UINT8"
    assert out("UINT8", (3, 3), shift=3, rounding="ROUND") == "UINT9"   # 2295 / 8 = 286.9 -> 287
    assert out("INT8", (2, 2), shift=1, trunc_dtype=DT["INT4"]) == "INT4"


@pytest.mark.parametrize("rounding", ROUNDING)
@pytest.mark.parametrize("trunc, narrow", [(None, False), ("INT4", False), ("INT4", True), ("UINT3", True)])
def test_trunc_equals_qonnx(rounding, trunc, narrow):
    """The integer Trunc equals qonnx's own trunc_v2 (float) on the window sums."""
    from qonnx.custom_op.general.trunc import trunc_v2

    rng = np.random.default_rng(3)
    node = AvgPool(name="a", in_shape=(6, 6, 2), in_dtype=DT["INT4"], kernel=(2, 2), stride=(2, 2), shift=2,
                   rounding=rounding, trunc_dtype=DT[trunc] if trunc else None, narrow=narrow)
    node.check()
    x = values(rng, DT["INT4"], (8, 6, 6, 2))
    sums = naive_pool(node.replace(shift=0, trunc_dtype=None, narrow=False), x, sum).astype(np.float64)
    dt = DT[trunc] if trunc else DT["INT32"]
    a = np.array
    want = trunc_v2(sums, a(1.0), a(0.0), a(8), a(int(narrow)), a(int(dt.signed())), a(4.0), a(dt.bitwidth()),
                    rounding) / 4.0
    np.testing.assert_array_equal(run_node(node, x), want)
    lo, hi = node.out_range
    assert want.min() >= lo and want.max() <= hi


def test_divide_rounded_ties():
    v = np.array([-6, -5, -3, -2, 2, 3, 5, 6])            # /4: -1.5 -1.25 -.75 -.5 .5 .75 1.25 1.5
    table = {"ROUND": [-2, -1, -1, 0, 0, 1, 1, 2], "CEIL": [-1, -1, 0, 0, 1, 1, 2, 2],
             "FLOOR": [-2, -2, -1, -1, 0, 0, 1, 1], "UP": [-2, -2, -1, -1, 1, 1, 2, 2],
             "DOWN": [-1, -1, 0, 0, 0, 0, 1, 1], "HALF_UP": [-2, -1, -1, -1, 1, 1, 1, 2],
             "HALF_DOWN": [-1, -1, -1, 0, 0, 1, 1, 1]}
    for mode, want in table.items():
        assert divide_rounded(v * 2, 3, mode).tolist() == want, mode
    assert trunc_bounds(DT["INT4"], True) == (-7, 7) and trunc_bounds(DT["UINT4"], True) == (0, 14)


def test_upsample_golden_shape_and_values():
    node = Upsample(name="u", in_shape=(2, 3, 2), in_dtype=DT["INT4"], scale=(2, 3))
    node.check()
    assert node.out_shape == (4, 9, 2)
    x = np.arange(12).reshape(1, 2, 3, 2)
    y = run_node(node, x)
    for i in range(4):
        for j in range(9):
            np.testing.assert_array_equal(y[0, i, j], x[0, i // 2, j // 3])


def test_new_nodes_serialise():
    rng = np.random.default_rng(4)
    nodes = (MaxPool(name="p", in_shape=(6, 6, 2), in_dtype=DT["INT4"], kernel=(3, 3), stride=(2, 2),
                     pad=(1, 1, 1, 1), ceil_mode=True, pe=2),
             AvgPool(name="a", in_shape=(4, 4, 2), in_dtype=DT["INT4"], kernel=(2, 2), stride=(1, 1), shift=1,
                     rounding="HALF_UP", trunc_dtype=DT["INT4"], narrow=True),
             Upsample(name="u", in_shape=(3, 3, 2), in_dtype=DT["INT4"], scale=(2, 1), pe=2))
    graph = Graph(name="g", in_shape=(6, 6, 2), in_dtype=DT["INT4"], nodes=nodes)
    graph.check()
    again = load_graph(dump_graph(graph))
    again.check()
    assert [type(n) for n in again.nodes] == [MaxPool, AvgPool, Upsample]
    assert again.nodes[1].trunc_dtype == DT["INT4"] and again.nodes[0].ceil_mode is True
    x = values(rng, DT["INT4"], (2, 6, 6, 2))
    np.testing.assert_array_equal(run_graph(again, x), run_graph(graph, x))


def test_cycle_formulas():
    pool = MaxPool(name="p", in_shape=(8, 8, 4), in_dtype=DT["INT4"], kernel=(3, 3), stride=(2, 2),
                   pad=(1, 1, 1, 1), pe=2)
    assert pool.out_shape == (4, 4, 4)
    assert node_cycles(pool) == max(64, 16 * 9) * 2
    avg = AvgPool(name="a", in_shape=(8, 8, 4), in_dtype=DT["INT4"], kernel=(2, 2), stride=(2, 2), pe=4)
    assert node_cycles(avg) == 64
    one = AvgPool(name="a", in_shape=(8, 8, 4), in_dtype=DT["INT4"], kernel=(1, 1), stride=(1, 1), shift=1)
    assert node_cycles(one) == 64 * 4
    up = Upsample(name="u", in_shape=(4, 4, 4), in_dtype=DT["INT4"], scale=(2, 3), pe=2)
    assert node_cycles(up) == 8 * 12 * 2


POOL_ERRORS = [
    (MaxPool, dict(pad=(3, 0, 0, 0)), ModelError,
     "layer 'p': padding (3, 0, 0, 0) must be smaller than the kernel (3, 3) on each side"),
    (MaxPool, dict(pad=(1, 1)), ModelError,
     "layer 'p': pad must be 4 non-negative integers (top, left, bottom, right), not (1, 1)"),
    (MaxPool, dict(ceil_mode=1), ModelError, "layer 'p': ceil_mode must be true or false, not 1"),
    (MaxPool, dict(pe=3), FoldingError, "layer 'p': PE=3 does not divide channels=4"),
    (MaxPool, dict(kernel=(7, 3)), ModelError, "layer 'p': kernel (7, 3) is larger than the padded input (5, 6)"),
    (AvgPool, dict(in_dtype=DT["BIPOLAR"], pad=(1, 1, 1, 1)), ModelError,
     "layer 'p': zero padding (or ceil_mode overhang) needs an input datatype that contains 0, not BIPOLAR "
     "(binarize to BINARY first or remove the padding)"),
    (AvgPool, dict(in_dtype=DT["BIPOLAR"], stride=(2, 2), ceil_mode=True), ModelError,
     "layer 'p': zero padding (or ceil_mode overhang) needs an input datatype that contains 0, not BIPOLAR "
     "(binarize to BINARY first or remove the padding)"),
    (AvgPool, dict(shift=-1), ModelError, "layer 'p': shift must be a non-negative integer, not -1"),
    (AvgPool, dict(rounding="floor"), ModelError,
     "layer 'p': rounding must be one of ROUND, HALF_EVEN, CEIL, FLOOR, UP, DOWN, HALF_UP, HALF_DOWN, "
     "not 'floor'"),
    (AvgPool, dict(trunc_dtype=DT["BIPOLAR"]), ModelError,
     "layer 'p': trunc_dtype must be an INTn or UINTn datatype, not 'BIPOLAR'"),
    (AvgPool, dict(narrow=True), ModelError, "layer 'p': narrow needs a trunc_dtype"),
    (AvgPool, dict(narrow="yes", trunc_dtype=DT["INT4"]), ModelError,
     "layer 'p': narrow must be true or false, not 'yes'"),
    (AvgPool, dict(in_dtype=DT["INT32"]), ModelError,
     "layer 'p': the window sum needs 36 bits, more than the 32 a stream element holds"),
]


@pytest.mark.parametrize("cls, cfg, exc, msg", POOL_ERRORS)
def test_pool_check_errors(cls, cfg, exc, msg):
    args = dict(name="p", in_shape=(5, 6, 4), in_dtype=DT["INT4"], kernel=(3, 3), stride=(1, 1)) | cfg
    node = cls(**args)
    with pytest.raises(exc, match=f"^{re.escape(msg)}$"):
        node.check()


@pytest.mark.parametrize("cfg, exc, msg", [
    (dict(scale=(0, 2)), ModelError, "layer 'u': scale must be >= 1, not (0, 2)"),
    (dict(scale=2), ModelError, "layer 'u': scale must be a pair of integers, not 2"),
    (dict(pe=3), FoldingError, "layer 'u': PE=3 does not divide channels=4"),
])
def test_upsample_check_errors(cfg, exc, msg):
    node = Upsample(name="u", in_shape=(3, 3, 4), in_dtype=DT["INT4"], **cfg)
    with pytest.raises(exc, match=f"^{re.escape(msg)}$"):
        node.check()


def test_matrix_inputs_up_to_16_bits():
    """A global pool's wide sum feeds a dense layer directly; wider is a ModelError naming the layer."""
    rng = np.random.default_rng(5)
    gp = GlobalAccPool(name="gp", in_shape=(8, 8, 4), in_dtype=DT["UINT4"])
    assert gp.out_dtype.name == "UINT10"
    w = rng.integers(-2, 2, size=(3, 4))
    fc = MatrixVector(name="fc", in_shape=(1, 1, 4), in_dtype=gp.out_dtype, weights=w, weight_dtype=DT["INT2"],
                      acc_dtype=MatrixVector.minimal_acc_dtype(w, DT["INT2"], gp.out_dtype))
    Graph(name="g", in_shape=(8, 8, 4), in_dtype=DT["UINT4"], nodes=(gp, fc)).check()
    wide = fc.replace(in_dtype=DT["UINT17"], acc_dtype=DT["INT32"])
    with pytest.raises(ModelError, match=r"^layer 'fc': input datatype UINT17 is wider than the 16 bits a "
                                         r"matrix layer multiplies; requantize it first \(a threshold layer\)$"):
        wide.check()
    with pytest.raises(ModelError, match=r"^layer 'fc': weight datatype INT9 is wider than 8 bits$"):
        fc.replace(weight_dtype=DT["INT9"]).check()
    cw = rng.integers(-2, 2, size=(2, 3, 3, 4))
    conv = Conv(name="c", in_shape=(4, 4, 4), in_dtype=DT["INT20"], weights=cw, weight_dtype=DT["INT2"],
                kernel=(3, 3), acc_dtype=DT["INT32"])
    with pytest.raises(ModelError, match=r"^layer 'c': input datatype INT20 is wider than the 16 bits"):
        conv.check()


# --- independent check against PyTorch ------------------------------------------------------------

@pytest.mark.train
def test_pools_and_upsample_equal_pytorch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(6)
    x = values(rng, DT["INT4"], (2, 9, 7, 3))
    t = torch.tensor(x.transpose(0, 3, 1, 2), dtype=torch.float64)

    def nhwc(y):
        return y.numpy().transpose(0, 2, 3, 1)

    for ceil in (False, True):
        node = MaxPool(name="p", in_shape=(9, 7, 3), in_dtype=DT["INT4"], kernel=(3, 3), stride=(2, 2),
                       pad=(1, 1, 1, 1), ceil_mode=ceil)
        np.testing.assert_array_equal(run_node(node, x), nhwc(F.max_pool2d(t, 3, 2, 1, ceil_mode=ceil)))
        avg = AvgPool(name="a", in_shape=(9, 7, 3), in_dtype=DT["INT4"], kernel=(3, 3), stride=(2, 2),
                      pad=(1, 1, 1, 1), ceil_mode=ceil)
        if not ceil:      # PyTorch clips ceil-mode windows before counting; the sum is what we keep
            np.testing.assert_array_equal(run_node(avg, x),
                                          nhwc(F.avg_pool2d(t, 3, 2, 1, count_include_pad=True) * 9))
    up = Upsample(name="u", in_shape=(9, 7, 3), in_dtype=DT["INT4"], scale=(2, 3))
    np.testing.assert_array_equal(run_node(up, x), nhwc(F.interpolate(t, scale_factor=(2, 3), mode="nearest")))
    # 1-D: (N, C, L) in PyTorch is (N, L, 1, C) here
    seq = values(rng, DT["INT4"], (2, 11, 1, 3))
    ts = torch.tensor(seq[:, :, 0, :].transpose(0, 2, 1), dtype=torch.float64)
    pool1 = MaxPool(name="p", in_shape=(11, 1, 3), in_dtype=DT["INT4"], kernel=(3, 1), stride=(2, 1),
                    pad=(1, 0, 1, 0), ceil_mode=True)
    np.testing.assert_array_equal(run_node(pool1, seq)[:, :, 0, :].transpose(0, 2, 1),
                                  F.max_pool1d(ts, 3, 2, 1, ceil_mode=True).numpy())
    w = rng.integers(-2, 2, size=(4, 3, 5))                         # PyTorch Conv1d (OC, IC, K)
    conv1 = Conv(name="c", in_shape=(11, 1, 3), in_dtype=DT["INT4"], weights=w.transpose(0, 2, 1)[:, :, None, :],
                 weight_dtype=DT["INT2"], kernel=(5, 1), stride=(2, 1), pad=(2, 0, 2, 0),
                 acc_dtype=DT["INT16"], simd=15)
    conv1.check()
    assert conv1.window_parallel
    np.testing.assert_array_equal(run_node(conv1, seq)[:, :, 0, :].transpose(0, 2, 1),
                                  F.conv1d(ts, torch.tensor(w, dtype=torch.float64), stride=2, padding=2).numpy())
