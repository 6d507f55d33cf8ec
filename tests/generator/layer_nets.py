"""Chains of every layer kind the ``layers`` work added, for the RTL and schedule tests.

* ``image``: a 3-channel first conv (SIMD across the window when folded fast), the
  ResNet stem's padded 3x3/2 max-pool, a ceil-mode average pool, a nearest upsample, a
  TruncAvgPool-style truncated pool, a global pool whose UINT10 sum feeds a dense layer
  directly (matrix inputs wider than 8 bits);
* ``sequence``: Conv1d, depthwise Conv1d, MaxPool1d (ceil mode), AvgPool1d, an upsample
  along the sequence, a per-position dense head.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType

from bitsmith.generator.ir import Graph, MatrixVector, Thresholds
from bitsmith.generator.ir.conv import Conv, GlobalAccPool, MaxPool
from bitsmith.generator.ir.pool import AvgPool
from bitsmith.generator.ir.resize import Upsample

DT = DataType


def _thresholds(rng, node_acc, channels):
    lo, hi = int(node_acc.min()), int(node_acc.max())
    mid, span = (lo + hi) // 2, max(2, (hi - lo) // 8)
    return Thresholds(values=np.sort(rng.integers(mid - span, mid + span, size=(channels, 3)), axis=1),
                      out_dtype=DT["UINT2"])


def _conv(rng, name, in_shape, in_dtype, oc, kernel, stride=(1, 1), pad=(0, 0, 0, 0), depthwise=False):
    ic = in_shape[2]
    w = rng.integers(-2, 2, size=(ic, *kernel, 1) if depthwise else (oc, *kernel, ic))
    acc = Conv.minimal_acc_dtype(w, DT["INT2"], in_dtype)
    return Conv(name=name, in_shape=in_shape, in_dtype=in_dtype, weights=w, weight_dtype=DT["INT2"],
                kernel=kernel, stride=stride, pad=pad, acc_dtype=acc, depthwise=depthwise,
                thresholds=_thresholds(rng, acc, w.shape[0]), pe=0, simd=1 if depthwise else 0)


def _dense(rng, name, in_shape, in_dtype, out):
    w = rng.integers(-2, 2, size=(out, in_shape[2]))
    return MatrixVector(name=name, in_shape=in_shape, in_dtype=in_dtype, weights=w, weight_dtype=DT["INT2"],
                        acc_dtype=MatrixVector.minimal_acc_dtype(w, DT["INT2"], in_dtype), pe=0, simd=0)


def chain(name, in_shape, in_dtype, makers) -> Graph:
    nodes, shape, dt = [], in_shape, in_dtype
    for make in makers:
        node = make(shape, dt)
        nodes.append(node)
        shape, dt = node.out_shape, node.out_dtype
    return Graph(name=name, in_shape=in_shape, in_dtype=in_dtype, nodes=tuple(nodes))


def image_net() -> Graph:
    rng = np.random.default_rng(31)
    u2 = DT["UINT2"]
    return chain("image", (10, 10, 3), u2, [
        lambda s, d: _conv(rng, "c0", s, d, 4, (3, 3), pad=(1, 1, 1, 1)),
        lambda s, d: MaxPool(name="p0", in_shape=s, in_dtype=d, kernel=(3, 3), stride=(2, 2), pad=(1, 1, 1, 1),
                             pe=0),
        lambda s, d: AvgPool(name="a0", in_shape=s, in_dtype=d, kernel=(2, 2), stride=(2, 2), ceil_mode=True,
                             pe=0),
        lambda s, d: Upsample(name="u0", in_shape=s, in_dtype=d, scale=(2, 2), pe=0),
        lambda s, d: AvgPool(name="a1", in_shape=s, in_dtype=d, kernel=(2, 2), stride=(1, 1), shift=2,
                             rounding="ROUND", trunc_dtype=DT["UINT5"], pe=0),
        lambda s, d: GlobalAccPool(name="gp", in_shape=s, in_dtype=d, pe=0),
        lambda s, d: _dense(rng, "fc", s, d, 5),
    ])


def sequence_net() -> Graph:
    rng = np.random.default_rng(32)
    u2 = DT["UINT2"]
    return chain("sequence", (16, 1, 2), u2, [
        lambda s, d: _conv(rng, "k0", s, d, 4, (5, 1), pad=(2, 0, 2, 0)),
        lambda s, d: _conv(rng, "k1", s, d, 4, (3, 1), pad=(1, 0, 1, 0), depthwise=True),
        lambda s, d: MaxPool(name="m0", in_shape=s, in_dtype=d, kernel=(3, 1), stride=(2, 1), ceil_mode=True, pe=0),
        lambda s, d: AvgPool(name="a0", in_shape=s, in_dtype=d, kernel=(2, 1), stride=(1, 1), pad=(1, 0, 0, 0),
                             pe=0),
        lambda s, d: Upsample(name="u0", in_shape=s, in_dtype=d, scale=(2, 1), pe=0),
        lambda s, d: _dense(rng, "fc", s, d, 3),           # per position: a pointwise head
    ])


NETS = {"image": image_net, "sequence": sequence_net}


def inputs(graph, frames, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4, size=(frames,) + tuple(graph.in_shape))
