"""Accuracy, channels, parameters, estimated resources and cycles: digits_cnn vs slimmed.

Run ``python -m bitsmith.generator.examples.digits_slim.report``. Three rows: the
original ``digits_cnn``, the slimmed network built as is (``--prune off``: the same
16/32-channel hardware), and the slimmed network with ``--prune constant``. The last
two must agree on every test image bit for bit (checked here on the golden model; the
RTL check is ``bitsmith verify ... --prune constant``). Resources are the build
report's estimate; cycles the ideal cycles per frame of the folding (the pruned layers
are refolded to the unpruned bottleneck, so the throughput stays and the lanes shrink).
"""

from __future__ import annotations

import numpy as np

from bitsmith.generator.build import BuildOptions, load_model, make_report, prepare
from bitsmith.sim.golden import run_graph

from ..digits_cnn.train import MODEL as DIGITS_CNN
from ..digits_cnn.train import load_split
from .train import MODEL as DIGITS_SLIM


def measure(model, prune: str, x, y) -> dict:
    """One row: accuracy, channels and parameters per layer, estimate and cycles."""
    graph = prepare(load_model(model, BuildOptions()), BuildOptions(prune=prune))
    out = run_graph(graph, x)
    report = make_report(graph, {}, 0.0)
    matrices = [n for n in graph.nodes if hasattr(n, "weights")]
    return {
        "labels": out.reshape(len(x), -1).argmax(axis=1),
        "accuracy": float((out.reshape(len(x), -1).argmax(axis=1) == y).mean()),
        "channels": "/".join(str(n.out_shape[2]) for n in matrices),
        "parameters": int(sum(n.weights.size for n in matrices)),
        "luts": report["estimate"]["luts"], "ffs": report["estimate"]["ffs"],
        "brams": report["estimate"]["brams"], "cycles": report["ideal_cycles_per_frame"],
        "pruning": graph.pruning,
    }


def main() -> None:
    _, x_te, _, y_te = load_split()
    rows = [("digits_cnn", measure(DIGITS_CNN, "off", x_te, y_te)),
            ("digits_slim, --prune off", measure(DIGITS_SLIM, "off", x_te, y_te)),
            ("digits_slim, --prune constant", measure(DIGITS_SLIM, "constant", x_te, y_te))]
    print("| network | test accuracy | channels c0/c1/fc | weights | est. LUT4 | FF | BRAM18 | ideal cycles |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['accuracy']:.4f} | {r['channels']} | {r['parameters']} | {r['luts']} | "
              f"{r['ffs']} | {r['brams']} | {r['cycles']} |")
    same = np.array_equal(rows[1][1]["labels"], rows[2][1]["labels"])
    print(f"\npruned == unpruned labels on all {len(y_te)} test images: {same}")
    for row in rows[2][1]["pruning"]:
        print(f"  {row[0]}: in {row[2]} -> {row[3]}, out {row[4]} -> {row[5]}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
