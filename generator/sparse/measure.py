"""Load-balance and speed-up measurements of the sparse engine (issue 5).

Run ``python -m bitsmith.generator.sparse.measure [--rtl-rows 1024 --cols 256 ...]``. For queue
depths 1, 2, 4, 8, 16 at 64 PEs on a 90 %-sparse layer it reports cycles per frame
measured in the Amaranth simulation of the engine, the exact cycle model (asserted equal
to the simulation), the ideal bound (busiest PE's entries over the non-zero
activations, per frame; "run": the busiest PE over all frames, the true lower bound
when PEs run a vector ahead), and the load-balance efficiency ``1 - idle / total`` PE-cycles (idle =
no stored entry issued, counted on the engine's ``pe_busy`` port). The same sweep on an
EIE-sized layer (4096 x 4096 by default) uses the cycle model alone. Last, the speed-up
over a dense MVAU with the same number of multipliers (``(MH/PE)*(MW/SIMD)`` cycles with
``PE*SIMD = N``).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType

from ..ir.sparse import SparseMatrixVector
from .compress import compress
from .cycles import CycleTrace

DEPTHS = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class RtlRun:
    """One Amaranth simulation of the engine with an always-valid source and always-ready sink."""

    outputs: np.ndarray
    in_cycles: list
    out_cycles: list
    busy: int

    @property
    def cycles(self) -> int:
        return self.out_cycles[-1] - self.in_cycles[0] + 1


def run_rtl(node: SparseMatrixVector, x: np.ndarray) -> RtlRun:
    """Simulate the lowered engine of ``node`` on ``x`` (``(..., in_features)`` values)."""
    from amaranth.sim import Simulator

    from bitsmith.sim.packing import pack, unpack

    from ..lowering.sparse import engine

    dut = engine(node)
    vectors = np.asarray(x).reshape(-1, node.in_features)
    words = pack(vectors.reshape(-1), node.in_dtype, node.simd)
    n_out = vectors.shape[0] * node.rows_per_pe
    got, in_cycles, out_cycles, busy = [], [], [], [0]

    async def bench(ctx):
        k, cycle = 0, 0
        ctx.set(dut.o.ready, 1)
        while len(got) < n_out:
            if k < len(words):
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, words[k])
            else:
                ctx.set(dut.i.valid, 0)
            _, _, i_ready, o_valid, o_payload, pe_busy = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, dut.o.payload, dut.pe_busy)
            if k < len(words) and i_ready:
                in_cycles.append(cycle)
                k += 1
            if o_valid:
                got.append(int(o_payload))
                out_cycles.append(cycle)
            busy[0] += int(pe_busy).bit_count()
            cycle += 1
            if cycle > 100 * (len(words) + n_out) + 100_000:
                raise RuntimeError("sparse engine simulation stalled")

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    outputs = unpack(got, node.out_dtype, node.n_pe).reshape(vectors.shape[0], node.out_features)
    return RtlRun(outputs, in_cycles, out_cycles, busy[0])


def layer(rows: int, cols: int, *, n_pe: int, depth: int, sparsity: float, seed: int,
          bits: int = 4) -> SparseMatrixVector:
    from .node import sparse_node
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, (rows, cols))
    return sparse_node("layer", (1, 1, cols), DataType["UINT4"],
                       compress(w, n_pe=n_pe, sparsity=sparsity, bits=bits), queue_depth=depth)


def activations(cols: int, frames: int, density: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    x = rng.integers(1, 16, (frames, cols))
    x[rng.random(x.shape) >= density] = 0
    return x


def row(node: SparseMatrixVector, x: np.ndarray, trace: CycleTrace, frames: int, measured=None) -> dict:
    from ..estimate.sparse import ideal_cycles_for, pe_bound_for
    from .cycles import pe_work
    work = int(trace.busy)
    run_bound = int(pe_work(node.column_lengths(), x).sum(axis=0).max())
    cycles = measured.cycles if measured is not None else trace.cycles
    return {"depth": node.queue_depth,
            "cycles_per_frame": round(cycles / frames, 1),
            "model_cycles_per_frame": round(trace.cycles / frames, 1),
            "pe_bound_per_frame": round(pe_bound_for(node, x) / frames, 1),
            "pe_bound_run_per_frame": round(run_bound / frames, 1),
            "ideal_per_frame": round(ideal_cycles_for(node, x) / frames, 1),
            "efficiency": round(work / (node.n_pe * cycles), 3)}


def sweep(rows: int, cols: int, *, n_pe: int, sparsity: float, density: float, frames: int,
          rtl: bool, seed: int = 0) -> list[dict]:
    from ..estimate.sparse import cycles_for
    out = []
    x = activations(cols, frames, density, seed)
    base = layer(rows, cols, n_pe=n_pe, depth=1, sparsity=sparsity, seed=seed)
    for depth in DEPTHS:
        node = base.replace(queue_depth=depth)
        trace = cycles_for(node, x)
        measured = None
        if rtl:
            measured = run_rtl(node, x)
            from bitsmith.sim.golden import run_node
            expected = run_node(node, x.reshape(frames, 1, 1, cols)).reshape(frames, -1)
            if not np.array_equal(measured.outputs, expected):
                raise AssertionError(f"depth {depth}: engine output differs from the golden model")
            if measured.in_cycles != trace.in_cycles or measured.out_cycles != trace.out_cycles \
                    or measured.busy != trace.busy:
                raise AssertionError(f"depth {depth}: simulation cycles differ from the cycle model")
        out.append(row(node, x, trace, frames, measured))
    dense = (rows // n_pe) * cols        # MVAU with PE*SIMD = n_pe multipliers (PE = n_pe, SIMD = 1)
    for r in out:
        r["dense_mvau_cycles_per_frame"] = dense
        r["speedup_vs_dense"] = round(dense / r["cycles_per_frame"], 2)
    return out


def table(title: str, rows: list[dict]) -> str:
    head = ("| queue depth | cycles/frame | model | PE bound | PE bound (run) | full bound | efficiency | "
            "dense MVAU | speed-up |\n|---|---|---|---|---|---|---|---|---|")
    lines = [f"### {title}", "", head]
    for r in rows:
        lines.append(f"| {r['depth']} | {r['cycles_per_frame']} | {r['model_cycles_per_frame']} | "
                     f"{r['pe_bound_per_frame']} | {r['pe_bound_run_per_frame']} | {r['ideal_per_frame']} | {r['efficiency']:.3f} | "
                     f"{r['dense_mvau_cycles_per_frame']} | {r['speedup_vs_dense']}x |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rtl-rows", type=int, default=1024)
    ap.add_argument("--rtl-cols", type=int, default=256)
    ap.add_argument("--rtl-frames", type=int, default=4)
    ap.add_argument("--model-rows", type=int, default=4096)
    ap.add_argument("--model-cols", type=int, default=4096)
    ap.add_argument("--model-frames", type=int, default=2)
    ap.add_argument("--pe", type=int, default=64)
    ap.add_argument("--sparsity", type=float, default=0.9)
    ap.add_argument("--density", type=float, default=0.5, help="fraction of non-zero activations")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    results = {}
    t0 = time.time()
    results["rtl"] = sweep(args.rtl_rows, args.rtl_cols, n_pe=args.pe, sparsity=args.sparsity,
                           density=args.density, frames=args.rtl_frames, rtl=True)
    t1 = time.time()
    if args.model_rows:
        results["model"] = sweep(args.model_rows, args.model_cols, n_pe=args.pe, sparsity=args.sparsity,
                                 density=args.density, frames=args.model_frames, rtl=False)
    t2 = time.time()
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print(table(f"{args.rtl_rows}x{args.rtl_cols}, {args.pe} PEs, {args.sparsity:.0%} weight sparsity, "
                    f"{args.density:.0%} non-zero activations - Amaranth simulation ({t1 - t0:.0f} s)",
                    results["rtl"]))
        if "model" in results:
            print()
            print(table(f"{args.model_rows}x{args.model_cols}, same settings - cycle model ({t2 - t1:.0f} s)",
                        results["model"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
