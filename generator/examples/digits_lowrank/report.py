"""Accuracy against MACs, resources and cycles: the digits MLP and its low-rank versions.

Run ``python -m bitsmith.generator.examples.digits_lowrank.report [--synth BOARD]``. Rows:
the original ``digits`` MLP, then for each rank of :data:`~.train.RANKS` the network right
after ``bitsmith compress`` (regenerated in a temporary folder) and the fine-tuned one of
this folder. Every network is built at its description's folding (the factor layers at
``auto``, sized to the bottleneck), run on the 360 test images in Verilator through
``bitsmith.verify`` (RTL == golden on every frame, measured steady-state cycles), and
reported with the build's estimate; ``--synth BOARD`` adds Yosys/nextpnr figures.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bitsmith import api
from bitsmith.generator.build import BuildOptions
from bitsmith.generator.ir import MatrixVector
from bitsmith.generator.lowrank import compress

from ..digits.train import MODEL as DIGITS
from ..digits.train import load_split
from .train import BITS, LAYERS, RANKS, model_path


def macs(graph) -> int:
    """Multiply-accumulates per frame of the matrix layers (XNOR-popcount counted as MACs)."""
    total = 0
    for n in graph.nodes:
        if isinstance(n, MatrixVector):
            h, w, _ = n.out_shape
            total += n.out_features * n.in_features * h * w
    return total


def weight_bits(graph) -> int:
    return sum(n.weights.size * n.weight_dtype.bitwidth() for n in graph.nodes if isinstance(n, MatrixVector))


def measure(model: Path, x: np.ndarray, y: np.ndarray, work: Path, board: str | None) -> dict:
    design = api.fold(model, BuildOptions())
    out = work / model.stem
    res = api.verify(design, x.reshape(len(x), -1), out_dir=out)
    labels = api.golden(design, x.reshape(len(x), -1)).outputs.reshape(len(x), -1).argmax(axis=1)
    report = api.open_build(out).report
    row = {"accuracy": float((labels == y).mean()), "macs": macs(design.graph), "bits": weight_bits(design.graph),
           "luts": report["estimate"]["luts"], "ffs": report["estimate"]["ffs"],
           "brams": report["estimate"]["brams"], "ideal": res.ideal_cycles_per_frame,
           "cycles": res.cycles_per_frame, "mismatches": res.mismatches, "passed": res.passed}
    if board:
        s = api.synthesise(out, board)
        row.update(synth_luts=s.luts, synth_ffs=s.ffs, synth_brams=s.brams, fmax=s.fmax_mhz)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synth", metavar="BOARD", help="also synthesise each network for BOARD (e.g. ulx3s)")
    args = parser.parse_args()
    _, x_te, _, y_te = load_split()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = [("digits (original)", measure(DIGITS, x_te, y_te, work, args.synth))]
        for rank in RANKS:
            plain = work / f"plain_r{rank}.yaml"
            compress(DIGITS, plain, rank=rank, layers=LAYERS, bits=BITS)
            rows.append((f"rank {rank}, compressed", measure(plain, x_te, y_te, work, None)))
            rows.append((f"rank {rank}, fine-tuned", measure(model_path(rank), x_te, y_te, work, args.synth)))
    head = "| network | test accuracy | MACs/frame | weight bits | est. LUT | est. FF | est. BRAM18 | " \
           "ideal / Verilator cycles | RTL == golden |"
    if args.synth:
        head += f" {args.synth} LUT | FF | BRAM | Fmax MHz |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for name, r in rows:
        line = (f"| {name} | {100 * r['accuracy']:.2f} % | {r['macs']:,} | {r['bits']:,} | {r['luts']:,} | "
                f"{r['ffs']:,} | {r['brams']} | {r['ideal']} / {r['cycles']:g} | "
                f"{'yes' if r['passed'] else 'NO'} ({r['mismatches']} mismatches) |")
        if args.synth:
            line += (f" {r['synth_luts']:,} | {r['synth_ffs']:,} | {r['synth_brams']} | {r['fmax']:.1f} |"
                     if "synth_luts" in r else " | | | |")
        print(line)
    if not all(r["passed"] for _, r in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
