"""The layer of the HashedNets comparison: one 256 x 64 INT8 layer, hashed or dense.

``hashed_layer_graph(engine)``: 64 UINT5 inputs, 256 outputs, fully folded (PE = SIMD = 1:
16,384 cycles per vector), raw accumulator out. ``engine="hashed"`` draws the virtual
matrix from K = 2,048 INT8 values (1/8 of the entries, seed 1); ``engine="dense"`` is the
integer MVAU holding that same virtual matrix in its weight ROM. ``bitsmith bench
--networks dense-256x64,hashed-256x64`` synthesises both.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType

from ..ir import Graph, MatrixVector
from ..ir.hashed import HashedMatrixVector
from ..ir.host import ToNHWC

IN, OUT, BUCKETS = 64, 256, 2048
ENGINES = ("dense", "hashed")


def hashed_layer_graph(engine: str, seed: int = 1) -> Graph:
    """The comparison layer on ``engine`` ("dense" or "hashed")."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    values = np.random.default_rng(seed).integers(-127, 128, BUCKETS)
    common = dict(name="fc", in_shape=(1, 1, IN), in_dtype=DataType["UINT5"], inputs=("input",),
                  weight_dtype=DataType["INT8"], acc_dtype=None, pe=1, simd=1)
    node = HashedMatrixVector(values=values, out_features=OUT, seed=seed, **common)
    if engine == "dense":
        node = MatrixVector(weights=node.weights, **common)
    return Graph(name=f"{engine}_256x64", in_shape=(1, 1, IN), in_dtype=DataType["UINT5"], nodes=(node,),
                 input_name="input", host_pre=(ToNHWC(shape=(1, 1, IN)),))
