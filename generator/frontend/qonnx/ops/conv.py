"""``Conv``, ``Pad``, ``MaxPool``, ``AveragePool``/``GlobalAveragePool`` -> :mod:`bitsmith.generator.ir.conv`.

A convolution is a matrix layer per output pixel (``Conv`` IR node, weights transposed
from ONNX ``(OC, IC, KH, KW)`` to window order ``(OC, KH, KW, IC)``); the scale and
offset algebra is that of :mod:`.matmul`. Zero padding pads the *integer* stream with 0,
which is the real 0 only when the input has no offset, so padding needs one. A
``Pad`` in front of a ``Conv`` is folded into the convolution's padding. Max pooling
commutes with the per-channel increasing float chain (rows of the layer before are
flipped where the slope is negative); a global average pool is an integer sum with the
1/(H*W) moved into the chain.
"""

from __future__ import annotations

import numpy as np

from ....errors import ModelError
from ....ir.conv import Conv, GlobalAccPool, MaxPool
from ....ir.dense import xnor_mode
from .. import chain as ch
from ..flip import flip_rows
from ..state import nchw_index
from ..weights import read_weights
from . import attr, constant, handles, opset, where


def _feature_map(st, here: str) -> tuple[int, int, int]:
    """Check the current tensor is an un-permuted (1, C, H, W) map on the stream; (C, H, W)."""
    if st.phase == "tail":
        raise ModelError(f"{here}: a feature-map layer after the float tail is not supported")
    st.start_hardware(here)
    if len(st.shape) != 4 or not np.array_equal(st.index, nchw_index(st.shape)):
        raise ModelError(f"{here}: the input must be an (N, C, H, W) feature map, not {st.shape}")
    return st.shape[1], st.shape[2], st.shape[3]


