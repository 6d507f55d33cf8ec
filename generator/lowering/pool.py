"""Lowering of average pooling and nearest-neighbour upsampling onto ``hw`` components.

* ``AvgPool``: a depthwise-order :class:`~hw.compute.sliding_window.SlidingWindow` (zero
  padding) then :class:`~hw.compute.avg_pool.AvgPool` (window sum, then qonnx ``Trunc``);
  a 1x1/stride-1 unpadded pool is the sum unit alone with a window of one (or nothing
  without a truncation).
* ``Upsample``: :class:`~hw.compute.upsample.Upsample`; a scale of (1, 1) is nothing.
"""

from __future__ import annotations

from bitsmith.hw.compute.avg_pool import AvgPool as AvgPoolUnit
from bitsmith.hw.compute.upsample import Upsample as UpsampleUnit
from bitsmith.hw.top import Stage

from ..ir.pool import AvgPool, trunc_bounds
from ..ir.resize import Upsample
from . import lowering
from .conv import window_stage


@lowering(AvgPool)
def lower_avg_pool(node: AvgPool) -> list[Stage]:
    if node.is_identity:
        return []
    clip = trunc_bounds(node.trunc_dtype, node.narrow) if node.trunc_dtype is not None else None
    unit = AvgPoolUnit(in_dtype=node.in_dtype, out_dtype=node.out_dtype, pe=node.pe, window=node.window,
                       shift=node.shift, rounding=node.rounding, clip=clip)
    stage = Stage(component=unit, name=node.name, in_elem_bits=node.in_dtype.bitwidth(), in_elems=node.pe,
                  out_elem_bits=node.out_dtype.bitwidth(), out_elems=node.pe)
    if node.single_pixel:
        return [stage]
    return [window_stage(node, node.pe, True, node.padding), stage]


@lowering(Upsample)
def lower_upsample(node: Upsample) -> list[Stage]:
    if node.is_identity:
        return []
    h, w, c = node.in_shape
    bits = node.in_dtype.bitwidth()
    unit = UpsampleUnit(width=w, pixel_words=c // node.pe, scale=tuple(node.scale), word_bits=node.pe * bits)
    return [Stage(component=unit, name=node.name, in_elem_bits=bits, in_elems=node.pe, out_elem_bits=bits,
                  out_elems=node.pe)]
