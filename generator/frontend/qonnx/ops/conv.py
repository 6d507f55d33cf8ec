"""``Conv``, ``Pad``, ``MaxPool``, ``AveragePool``, ``GlobalAveragePool``/``ReduceMean`` -> IR windows.

A convolution is a matrix layer per output pixel (``Conv`` IR node, weights transposed
from ONNX ``(OC, IC, KH, KW)`` to window order ``(OC, KH, KW, IC)``); the scale and
offset algebra is that of :mod:`.matmul`. Zero padding pads the *integer* stream with 0,
which is the real 0 only when the input has no offset, so padding needs one. A
``Pad`` in front of a ``Conv`` is folded into the convolution's padding. Max pooling
commutes with the per-channel increasing float chain (rows of the layer before are
flipped where the slope is negative; padding holds the datatype's minimum, ceil mode is
the IR pool's); an average pool (k x k, strided, padded with ``count_include_pad=1``) is an
integer window sum (:class:`~bitsmith.generator.ir.pool.AvgPool`) with the ``1/k^2`` moved
into the chain, a global one (``GlobalAveragePool``, a whole-map ``AveragePool``, torch
dynamo's ``ReduceMean`` over the spatial axes) a :class:`GlobalAccPool`. A following
``Trunc`` (Brevitas' ``TruncAvgPool``) is a quantizer of that sum: exact thresholds.
Three-dimensional tensors ``(N, C, L)`` (``Conv1d``, ``MaxPool1d``, ``AvgPool1d``) run as
``(L, 1, C)`` columns with ``(K, 1)`` windows, the IR's 1-D convention.
"""

from __future__ import annotations

import numpy as np

from ....errors import ModelError
from ....ir.conv import Conv, GlobalAccPool, MaxPool
from ....ir.pool import AvgPool
from ....ir.resize import Upsample
from ....ir.dense import xnor_mode
from .. import chain as ch
from ..flip import flip_rows
from ..state import nchw_index
from ..weights import input_scale, read_weights
from . import attr, constant, handles, opset, where


def map_index(shape: tuple) -> np.ndarray:
    """The un-permuted stream index of an ONNX feature map: (1, C, H, W) on (H, W, C), or a
    sequence (1, C, L) on (L, 1, C) (the 1-D layers' column convention)."""
    if len(shape) == 3:
        return nchw_index((1, shape[1], shape[2], 1)).reshape(shape)
    return nchw_index(shape)


def _feature_map(st, here: str) -> tuple[int, int, int]:
    """Check the current tensor is an un-permuted (1, C, H, W) map or (1, C, L) sequence on the
    stream; (C, H, W), with (C, L, 1) for a sequence."""
    if st.phase == "tail":
        raise ModelError(f"{here}: a feature-map layer after the float tail is not supported")
    st.start_hardware(here)
    if len(st.shape) not in (3, 4) or not np.array_equal(st.index, map_index(st.shape)):
        raise ModelError(f"{here}: the input must be an (N, C, H, W) feature map or an (N, C, L) "
                         f"sequence, not {st.shape}")
    return st.shape[1], st.shape[2], (st.shape[3] if len(st.shape) == 4 else 1)


def _set_map(st, c: int, oh: int, ow: int) -> None:
    """The current tensor becomes the layer output: (1, C, OH, OW), or (1, C, OH) for a sequence."""
    st.shape = (1, c, oh, ow) if len(st.shape) == 4 else (1, c, oh)
    st.index = map_index(st.shape)


def _channel_shape(st, c: int) -> tuple:
    return (1, c) + (1,) * (len(st.shape) - 2)


def _per_channel_chain(st, here: str) -> None:
    """Reduce the chain's constants to one per channel (they must not vary over pixels)."""
    shape = _channel_shape(st, st.shape[1])
    st.chain = ch.remap(st.chain, lambda v: st.per_channel(v, here, "scale/bias").reshape(shape))


