"""MVAU against an independent numpy reference, under idle/backpressure, and its cycle counts."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.hw.compute.mvau import MVAU
from bitsmith.sim.packing import pack, unpack
from tests.hw.util import PATTERNS, assert_rejects, run_stream

DT = DataType


def random_values(rng, dtype, shape):
    if dtype.name == "BIPOLAR":
        return rng.choice([-1, 1], size=shape)
    return rng.integers(int(dtype.min()), int(dtype.max()) + 1, size=shape)


def smallest_dtype(lo: int, hi: int):
    """FINN's accumulator rule, restated here so the test does not trust the DUT."""
    if lo >= 0:
        return DT[f"UINT{max(1, hi.bit_length())}"]
    return DT[f"INT{max(2, (max(-lo, hi + 1) - 1).bit_length() + 1)}"]


def reference(w, x, wdt, xdt, thresholds=None, scale=1, bias=0):
    """Accumulators (XNOR: matching signs) or their multi-threshold, rows = vectors."""
    if wdt.name == "BIPOLAR" and xdt.name == "BIPOLAR":
        acc = (w[None, :, :] == x[:, None, :]).sum(axis=2)
    else:
        acc = x @ w.T
    if thresholds is None:
        return acc
    t = np.broadcast_to(thresholds, (w.shape[0], thresholds.shape[1]))
    return scale * (acc[:, :, None] >= t[None, :, :]).sum(axis=2) + bias


@dataclass(frozen=True)
class Case:
    wdt: str
    xdt: str
    mh: int
    mw: int
    pe: int
    simd: int
    thr: str = "none"  # none | channel | shared | bipolar | biased
    vectors: int = 4

    def __str__(self):
        return f"{self.wdt}x{self.xdt}-{self.mh}x{self.mw}-pe{self.pe}-simd{self.simd}-{self.thr}"


def build(case: Case, seed: int = 0, **unit):
    """A random MVAU for ``case`` (``unit``: more MVAU arguments) and its inputs and
    expected outputs (values)."""
    rng = np.random.default_rng(seed)
    wdt, xdt = DT[case.wdt], DT[case.xdt]
    w = random_values(rng, wdt, (case.mh, case.mw))
    x = random_values(rng, xdt, (case.vectors, case.mw))
    acc = reference(w, x, wdt, xdt)
    if wdt.name == "BIPOLAR" and xdt.name == "BIPOLAR":
        lo, hi = 0, case.mw
    else:
        a, b = w * int(xdt.min()), w * int(xdt.max())
        lo, hi = int(np.minimum(a, b).sum(1).min()), int(np.maximum(a, b).sum(1).max())
    acc_dt = smallest_dtype(lo, hi)
    kw, scale, bias, thr = {}, 1, 0, None
    if case.thr != "none":
        steps, out_dt = {"channel": (3, "UINT2"), "shared": (7, "UINT3"), "bipolar": (1, "BIPOLAR"),
                         "biased": (3, "INT2")}[case.thr]
        rows = 1 if case.thr == "shared" else case.mh
        # thresholds around the observed accumulators, some outside the range
        pool = np.concatenate([acc.reshape(-1), [lo - 1, hi + 1, lo, hi]])
        thr = np.sort(rng.choice(pool, size=(rows, steps)), axis=1).astype(np.int64)
        if case.thr == "bipolar":
            scale, bias = 2, -1
        elif case.thr == "biased":
            bias = -2
        kw = dict(thresholds=thr, out_dtype=DT[out_dt], out_scale=scale, out_bias=bias)
    dut = MVAU(weights=w, weight_dtype=wdt, in_dtype=xdt, acc_dtype=acc_dt, pe=case.pe,
               simd=case.simd, **kw, **unit)
    expected = reference(w, x, wdt, xdt, thr, scale, bias)
    return dut, x, expected


def check_mvau(case: Case, idle: str = "none", backpressure: str = "none", seed: int = 0, **unit):
    dut, x, expected = build(case, seed, **unit)
    n_out = case.vectors * case.mh // case.pe
    _, cap = run_stream(dut, pack(x, dut.in_dtype, case.simd), n_out, idle=idle,
                        backpressure=backpressure, seed=seed)
    got = unpack(cap.words, dut.out_dtype, case.pe).reshape(case.vectors, case.mh)
    for v, c in zip(*np.nonzero(got != expected)):
        pytest.fail(f"vector {v} channel {c}: expected {expected[v, c]}, got {got[v, c]}")
    return dut, cap


