"""Lowering of the convolution, pooling and residual node kinds onto ``hw`` components.

* ``Conv``: :class:`~hw.compute.sliding_window.SlidingWindow` then the
  :class:`~hw.compute.mvau.MVAU` with the ``(OC, KH*KW*IC)`` matrix (window order
  (kh, kw, ic), see :mod:`bitsmith.generator.ir.conv`); a 1x1, stride-1, unpadded conv is the
  MVAU alone. Depthwise: a depthwise-order window then the :class:`~hw.compute.vvau.VVAU`.
* ``MaxPool``: a depthwise-order window then :class:`~hw.compute.maxpool.MaxPool`
  (FINN's ConvolutionInputGenerator + Pool_batch); a 1x1/stride-1 pool is nothing.
* ``GlobalAccPool``: :class:`~hw.compute.global_pool.GlobalAccPool`.
* ``Residual``: the body lowered into a :class:`~hw.top.Dataflow`, wrapped in
  :class:`~hw.plumbing.residual.ResidualBlock` with a bypass FIFO of :func:`bypass_depth`.
"""

from __future__ import annotations

from bitsmith.hw.compute.global_pool import GlobalAccPool as GlobalPoolUnit
from bitsmith.hw.compute.maxpool import MaxPool as MaxPoolUnit
from bitsmith.hw.compute.mvau import MVAU
from bitsmith.hw.compute.sliding_window import SlidingWindow
from bitsmith.hw.compute.vvau import VVAU
from bitsmith.hw.plumbing.residual import ResidualBlock
from bitsmith.hw.top import Dataflow, Stage

from ..errors import ModelError
from ..ir.conv import Conv, GlobalAccPool, MaxPool, Residual
from . import lower_node, lowering

# Words in flight inside one lowered stage besides its line buffers: the stage FIFO (3),
# output queues and pipeline registers of the MVAU/VVAU (about 10), a width converter (2).
_IN_FLIGHT_PER_STAGE = 16


def is_pointwise(node: Conv) -> bool:
    """A 1x1, stride-1, unpadded, non-depthwise conv is a per-pixel matrix-vector product."""
    return (tuple(node.kernel) == (1, 1) and tuple(node.stride) == (1, 1)
            and not any(node.padding) and not node.depthwise)


def _window_stage(node, simd: int, depthwise: bool, pad=(0, 0, 0, 0)) -> Stage:
    bits = node.in_dtype.bitwidth()
    unit = SlidingWindow(in_shape=tuple(node.in_shape), kernel=tuple(node.kernel),
                         stride=tuple(node.stride), pad=tuple(pad), simd=simd, elem_bits=bits,
                         depthwise=depthwise)
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
        return [_window_stage(node, node.pe, True, node.padding),
                Stage(component=unit, name=node.name, in_elem_bits=node.in_dtype.bitwidth(),
                      in_elems=node.pe, out_elem_bits=out_bits, out_elems=node.pe)]
    unit = MVAU(weights=node.matrix(), weight_dtype=node.weight_dtype, in_dtype=node.in_dtype,
                acc_dtype=node.acc_dtype, pe=node.pe, simd=node.simd, **_threshold_args(node))
    mvau = Stage(component=unit, name=node.name, in_elem_bits=node.in_dtype.bitwidth(),
                 in_elems=node.simd, out_elem_bits=out_bits, out_elems=node.pe)
    if is_pointwise(node):
        return [mvau]
    return [_window_stage(node, node.simd, False, node.padding), mvau]


@lowering(MaxPool)
def lower_maxpool(node: MaxPool) -> list[Stage]:
    if tuple(node.kernel) == (1, 1) and tuple(node.stride) == (1, 1):
        return []
    bits = node.in_dtype.bitwidth()
    kh, kw = node.kernel
    unit = MaxPoolUnit(dtype=node.in_dtype, pe=node.pe, window=kh * kw)
    return [_window_stage(node, node.pe, True),
            Stage(component=unit, name=node.name, in_elem_bits=bits, in_elems=node.pe,
                  out_elem_bits=bits, out_elems=node.pe)]


@lowering(GlobalAccPool)
def lower_global_pool(node: GlobalAccPool) -> list[Stage]:
    h, w, c = node.in_shape
    unit = GlobalPoolUnit(in_dtype=node.in_dtype, out_dtype=node.out_dtype, channels=c, pe=node.pe,
                          pixels=h * w)
    return [Stage(component=unit, name=node.name, in_elem_bits=node.in_dtype.bitwidth(),
                  in_elems=node.pe, out_elem_bits=node.out_dtype.bitwidth(), out_elems=node.pe)]


def bypass_depth(node: Residual, body_stages: int) -> int:
    """Words of the residual bypass FIFO (``pe`` elements each).

    The add consumes bypass word ``j`` together with body output word ``j``; the body can
    emit output row ``r`` only once input row ``r + D`` is complete, ``D`` the sum of
    ``KH - 1 - pad_top`` over the body's windows (the sliding window starts an output row
    when all its image rows are written). So the bypass must hold ``(D + 1)`` image rows
    to never deadlock, plus the words in flight in the body's FIFOs and pipelines
    (:data:`_IN_FLIGHT_PER_STAGE` per stage) to never stall it. A body with a strided
    window, or where that exceeds it, gets one whole frame (always enough: an output
    word never needs inputs of a later frame).
    """
    h, w, c = node.in_shape
    frame = h * w * c // node.pe
    rows = 1
    for inner in node.body:
        if isinstance(inner, (Conv, MaxPool)):
            if tuple(inner.stride) != (1, 1):
                rows = h
                break
            rows += inner.kernel[0] - 1 - inner.padding[0]
    lookahead = min(frame, -(-min(rows, h) * w * c // node.pe))
    return max(3, lookahead + _IN_FLIGHT_PER_STAGE * (body_stages + 1))


@lowering(Residual)
def lower_residual(node: Residual) -> list[Stage]:
    from ..build import size_fifos  # the same FIFO sizing as the top-level chain

    stages = size_fifos([(inner, lower_node(inner)) for inner in node.body])
    bits = node.in_dtype.bitwidth()
    if not stages:
        raise ModelError(f"layer {node.name!r}: the residual body lowers to no hardware "
                         f"(a body of reshapes or 1x1 pools is the identity; use a layer that computes)")
    body = Dataflow(stages)
    unit = ResidualBlock(body=body, in_dtype=node.in_dtype, body_dtype=node.body_dtype,
                         out_dtype=node.out_dtype, pe=node.pe, body_in_elems=body.in_elems,
                         body_out_elems=body.out_elems,
                         bypass_depth=bypass_depth(node, len(stages)))
    return [Stage(component=unit, name=node.name, in_elem_bits=bits, in_elems=node.pe,
                  out_elem_bits=node.out_dtype.bitwidth(), out_elems=node.pe)]
