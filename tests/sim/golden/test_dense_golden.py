"""Golden functions of the dense kinds against naive, independent references."""

from __future__ import annotations

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator.ir import LabelSelect, MatrixVector, MultiThreshold, Thresholds
from bitsmith.sim.golden import run_node


def naive_threshold(acc, t, scale, bias):
    out = np.zeros_like(acc)
    for idx in np.ndindex(acc.shape):
        c = idx[-1]
        row = t[c] if t.shape[0] > 1 else t[0]
        out[idx] = scale * sum(1 for v in row if acc[idx] >= v) + bias
    return out


@pytest.mark.parametrize("mw,mh", [(1, 1), (7, 3), (64, 10), (100, 9)])
def test_xnor_is_popcount_of_matches(mw, mh):
    rng = np.random.default_rng(mw * 31 + mh)
    w = rng.choice([-1, 1], (mh, mw))
    x = rng.choice([-1, 1], (50, 1, 1, mw))
    node = MatrixVector(name="m", in_shape=(1, 1, mw), in_dtype=DataType["BIPOLAR"], weights=w,
                        weight_dtype=DataType["BIPOLAR"], acc_dtype=DataType["UINT8"])
    got = run_node(node, x)
    # independent: count equal signs element by element
    expected = np.array([[[[sum(int(a == b) for a, b in zip(xv, wr)) for wr in w]]] for xv in x[:, 0, 0]])
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("wdt,xdt", [("INT2", "UINT2"), ("TERNARY", "INT8"), ("BIPOLAR", "INT4"),
                                     ("INT8", "BIPOLAR"), ("UINT3", "BINARY")])
def test_integer_mac_and_thresholds(wdt, xdt):
    wdt, xdt = DataType[wdt], DataType[xdt]
    rng = np.random.default_rng(3)
    mw, mh = 12, 5
    pick = (lambda dt, shape: rng.choice([-1, 1], shape)) 
    w = pick(wdt, (mh, mw)) if wdt.name == "BIPOLAR" else rng.integers(wdt.min(), wdt.max() + 1, (mh, mw))
    x = pick(xdt, (20, 2, 3, mw)) if xdt.name == "BIPOLAR" else rng.integers(xdt.min(), xdt.max() + 1, (20, 2, 3, mw))
    t = np.sort(rng.integers(-60, 60, (mh, 3)), axis=1)
    th = Thresholds(values=t, out_dtype=DataType["INT2"], out_scale=1, out_bias=-2)
    node = MatrixVector(name="m", in_shape=(2, 3, mw), in_dtype=xdt, weights=w, weight_dtype=wdt,
                        acc_dtype=MatrixVector.minimal_acc_dtype(w, wdt, xdt), thresholds=th)
    node.check()
    acc = np.einsum("nhwi,oi->nhwo", x, w)
    assert np.array_equal(run_node(node.replace(thresholds=None), x), acc)
    assert np.array_equal(run_node(node, x), naive_threshold(acc, t, 1, -2))


def test_standalone_thresholds_shared_row_and_bipolar_output():
    x = np.arange(-5, 5).reshape(1, 1, 2, 5)
    th = Thresholds(values=np.array([[0]]), out_dtype=DataType["BIPOLAR"], out_scale=2, out_bias=-1)
    node = MultiThreshold(name="t", in_shape=(1, 2, 5), in_dtype=DataType["INT4"], thresholds=th)
    assert np.array_equal(run_node(node, x), np.where(x >= 0, 1, -1))


def test_label_select_ties_go_to_lower_index():
    x = np.array([[3, 7, 7, 1, 7], [0, 0, 0, 0, 0], [-1, 5, 2, 5, -3]]).reshape(3, 1, 1, 5)
    node = LabelSelect(name="k", in_shape=(1, 1, 5), in_dtype=DataType["INT4"], k=3)
    got = run_node(node, x)[:, 0, 0, :]
    assert got.tolist() == [[1, 2, 4], [0, 1, 2], [1, 3, 2]]