DTYPE_CASES = [
    Case("BIPOLAR", "BIPOLAR", 4, 8, 2, 4, "channel"),
    Case("BIPOLAR", "BIPOLAR", 6, 12, 3, 6, "bipolar"),
    Case("BIPOLAR", "BIPOLAR", 4, 9, 2, 3, "none"),
    Case("BIPOLAR", "INT4", 4, 6, 2, 3, "none"),
    Case("BIPOLAR", "INT4", 4, 6, 4, 2, "biased"),
    Case("INT2", "UINT2", 6, 8, 3, 4, "biased"),
    Case("INT2", "UINT2", 4, 8, 2, 2, "none"),
    Case("TERNARY", "INT8", 4, 6, 2, 3, "none"),
    Case("TERNARY", "INT8", 4, 6, 1, 6, "channel"),
    Case("INT8", "INT8", 4, 4, 2, 2, "none"),
    Case("INT8", "INT8", 4, 6, 2, 3, "shared"),
    Case("INT4", "BINARY", 4, 8, 2, 8, "none"),
    Case("UINT3", "BINARY", 4, 8, 4, 4, "shared"),
    Case("INT3", "BIPOLAR", 4, 6, 2, 2, "channel"),
    Case("BINARY", "UINT4", 2, 4, 1, 2, "bipolar"),
    Case("BIPOLAR", "BINARY", 4, 6, 2, 3, "channel"),
    Case("TERNARY", "BIPOLAR", 4, 6, 2, 6, "none"),
    Case("INT3", "UINT10", 4, 6, 2, 3, "none"),        # wide inputs: a global pool's sum
    Case("INT8", "INT16", 4, 4, 2, 2, "channel"),
    Case("BIPOLAR", "UINT16", 4, 6, 2, 6, "biased"),
    Case("UINT5", "INT12", 2, 4, 1, 4, "shared"),
]

FOLD_CASES = [
    Case("INT2", "UINT2", 4, 6, 1, 1, "none", vectors=3),   # fully folded
    Case("INT2", "UINT2", 4, 6, 4, 6, "none", vectors=6),   # fully unrolled
    Case("INT2", "UINT2", 6, 15, 3, 5, "channel"),          # non-power-of-two
    Case("INT2", "UINT2", 6, 15, 6, 1, "none"),
    Case("INT2", "UINT2", 6, 15, 1, 15, "biased"),
    Case("BIPOLAR", "BIPOLAR", 6, 15, 2, 5, "channel"),
    Case("BIPOLAR", "BIPOLAR", 3, 5, 1, 1, "bipolar", vectors=3),
    # 32-word input buffers (a block RAM): LUT lanes, counters and adder-tree XNOR lanes
    Case("INT2", "UINT2", 4, 64, 2, 2, "channel", vectors=3),
    Case("BIPOLAR", "BIPOLAR", 4, 96, 2, 3, "bipolar", vectors=3),
    Case("INT8", "INT4", 4, 32, 2, 1, "none", vectors=3),
    Case("INT2", "UINT2", 20, 8, 10, 2, "channel", vectors=3),   # 3 input word copies
    # 32 weight words or more before shift-and-add lanes: the weight word registered again
    # (with an input buffer of 4 words; with one fold of 32 steps; with 64 neuron folds of one
    # step, the input register the buffer, and a 64-row threshold ROM in block RAM)
    Case("INT2", "UINT2", 16, 8, 1, 2, "channel", vectors=2),
    Case("INT2", "UINT2", 2, 64, 2, 2, "channel", vectors=3),
    Case("INT2", "UINT2", 64, 4, 1, 4, "channel", vectors=2),
]

MATRIX = [(i, b) for i in PATTERNS for b in PATTERNS]


@pytest.mark.parametrize("idle,backpressure", MATRIX, ids=[f"{i}-{b}" for i, b in MATRIX])
@pytest.mark.parametrize("case", DTYPE_CASES + FOLD_CASES, ids=str)
def test_mvau_matches_reference(case, idle, backpressure):
    check_mvau(case, idle, backpressure, seed=zlib.crc32(f"{case}{idle}{backpressure}".encode()) % 1000)


