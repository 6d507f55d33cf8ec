"""LabelSelect: top-K indices, largest first, ties to the lower index, and its frame rate."""

from __future__ import annotations

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.hw.plumbing.label_select import LabelSelect
from bitsmith.sim.packing import pack
from tests.hw.util import PATTERNS, assert_rejects, run_stream

DT = DataType
MATRIX = [(i, b) for i in PATTERNS for b in PATTERNS]
CASES = {
    # name: (channels, in_dtype, k, pe)
    "c10-int4-k3-pe2": (10, "INT4", 3, 2),
    "c10-uint8-k1-pe1": (10, "UINT8", 1, 1),
    "c12-int2-k4-pe4": (12, "INT2", 4, 4),     # few values: many ties
    "c6-bipolar-k6-pe3": (6, "BIPOLAR", 6, 3),
    "c5-int8-k2-pe5": (5, "INT8", 2, 5),
    "c1-uint1-k1-pe1": (1, "UINT1", 1, 1),
    "c8-int3-k1-pe4": (8, "INT3", 1, 4),       # K=1 starts each frame at the minimum
    "c4-bipolar-k1-pe2": (4, "BIPOLAR", 1, 2),
    "c10-int5-k1-pe10": (10, "INT5", 1, 10),  # K=1: a tree of 10 -> 5 -> 3 -> 2 -> 1
    "c9-int2-k1-pe3": (9, "INT2", 1, 3),       # odd tree, many ties
}


def reference(x, k):
    """Indices of the k largest per row; a stable sort of -x keeps lower indices first on ties."""
    return np.argsort(-x, axis=1, kind="stable")[:, :k]


def frames_for(name, frames, seed):
    c, dt, k, pe = CASES[name]
    dt = DT[dt]
    rng = np.random.default_rng(seed)
    if dt.name == "BIPOLAR":
        x = rng.choice([-1, 1], size=(frames, c))
    else:
        x = rng.integers(int(dt.min()), int(dt.max()) + 1, size=(frames, c))
    if c > 3:
        x[0, 1] = x[0, 3] = x[0].max()  # a tie at the top
    if frames > 2:
        x[1] = -1 if dt.name == "BIPOLAR" else int(dt.min())  # all minimum: index 0 first
        x[2, -1] = 1 if dt.name == "BIPOLAR" else int(dt.max())  # the largest comes last
    return LabelSelect(channels=c, in_dtype=dt, k=k, pe=pe), x


@pytest.mark.parametrize("idle,backpressure", MATRIX, ids=[f"{i}-{b}" for i, b in MATRIX])
@pytest.mark.parametrize("name", CASES)
def test_label_select_matches_reference(name, idle, backpressure):
    dut, x = frames_for(name, 5, seed=len(name) + len(idle) + 3 * len(backpressure))
    _, cap = run_stream(dut, pack(x, dut.in_dtype, dut.pe), x.shape[0] * dut.k, idle=idle,
                        backpressure=backpressure, seed=len(idle + backpressure))
    got = np.array(cap.words).reshape(x.shape[0], dut.k)
    expected = reference(x, dut.k)
    for f in range(x.shape[0]):
        assert got[f].tolist() == expected[f].tolist(), f"frame {f}: values {x[f].tolist()}"


def test_label_select_ties_go_to_lower_index():
    dut = LabelSelect(channels=8, in_dtype=DT["INT4"], k=4, pe=2)
    x = np.array([[3, 7, 7, -1, 7, 3, 0, 3]])
    _, cap = run_stream(dut, pack(x, dut.in_dtype, 2), 4)
    assert cap.words == [1, 2, 4, 0]


@pytest.mark.parametrize("name", ["c10-int4-k3-pe2", "c12-int2-k4-pe4", "c10-uint8-k1-pe1",
                                  "c10-int5-k1-pe10", "c9-int2-k1-pe3"])
