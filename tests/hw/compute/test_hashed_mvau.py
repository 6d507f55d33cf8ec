"""HashedMVAU (HashedNets) against x @ W.T of its virtual matrix, cycles, hash, refusals."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.hw.compute.hashed_mvau import HashedMVAU, hash_indices, virtual_weights
from bitsmith.sim.packing import pack, unpack
from tests.hw.compute.test_mvau import random_values, reference, smallest_dtype
from tests.hw.util import PATTERNS, assert_rejects, run_stream

DT = DataType

CASES = [  # (xdt, mh, mw, pe, simd, buckets, thresholds)
    ("INT4", 8, 12, 2, 3, 16, False),
    ("UINT8", 6, 10, 1, 1, 8, False),       # fully folded
    ("UINT2", 4, 6, 4, 6, 4, True),         # fully unrolled
    ("INT8", 16, 16, 4, 2, 32, True),
    ("BIPOLAR", 6, 9, 3, 3, 2, False),
    ("INT4", 6, 4, 2, 2, 8, False),         # two synapse folds: the hash pipeline wraps
    ("INT4", 10, 140, 2, 2, 64, False),     # 5 neuron folds (the pipeline's depth), 70 synapse
                                            # folds (the column index by shift-and-add)
]


def build(case, seed=0, vectors=4):
    xdt, mh, mw, pe, simd, k, thr = case
    rng = np.random.default_rng(seed)
    xdt = DT[xdt]
    values = rng.integers(-7, 8, k)
    w = virtual_weights(values, mh, mw, seed=seed + 11)
    x = random_values(rng, xdt, (vectors, mw))
    a, b = w * int(xdt.min()), w * int(xdt.max())
    acc_dt = smallest_dtype(int(np.minimum(a, b).sum(1).min()), int(np.maximum(a, b).sum(1).max()))
    kw, t = {}, None
    if thr:
        t = np.sort(rng.choice((x @ w.T).reshape(-1), size=(mh, 3)), axis=1).astype(np.int64)
        kw = dict(thresholds=t, out_dtype=DT["UINT2"])
    dut = HashedMVAU(values=values, weight_dtype=DT["INT4"], out_features=mh, in_features=mw, seed=seed + 11,
                     in_dtype=xdt, acc_dtype=acc_dt, pe=pe, simd=simd, **kw)
    return dut, x, reference(w, x, DT["INT4"], xdt, t)


MATRIX = [(i, b) for i in PATTERNS for b in PATTERNS]


@pytest.mark.parametrize("idle,backpressure", MATRIX, ids=[f"{i}-{b}" for i, b in MATRIX])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_hashed_mvau_matches_reference(case, idle, backpressure):
    seed = zlib.crc32(f"{case}{idle}{backpressure}".encode()) % 1000
    dut, x, expected = build(case, seed)
    _, mh, _, pe, simd, _, _ = case
    _, cap = run_stream(dut, pack(x, dut.in_dtype, simd), len(x) * mh // pe, idle=idle,
                        backpressure=backpressure, seed=seed)
    got = unpack(cap.words, dut.out_dtype, pe).reshape(len(x), mh)
    for v, c in zip(*np.nonzero(got != expected)):
        pytest.fail(f"vector {v} channel {c}: expected {expected[v, c]}, got {got[v, c]}")


@pytest.mark.parametrize("case", [CASES[0], CASES[1], CASES[2]], ids=str)
def test_hashed_mvau_cycles(case):
    dut, x, _ = build(case, vectors=6)
    _, mh, mw, pe, simd, _, _ = case
    nf, sf = mh // pe, mw // simd
    src, cap = run_stream(dut, pack(x, dut.in_dtype, simd), 6 * nf)
    assert src == [v * nf * sf + s for v in range(6) for s in range(sf)]
    assert cap.cycles == [v * nf * sf + n * sf + sf - 1 + dut.latency for v in range(6) for n in range(nf)]


def test_hash_spreads_and_signs():
    """Every bucket used about equally, about half the signs negative, rows not copies."""
    bucket, negative = hash_indices(64, 256, 512, seed=1)
    counts = np.bincount(bucket.ravel(), minlength=512)
    assert counts.min() >= 8 and counts.max() <= 64
    assert 0.4 < negative.mean() < 0.6
    assert len({tuple(r) for r in bucket.tolist()}) == 64
    assert not np.array_equal(hash_indices(4, 4, 8, seed=2)[0], hash_indices(4, 4, 8, seed=3)[0])


V = np.array([1, -2, 3, 0])


def make(**changes):
    kw = dict(values=V, weight_dtype=DT["INT4"], out_features=4, in_features=4, seed=0,
              in_dtype=DT["INT4"], acc_dtype=DT["INT8"], pe=1, simd=1)
    kw.update(changes)
    return HashedMVAU(**kw)


@pytest.mark.parametrize("changes,error,message", [
    (dict(values=[1, 2]), TypeError, "values must be a 1-D integer numpy array, not [1, 2]"),
    (dict(values=np.array([1, 2, 3])), ValueError, "values must hold a power of two 2..65536 of buckets, not 3"),
    (dict(seed=-1), ValueError, "seed must be an integer in 0..2**32-1, not -1"),
    (dict(weight_dtype=DT["BIPOLAR"]), ValueError, "weight_dtype must be an integer type with a zero, not BIPOLAR"),
    (dict(values=np.array([1, -8, 3, 0])), ValueError,
     "weight_dtype must hold every value and its negation, not INT4"),
    (dict(out_features=0), ValueError, "out_features must be a positive integer, not 0"),
])
def test_hashed_mvau_rejects(changes, error, message):
    assert_rejects(lambda: make(**changes), error, message)