@pytest.mark.parametrize("seed", range(4))
def test_mvau_random_weights(seed):
    rng = np.random.default_rng(100 + seed)
    wdt, xdt = rng.choice(["INT3", "UINT2", "TERNARY", "BIPOLAR"]), rng.choice(["INT4", "UINT3", "BIPOLAR"])
    check_mvau(Case(str(wdt), str(xdt), 6, 6, int(rng.choice([1, 2, 3, 6])),
                    int(rng.choice([1, 2, 3, 6])), "none", vectors=6), "random", "random", seed)


CYCLE_CASES = [
    Case("INT2", "UINT2", 4, 6, 1, 1, "none", vectors=3),
    Case("INT2", "UINT2", 4, 6, 4, 6, "none", vectors=24),
    Case("INT2", "UINT2", 4, 6, 4, 6, "shared", vectors=24),
    Case("INT2", "UINT2", 6, 15, 3, 5, "channel", vectors=8),
    Case("INT2", "UINT2", 6, 15, 6, 1, "none", vectors=3),
    Case("INT8", "INT8", 2, 16, 1, 16, "channel", vectors=16),
    Case("BIPOLAR", "BIPOLAR", 4, 32, 2, 32, "bipolar", vectors=16),
    Case("INT2", "UINT2", 4, 64, 2, 2, "channel", vectors=3),        # 32-word input buffer
    Case("BIPOLAR", "BIPOLAR", 4, 64, 2, 2, "bipolar", vectors=3),
]


@pytest.mark.parametrize("case", CYCLE_CASES, ids=str)
def test_mvau_cycles(case):
    """Source always valid, sink always ready: (MH/PE)*(MW/SIMD) cycles per vector, no bubble."""
    dut, x, _ = build(case)
    nf, sf = case.mh // case.pe, case.mw // case.simd
    src, cap = run_stream(dut, pack(x, dut.in_dtype, case.simd), case.vectors * nf)
    assert dut.cycles_per_vector == nf * sf
    assert src == [v * nf * sf + s for v in range(case.vectors) for s in range(sf)]
    assert cap.cycles == [v * nf * sf + n * sf + sf - 1 + dut.latency
                          for v in range(case.vectors) for n in range(nf)]


@pytest.mark.parametrize("wdt,xdt,values", [
    ("INT8", "INT8", (-1, 1)),    # 16-bit products, INT11 accumulator: the tree wraps
    ("INT8", "UINT4", (0, 3)),    # signed products into an unsigned accumulator
    ("UINT8", "INT8", (0, 2)),
])
def test_mvau_narrow_accumulator(wdt, xdt, values):
    """acc_dtype from the actual weights, much narrower than the products."""
    rng = np.random.default_rng(7)
    wdt, xdt = DT[wdt], DT[xdt]
    w = rng.integers(values[0], values[1] + 1, (4, 8))
    w[0] = values[1]  # one row at the extreme
    x = random_values(rng, xdt, (6, 8))
    x[0] = xdt.max()
    a, b = w * int(xdt.min()), w * int(xdt.max())
    acc_dt = smallest_dtype(int(np.minimum(a, b).sum(1).min()), int(np.maximum(a, b).sum(1).max()))
    assert acc_dt.bitwidth() < wdt.bitwidth() + xdt.bitwidth()
    dut = MVAU(weights=w, weight_dtype=wdt, in_dtype=xdt, acc_dtype=acc_dt, pe=2, simd=4)
    _, cap = run_stream(dut, pack(x, xdt, 4), 12, backpressure="random")
    assert unpack(cap.words, acc_dt, 2).reshape(6, 4).tolist() == (x @ w.T).tolist()


def test_mvau_latency_value():
    dut, _, _ = build(Case("INT2", "UINT2", 6, 15, 3, 5, "none"))
    # read, read-data and product registers (the register after the memories is a
    # timing-closure stage), a 5-input tree (2 register levels), accumulator, FIFO (2)
    assert dut.latency == 3 + 2 + 1 + 2


@pytest.mark.parametrize("wdt, xdt, popcount, tree", [
    ("INT2", "UINT2", None, 5),            # LUT lanes: levels 1-2 in one stage, 3, 4, 5, 6 each
    ("BIPOLAR", "BIPOLAR", "adders", 3),   # XNOR bits: two levels per stage throughout,
    ("BIPOLAR", "BIPOLAR", "counters", 3),  # as the counter tree
])
def test_mvau_latency_of_a_six_level_tree(wdt, xdt, popcount, tree):
    unit = {"popcount": popcount} if popcount else {}
    dut, _, _ = build(Case(wdt, xdt, 2, 98, 1, 49, "none"), **unit)   # 49 lanes: 6 levels
    # read, read-data and product registers, the tree, accumulator, FIFO (2)
    assert dut.latency == 3 + tree + 1 + 2


