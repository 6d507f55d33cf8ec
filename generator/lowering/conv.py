"""Lowering of the convolution and pooling node kinds onto ``hw`` components.

* ``Conv``: :class:`~hw.compute.sliding_window.SlidingWindow` then the
  :class:`~hw.compute.mvau.MVAU` with the ``(OC, KH*KW*IC)`` matrix (window order
  (kh, kw, ic), see :mod:`bitsmith.generator.ir.conv`); a 1x1, stride-1, unpadded conv is the
  MVAU alone. With SIMD across kernel positions (SIMD not dividing IC) the window comes
  from :class:`~hw.compute.parallel_window.ParallelWindow` instead (the FIFO to the MVAU,
  which must hold the windows the MVAU starts while the window unit walks padding and
  skipped rows, is sized from both units' schedules like every other). Depthwise: a
  depthwise-order window then the :class:`~hw.compute.vvau.VVAU`.
* ``MaxPool``: a depthwise-order window padding with the datatype's minimum, then
  :class:`~hw.compute.maxpool.MaxPool` (FINN's ConvolutionInputGenerator + Pool_batch);
  a 1x1/stride-1 unpadded pool is nothing.
* ``GlobalAccPool``: :class:`~hw.compute.global_pool.GlobalAccPool`.
"""

from __future__ import annotations

from bitsmith.hw.compute.global_pool import GlobalAccPool as GlobalPoolUnit
from bitsmith.hw.compute.maxpool import MaxPool as MaxPoolUnit
from bitsmith.hw.compute.mvau import MVAU
from bitsmith.hw.compute.parallel_window import ParallelWindow
from bitsmith.hw.compute.sliding_window import SlidingWindow
from bitsmith.hw.compute.vvau import VVAU
from bitsmith.hw.streams import encode_int
from bitsmith.hw.top import Stage

from ..ir.conv import Conv, GlobalAccPool, MaxPool
from . import lowering


def is_pointwise(node: Conv) -> bool:
    """A 1x1, stride-1, unpadded, non-depthwise conv is a per-pixel matrix-vector product."""
    return (tuple(node.kernel) == (1, 1) and tuple(node.stride) == (1, 1)
            and not any(node.padding) and not node.depthwise)


def window_stage(node, simd: int, depthwise: bool, pad=(0, 0, 0, 0), pad_value: int = 0) -> Stage:
    """The sliding window of ``node`` (SIMD elements per word), padding with the value ``pad_value``."""
    bits = node.in_dtype.bitwidth()
    unit = SlidingWindow(in_shape=tuple(node.in_shape), kernel=tuple(node.kernel),
                         stride=tuple(node.stride), pad=tuple(pad), simd=simd, elem_bits=bits,
                         depthwise=depthwise, pad_value=encode_int(pad_value, node.in_dtype))
    return Stage(component=unit, name=f"{node.name}_swu", in_elem_bits=bits, in_elems=simd,
                 out_elem_bits=bits, out_elems=simd)


def _threshold_args(node: Conv) -> dict:
    th = node.thresholds
    if th is None:
        return dict(thresholds=None, out_dtype=node.acc_dtype)
    return dict(thresholds=th.values, out_dtype=th.out_dtype, out_scale=th.out_scale,
                out_bias=th.out_bias)


@lowering(Conv)
def lower_conv(node: Conv) -> list[Stage]:
    out_bits = node.out_dtype.bitwidth()
    if node.depthwise:
        unit = VVAU(weights=node.matrix(), weight_dtype=node.weight_dtype, in_dtype=node.in_dtype,
                    acc_dtype=node.acc_dtype, pe=node.pe, **_threshold_args(node))
        return [window_stage(node, node.pe, True, node.padding),
                Stage(component=unit, name=node.name, in_elem_bits=node.in_dtype.bitwidth(),
                      in_elems=node.pe, out_elem_bits=out_bits, out_elems=node.pe)]
    unit = MVAU(weights=node.matrix(), weight_dtype=node.weight_dtype, in_dtype=node.in_dtype,
                acc_dtype=node.acc_dtype, pe=node.pe, simd=node.simd, popcount=node.popcount,
                **_threshold_args(node))
    mvau = Stage(component=unit, name=node.name, in_elem_bits=node.in_dtype.bitwidth(),
                 in_elems=node.simd, out_elem_bits=out_bits, out_elems=node.pe)
    if is_pointwise(node):
        return [mvau]
    if node.window_parallel:
        bits = node.in_dtype.bitwidth()
        window = ParallelWindow(in_shape=tuple(node.in_shape), kernel=tuple(node.kernel),
                                stride=tuple(node.stride), pad=node.padding, simd=node.simd,
                                elem_bits=bits)
        return [Stage(component=window, name=f"{node.name}_swu", in_elem_bits=bits,
                      in_elems=node.in_channels, out_elem_bits=bits, out_elems=node.simd), mvau]
    return [window_stage(node, node.simd, False, node.padding), mvau]


@lowering(MaxPool)
def lower_maxpool(node: MaxPool) -> list[Stage]:
    if node.is_identity:
        return []
    bits = node.in_dtype.bitwidth()
    kh, kw = node.kernel
    unit = MaxPoolUnit(dtype=node.in_dtype, pe=node.pe, window=kh * kw)
    return [window_stage(node, node.pe, True, node.padding, node.pad_value),
            Stage(component=unit, name=node.name, in_elem_bits=bits, in_elems=node.pe,
                  out_elem_bits=bits, out_elems=node.pe)]


@lowering(GlobalAccPool)
def lower_global_pool(node: GlobalAccPool) -> list[Stage]:
    h, w, c = node.in_shape
    unit = GlobalPoolUnit(in_dtype=node.in_dtype, out_dtype=node.out_dtype, channels=c, pe=node.pe,
                          pixels=h * w)
    return [Stage(component=unit, name=node.name, in_elem_bits=node.in_dtype.bitwidth(),
                  in_elems=node.pe, out_elem_bits=node.out_dtype.bitwidth(), out_elems=node.pe)]