def _per_channel_chain(st, here: str) -> None:
    """Reduce the chain's constants to (1, C, 1, 1) (they must not vary over pixels)."""
    c = st.shape[1]
    st.chain = ch.remap(st.chain, lambda v: st.per_channel(v, here, "scale/bias").reshape(1, c, 1, 1))


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
    if attr(node, "auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise ModelError(f"{here}: auto_pad {attr(node, 'auto_pad')!r} is not supported; give explicit pads")
    if any(d != 1 for d in _pairs(node, "dilations", 1)):
        raise ModelError(f"{here}: dilated convolutions are not supported")
    ic, h, w = _feature_map(st, here)
    wts = read_weights(st.model, node.input[1], here)
    values, scale = wts.values, np.broadcast_to(wts.scale, wts.values.shape)
    if values.ndim != 4:
        raise ModelError(f"{here}: only 2-D convolutions are supported (weights {values.shape})")
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
    pads = _pairs(node, "pads", 0, 4)
    pt, pl, pb, pr = st.pending_pad
    pad4 = (pads[0] + pt, pads[1] + pl, pads[2] + pb, pads[3] + pr)
    st.pending_pad = (0, 0, 0, 0)
    stride = tuple(_pairs(node, "strides", 1))
    if not ch.is_affine(st.chain):
        raise ModelError(f"{here}: its input is a float activation (ReLU without a quantizer after it); "
                         f"convolutions need a quantized input")
    _per_channel_chain(st, here)
    mul, add = (np.broadcast_to(v, (1, ic, 1, 1)).reshape(-1) for v in ch.as_affine(st.chain))
    s = float(mul[0])
    if not np.all(mul == s) or s == 0:
        raise ModelError(f"{here}: the input scale differs between channels (or is zero); a quantizer "
                         f"with a per-tensor scale must come before a convolution")
    if any(pad4) and np.any(add != 0):
        raise ModelError(f"{here}: zero padding needs an input without offset (the integer 0 must be "
                         f"the real 0), but the input has a zero point or bias")
    real = values * ws[:, None, None, None]
    # the input offset b (per channel) adds sum(W * b) over each window, per output channel
    offset = real.sum(axis=(1, 2, 3)) * add if depthwise else real.sum(axis=(2, 3)) @ add
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
    st.shape = (1, oc, oh, ow)
    st.index = nchw_index(st.shape)
    st.chain = [ch.affine(out_mul.reshape(1, oc, 1, 1), out_add.reshape(1, oc, 1, 1))]
    if wts.producer is not None:
        st.record(wts.producer, f"weights of {name} ({wts.dtype.name})")
    kind = "depthwise " if depthwise else ""
    st.record(node, f"lowered to {name} ({kind}Conv {kh}x{kw}, {ic}->{oc} channels, {wts.dtype.name} weights"
                    f"{', XNOR-popcount' if xnor else ''})")


def _make_increasing(st, here: str) -> None:
    """Flip rows of the layer before so every channel's chain is non-decreasing."""
    c = st.shape[1]
    slope = np.broadcast_to(ch.slope_sign(st.chain), (1, c, 1, 1)).reshape(-1)
    if not np.any(slope < 0):
        return
    if not st.absorbable:
        raise ModelError(f"{here}: the float scale before it is negative for some channels and the layer "
                         f"before cannot absorb a sign flip")
    st.nodes[-1], mul, add = flip_rows(st.nodes[-1], slope < 0)
    st.dtype = st.nodes[-1].out_dtype
    st.chain = [ch.affine(mul.reshape(1, c, 1, 1), add.reshape(1, c, 1, 1))] + st.chain


@handles("MaxPool")
def maxpool(st, node) -> None:
    here = where(node)
    c, h, w = _feature_map(st, here)
    kernel = tuple(_pairs(node, "kernel_shape", 1))
    stride = tuple(_pairs(node, "strides", 1))
    if (any(_pairs(node, "pads", 0, 4)) or attr(node, "ceil_mode", 0)
            or any(d != 1 for d in _pairs(node, "dilations", 1))
            or attr(node, "auto_pad", "NOTSET") not in ("NOTSET", "VALID")
            or len(node.output) > 1 and node.output[1]):
        raise ModelError(f"{here}: only unpadded, undilated, floor-mode max pooling is supported")
    _per_channel_chain(st, here)
    _make_increasing(st, here)
    layer = MaxPool(name=st.new_name("MaxPool"), in_shape=st.hw_shape, in_dtype=st.dtype, kernel=kernel, stride=stride)
    layer.check()
    st.add_node(layer)
    oh, ow = layer.out_hw
    st.shape = (1, c, oh, ow)
    st.index = nchw_index(st.shape)
    st.record(node, f"lowered to {layer.name} (MaxPool {kernel[0]}x{kernel[1]})")


@handles("GlobalAveragePool", "AveragePool")
def average_pool(st, node) -> None:
    here = where(node)
    c, h, w = _feature_map(st, here)
    if node.op_type == "AveragePool":
        kernel = tuple(_pairs(node, "kernel_shape", 1))
        if kernel != (h, w) or any(_pairs(node, "pads", 0, 4)) or attr(node, "ceil_mode", 0) \
                or any(d != 1 for d in _pairs(node, "dilations", 1)):
            raise ModelError(f"{here}: only an AveragePool over the whole {h}x{w} map (a global "
                             f"average) is supported, not kernel {kernel}")
    if not ch.is_affine(st.chain):
        raise ModelError(f"{here}: averaging a float activation (ReLU without a quantizer) is not supported")
    _per_channel_chain(st, here)
    layer = GlobalAccPool(name=st.new_name("GlobalAccPool"), in_shape=st.hw_shape, in_dtype=st.dtype)
    layer.check()
    st.add_node(layer)
    mul, add = ch.as_affine(st.chain)
    st.chain = [ch.affine(np.asarray(mul) / (h * w), add)]
    st.shape = (1, c, 1, 1)
    st.index = nchw_index(st.shape)
    st.record(node, f"lowered to {layer.name} (sum over {h}x{w}; the 1/{h * w} joins the float chain)")