@pytest.mark.parametrize("mw, simd, popcount, stage, weight", [
    # 2 neuron folds: 32-word buffer before shift-and-add lanes, a registered read; 64
    # weight words in block RAM, the weight word registered once more
    (64, 2, None, 1, 1),
    (62, 2, None, 0, 1),          # 31 buffer words: LUT RAM or flip-flops; still 62 weight words
    (30, 2, None, 0, 0),          # 30 weight words: logic or LUT RAM by the lanes
    (64, 2, "counters", 1, 0),    # XNOR counters choose before their operand too
    (64, 2, "adders", 0, 0),      # XNOR into an adder tree: its LUT absorbs the choice
])
def test_mvau_latency_with_a_block_ram_input_buffer_or_weight_memory(mw, simd, popcount, stage, weight):
    dt = "BIPOLAR" if popcount else "INT2"
    unit = {"popcount": popcount} if popcount else {}
    dut, _, _ = build(Case(dt, "BIPOLAR" if popcount else "UINT2", 4, mw, 2, simd, "none"), **unit)
    assert (dut.buffer_stage, dut.weight_stage) == (bool(stage), bool(weight))
    # read, read-data and product registers, [buffer read register], [weight register], a
    # 2-input tree (1 register level), accumulator, FIFO (2)
    assert dut.latency == 3 + stage + weight + 1 + 1 + 2


XNOR_CASES = [c for c in DTYPE_CASES + FOLD_CASES if c.wdt == c.xdt == "BIPOLAR"] + [
    Case("BIPOLAR", "BIPOLAR", 4, 64, 2, 64, "channel"),     # a 64-lane counter tree
    Case("BIPOLAR", "BIPOLAR", 2, 98, 1, 49, "bipolar"),     # TFC's SIMD, odd
]


