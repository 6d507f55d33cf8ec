"""WinogradMVAU: M[t] = U[t mod 16] @ V against numpy, under idle/backpressure, cycles."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.hw.compute.winograd_mvau import WinogradMVAU
from bitsmith.sim.packing import pack, unpack
from tests.hw.compute.test_mvau import random_values, smallest_dtype
from tests.hw.util import PATTERNS, assert_rejects, run_stream

DT = DataType


def build(oc, ic, pe, simd, tiles=2, xdt="INT6", seed=0, wdt="INT8"):
    rng = np.random.default_rng(seed)
    wdt = DT[wdt]
    u = rng.integers(int(wdt.min()), int(wdt.max()) + 1, size=(16, oc, ic))
    xdt = DT[xdt]
    x = random_values(rng, xdt, (16 * tiles, ic))
    a, b = u * int(xdt.min()), u * int(xdt.max())
    acc = smallest_dtype(int(np.minimum(a, b).sum(2).min()), int(np.maximum(a, b).sum(2).max()))
    dut = WinogradMVAU(weights=u, weight_dtype=wdt, in_dtype=xdt, acc_dtype=acc, pe=pe, simd=simd)
    expected = np.stack([u[k % 16] @ x[k] for k in range(len(x))])
    return dut, x, expected


def check(oc, ic, pe, simd, idle="none", backpressure="none", seed=0, **kw):
    dut, x, expected = build(oc, ic, pe, simd, seed=seed, **kw)
    src, cap = run_stream(dut, pack(x, dut.in_dtype, simd), len(x) * oc // pe, idle=idle,
                          backpressure=backpressure, seed=seed)
    got = unpack(cap.words, dut.out_dtype, pe).reshape(len(x), oc)
    for v, c in zip(*np.nonzero(got != expected)):
        pytest.fail(f"vector {v} (position {v % 16}) channel {c}: expected {expected[v, c]}, got {got[v, c]}")
    return dut, src, cap


FOLDS = [(4, 6, 2, 3), (3, 2, 1, 1), (4, 4, 4, 4), (2, 8, 2, 2)]
MATRIX = [(i, b) for i in PATTERNS for b in PATTERNS]


@pytest.mark.parametrize("idle,backpressure", MATRIX, ids=[f"{i}-{b}" for i, b in MATRIX])
@pytest.mark.parametrize("fold", FOLDS, ids=lambda f: "oc{}-ic{}-pe{}-simd{}".format(*f))
def test_winograd_mvau_matches_numpy(fold, idle, backpressure):
    check(*fold, idle, backpressure, seed=zlib.crc32(f"{fold}{idle}{backpressure}".encode()) % 1000)


@pytest.mark.parametrize("fold", FOLDS, ids=lambda f: "oc{}-ic{}-pe{}-simd{}".format(*f))
def test_winograd_mvau_cycles(fold):
    """Always valid, always ready: (OC/PE)*(IC/SIMD) cycles per position vector."""
    oc, ic, pe, simd = fold
    dut, src, cap = check(oc, ic, pe, simd)
    nf, sf = oc // pe, ic // simd
    vectors = len(src) // sf
    assert src == [v * nf * sf + s for v in range(vectors) for s in range(sf)]
    assert cap.cycles == [v * nf * sf + n * sf + sf - 1 + dut.latency
                          for v in range(vectors) for n in range(nf)]


def test_winograd_mvau_12_bit_weights():
    """Transformed 8-bit weights (INT12) by transformed 8-bit inputs (INT11)."""
    check(4, 6, 2, 3, "random", "random", seed=5, wdt="INT12", xdt="INT11")


def make(**changes):
    kw = dict(weights=np.ones((16, 2, 2), int), weight_dtype=DT["INT4"], in_dtype=DT["INT4"],
              acc_dtype=DT["INT8"], pe=1, simd=1)
    kw.update(changes)
    return WinogradMVAU(**kw)


@pytest.mark.parametrize("changes,error,message", [
    (dict(weights=np.ones((9, 2, 2), int)), ValueError, "weights must have shape (16, OC, IC), not (9, 2, 2)"),
    (dict(weights=np.ones((16, 2), int)), ValueError, "weights must have 3 dimensions, not shape (16, 2)"),
    (dict(pe=3), ValueError, "pe must divide OC=2, not 3"),
    (dict(weight_dtype=DT["BIPOLAR"]), ValueError,
     "weight_dtype must be an integer type with a zero, not BIPOLAR"),
    (dict(acc_dtype=DT["INT4"]), ValueError, "acc_dtype must hold the accumulator range -16..14, not INT4"),
])
def test_winograd_mvau_rejects(changes, error, message):
    assert_rejects(lambda: make(**changes), error, message)
