"""NonZeroScan (leading-non-zero detection) and ColumnPointers (even/odd banks)."""

import numpy as np
import pytest
from amaranth.hdl import Module, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator
from qonnx.core.datatype import DataType

from bitsmith.hw.sparse import ColumnPointers, NonZeroScan
from bitsmith.sim.packing import decode, pack
from tests.hw.util import PATTERNS, assert_rejects, run_stream

DT = DataType


class FlatScan(wiring.Component):
    """The scanner with its token payload seen as flat bits (for the stream drivers)."""

    def __init__(self, scan: NonZeroScan):
        self.scan = scan
        super().__init__({"i": In(stream.Signature(len(scan.i.payload))),
                          "o": Out(stream.Signature(unsigned(len(scan.o.payload.as_value()))))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.scan = s = self.scan
        wiring.connect(m, wiring.flipped(self.i), s.i)
        m.d.comb += [self.o.valid.eq(s.o.valid), self.o.payload.eq(s.o.payload.as_value()),
                     s.o.ready.eq(self.o.ready)]
        return m


def expected_tokens(x, simd):
    """(value, col, last, flush) per token; cycles per word max(1, nnz)."""
    tokens = []
    for v in x:
        for w in range(len(v) // simd):
            part = v[w * simd:(w + 1) * simd]
            nz = np.flatnonzero(part)
            final = w == len(v) // simd - 1
            for j, i in enumerate(nz):
                tokens.append((int(part[i]), w * simd + int(i), int(final and j == len(nz) - 1), 0))
            if final and not len(nz):
                tokens.append((0, w * simd, 1, 1))
    return tokens


def check_scan(in_dtype, features, simd, density, frames=4, idle="none", backpressure="none", seed=0):
    rng = np.random.default_rng(seed)
    dt = DT[in_dtype]
    x = rng.integers(int(dt.min()), int(dt.max()) + 1, (frames, features))
    x[rng.random(x.shape) >= density] = 0
    scan = NonZeroScan(in_dtype=dt, in_features=features, simd=simd)
    dut = FlatScan(scan)
    tokens = expected_tokens(x, simd)
    src, cap = run_stream(dut, pack(x.reshape(-1), dt, simd), len(tokens), idle=idle,
                          backpressure=backpressure, seed=seed)
    bits = dt.bitwidth()
    colbits = len(dut.o.payload) - bits - 2
    got = []
    for word in cap.words:
        value = int(decode(np.array([word & ((1 << bits) - 1)]), dt)[0])
        col = (word >> bits) & ((1 << colbits) - 1)
        last, flush = (word >> (bits + colbits)) & 1, (word >> (bits + colbits + 1)) & 1
        got.append((0 if flush else value, col if not flush else tokens[len(got)][1], last, flush))
    assert got == tokens
    if idle == backpressure == "none":
        per_word = [max(1, int(np.count_nonzero(x.reshape(-1, simd)[k])))
                    for k in range(x.size // simd)]
        assert np.diff(src).tolist() == per_word[:-1]       # a word every max(1, nnz) cycles


@pytest.mark.parametrize("idle", PATTERNS)
@pytest.mark.parametrize("backpressure", PATTERNS)
def test_scan_patterns(idle, backpressure):
    check_scan("INT4", 12, 4, 0.4, idle=idle, backpressure=backpressure, seed=2)


@pytest.mark.parametrize("in_dtype, features, simd, density", [
    ("UINT8", 16, 16, 0.3), ("TERNARY", 9, 3, 0.0), ("BINARY", 5, 1, 0.5), ("INT2", 64, 64, 0.9),
    # words of several search chunks (SCAN_CHUNK bits), the last one partial
    ("UINT4", 84, 42, 0.1), ("UINT4", 208, 208, 0.05), ("INT2", 34, 17, 0.6),
])
def test_scan_shapes(in_dtype, features, simd, density):
    check_scan(in_dtype, features, simd, density, seed=features)


def test_scan_rejects():
    assert_rejects(lambda: NonZeroScan(in_dtype=DT["INT4"], in_features=10, simd=4), ValueError,
                   "simd must divide in_features=10, not 4")
    assert_rejects(lambda: NonZeroScan(in_dtype=DT["BIPOLAR"], in_features=4, simd=4), ValueError,
                   "in_dtype must have a zero value, not BIPOLAR")


@pytest.mark.parametrize("ptr", [[0, 3], [0, 0, 2, 2, 7], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]])
def test_pointer_banks(ptr):
    dut = ColumnPointers(col_ptr=np.array(ptr))
    cols = list(range(len(ptr) - 1)) * 2
    seen = []

    async def bench(ctx):
        for c in cols + [0]:
            ctx.set(dut.col, c)
            await ctx.tick()
            seen.append((ctx.get(dut.start), ctx.get(dut.end)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen[:len(cols)] == [(ptr[c], ptr[c + 1]) for c in cols]


def test_pointer_rejects():
    assert_rejects(lambda: ColumnPointers(col_ptr=np.array([1, 2])), ValueError,
                   "col_ptr must rise from 0 over at least 2 entries, not [1, 2]")


@pytest.mark.parametrize("width", [1, 5, 16, 17, 40, 208])
def test_lowest_one_against_python(width):
    """The two-level search equals ``x & -x``, ``popcount(x) <= 1`` and ``x != 0`` on
    random masks of every density, and on the masks with one or no bit set."""
    from amaranth.hdl import Signal
    from bitsmith.hw.sparse.scan import lowest_one
    rng = np.random.default_rng(width)
    masks = [0, (1 << width) - 1] + [1 << b for b in range(width)]
    masks += [int(sum(1 << b for b in range(width) if rng.random() < d)) for d in (0.02, 0.1, 0.5) for _ in range(30)]
    x = Signal(width)
    first, single, anything = lowest_one(x)
    m = Module()
    got = []

    async def bench(ctx):
        for v in masks:
            ctx.set(x, v)
            got.append((ctx.get(first), ctx.get(single), ctx.get(anything)))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert got == [(v & -v, int(bin(v).count("1") <= 1), int(v != 0)) for v in masks]
