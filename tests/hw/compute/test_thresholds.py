"""Thresholding against an independent numpy MultiThreshold, under idle/backpressure."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.hw.compute.thresholds import Thresholding
from bitsmith.sim.packing import pack, unpack
from tests.hw.util import PATTERNS, assert_rejects, run_stream

DT = DataType


def reference(x, thresholds, scale, bias):
    """x: (pixels, C) values -> scale * #(x >= T) + bias."""
    t = np.broadcast_to(thresholds, (x.shape[1], thresholds.shape[1]))
    return scale * (x[:, :, None] >= t[None]).sum(axis=2) + bias


CASES = {
    # name: (in_dtype, out_dtype, channels, pe, rows, steps, scale, bias)
    "int8-uint2": ("INT8", "UINT2", 6, 2, 6, 3, 1, 0),
    "int8-uint3-shared": ("INT8", "UINT3", 4, 4, 1, 7, 1, 0),
    "uint4-bipolar": ("UINT4", "BIPOLAR", 6, 3, 6, 1, 2, -1),
    "int4-int3-biased": ("INT4", "INT3", 5, 1, 5, 3, 1, -2),
    "uint8-int4-scaled": ("UINT8", "INT4", 4, 2, 4, 3, 2, -3),
    "bipolar-in": ("BIPOLAR", "UINT1", 4, 2, 4, 1, 1, 0),
    "int16-uint4": ("INT16", "UINT4", 3, 3, 3, 15, 1, 0),
}


def check_thresholds(name, idle="none", backpressure="none", seed=0, pixels=5):
    in_dt, out_dt, c, pe, rows, steps, scale, bias = CASES[name]
    in_dt, out_dt = DT[in_dt], DT[out_dt]
    rng = np.random.default_rng(seed)
    if in_dt.name == "BIPOLAR":
        x = rng.choice([-1, 1], size=(pixels, c))
    else:
        x = rng.integers(int(in_dt.min()), int(in_dt.max()) + 1, size=(pixels, c))
    pool = np.concatenate([x.reshape(-1), [int(in_dt.min()) - 1, int(in_dt.max()) + 1]])
    thr = np.sort(rng.choice(pool, size=(rows, steps)), axis=1).astype(np.int64)
    dut = Thresholding(thresholds=thr, in_dtype=in_dt, out_dtype=out_dt, out_scale=scale,
                       out_bias=bias, channels=c, pe=pe)
    src, cap = run_stream(dut, pack(x, in_dt, pe), pixels * c // pe, idle=idle,
                          backpressure=backpressure, seed=seed)
    got = unpack(cap.words, out_dt, pe).reshape(pixels, c)
    expected = reference(x, thr, scale, bias)
    for p, ch in zip(*np.nonzero(got != expected)):
        pytest.fail(f"pixel {p} channel {ch}: expected {expected[p, ch]}, got {got[p, ch]}")
    return dut, src, cap


MATRIX = [(i, b) for i in PATTERNS for b in PATTERNS]


@pytest.mark.parametrize("idle,backpressure", MATRIX, ids=[f"{i}-{b}" for i, b in MATRIX])
@pytest.mark.parametrize("name", CASES)
def test_thresholds_match_reference(name, idle, backpressure):
    check_thresholds(name, idle, backpressure, seed=zlib.crc32(f"{name}{idle}{backpressure}".encode()))


@pytest.mark.parametrize("name", ["int8-uint2", "int16-uint4"])
def test_thresholds_one_word_per_cycle(name):
    dut, src, cap = check_thresholds(name, pixels=12)
    n = len(src)
    assert src == list(range(n))
    assert cap.cycles == [k + dut.latency for k in range(n)]


def make(**changes):
    kw = dict(thresholds=np.array([[0, 1, 2]]), in_dtype=DT["INT4"], out_dtype=DT["UINT2"],
              channels=4, pe=2)
    kw.update(changes)
    return Thresholding(**kw)


@pytest.mark.parametrize("changes,error,message", [
    (dict(channels=0), ValueError, "channels must be a positive integer, not 0"),
    (dict(pe=3), ValueError, "pe must divide channels=4, not 3"),
    (dict(in_dtype=4), TypeError, "in_dtype must be a qonnx DataType, not 4"),
    (dict(out_dtype=None), TypeError, "out_dtype must be a qonnx DataType, not None"),
    (dict(thresholds=np.zeros((2, 3), int)), ValueError,
     "thresholds must have shape (4, B) or (1, B) with B >= 1, not (2, 3)"),
    (dict(thresholds=np.zeros((4, 0), int)), ValueError,
     "thresholds must have shape (4, B) or (1, B) with B >= 1, not (4, 0)"),
    (dict(thresholds=np.array([[0.5, 1, 2]])), TypeError, "thresholds must be an integer array, not float64"),
    (dict(thresholds=np.array([[0, 3, 2]])), ValueError,
     "thresholds must be ascending along each row, not row 0: [0, 3, 2]"),
    (dict(out_bias=1), ValueError, "out_dtype must hold the outputs 1..4, not UINT2"),
    (dict(out_scale=-1), ValueError, "out_dtype must hold the outputs -3..0, not UINT2"),
    (dict(out_dtype=DT["BIPOLAR"]), ValueError,
     "a BIPOLAR out_dtype needs 1 threshold, out_scale=2 and out_bias=-1, not 3, 1 and 0"),
])
def test_thresholds_rejects(changes, error, message):
    assert_rejects(lambda: make(**changes), error, message)
