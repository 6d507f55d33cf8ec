"""``Add``/``Sub``/``Mul``/``Div`` by a constant, ``BatchNormalization`` and ``Relu``."""

from __future__ import annotations

import numpy as np

from ....errors import ModelError
from ....ir import host
from .. import chain as ch
from ..weights import constant_value
from . import attr, constant, handles, where


def _host(st, node, stage) -> None:
    if st.phase == "float":
        st.host_pre.append(stage)
        st.record(node, "host-pre")
    else:
        st.host_post.append(stage)
        st.record(node, "host-post")


@handles("Add", "Sub", "Mul", "Div")
def arithmetic(st, node) -> None:
    inits = [constant_value(st.model, i) for i in node.input]
    if len(node.input) != 2 or sum(v is not None for v in inits) != 1:
        raise ModelError(f"{where(node)}: only arithmetic with one constant operand is supported")
    first = inits[0] is not None
    c = np.asarray(inits[0] if first else inits[1], dtype=np.float64)
    try:
        out = np.broadcast_shapes(c.shape, st.shape)
    except ValueError:
        out = None
    if out != tuple(st.shape):
        raise ModelError(f"{where(node)}: the constant of shape {c.shape} does not broadcast onto the "
                         f"tensor of shape {st.shape}")
    if st.phase in ("float", "tail"):
        _host(st, node, host.Elementwise(op=node.op_type, constant=c.astype(np.float32), constant_first=first))
        shift = node.op_type in ("Add", "Sub")
        positive_scale = node.op_type in ("Mul", "Div") and c.size == 1 and c.item() > 0
        if st.phase == "tail" and (first or c.size != 1 or not (shift or positive_scale)):
            st.order_preserving = False   # a top-K of the integer output would no longer be the model's
        return
    op = node.op_type
    if op == "Add":
        step = ch.affine(1.0, c)
    elif op == "Sub":
        step = ch.affine(-1.0, c) if first else ch.affine(1.0, -c)
    elif op == "Mul":
        step = ch.affine(c, 0.0)
    else:
        if first:
            raise ModelError(f"{where(node)}: dividing a constant by the tensor is not supported")
        if np.any(c == 0):
            raise ModelError(f"{where(node)}: division by zero")
        step = ch.affine(1.0 / c, 0.0)
    st.push(step)
    st.fold(node)


@handles("BatchNormalization")
def batchnorm(st, node) -> None:
    if len(node.output) > 1 and any(node.output[1:]) or attr(node, "training_mode", 0):
        raise ModelError(f"{where(node)}: training-mode batch normalization is not supported")
    gamma, beta, mean, var = (constant(st, node, i, w).astype(np.float64) for i, w in
                              enumerate(("scale", "bias", "mean", "variance"), start=1))
    eps = float(attr(node, "epsilon", 1e-5))
    shape = (1, -1) + (1,) * (len(st.shape) - 2)
    if len(st.shape) < 2 or gamma.size != st.shape[1]:
        raise ModelError(f"{where(node)}: {gamma.size} channels for a tensor of shape {st.shape}")
    mul = gamma / np.sqrt(var + eps)
    add = beta - mean * mul
    mul, add = mul.reshape(shape), add.reshape(shape)
    if st.phase in ("float", "tail"):
        _host(st, node, host.Affine(mul=mul[0], add=add[0]))
        st.order_preserving = st.order_preserving and st.phase != "tail"
        return
    st.push(ch.AffineStep(mul, add))
    st.fold(node)


@handles("Relu")
def relu(st, node) -> None:
    if st.phase in ("float", "tail"):
        _host(st, node, host.Elementwise(op="Relu"))
        if st.phase == "tail":
            st.order_preserving = False
        return
    st.push(ch.ReluStep())
    st.fold(node)