def _window(node, rank: int) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int, int, int]]:
    """(kernel, stride, pad (top, left, bottom, right)) of a 1-D or 2-D window node, with
    dilations and auto_pad refused; a 1-D window (K,) runs as (K, 1)."""
    here = where(node)
    if attr(node, "auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise ModelError(f"{here}: auto_pad {attr(node, 'auto_pad')!r} is not supported; give explicit pads")
    dims = rank - 2
    if any(d != 1 for d in _pairs(node, "dilations", 1, dims)):
        raise ModelError(f"{here}: dilated windows are not supported")
    kernel = _pairs(node, "kernel_shape", 1, dims)
    stride = _pairs(node, "strides", 1, dims)
    pads = _pairs(node, "pads", 0, 2 * dims)
    if len(kernel) != dims or len(stride) != dims or len(pads) != 2 * dims:
        raise ModelError(f"{here}: a {dims}-D window needs {dims} kernel sizes and strides and {2 * dims} pads")
    if dims == 1:
        return (kernel[0], 1), (stride[0], 1), (pads[0], 0, pads[1], 0)
    return tuple(kernel), tuple(stride), (pads[0], pads[1], pads[2], pads[3])


def _pairs(node, name: str, default: int, count: int = 2) -> list[int]:
    value = attr(node, name)
    return [default] * count if value is None else [int(v) for v in value]


def _spatial_only(node, values: list[int]) -> None:
    if any(values[i] for i in (0, 1, 4, 5)):
        raise ModelError(f"{where(node)}: only padding of the spatial axes is supported")


@handles("Pad")
def pad(st, node) -> None:
    here = where(node)
    mode = attr(node, "mode", "constant")
    pads = ([int(p) for p in constant(st, node, 1, "pads").reshape(-1)] if opset(st) >= 11
            else [int(p) for p in attr(node, "pads", [])])
    value = (float(constant(st, node, 2, "constant value").reshape(-1)[0])
             if opset(st) >= 11 and len(node.input) > 2 and node.input[2] else float(attr(node, "value", 0.0)))
    if mode != "constant" or value != 0.0 or len(pads) != 8 or min(pads) < 0:
        raise ModelError(f"{here}: only non-negative constant zero padding of a feature map is supported")
    _spatial_only(node, pads)
    consumers = st.model.find_consumers(node.output[0]) or []
    if len(consumers) != 1 or consumers[0].op_type != "Conv":
        raise ModelError(f"{here}: zero padding is supported only directly before a Conv")
    _feature_map(st, here)
    prev = st.pending_pad
    st.pending_pad = (prev[0] + pads[2], prev[1] + pads[3], prev[2] + pads[6], prev[3] + pads[7])
    st.record(node, "folded into the padding of the next convolution")


@handles("Conv")
def conv(st, node) -> None:
    here = where(node)
    ic, h, w = _feature_map(st, here)
    wts = read_weights(st.model, node.input[1], here)
    values, scale = wts.values, np.broadcast_to(wts.scale, wts.values.shape)
    if values.ndim != len(st.shape):
        raise ModelError(f"{here}: weights of shape {values.shape} for an input of shape {st.shape}")
    if values.ndim == 3:      # Conv1d: (OC, IC, K) runs as (OC, IC, K, 1) on the (L, 1, C) column
        values, scale = values[..., None], scale[..., None]
    kernel, stride, pads = _window(node, len(st.shape))
    oc, wic, kh, kw = values.shape
    group = int(attr(node, "group", 1))
    depthwise = group != 1
    if depthwise and not (group == ic == oc and wic == 1):
        raise ModelError(f"{here}: grouped convolutions are supported only as depthwise "
                         f"(group = in = out channels), not group={group} with {ic}->{oc} channels")
    if not depthwise and wic != ic:
        raise ModelError(f"{here}: weights for {wic} input channels, the input has {ic}")
    ws = scale[:, :1, :1, :1]
    if not np.all(scale == ws):
        raise ModelError(f"{here}: the weight scale varies inside a kernel; only per-tensor or "
                         f"per-output-channel weight scales can be pulled out of an integer accumulator")
    ws = ws.reshape(-1)
    pt, pl, pb, pr = st.pending_pad
    pad4 = (pads[0] + pt, pads[1] + pl, pads[2] + pb, pads[3] + pr)
    st.pending_pad = (0, 0, 0, 0)
    if not ch.is_affine(st.chain):
        raise ModelError(f"{here}: its input is a float activation (ReLU without a quantizer after it); "
                         f"convolutions need a quantized input")
    _per_channel_chain(st, here)
    mul, add = (np.broadcast_to(v, _channel_shape(st, ic)).reshape(-1) for v in ch.as_affine(st.chain))
    if any(pad4) and np.any(add != 0):
        raise ModelError(f"{here}: zero padding needs an input without offset (the integer 0 must be "
                         f"the real 0), but the input has a zero point or bias")
    real = values * ws[:, None, None, None]
    # the input offset b (per channel) adds sum(W * b) over each window, per output channel
    offset = real.sum(axis=(1, 2, 3)) * add if depthwise else real.sum(axis=(2, 3)) @ add
    if depthwise:           # output channel c sees input channel c only: its scale joins the chain
        if np.any(mul == 0):
            raise ModelError(f"{here}: the input scale is zero for some channels")
        s = mul
    else:
        s, values, wts = input_scale(mul, values, 1, wts, here, "channels", "a convolution")
    weights = values.transpose(0, 2, 3, 1)                 # (OC, KH, KW, IC) window order
    name = st.new_name("Conv")
    acc = Conv.minimal_acc_dtype(weights, wts.dtype, st.dtype)
    layer = Conv(name=name, in_shape=st.hw_shape, in_dtype=st.dtype, weights=weights, weight_dtype=wts.dtype,
                 kernel=(kh, kw), stride=stride, pad=pad4, acc_dtype=acc, depthwise=depthwise)
    layer.check()
    mw = kh * kw * (1 if depthwise else ic)
    xnor = xnor_mode(wts.dtype, st.dtype)
    out_mul, out_add = (2 * s * ws, offset - s * ws * mw) if xnor else (s * ws, offset)
    if len(node.input) > 2 and node.input[2]:
        out_add = out_add + constant(st, node, 2, "bias").astype(np.float64).reshape(-1)
    oh, ow = layer.out_hw
    st.add_node(layer, absorbable=True)
    _set_map(st, oc, oh, ow)
    shape = _channel_shape(st, oc)
    st.chain = [ch.affine(out_mul.reshape(shape), out_add.reshape(shape))]
    if wts.producer is not None:
        st.record(wts.producer, f"weights of {name} ({wts.dtype.name})")
    kind = "depthwise " if depthwise else ""
    st.record(node, f"lowered to {name} ({kind}Conv {kh}x{kw}, {ic}->{oc} channels, {wts.dtype.name} weights"
                    f"{', XNOR-popcount' if xnor else ''})")


def _make_increasing(st, here: str) -> None:
    """Flip rows of the layer before so every channel's chain is non-decreasing."""
    c = st.shape[1]
    shape = _channel_shape(st, c)
    slope = np.broadcast_to(ch.slope_sign(st.chain), shape).reshape(-1)
    if not np.any(slope < 0):
        return
    if not st.absorbable:
        raise ModelError(f"{here}: the float scale before it is negative for some channels and the layer "
                         f"before cannot absorb a sign flip")
    layer, mul, add = flip_rows(st.producer_node(), slope < 0)
    st.replace_producer(layer)
    st.chain = [ch.affine(mul.reshape(shape), add.reshape(shape))] + st.chain


def _ceil_mode(node) -> bool:
    value = attr(node, "ceil_mode", 0)
    if value not in (0, 1):
        raise ModelError(f"{where(node)}: ceil_mode must be 0 or 1, not {value!r}")
    return bool(value)


@handles("MaxPool")
def maxpool(st, node) -> None:
    here = where(node)
    c, h, w = _feature_map(st, here)
    if len(node.output) > 1 and node.output[1]:
        raise ModelError(f"{here}: the Indices output of MaxPool is not supported")
    kernel, stride, pad = _window(node, len(st.shape))
    if attr(node, "storage_order", 0):
        raise ModelError(f"{here}: storage_order=1 is not supported")
    _per_channel_chain(st, here)
    _make_increasing(st, here)
    layer = MaxPool(name=st.new_name("MaxPool"), in_shape=st.hw_shape, in_dtype=st.dtype, kernel=kernel,
                    stride=stride, pad=pad, ceil_mode=_ceil_mode(node))
    layer.check()
    st.add_node(layer)
    _set_map(st, c, *layer.out_hw)
    st.record(node, f"lowered to {layer.name} (MaxPool {kernel[0]}x{kernel[1]})")


def _global_pool(st, node, here: str, keepdims: bool) -> None:
    """The whole map summed per channel; the 1/(H*W) joins the float chain."""
    c, h, w = _feature_map(st, here)
    if not ch.is_affine(st.chain):
        raise ModelError(f"{here}: averaging a float activation (ReLU without a quantizer) is not supported")
    _per_channel_chain(st, here)
    layer = GlobalAccPool(name=st.new_name("GlobalAccPool"), in_shape=st.hw_shape, in_dtype=st.dtype)
    layer.check()
    st.add_node(layer)
    mul, add = ch.as_affine(st.chain)
    st.shape = _channel_shape(st, c) if keepdims else (1, c)
    st.index = np.arange(c).reshape(st.shape)
    st.chain = [ch.affine(np.reshape(mul / (h * w), st.shape) if np.size(mul) > 1 else mul / (h * w),
                          np.reshape(add, st.shape) if np.size(add) > 1 else add)]
    st.record(node, f"lowered to {layer.name} (sum over {h}x{w}; the 1/{h * w} joins the float chain)")


@handles("GlobalAveragePool")
def global_average_pool(st, node) -> None:
    _global_pool(st, node, where(node), keepdims=True)


@handles("ReduceMean")
def reduce_mean(st, node) -> None:
    here = where(node)
    rank = len(st.shape)
    if opset(st) >= 18 and len(node.input) > 1 and node.input[1]:
        axes = [int(a) for a in constant(st, node, 1, "axes").reshape(-1)]
    else:
        axes = [int(a) for a in (attr(node, "axes") or [])]
    axes = sorted({a + rank if a < 0 else a for a in axes})
    if not axes and not attr(node, "noop_with_empty_axes", 0):
        axes = list(range(rank))
    if axes != list(range(2, rank)):
        raise ModelError(f"{here}: only a mean over all spatial axes (a global average pool, axes "
                         f"{list(range(2, rank))}) is supported, not axes {axes}")
    _global_pool(st, node, here, keepdims=bool(attr(node, "keepdims", 1)))


@handles("AveragePool")
def average_pool(st, node) -> None:
    here = where(node)
    c, h, w = _feature_map(st, here)
    kernel, stride, pad = _window(node, len(st.shape))
    ceil_mode = _ceil_mode(node)
    if kernel == (h, w) and not any(pad) and not ceil_mode:
        _global_pool(st, node, here, keepdims=True)
        return
    if not ch.is_affine(st.chain):
        raise ModelError(f"{here}: averaging a float activation (ReLU without a quantizer) is not supported")
    _per_channel_chain(st, here)
    layer = AvgPool(name=st.new_name("AvgPool"), in_shape=st.hw_shape, in_dtype=st.dtype, kernel=kernel,
                    stride=stride, pad=pad, ceil_mode=ceil_mode)
    if tuple(layer.padding) != tuple(pad):
        raise ModelError(f"{here}: ceil_mode windows overhanging the padding are averaged over fewer "
                         f"pixels, which no per-channel scale can apply; use ceil_mode=0 or sizes that "
                         f"divide evenly")
    if any(layer.padding):
        if not attr(node, "count_include_pad", 0):
            raise ModelError(f"{here}: count_include_pad=0 with padding divides border windows by how many "
                             f"input pixels they cover, which no per-channel scale can apply; use "
                             f"count_include_pad=1 (PyTorch's default) or no padding")
        mul, add = ch.as_affine(st.chain)
        if np.any(np.asarray(add) != 0):
            raise ModelError(f"{here}: zero padding needs an input without offset (the integer 0 must be "
                             f"the real 0), but the input has a zero point or bias")
    layer.check()
    st.add_node(layer)
    window = kernel[0] * kernel[1]
    mul, add = ch.as_affine(st.chain)
    _set_map(st, c, *layer.out_hw)
    st.chain = [ch.affine(np.asarray(mul) / window, add)]
    st.record(node, f"lowered to {layer.name} (sum over {kernel[0]}x{kernel[1]} windows; the 1/{window} "
                    f"joins the float chain)")


#: (coordinate_transformation_mode, nearest_mode) pairs that, for integer factors, are
#: exactly ``out[i] = in[i // F]`` (see :mod:`bitsmith.generator.ir.resize`)
NEAREST_MODES = {"asymmetric": ("floor",),
                 "half_pixel": ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil"),
                 "pytorch_half_pixel": ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")}


def _resize_factors(st, node, here: str) -> list[float]:
    """Scale factor per axis of a ``Resize`` (scales or sizes input) or ``Upsample``."""
    if node.op_type == "Upsample":
        if opset(st) >= 9:
            return [float(v) for v in constant(st, node, 1, "scales").reshape(-1)]
        return [float(v) for v in attr(node, "scales", [])]
    scales = node.input[2] if len(node.input) > 2 else ""
    sizes = node.input[3] if len(node.input) > 3 else ""
    if scales and constant(st, node, 2, "scales").size:
        return [float(v) for v in constant(st, node, 2, "scales").reshape(-1)]
    if sizes:
        return [int(o) / int(i) for o, i in zip(constant(st, node, 3, "sizes").reshape(-1), st.shape)]
    raise ModelError(f"{here}: give the scales or the sizes as constants")


@handles("Resize", "Upsample")
def resize(st, node) -> None:
    here = where(node)
    c, h, w = _feature_map(st, here)
    mode = attr(node, "mode", "nearest")
    transform = attr(node, "coordinate_transformation_mode", "asymmetric" if node.op_type == "Upsample"
                     or opset(st) < 11 else "half_pixel")
    nearest = attr(node, "nearest_mode", "floor" if node.op_type == "Upsample" or opset(st) < 11
                   else "round_prefer_floor")
    if mode != "nearest" or nearest not in NEAREST_MODES.get(transform, ()):
        raise ModelError(f"{here}: only nearest-neighbour upsampling by integer factors is supported "
                         f"(mode 'nearest' with asymmetric/floor or half_pixel coordinates), not mode "
                         f"{mode!r} with {transform!r}/{nearest!r}")
    if attr(node, "axes") is not None or attr(node, "keep_aspect_ratio_policy", "stretch") != "stretch":
        raise ModelError(f"{here}: Resize axes and keep_aspect_ratio_policy are not supported")
    factors = _resize_factors(st, node, here)
    if len(factors) != len(st.shape) or factors[:2] != [1.0, 1.0] \
            or any(f < 1 or f != int(f) for f in factors[2:]):
        raise ModelError(f"{here}: only integer upsampling factors of the spatial axes are supported, "
                         f"not {factors}")
    scale = (int(factors[2]), int(factors[3]) if len(factors) == 4 else 1)
    _per_channel_chain(st, here)
    layer = Upsample(name=st.new_name("Upsample"), in_shape=st.hw_shape, in_dtype=st.dtype, scale=scale)
    layer.check()
    st.add_node(layer)
    oh, ow, _ = layer.out_shape
    _set_map(st, c, oh, ow)
    st.record(node, f"lowered to {layer.name} (nearest upsample x{scale[0]}x{scale[1]})")
