"""The layer of the Winograd comparison: one 3x3 INT8 convolution, direct or Winograd, at
the same cycles per frame.

``winograd_layer_graph(engine)``: an 8x8x12 UINT8 image, 12 output channels, 3x3 kernel,
stride 1, zero padding 1 (8x8 outputs), INT8 weights (seeded), raw accumulator out.
``engine="direct"``: the sliding window and the integer MVAU at PE = 3, SIMD = 12 (36
product lanes, 8x8-bit); ``engine="winograd"``: F(2x2, 3x3) at PE = SIMD = 4 (16 lanes,
11-bit transformed weights -- these weights' ``4 G g G^T`` -- by 11-bit transformed inputs). Both take
``64 * 9 * 12 * 12 / 36 = 16 * 16 * 12 * 12 / 16 = 2304`` cycles per frame. ``bitsmith
bench --networks conv3x3-direct,conv3x3-winograd`` synthesises both.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType

from ..ir import Graph
from ..ir.conv import Conv
from ..ir.host import ToNHWC
from ..ir.winograd import WinogradConv

SIZE, CHANNELS = 8, 12
ENGINES = ("direct", "winograd")
FOLDING = {"direct": (3, 12), "winograd": (4, 4)}
"""``(PE, SIMD)`` of each engine: the same cycles per frame."""


def winograd_layer_graph(engine: str, seed: int = 9) -> Graph:
    """The comparison layer on ``engine`` ("direct" or "winograd"), folded, accumulator unset."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    rng = np.random.default_rng(seed)
    pe, simd = FOLDING[engine]
    shape = (SIZE, SIZE, CHANNELS)
    node = Conv(name="conv", in_shape=shape, in_dtype=DataType["UINT8"], inputs=("input",),
                weights=rng.integers(-128, 128, size=(CHANNELS, 3, 3, CHANNELS)),
                weight_dtype=DataType["INT8"], kernel=(3, 3), stride=(1, 1), pad=(1, 1, 1, 1),
                acc_dtype=None, pe=pe, simd=simd)
    if engine == "winograd":
        node = WinogradConv.from_conv(node)
    return Graph(name=f"conv3x3_{engine}", in_shape=shape, in_dtype=DataType["UINT8"], nodes=(node,),
                 input_name="input", host_pre=(ToNHWC(shape=shape),))