@pytest.mark.parametrize("idle,backpressure", [("none", "none"), ("random", "random")])
@pytest.mark.parametrize("case", XNOR_CASES, ids=str)
def test_xnor_counters_and_adders_agree_word_for_word_and_cycle_for_cycle(case, idle, backpressure):
    # the two ways of counting have one latency: the same words at the same cycles, but
    # for the register after a block-RAM input buffer's read that only counters take
    # (the adder tree's XNOR LUT absorbs the input/buffer choice)
    runs = [check_mvau(case, idle, backpressure, popcount=style) for style in ("counters", "adders")]
    (counters, cap_c), (adders, cap_a) = runs
    assert counters.compressor_popcount and not adders.compressor_popcount
    stage = int(case.mw // case.simd >= 32 and case.mh // case.pe > 1)
    assert (counters.buffer_stage, adders.buffer_stage) == (bool(stage), False)
    assert cap_c.words == cap_a.words
    if idle == backpressure == "none":
        assert cap_c.cycles == [c + stage for c in cap_a.cycles]
    assert counters.latency == adders.latency + stage


W = np.array([[1, -1], [-1, 1]])


def make(**changes):
    kw = dict(weights=W, weight_dtype=DT["INT2"], in_dtype=DT["INT4"], acc_dtype=DT["INT5"],
              pe=1, simd=1)
    kw.update(changes)
    return MVAU(**kw)


@pytest.mark.parametrize("changes,error,message", [
    (dict(weights=[[1]]), TypeError, "weights must be a numpy array, not list"),
    (dict(weights=np.zeros((2, 2))), TypeError, "weights must be an integer array, not float64"),
    (dict(weights=np.zeros(4, int)), ValueError, "weights must have 2 dimensions, not shape (4,)"),
    (dict(weights=np.array([[2, 0]])), ValueError, "weights must be values of INT2, not 2"),
    (dict(weight_dtype=DT["BIPOLAR"], weights=np.array([[1, 0]])), ValueError,
     "weights must be values of BIPOLAR, not 0"),
    (dict(weight_dtype="INT2"), TypeError, "weight_dtype must be a qonnx DataType, not 'INT2'"),
    (dict(in_dtype=DT["INT17"]), ValueError, "in_dtype must be an integer DataType of 1..16 bits, not INT17"),
    (dict(in_dtype=DT["FLOAT32"]), ValueError,
     "in_dtype must be an integer DataType of 1..16 bits, not FLOAT32"),
    (dict(weight_dtype=DT["INT9"]), ValueError,
     "weight_dtype must be an integer DataType of 1..8 bits, not INT9"),
    (dict(pe=0), ValueError, "pe must be a positive integer, not 0"),
    (dict(pe=1.0), TypeError, "pe must be an integer, not 1.0"),
    (dict(simd=True), TypeError, "simd must be an integer, not True"),
    (dict(weights=np.ones((3, 4), int), pe=2), ValueError, "pe must divide MH=3, not 2"),
    (dict(weights=np.ones((3, 4), int), simd=3), ValueError, "simd must divide MW=4, not 3"),
    (dict(acc_dtype=DT["INT4"]), ValueError, "acc_dtype must hold the accumulator range -15..15, not INT4"),
    (dict(weight_dtype=DT["BIPOLAR"], in_dtype=DT["BIPOLAR"], acc_dtype=DT["UINT1"]), ValueError,
     "acc_dtype must hold the accumulator range 0..2, not BINARY"),
    (dict(out_dtype=DT["INT8"]), ValueError,
     "out_dtype must be acc_dtype (INT5) or None without thresholds, not INT8"),
    (dict(thresholds=np.array([[0]])), TypeError,
     "out_dtype must be a qonnx DataType when thresholds are given, not None"),
    (dict(thresholds=np.array([[0], [1], [2]]), out_dtype=DT["UINT1"]), ValueError,
     "thresholds must have shape (2, B) or (1, B) with B >= 1, not (3, 1)"),
    (dict(thresholds=np.array([[2, 1]]), out_dtype=DT["UINT2"]), ValueError,
     "thresholds must be ascending along each row, not row 0: [2, 1]"),
    (dict(thresholds=np.array([[0, 1, 2]]), out_dtype=DT["UINT1"]), ValueError,
     "out_dtype must hold the outputs 0..3, not BINARY"),
    (dict(thresholds=np.array([[0, 1]]), out_dtype=DT["BIPOLAR"], out_scale=2, out_bias=-1), ValueError,
     "a BIPOLAR out_dtype needs 1 threshold, out_scale=2 and out_bias=-1, not 2, 2 and -1"),
    (dict(thresholds=np.array([[0]]), out_dtype=DT["UINT1"], out_scale=0.5), TypeError,
     "out_scale must be an integer, not 0.5"),
    (dict(popcount="lut6"), ValueError, "popcount must be one of 'counters', 'adders', not 'lut6'"),
])
def test_mvau_rejects(changes, error, message):
    assert_rejects(lambda: make(**changes), error, message)


@pytest.mark.parametrize("bank_bits,banks", [(512, 3), (1024, 2), (4096, 1)])
def test_mvau_banked_weight_rom(monkeypatch, bank_bits, banks):
    """A ROM deeper than a bank is split (here 1152 one-bit words into 512-word banks, the
    last one partial); results and the one-fold-per-cycle rate are unchanged."""
    import bitsmith.hw.compute.mvau as mvau_mod
    monkeypatch.setattr(mvau_mod, "BANK_BITS", bank_bits)
    case = Case("BIPOLAR", "BIPOLAR", 8, 144, 1, 1, "channel", vectors=2)
    dut, cap = check_mvau(case, backpressure="random")
    from amaranth.hdl import Fragment
    names = {sub[1] for sub in Fragment.get(dut, None).subfragments}
    weight_roms = sorted(n for n in names if n.startswith("weights"))
    assert weight_roms == (["weights"] if banks == 1 else [f"weights{b}" for b in range(banks)])
    dut, x, _ = build(case)
    _, cap = run_stream(dut, pack(x, dut.in_dtype, 1), case.vectors * 8)
    assert cap.cycles == [v * 1152 + n * 144 + 143 + dut.latency for v in range(2) for n in range(8)]


def test_mvau_banked_weight_rom_with_a_small_last_bank(monkeypatch):
    """528 two-bit words in 512-word banks: a block-RAM bank and a 16-word one (logic or
    LUT RAM, its row register keeps repeated columns apart), the weight word registered
    again after the bank choice; results and rate unchanged."""
    import bitsmith.hw.compute.mvau as mvau_mod
    monkeypatch.setattr(mvau_mod, "BANK_BITS", 512)
    case = Case("INT2", "UINT2", 8, 66, 1, 1, "channel", vectors=2)
    dut, _ = check_mvau(case, backpressure="random")
    assert dut.weight_stage
    dut, x, _ = build(case)
    _, cap = run_stream(dut, pack(x, dut.in_dtype, 1), case.vectors * 8)
    assert cap.cycles == [v * 528 + n * 66 + 65 + dut.latency for v in range(2) for n in range(8)]


RUNTIME_CASES = [
    Case("INT2", "UINT2", 6, 15, 3, 5, "channel"),     # ROM word 30 bits, input 10: three words
    Case("INT2", "UINT8", 4, 8, 2, 4, "none"),          # ROM word 16 bits, input word 32 bits
    Case("BIPOLAR", "BIPOLAR", 6, 12, 3, 2, "bipolar"),  # ROM word 6 bits, input 2: three words
    Case("TERNARY", "INT4", 8, 6, 4, 3, "shared"),      # ROM word 24 bits, input 12: two words
]


@pytest.mark.parametrize("memory", ["ram"])
@pytest.mark.parametrize("idle,backpressure", [("none", "none"), ("random", "random")])
@pytest.mark.parametrize("case", RUNTIME_CASES, ids=str)
def test_mvau_runtime_weights(case, memory, idle, backpressure):
    """Weights loaded through ``i`` after reset (the SPRAM protocol): the vectors after
    the load words give the reference outputs; the load takes whole vectors."""
    rom, x, expected = build(case)
    dut = MVAU(weights=rom.weights, weight_dtype=rom.weight_dtype, in_dtype=rom.in_dtype,
               acc_dtype=rom.acc_dtype, pe=case.pe, simd=case.simd,
               thresholds=None if rom.thresholds is None else rom.thresholds.table.reshape(case.mh, -1),
               out_dtype=rom.out_dtype if rom.thresholds is not None else None,
               out_scale=1 if rom.thresholds is None else rom.thresholds.out_scale,
               out_bias=0 if rom.thresholds is None else rom.thresholds.out_bias,
               weight_memory=memory)
    load = dut.load_words()
    sf, nf = case.mw // case.simd, case.mh // case.pe
    assert len(load) % sf == 0 and len(load) >= dut.nf * sf * dut.load_words_per_weight_word()
    skip = len(load) // sf * nf
    _, cap = run_stream(dut, load + pack(x, dut.in_dtype, case.simd), skip + case.vectors * nf,
                        idle=idle, backpressure=backpressure, seed=3)
    got = unpack(cap.words[skip:], dut.out_dtype, case.pe).reshape(case.vectors, case.mh)
    for v, c in zip(*np.nonzero(got != expected)):
        pytest.fail(f"vector {v} channel {c}: expected {expected[v, c]}, got {got[v, c]}")


def test_mvau_runtime_weights_rejects_one_word():
    with pytest.raises(ValueError, match=r"^weight_memory must be 'rom' when the weights are one word "
                                         r"\(PE = MH, SIMD = MW\), not 'spram'$"):
        MVAU(weights=np.ones((2, 2), dtype=int), weight_dtype=DT["INT2"], in_dtype=DT["INT2"],
             acc_dtype=DT["INT4"], pe=2, simd=2, weight_memory="spram")


@pytest.mark.parametrize("wdt, xdt, pe, copies", [
    ("INT2", "UINT2", 16, 4),        # shift-and-add lanes: a copy per 4 PEs
    ("INT2", "UINT2", 10, 3),
    ("INT2", "UINT2", 4, 1),
    ("BIPOLAR", "INT4", 8, 2),       # negation lanes
    ("BIPOLAR", "BIPOLAR", 16, 1),   # XNOR counters read one bit per lane
    ("INT8", "INT8", 16, 1),         # multipliers: their own operand registers
])
def test_mvau_input_word_copies(wdt, xdt, pe, copies):
    dut, _, _ = build(Case(wdt, xdt, 2 * pe, 8, pe, 2, "none"))
    assert dut.input_copies == copies
    from amaranth.back import rtlil
    text = rtlil.convert(dut, name="mvau", emit_src=False)
    lines = text.splitlines()
    # marked wires: the input word's copies (and the small weight ROM's kept row register)
    marked = [next(w for w in lines[i:] if w.strip().startswith("wire")).split()[-1]
              for i, line in enumerate(lines) if line.strip() == "attribute \\bitsmith.replica 1"]
    assert len([w for w in marked if w.startswith("\\x_")]) == (copies if copies > 1 else 0)
