"""Golden functions of average pooling and nearest-neighbour upsampling."""

from __future__ import annotations

import numpy as np

from bitsmith.generator.ir.pool import AvgPool, divide_rounded, trunc_bounds
from bitsmith.generator.ir.resize import Upsample

from . import golden
from .conv import windows


@golden(AvgPool)
def avg_pool(node: AvgPool, x: np.ndarray) -> np.ndarray:
    """Window sums (zero padding), then qonnx ``Trunc`` when ``shift``/``trunc_dtype`` ask for it."""
    sums = windows(x.astype(np.int64), node.kernel, node.stride, node.padding).sum(axis=(3, 4))
    y = divide_rounded(sums, node.shift, node.rounding)
    if node.trunc_dtype is not None:
        y = np.clip(y, *trunc_bounds(node.trunc_dtype, node.narrow))
    return y


@golden(Upsample)
def upsample(node: Upsample, x: np.ndarray) -> np.ndarray:
    fh, fw = node.scale
    return np.repeat(np.repeat(x.astype(np.int64), fh, axis=1), fw, axis=2)
