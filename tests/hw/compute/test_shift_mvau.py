"""ShiftMVAU (power-of-two weights) against x @ W.T, under idle/backpressure, cycles, refusals."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.hw.compute.shift_mvau import ShiftMVAU
from bitsmith.sim.packing import pack, unpack
from tests.hw.compute.test_mvau import random_values, reference, smallest_dtype
from tests.hw.util import PATTERNS, assert_rejects, run_stream

DT = DataType


def random_terms(rng, shape, n_terms: int, exps: tuple[int, int]) -> np.ndarray:
    """Each term 0 (one in four) or ±2**e with e in ``exps``."""
    e = rng.integers(exps[0], exps[1] + 1, size=shape + (n_terms,))
    sign = rng.choice([-1, 1], size=e.shape)
    keep = rng.random(e.shape) >= 0.25
    return sign * keep * (1 << e)


@dataclass(frozen=True)
class Case:
    xdt: str
    mh: int
    mw: int
    pe: int
    simd: int
    n_terms: int = 1
    exps: tuple[int, int] = (0, 6)
    thr: bool = False
    vectors: int = 4

    def __str__(self):
        return (f"{self.xdt}-{self.mh}x{self.mw}-pe{self.pe}-simd{self.simd}-n{self.n_terms}"
                f"-e{self.exps[0]}..{self.exps[1]}{'-thr' if self.thr else ''}")


def build(case: Case, seed: int = 0):
    rng = np.random.default_rng(seed)
    xdt = DT[case.xdt]
    terms = random_terms(rng, (case.mh, case.mw), case.n_terms, case.exps)
    w = terms.sum(-1)
    wdt = smallest_dtype(min(int(w.min()), -1), int(w.max()))
    x = random_values(rng, xdt, (case.vectors, case.mw))
    a, b = w * int(xdt.min()), w * int(xdt.max())
    acc_dt = smallest_dtype(int(np.minimum(a, b).sum(1).min()), int(np.maximum(a, b).sum(1).max()))
    kw, thr = {}, None
    if case.thr:
        acc = x @ w.T
        thr = np.sort(rng.choice(acc.reshape(-1), size=(case.mh, 3)), axis=1).astype(np.int64)
        kw = dict(thresholds=thr, out_dtype=DT["UINT2"])
    dut = ShiftMVAU(terms=terms, weight_dtype=wdt, in_dtype=xdt, acc_dtype=acc_dt,
                    pe=case.pe, simd=case.simd, **kw)
    return dut, x, reference(w, x, wdt, xdt, thr)


def check_shift(case: Case, idle: str = "none", backpressure: str = "none", seed: int = 0):
    dut, x, expected = build(case, seed)
    _, cap = run_stream(dut, pack(x, dut.in_dtype, case.simd), case.vectors * case.mh // case.pe,
                        idle=idle, backpressure=backpressure, seed=seed)
    got = unpack(cap.words, dut.out_dtype, case.pe).reshape(case.vectors, case.mh)
    for v, c in zip(*np.nonzero(got != expected)):
        pytest.fail(f"vector {v} channel {c}: expected {expected[v, c]}, got {got[v, c]}")
    return dut, cap


CASES = [
    Case("INT8", 4, 6, 2, 3),                        # INQ-style: 0, ±2**0..±2**6 (8-bit range)
    Case("UINT4", 4, 8, 1, 1),                       # fully folded
    Case("INT4", 4, 6, 4, 6),                        # fully unrolled: fixed wiring
    Case("UINT8", 6, 15, 3, 5, thr=True),            # non-power-of-two folding, thresholds
    Case("INT8", 4, 6, 2, 2, n_terms=2, exps=(0, 5)),  # ShiftCNN 2-term
    Case("UINT2", 4, 6, 1, 6, n_terms=3, exps=(1, 3)),  # 3 terms, lowest exponent 1
    Case("BIPOLAR", 4, 6, 2, 3, exps=(0, 4)),        # ±1 inputs
    Case("BINARY", 2, 4, 1, 2, exps=(2, 2)),         # one exponent: no shifter at all
    Case("INT16", 2, 4, 2, 2, n_terms=4, exps=(0, 3)),
]

MATRIX = [(i, b) for i in PATTERNS for b in PATTERNS]


@pytest.mark.parametrize("idle,backpressure", MATRIX, ids=[f"{i}-{b}" for i, b in MATRIX])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_shift_mvau_matches_reference(case, idle, backpressure):
    check_shift(case, idle, backpressure, seed=zlib.crc32(f"{case}{idle}{backpressure}".encode()) % 1000)


@pytest.mark.parametrize("case", [Case("INT8", 4, 6, 1, 1, vectors=3), Case("INT8", 4, 6, 4, 6, vectors=12),
                                  Case("UINT8", 6, 15, 3, 5, n_terms=2, thr=True, vectors=6)], ids=str)
def test_shift_mvau_cycles(case):
    """Source always valid, sink always ready: (MH/PE)*(MW/SIMD) cycles per vector, the
    MVAU's latency."""
    dut, x, _ = build(case)
    nf, sf = case.mh // case.pe, case.mw // case.simd
    src, cap = run_stream(dut, pack(x, dut.in_dtype, case.simd), case.vectors * nf)
    assert src == [v * nf * sf + s for v in range(case.vectors) for s in range(sf)]
    assert cap.cycles == [v * nf * sf + n * sf + sf - 1 + dut.latency
                          for v in range(case.vectors) for n in range(nf)]


