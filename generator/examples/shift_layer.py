"""The layer of the shift-unit comparison: one dense layer with power-of-two INT8 weights.

``shift_layer_graph(engine)`` builds the same layer (64 UINT8 inputs, 64 outputs, weights
0 or ±2**e with e in 0..6, seeded; raw accumulator out) at the same folding (PE = SIMD =
8: 64 cycles per vector), either on the integer MVAU (``engine="mvau"``: 8x8-bit products,
DSP blocks on ECP5 and Xilinx) or on the shift unit (``engine="shift"``). ``bitsmith
bench --networks mvau-int8,shift-int8`` synthesises both.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType

from ..ir import Graph, MatrixVector
from ..ir.host import ToNHWC
from ..ir.shift import ShiftMatrixVector

FEATURES = 64
FOLD = 8
ENGINES = ("mvau", "shift")


def shift_layer_weights(seed: int = 15) -> np.ndarray:
    """``(64, 64)`` weights: a fifth zero, the rest ±2**e, e uniform in 0..6 (the 8-bit range)."""
    rng = np.random.default_rng(seed)
    e = rng.integers(0, 7, (FEATURES, FEATURES))
    return (rng.choice([-1, 1], e.shape) * (rng.random(e.shape) >= 0.2) * (1 << e)).astype(np.int64)


def shift_layer_graph(engine: str, seed: int = 15) -> Graph:
    """The comparison layer on ``engine`` ("mvau" or "shift"), folded, accumulator unset."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    node = MatrixVector(name="fc", in_shape=(1, 1, FEATURES), in_dtype=DataType["UINT8"], inputs=("input",),
                        weights=shift_layer_weights(seed), weight_dtype=DataType["INT8"], acc_dtype=None,
                        pe=FOLD, simd=FOLD)
    if engine == "shift":
        node = ShiftMatrixVector.from_dense(node, 1)
    return Graph(name=f"{engine}_int8", in_shape=(1, 1, FEATURES), in_dtype=DataType["UINT8"], nodes=(node,),
                 input_name="input", host_pre=(ToNHWC(shape=(1, 1, FEATURES)),))
