"""SparseEngine bit-exact vs numpy, and cycle-exact vs generator.sparse.cycles."""

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator.estimate.sparse import drain_latency
from bitsmith.generator.ir import Thresholds
from bitsmith.generator.lowering.sparse import engine
from bitsmith.generator.sparse import compress, sparse_node
from bitsmith.generator.sparse.cycles import simulate
from bitsmith.generator.sparse.measure import run_rtl
from bitsmith.hw.sparse import SparseEngine
from bitsmith.sim.packing import pack, unpack
from tests.hw.util import PATTERNS, assert_rejects, assert_words_equal, run_stream

DT = DataType


def build(rows, cols, n_pe, depth, bits, sparsity, in_dtype="INT4", simd=None, steps=0, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.integers(-120, 121, (rows, cols))
    layer = compress(w, n_pe=n_pe, sparsity=sparsity, bits=bits)
    node = sparse_node("fc", (1, 1, cols), DT[in_dtype], layer, queue_depth=depth, simd=simd)
    if steps:
        t = np.sort(rng.integers(-400, 400, (rows, steps)), axis=1)
        out = DT[f"UINT{max(1, steps.bit_length())}"]
        node = node.replace(thresholds=Thresholds(values=t, out_dtype=out))
        node.check()
    return node, layer.weights()


def frames_of(node, count, density, seed):
    rng = np.random.default_rng(seed + 100)
    dt = node.in_dtype
    x = rng.integers(int(dt.min()), int(dt.max()) + 1, (count, node.in_features))
    x[rng.random(x.shape) >= density] = 0
    return x


def check_engine(rows, cols, n_pe, depth, bits, sparsity, density, *, in_dtype="INT4", simd=None,
                 steps=0, frames=3, idle="none", backpressure="none", seed=0, x=None):
    node, weights = build(rows, cols, n_pe, depth, bits, sparsity, in_dtype, simd, steps, seed)
    if x is None:
        x = frames_of(node, frames, density, seed)
    acc = x @ weights.T                                       # independent reference
    y = acc if not steps else (acc[..., None] >= node.thresholds.values).sum(axis=-1)
    dut = engine(node)
    assert dut.latency == drain_latency(node)
    expected = pack(y.reshape(-1), node.out_dtype, n_pe)
    src, cap = run_stream(dut, pack(x.reshape(-1), node.in_dtype, node.simd), len(expected),
                          idle=idle, backpressure=backpressure, seed=seed)
    assert_words_equal(cap.words, expected)
    if idle == backpressure == "none":
        trace = simulate(node.column_lengths(), x, simd=node.simd, queue_depth=depth,
                         rows=rows // n_pe, drain_latency=dut.latency)
        assert src == trace.in_cycles, "input transfers differ from the cycle model"
        assert cap.cycles == trace.out_cycles, "output transfers differ from the cycle model"
    return node


@pytest.mark.parametrize("idle", PATTERNS)
@pytest.mark.parametrize("backpressure", PATTERNS)
def test_idle_backpressure(idle, backpressure):
    check_engine(24, 16, 4, 2, 4, 0.7, 0.5, simd=4, frames=4, idle=idle, backpressure=backpressure,
                 seed=3)


@pytest.mark.parametrize("rows, cols, n_pe, depth, bits, sparsity, density, in_dtype, simd", [
    (16, 12, 1, 1, 2, 0.5, 1.0, "INT4", None),     # one PE, depth 1, dense activations
    (32, 10, 2, 16, 3, 0.6, 0.7, "UINT4", 5),
    (48, 20, 3, 3, 5, 0.75, 0.4, "INT8", 4),
    (64, 16, 8, 8, 8, 0.9, 0.3, "TERNARY", None),
    (96, 24, 16, 4, 4, 0.95, 0.1, "BINARY", 8),
    (640, 8, 4, 2, 6, 0.9, 0.6, "INT3", None),     # 160 rows per PE: long padding runs
    (128, 16, 64, 1, 4, 0.8, 0.5, "UINT2", None),  # 64 PEs, depth 1
    (64, 24, 64, 16, 7, 0.5, 0.9, "INT4", 6),      # 64 PEs, one row each, depth 16
])
def test_configurations(rows, cols, n_pe, depth, bits, sparsity, density, in_dtype, simd):
    check_engine(rows, cols, n_pe, depth, bits, sparsity, density, in_dtype=in_dtype, simd=simd,
                 seed=rows + cols + n_pe)


@pytest.mark.parametrize("density", [0.0, 0.1, 0.9])
def test_activation_sparsity_with_thresholds(density):
    check_engine(32, 12, 4, 4, 4, 0.8, density, steps=3, frames=4, seed=7)


def test_zero_vectors_and_zero_words():
    node, _ = build(16, 12, 4, 2, 3, 0.6, simd=3)
    x = np.zeros((4, 12), dtype=np.int64)
    x[1, 1] = 5                       # only the first word non-zero: the last word flushes
    x[2, 11] = -3                     # only the last element
    check_engine(16, 12, 4, 2, 3, 0.6, 0, simd=3, x=x)


def test_busy_counter_counts_work():
    node, _ = build(64, 32, 8, 2, 4, 0.9)
    x = frames_of(node, 3, 0.5, 0)
    run = run_rtl(node, x)
    lengths = node.column_lengths()
    assert run.busy == int(((x != 0).astype(np.int64) @ lengths.T).sum())
    trace = simulate(lengths, x, simd=node.simd, queue_depth=2, rows=8, drain_latency=1)
    assert (run.in_cycles, run.out_cycles, run.busy) == (trace.in_cycles, trace.out_cycles, trace.busy)


@pytest.mark.parametrize("steps", [0, 3])
def test_latency(steps):
    # one PE, one column of 2 entries (rows 0 and 2), one non-zero activation: the word is
    # taken at 0, but after reset the PE first clears its 2 banks of 4 accumulators
    # (cycles 0..7) and takes the token only at 8; its entries issue at 11 and 12, and
    # row l leaves 5 + latency + l cycles after the last (the next test: the entries of
    # a word taken after the clears issue 6 and 7 cycles after it)
    entries = (np.array([[1, 0], [2, 1]]),)
    thresholds = np.array([[-1, 0, 1]] * 3) if steps else None
    dut = SparseEngine(entries=entries, col_ptr=np.array([[0, 2]]), codebook=np.array([0, 1, 2, 3]),
                       out_features=3, weight_dtype=DT["UINT2"], in_dtype=DT["INT4"], acc_dtype=DT["INT6"],
                       queue_depth=1, simd=1, thresholds=thresholds,
                       out_dtype=DT["UINT2"] if steps else None)
    src, cap = run_stream(dut, [3], 3)
    assert src == [0]
    assert cap.cycles == [7 + 10 + dut.latency + l for l in range(3)]
    y = [3, 0, 6] if not steps else [3, 2, 3]
    assert unpack(cap.words, DT["UINT2"] if steps else DT["INT6"], 1).tolist() == y


def test_pointer_banks_are_both_used():
    # a column with entries in every PE and odd/even columns alternating empty/full
    node, _ = build(8, 6, 2, 2, 2, 0.5)
    x = np.arange(1, 7).reshape(1, 6) % 8
    check_engine(8, 6, 2, 2, 2, 0.5, 1.0, x=x)


def kwargs(**change):
    base = dict(entries=(np.zeros((0, 2), dtype=np.int64),), col_ptr=np.zeros((1, 3), dtype=np.int64),
                codebook=np.array([0, 1, 2, 3]), out_features=4, weight_dtype=DT["UINT2"],
                in_dtype=DT["INT4"], acc_dtype=DT["INT8"], queue_depth=2, simd=2)
    base.update(change)
    return base


@pytest.mark.parametrize("change, error, message", [
    (dict(entries=np.zeros((1, 2))), TypeError, "entries must be a tuple of arrays (one per PE), not ndarray"),
    (dict(entries=()), ValueError, "entries must hold 1..64 PEs, not 0"),
    (dict(out_features=3, entries=(np.zeros((0, 2), np.int64),) * 2, col_ptr=np.zeros((2, 3), np.int64)),
     ValueError, "out_features must be a multiple of 2 PEs, not 3"),
    (dict(queue_depth=17), ValueError, "queue_depth must be 1..16, not 17"),
    (dict(queue_depth=0), ValueError, "queue_depth must be a positive integer, not 0"),
    (dict(simd=3), ValueError, "simd must divide in_features=2, not 3"),
    (dict(codebook=np.array([0, 1, 2])), ValueError, "codebook must have 2**b entries with b in 2..8, not 3"),
    (dict(codebook=np.array([1, 1, 2, 3])), ValueError, "codebook[0] must be 0, not 1"),
    (dict(in_dtype=DT["BIPOLAR"]), ValueError, "in_dtype must have a zero value, not BIPOLAR"),
    (dict(col_ptr=np.zeros((2, 3), np.int64)), ValueError, "col_ptr must have 1 rows (one per PE), not 2"),
    (dict(out_dtype=DT["INT4"]), ValueError, "out_dtype must be acc_dtype INT8 without thresholds, not INT4"),
])
def test_rejects(change, error, message):
    assert_rejects(lambda: SparseEngine(**kwargs(**change)), error, message)


def test_first_entry_issues_six_cycles_after_the_word():
    """Queues empty and the accumulators cleared: the word is taken at t, its token enters
    the scanner's output slice at t + 1, leaves it for the broadcast register at t + 2,
    is broadcast at t + 3, the PE reads the column's pointers (t + 4) and entry (t + 5)
    and issues it at t + 6 (``pe_busy``), the second entry at t + 7."""
    from amaranth.sim import Simulator

    dut = SparseEngine(entries=(np.array([[1, 0], [2, 1]]),), col_ptr=np.array([[0, 2]]),
                       codebook=np.array([0, 1, 2, 3]), out_features=3, weight_dtype=DT["UINT2"],
                       in_dtype=DT["INT4"], acc_dtype=DT["INT6"], queue_depth=1, simd=1)
    seen = {"taken": [], "busy": []}

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        for t in range(40):
            ctx.set(dut.i.valid, t == 20)
            ctx.set(dut.i.payload, 3)
            if ctx.get(dut.i.valid) and ctx.get(dut.i.ready):
                seen["taken"].append(t)
            if ctx.get(dut.pe_busy):
                seen["busy"].append(t)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == {"taken": [20], "busy": [26, 27]}
