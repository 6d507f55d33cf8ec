"""Lowering of the convolution, pooling and residual node kinds onto ``hw`` components.

* ``Conv``: :class:`~hw.compute.sliding_window.SlidingWindow` then the
  :class:`~hw.compute.mvau.MVAU` with the ``(OC, KH*KW*IC)`` matrix (window order
  (kh, kw, ic), see :mod:`bitsmith.generator.ir.conv`); a 1x1, stride-1, unpadded conv is the
  MVAU alone. With SIMD across kernel positions (SIMD not dividing IC) the window comes
  from :class:`~hw.compute.parallel_window.ParallelWindow` instead. Depthwise: a
  depthwise-order window then the :class:`~hw.compute.vvau.VVAU`.
* ``MaxPool``: a depthwise-order window padding with the datatype's minimum, then
  :class:`~hw.compute.maxpool.MaxPool` (FINN's ConvolutionInputGenerator + Pool_batch);
  a 1x1/stride-1 unpadded pool is nothing.
* ``GlobalAccPool``: :class:`~hw.compute.global_pool.GlobalAccPool`.
* ``Residual``: the body lowered into a :class:`~hw.top.Dataflow`, wrapped in
  :class:`~hw.plumbing.residual.ResidualBlock` with a bypass FIFO of :func:`bypass_depth`.
"""

from __future__ import annotations

from bitsmith.hw.compute.global_pool import GlobalAccPool as GlobalPoolUnit
from bitsmith.hw.compute.maxpool import MaxPool as MaxPoolUnit
from bitsmith.hw.compute.mvau import MVAU
from bitsmith.hw.compute.parallel_window import ParallelWindow
from bitsmith.hw.compute.sliding_window import SlidingWindow
from bitsmith.hw.compute.vvau import VVAU
from bitsmith.hw.plumbing.residual import ResidualBlock
from bitsmith.hw.streams import encode_int
from bitsmith.hw.top import Dataflow, Stage

from ..errors import ModelError
from ..ir.conv import Conv, GlobalAccPool, MaxPool, Residual, _Window
from . import lower_node, lowering

# Words in flight inside one lowered stage besides its line buffers: the stage FIFO (3),
# output queues and pipeline registers of the MVAU/VVAU (about 10), a width converter (2).
_IN_FLIGHT_PER_STAGE = 16


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
                acc_dtype=node.acc_dtype, pe=node.pe, simd=node.simd, **_threshold_args(node))
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
                      in_elems=node.in_channels, out_elem_bits=bits, out_elems=node.simd,
                      fifo_depth=parallel_window_fifo(node)), mvau]
    return [window_stage(node, node.simd, False, node.padding), mvau]


def parallel_window_gap(node: Conv) -> int:
    """Most pixels a :class:`ParallelWindow` takes in from one window to the next.

    Windows complete at padded positions ``(KH-1 + i*SH, KW-1 + j*SW)``, one pixel per
    cycle in between: ``SW`` along a row, ``SH*Wp - (OW-1)*SW`` to the next window row,
    and from the frame's last window round to the next frame's first.
    """
    h, w, _ = node.in_shape
    kh, kw = node.kernel
    sh, sw = node.stride
    pt, pl, pb, pr = node.padding
    hp, wp = h + pt + pb, w + pl + pr
    oh, ow = node.out_hw
    first = (kh - 1) * wp + kw - 1
    last = ((oh - 1) * sh + kh - 1) * wp + (ow - 1) * sw + kw - 1
    return max(sw, sh * wp - (ow - 1) * sw, hp * wp - last + first)


def parallel_window_fifo(node: Conv) -> int:
    """Words of the FIFO between a :class:`ParallelWindow` and its MVAU.

    When the MVAU is the slower (``OC/PE > 1``) it takes a window's ``T`` words in one
    burst, then computes for ``(OC/PE - 1)*T`` cycles. Between two windows the window
    unit may walk up to :func:`parallel_window_gap` pixels that complete none (padding,
    the stride's skipped rows, the next frame's first rows), and it can only be as far
    ahead as the FIFO holds: so the FIFO holds every window the MVAU starts during the
    longest walk, plus one, and the MVAU never waits (measured cycles == the formula).
    """
    oc_folds = node.out_channels // node.pe
    if oc_folds == 1:
        return 3
    kh, kw = node.kernel
    words = kh * kw * node.in_channels // node.simd
    windows = -(-parallel_window_gap(node) // (oc_folds * words))
    return (windows + 1) * words + 3


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
        if isinstance(inner, _Window):
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
