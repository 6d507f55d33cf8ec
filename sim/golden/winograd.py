"""Golden function of the Winograd F(2x2, 3x3) convolution: the transforms in integers.

Runs the algorithm itself (input transform, elementwise products summed over input
channels, output transform, exact rescale), not the direct convolution, so comparing it
with :func:`bitsmith.sim.golden.conv.conv` checks the construction.
"""

from __future__ import annotations

import numpy as np

from bitsmith.generator.ir.winograd import AT, BT, SCALE_SHIFT, WinogradConv

from . import golden
from .conv import windows
from .dense import apply_thresholds


def winograd_accumulator(node: WinogradConv, x: np.ndarray) -> np.ndarray:
    """The direct accumulator ``(N, OH, OW, OC)`` of ``node`` computed by F(2x2, 3x3).

    Raises :class:`AssertionError` if the output transform is not an exact multiple of 4
    (it always is: :mod:`bitsmith.generator.ir.winograd`).
    """
    d = windows(x.astype(np.int64), (4, 4), (2, 2), node.tile_padding)   # N, TH, TW, 4, 4, IC
    v = np.einsum("ir,jc,nhwrcq->nhwijq", BT, BT, d)
    u = node.transformed_weights().reshape(4, 4, node.out_channels, node.in_channels)
    m = np.einsum("nhwijq,ijoq->nhwijo", v, u)
    y = np.einsum("ai,bj,nhwijo->nhwabo", AT, AT, m)
    if np.any(y & ((1 << SCALE_SHIFT) - 1)):
        raise AssertionError(f"layer {node.name!r}: Winograd output transform is not a multiple "
                             f"of {1 << SCALE_SHIFT}")
    acc = y >> SCALE_SHIFT                                                # N, TH, TW, 2, 2, OC
    n, th, tw = acc.shape[:3]
    acc = acc.transpose(0, 1, 3, 2, 4, 5).reshape(n, 2 * th, 2 * tw, node.out_channels)
    oh, ow = node.out_hw
    return acc[:, :oh, :ow]


@golden(WinogradConv)
def winograd_conv(node: WinogradConv, x: np.ndarray) -> np.ndarray:
    acc = winograd_accumulator(node, x)
    if node.thresholds is None:
        return acc
    return apply_thresholds(acc, node.thresholds)