def test_shift_mvau_codes():
    """Term codes: bit 0 non-zero, bit 1 negative, exponent above the lowest in bits 2.."""
    terms = np.array([[[4, -16], [0, 1]]])
    dut = ShiftMVAU(terms=terms, weight_dtype=DT["INT5"], in_dtype=DT["UINT2"], acc_dtype=DT["INT7"],
                    pe=1, simd=1)
    assert (dut.e0, dut.exp_bits, dut.term_bits) == (0, 3, 5)
    assert dut.weight_codes().tolist() == [[0b01001 | (0b10011 << 5), 0b00001 << 5]]
    assert "$mul" not in _rtlil(dut)


def _rtlil(dut) -> str:
    from amaranth.back import rtlil
    return rtlil.convert(dut)


def test_shift_mvau_has_no_multiplier():
    dut, _, _ = build(Case("INT8", 4, 8, 2, 4, n_terms=2))
    assert "$mul" not in _rtlil(dut)


T = np.array([[[1], [-2]], [[4], [0]]])


def make(**changes):
    kw = dict(terms=T, weight_dtype=DT["INT4"], in_dtype=DT["INT4"], acc_dtype=DT["INT8"], pe=1, simd=1)
    kw.update(changes)
    return ShiftMVAU(**kw)


@pytest.mark.parametrize("changes,error,message", [
    (dict(terms=np.array([[1]])), ValueError, "terms must have 3 dimensions, not shape (1, 1)"),
    (dict(terms=np.zeros((1, 1, 5), int)), ValueError,
     "terms must have 1..4 terms per weight (last axis), not shape (1, 1, 5)"),
    (dict(terms=np.array([[[3]]])), ValueError, "terms must be 0 or signed powers of two, not 3"),
    (dict(weight_dtype=DT["BIPOLAR"]), ValueError,
     "weight_dtype must be an integer type with a zero, not BIPOLAR"),
    (dict(weight_dtype=DT["INT3"]), ValueError, "weights must be values of INT3, not 4"),
    (dict(acc_dtype=DT["INT5"]), ValueError, "acc_dtype must hold the accumulator range -32..28, not INT5"),
])
def test_shift_mvau_rejects(changes, error, message):
    assert_rejects(lambda: make(**changes), error, message)
