"""WinogradInput: 4x4 patches -> B^T d B per channel, against numpy; cycles; refusals."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator.ir.winograd import BT
from bitsmith.hw.compute.winograd_input import WinogradInput
from bitsmith.sim.packing import pack, unpack
from tests.hw.compute.test_mvau import random_values
from tests.hw.util import PATTERNS, assert_rejects, run_stream

DT = DataType
V_DTYPES = {"UINT4": "INT7", "INT4": "INT6", "UINT2": "INT5", "INT8": "INT10", "UINT8": "INT11"}


def check(channels, simd, xdt="UINT4", patches=3, idle="none", backpressure="none", seed=0):
    rng = np.random.default_rng(seed)
    xdt = DT[xdt]
    d = random_values(rng, xdt, (patches, 4, 4, channels))
    d[0] = rng.choice([int(xdt.min()), int(xdt.max())], size=(4, 4, channels))
    dut = WinogradInput(channels=channels, simd=simd, in_dtype=xdt, out_dtype=DT[V_DTYPES[xdt.name]])
    expected = np.einsum("ir,jc,prcq->pijq", BT, BT, d).reshape(patches * 16, channels)
    src, cap = run_stream(dut, pack(d.reshape(-1, channels), xdt, simd), patches * 16 * channels // simd,
                          idle=idle, backpressure=backpressure, seed=seed)
    got = unpack(cap.words, dut.out_dtype, simd).reshape(-1, channels)
    for v, c in zip(*np.nonzero(got != expected)):
        pytest.fail(f"patch {v // 16} position {v % 16} channel {c}: expected {expected[v, c]}, "
                    f"got {got[v, c]}")
    return dut, src, cap


FOLDS = [(1, 1), (6, 2), (4, 4), (3, 1), (8, 2)]
MATRIX = [(i, b) for i in PATTERNS for b in PATTERNS]


@pytest.mark.parametrize("idle,backpressure", MATRIX, ids=[f"{i}-{b}" for i, b in MATRIX])
@pytest.mark.parametrize("fold", FOLDS, ids=lambda f: "c{}-simd{}".format(*f))
def test_winograd_input_matches_numpy(fold, idle, backpressure):
    check(*fold, idle=idle, backpressure=backpressure,
          seed=zlib.crc32(f"{fold}{idle}{backpressure}".encode()) % 1000)


@pytest.mark.parametrize("xdt", sorted(V_DTYPES))
def test_winograd_input_dtypes(xdt):
    check(4, 2, xdt)


@pytest.mark.parametrize("fold", FOLDS, ids=lambda f: "c{}-simd{}".format(*f))
def test_winograd_input_cycles(fold):
    """Always valid, always ready: one word in and one out per cycle, no bubble between
    patches; the first word of a patch :attr:`latency` cycles after its last input."""
    channels, simd = fold
    dut, src, cap = check(channels, simd, patches=4)
    n = 16 * channels // simd
    assert src == list(range(4 * n))
    assert cap.cycles == [p * n + n - 1 + dut.latency + k for p in range(4) for k in range(n)]


def make(**changes):
    kw = dict(channels=4, simd=2, in_dtype=DT["UINT4"], out_dtype=DT["INT7"])
    kw.update(changes)
    return WinogradInput(**kw)


@pytest.mark.parametrize("changes,error,message", [
    (dict(simd=3), ValueError, "simd must divide channels=4, not 3"),
    (dict(channels=0), ValueError, "channels must be a positive integer, not 0"),
    (dict(in_dtype=DT["BIPOLAR"]), ValueError, "in_dtype must be an integer type with a zero, not BIPOLAR"),
    (dict(out_dtype=DT["UINT8"]), ValueError, "out_dtype must be a signed integer type, not UINT8"),
    (dict(out_dtype=DT["INT6"]), ValueError, "out_dtype must hold the transformed range -30..60, not INT6"),
])
def test_winograd_input_rejects(changes, error, message):
    assert_rejects(lambda: make(**changes), error, message)


def test_winograd_input_has_no_multiplier():
    """Addresses of a non-power-of-two channel-group count come from a table: Yosys would
    put a constant ``$mul`` on a DSP block."""
    from amaranth.back import rtlil
    assert "$mul" not in rtlil.convert(make(channels=6, simd=2))
