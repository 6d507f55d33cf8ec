"""Activation quantizers: ``Quant``, ``BipolarQuant``, ``Trunc``, ``MultiThreshold``, ``Sign``.

On the float input (no ``input_dtype``) the first quantizer is the last host-pre stage.
Everywhere else a quantizer becomes integer thresholds: absorbed into the matrix layer
that produced the accumulator (flipping the weight rows of channels whose float chain
has a negative slope), or a stand-alone multi-threshold layer.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp

from ....errors import ModelError
from ....ir import host
from ....ir.core import smallest_dtype
from ....ir.dense import MultiThreshold, accumulator_range
from .. import chain as ch
from .. import quantizers as qz
from ..flip import flip_rows
from ..thresholds import build_thresholds
from . import attr, constant, handles, where


def _scalar_int(value, node, what: str) -> int:
    v = np.asarray(value, dtype=np.float64)
    if v.size != 1 or v.item() != int(v.item()) or v.item() < 1:
        raise ModelError(f"{where(node)}: the {what} must be a positive integer scalar, not {v.tolist()}")
    return int(v.item())


def _params(st, node, count: int) -> list[np.ndarray]:
    return [constant(st, node, i, f"parameter #{i}").astype(np.float64) for i in range(1, count)]


@handles("Quant")
def quant(st, node) -> None:
    scale, zero, bits = _params(st, node, 4)
    if np.any(scale <= 0):
        raise ModelError(f"{where(node)}: the scale must be positive")
    q = qz.IntQuant(scale=scale, zero_point=zero, bitwidth=_scalar_int(bits, node, "bit width"),
                    signed=bool(attr(node, "signed", 1)), narrow=bool(attr(node, "narrow", 0)),
                    rounding_mode=str(attr(node, "rounding_mode", "ROUND")))
    quantize(st, node, q)


@handles("BipolarQuant")
def bipolar_quant(st, node) -> None:
    (scale,) = _params(st, node, 2)
    if np.any(scale <= 0):
        raise ModelError(f"{where(node)}: the scale must be positive")
    quantize(st, node, qz.BipolarQuant(scale=scale))


@handles("Sign")
def sign(st, node) -> None:
    quantize(st, node, qz.Sign())


@handles("Trunc")
def trunc(st, node) -> None:
    n = len(node.input)
    if n not in (5, 6):
        raise ModelError(f"{where(node)}: expected 5 (Trunc v1) or 6 (Trunc v2) inputs, not {n}")
    p = _params(st, node, n)
    rounding = str(attr(node, "rounding_mode", "FLOOR"))
    if n == 5:
        q = qz.Trunc(scale=p[0], zero_point=p[1], input_bit_width=p[2], output_bit_width=p[3],
                     rounding_mode=rounding)
    else:
        q = qz.Trunc(scale=p[0], zero_point=p[1], input_bit_width=p[2], output_scale=p[3],
                     output_bit_width=p[4], rounding_mode=rounding, narrow=bool(attr(node, "narrow", 0)),
                     signed=bool(attr(node, "signed", 1)))
    if st.phase == "float":
        raise ModelError(f"{where(node)}: a Trunc on the float model input is not supported")
    quantize(st, node, q)


@handles("MultiThreshold")
def multithreshold(st, node) -> None:
    t = constant(st, node, 1, "thresholds").astype(np.float64)
    op = getCustomOp(node)
    layout = op.get_nodeattr("data_layout") or ("NC" if len(st.shape) == 2 else "NCHW")
    axis = layout.index("C")
    if t.ndim != 2 or t.shape[0] not in (1, st.shape[axis]):
        raise ModelError(f"{where(node)}: thresholds of shape {t.shape} for {st.shape[axis]} channels")
    if np.any(np.diff(t, axis=1) < 0):
        raise ModelError(f"{where(node)}: thresholds are not sorted ascending")
    shape = [1] * len(st.shape) + [t.shape[1]]
    shape[axis] = t.shape[0]
    q = qz.Thresholding(thresholds=t.reshape(shape), out_scale=float(op.get_nodeattr("out_scale")),
                        out_bias=float(op.get_nodeattr("out_bias")))
    quantize(st, node, q, host_stage=host.ThresholdCount(thresholds=t.astype(np.float32), axis=axis))


def _code_dtype(q, lo: int, hi: int) -> DataType:
    return DataType["BIPOLAR"] if q.bipolar else smallest_dtype(lo, hi)


def quantize(st, node, q, host_stage=None) -> None:
    """Lower quantizer ``q`` of ``node``: host-pre on the float input, else thresholds."""
    if st.phase == "float":
        lo, hi = q.levels
        st.host_pre.append(host_stage or q.host_stage())
        st.record(node, "host-pre (input quantizer)")
        st.sources = []
        st.dtype = _code_dtype(q, lo, hi)
        st.phase = "int"
    elif st.phase == "tail":
        raise ModelError(f"{where(node)}: a quantizer after the float tail is not supported")
    else:
        _to_thresholds(st, node, q)
    st.chain = [ch.affine(*q.out_affine())]


def _to_thresholds(st, node, q) -> None:
    here = where(node)
    st.start_hardware(here)
    channels = st.hw_shape[2]
    chain_c = ch.remap(st.chain, lambda c: st.per_channel(c, here, "scale/bias before the quantizer"))
    q_c = q.remap(lambda c: st.per_channel(c, here, "quantizer parameter"))
    slope = np.broadcast_to(ch.slope_sign(chain_c), (channels, 1))[:, 0]
    layer = st.producer_node() if st.absorbable else None
    if layer is not None:
        if np.any(slope < 0):
            layer, mul, add = flip_rows(layer, slope < 0)
            chain_c = [ch.affine(mul[:, None], add[:, None])] + chain_c
        lo, hi = accumulator_range(layer.weights.reshape(channels, -1), layer.weight_dtype, layer.in_dtype)
    else:
        if np.any(slope < 0):
            raise ModelError(f"{here}: a negative scale before a quantizer that does not follow a matrix "
                             f"layer is not supported")
        lo, hi = (-1, 1) if st.dtype.name == "BIPOLAR" else (int(st.dtype.min()), int(st.dtype.max()))
    code_range = q.levels
    if code_range is None:       # Trunc: the codes the accumulator range can reach
        ends = q_c.codes(ch.evaluate(chain_c, np.array([[lo, hi]], dtype=np.float64)))
        code_range = (int(ends.min()), int(ends.max()))
    th = build_thresholds(chain_c, q_c, lo, hi, code_range, channels)
    if layer is not None:
        st.replace_producer(layer.replace(thresholds=th))
        st.absorbable = False
        target = layer.name
    else:
        target = st.new_name("Thresholds")
        st.add_node(MultiThreshold(name=target, in_shape=st.hw_shape, in_dtype=st.dtype, thresholds=th))
    st.settle(f"absorbed into thresholds of {target}")
    st.record(node, f"thresholds of {target} ({th.steps} steps, {th.out_dtype.name})")
