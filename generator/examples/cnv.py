"""FINN's CNV topology as a bitsmith IR graph, with random weights (issue 3, item 8).

3x32x32 UINT8 input; conv 64, 64, maxpool, conv 128, 128, maxpool, conv 256, 256 (3x3,
no padding: 32 -> 30 -> 28 -> 14 -> 12 -> 10 -> 5 -> 3 -> 1); dense 512, 512, 10 (raw
accumulators out). ``w1a1``: BIPOLAR weights, BIPOLAR activations (XNOR-popcount after
the first layer); ``w2a2``: INT2 weights, UINT2 activations.

Thresholds are not random: each channel's thresholds sit at quantiles of its own
accumulator over a batch of random images, so every activation level is used and the
network does not collapse to constants -- the RTL check then exercises real data.

Run ``python -m bitsmith.generator.examples.cnv w1a1 OUT`` to build the bundle, or use
:func:`cnv_graph` from tests and benchmarks.
"""

from __future__ import annotations

import sys

import numpy as np
from qonnx.core.datatype import DataType

from bitsmith.generator.ir import Graph, MatrixVector, Thresholds
from bitsmith.generator.ir.conv import Conv, MaxPool
from bitsmith.generator.passes import run_pipeline
from bitsmith.generator.passes.fold import Fold
from bitsmith.sim.golden import run_node

CONV_CHANNELS = (64, 64, "pool", 128, 128, "pool", 256, 256)
DENSE_FEATURES = (512, 512, 10)
PRECISIONS = {"w1a1": ("BIPOLAR", "BIPOLAR"), "w2a2": ("INT2", "UINT2")}
DEFAULT_TARGET_CYCLES = 65536


def _random_weights(rng, dt: DataType, shape) -> np.ndarray:
    """Random weights of ``dt`` with mean 0 (a biased mean makes every channel follow the
    input's overall brightness and the network collapse to a constant)."""
    if dt.name == "BIPOLAR":
        return rng.choice([-1, 1], size=shape).astype(np.int64)
    if dt.name == "INT2":
        return rng.choice([-2, -1, 0, 1], p=[0.1, 0.25, 0.2, 0.45], size=shape).astype(np.int64)
    return rng.integers(int(dt.min()), int(dt.max()) + 1, size=shape).astype(np.int64)


def _quantile_thresholds(acc: np.ndarray, act: DataType) -> Thresholds:
    """Per-channel thresholds at evenly spaced quantiles of the observed accumulators."""
    flat = acc.reshape(-1, acc.shape[-1])
    if act.name == "BIPOLAR":
        t = np.quantile(flat, 0.5, axis=0)[:, None]
        return Thresholds(values=np.ceil(t).astype(np.int64), out_dtype=act, out_scale=2, out_bias=-1)
    steps = int(act.max())                          # UINTn: 2^n - 1 thresholds
    qs = np.arange(1, steps + 1) / (steps + 1)
    t = np.ceil(np.quantile(flat, qs, axis=0).T).astype(np.int64)
    return Thresholds(values=np.sort(t, axis=1), out_dtype=act)


def cnv_inputs(frames: int, seed: int = 0) -> np.ndarray:
    """UINT8 test images with structure at several scales (random 8x8 colour blocks, a
    per-image contrast and fine noise), so deep features differ between images; iid
    pixel noise would average out to nearly the same features for every frame."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(frames, 8, 8, 3))
    coarse = np.kron(blocks, np.ones((1, 4, 4, 1), dtype=np.int64))
    contrast = rng.uniform(0.3, 1.0, size=(frames, 1, 1, 1))
    noise = rng.integers(-24, 25, size=(frames, 32, 32, 3))
    return np.clip(np.round(coarse * contrast) + noise, 0, 255).astype(np.int64)


def cnv_graph(precision: str = "w1a1", *, seed: int = 0, target_cycles: int | None = DEFAULT_TARGET_CYCLES,
              calibration_frames: int = 32) -> Graph:
    """The CNV network at ``precision`` (``w1a1`` or ``w2a2``), folded for ``target_cycles``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    wdt, act = (DataType[n] for n in PRECISIONS[precision])
    rng = np.random.default_rng(seed)
    in_dtype = DataType["UINT8"]
    shape, dt = (32, 32, 3), in_dtype
    x = cnv_inputs(calibration_frames, seed + 1)
    nodes = []

    def add(node, calibrate: bool):
        nonlocal x, shape, dt
        if calibrate:
            acc = run_node(node, x)
            node = node.replace(thresholds=_quantile_thresholds(acc, act))
        nodes.append(node)
        x = run_node(node, x)
        shape, dt = tuple(node.out_shape), node.out_dtype

    conv_index = pool_index = 0
    for spec in CONV_CHANNELS:
        if spec == "pool":
            add(MaxPool(name=f"pool{pool_index}", in_shape=shape, in_dtype=dt, kernel=(2, 2),
                        stride=(2, 2), pe=1), calibrate=False)
            pool_index += 1
            continue
        w = _random_weights(rng, wdt, (spec, 3, 3, shape[2]))
        add(Conv(name=f"conv{conv_index}", in_shape=shape, in_dtype=dt, weights=w, weight_dtype=wdt,
                 kernel=(3, 3), acc_dtype=Conv.minimal_acc_dtype(w, wdt, dt), pe=1, simd=1),
            calibrate=True)
        conv_index += 1
    for k, features in enumerate(DENSE_FEATURES):
        w = _random_weights(rng, wdt, (features, shape[2]))
        last = k == len(DENSE_FEATURES) - 1
        add(MatrixVector(name=f"fc{k}", in_shape=shape, in_dtype=dt, weights=w, weight_dtype=wdt,
                         acc_dtype=MatrixVector.minimal_acc_dtype(w, wdt, dt), pe=1, simd=1),
            calibrate=not last)
    graph = Graph(name=f"cnv_{precision}", in_shape=(32, 32, 3), in_dtype=in_dtype, nodes=tuple(nodes))
    graph.check()
    if target_cycles is not None:
        graph = run_pipeline(graph, (Fold(target_cycles=target_cycles),))
    return graph


def main(argv: list[str]) -> int:
    from bitsmith.generator.build import write_bundle

    if len(argv) != 2 or argv[0] not in PRECISIONS:
        print(f"usage: python -m bitsmith.generator.examples.cnv {{{'|'.join(PRECISIONS)}}} OUT_DIR", file=sys.stderr)
        return 2
    result = write_bundle(cnv_graph(argv[0]), argv[1])
    print(f"{result.out_dir}: ideal {result.report['ideal_cycles_per_frame']} cycles/frame, "
          f"estimate {result.report['estimate']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