def test_label_select_frame_rate(name):
    """Steady state max(C/PE, K+1) cycles per frame (2C for K = PE = 1: compare, then
    update); the first index ``latency`` = 3 cycles after the first frame's last word
    (input register, candidates or compare, insertion), never sooner for later ones."""
    dut, x = frames_for(name, 8, seed=1)
    src, cap = run_stream(dut, pack(x, dut.in_dtype, dut.pe), x.shape[0] * dut.k)
    per = dut.cycles_per_frame
    running_max = dut.k == 1 and dut.pe == 1
    assert per == (2 * dut.channels if running_max else max(dut.channels // dut.pe, dut.k + 1))
    assert dut.latency == 3
    lasts = src[dut.folds - 1::dut.folds]
    firsts = cap.cycles[::dut.k]
    assert np.diff(firsts).tolist() == [per] * (len(firsts) - 1)
    assert firsts[0] - lasts[0] == dut.latency
    assert all(f - l >= dut.latency for f, l in zip(firsts, lasts))
    assert np.diff(cap.cycles).tolist().count(1) == (dut.k - 1) * len(lasts)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_label_select_index_width():
    assert len(LabelSelect(channels=10, in_dtype=DT["INT4"], k=1, pe=1).o.payload) == 4
    assert len(LabelSelect(channels=16, in_dtype=DT["INT4"], k=1, pe=1).o.payload) == 4
    assert len(LabelSelect(channels=17, in_dtype=DT["INT4"], k=1, pe=1).o.payload) == 5
    sel = LabelSelect(channels=1, in_dtype=DT["INT4"], k=1, pe=1)
    assert len(sel.o.payload) == 1 and sel.out_dtype == DT["UINT1"]


@pytest.mark.parametrize("kw,error,message", [
    (dict(channels=0), ValueError, "channels must be a positive integer, not 0"),
    (dict(k=0), ValueError, "k must be a positive integer, not 0"),
    (dict(k=11), ValueError, "k must be at most channels=10, not 11"),
    (dict(pe=3), ValueError, "pe must divide channels=10, not 3"),
    (dict(in_dtype="INT4"), TypeError, "in_dtype must be a qonnx DataType, not 'INT4'"),
])
def test_label_select_rejects(kw, error, message):
    args = dict(channels=10, in_dtype=DT["INT4"], k=2, pe=1)
    args.update(kw)
    assert_rejects(lambda: LabelSelect(**args), error, message)


KEYED = {
    # name: (channels, in_dtype, k, pe, key_scale, key_bias)
    "bias-k1-pe1": (6, "INT4", 1, 1, (1,) * 6, (0, 5, -3, 2, 7, -8)),
    "scale-bias-k2-pe2": (6, "INT4", 2, 2, (3, 1, 2, 3, 1, 6), (-4, 9, 0, 1, -1, 2)),
    "scale-k3-pe3": (6, "UINT3", 3, 3, (2, 4, 1, 1, 8, 2), (0,) * 6),
    "bias-bipolar-k1-pe2": (4, "BIPOLAR", 1, 2, (2,) * 4, (0, 1, -1, 2)),
    "scale-bias-k1-pe3": (6, "INT3", 1, 3, (1, 2, 1, 3, 1, 2), (0, -2, 4, 1, 3, -1)),
}


@pytest.mark.parametrize("name", KEYED)
def test_label_select_ranks_by_keys(name):
    """Keys ``scale*x + bias`` per class, ties (many, with small values) to the lower index."""
    c, dt, k, pe, scale, bias = KEYED[name]
    dt = DT[dt]
    rng = np.random.default_rng(len(name))
    x = rng.choice([-1, 1], size=(12, c)) if dt.name == "BIPOLAR" else \
        rng.integers(int(dt.min()), int(dt.max()) + 1, size=(12, c))
    dut = LabelSelect(channels=c, in_dtype=dt, k=k, pe=pe, key_scale=scale, key_bias=bias)
    _, cap = run_stream(dut, pack(x, dt, pe), x.shape[0] * k, idle="random", backpressure="random", seed=3)
    keys = x * np.array(scale) + np.array(bias)
    assert np.array(cap.words).reshape(-1, k).tolist() == reference(keys, k).tolist()


def test_label_select_key_checks():
    assert_rejects(lambda: LabelSelect(channels=2, in_dtype=DT["INT4"], k=1, pe=1, key_scale=(1, 0), key_bias=(0, 0)),
                   ValueError, "key_scale must be a positive integer, not 0")
    assert_rejects(lambda: LabelSelect(channels=2, in_dtype=DT["INT4"], k=1, pe=1, key_scale=(1,), key_bias=(0, 0)),
                   TypeError, "key_scale must be a tuple of 2 integers, not (1,)")
