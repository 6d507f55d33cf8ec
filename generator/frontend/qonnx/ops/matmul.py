"""``MatMul`` and ``Gemm`` -> :class:`~generator.ir.dense.MatrixVector` (FINN's MVAU).

The input must be an integer tensor times one per-tensor scale (plus any per-element
offset): ``x_k = s * q_k + b_k``. With real weights ``W = Wint * ws`` (``ws`` per
output) the output is ``y_j = s * ws_j * (Wint q)_j + (W^T b)_j``, so the hardware
computes the integer dot product and the affine map joins the float chain, to be
absorbed by the next quantizer or run on host-post. In XNOR mode the unit counts matching
bits (``dot = 2*popcount - MW``, DESIGN.md §2) and the chain says so.
"""

from __future__ import annotations

import numpy as np

from ....errors import ModelError
from ....ir.dense import MatrixVector, Reshape, xnor_mode
from .. import chain as ch
from ..weights import column_scale, input_scale, read_weights
from . import attr, constant, handles, where


@handles("MatMul", "Gemm")
def matmul(st, node) -> None:
    here = where(node)
    alpha, beta, bias = 1.0, 1.0, None
    trans_b = False
    if node.op_type == "Gemm":
        if attr(node, "transA", 0):
            raise ModelError(f"{here}: transA=1 is not supported")
        trans_b = bool(attr(node, "transB", 0))
        alpha, beta = float(attr(node, "alpha", 1.0)), float(attr(node, "beta", 1.0))
        if len(node.input) > 2 and node.input[2]:
            bias = constant(st, node, 2, "bias C").astype(np.float64)
    if st.phase == "tail":
        raise ModelError(f"{here}: a matrix layer after the float tail is not supported")
    st.start_hardware(here)
    if len(st.shape) != 2:
        raise ModelError(f"{here}: the input must be a (N, K) matrix, not shape {st.shape}; "
                         f"flatten it first")
    k = st.shape[1]
    w = read_weights(st.model, node.input[1], here)
    values, scale = w.values, np.broadcast_to(w.scale, w.values.shape)
    if values.ndim != 2:
        raise ModelError(f"{here}: the weights must be a matrix, not shape {values.shape}")
    if trans_b:
        values, scale = values.T, scale.T
    if values.shape[0] != k:
        raise ModelError(f"{here}: weights of shape {values.shape} for an input of {k} features")
    n = values.shape[1]
    ws = np.broadcast_to(column_scale(type(w)(values, scale, w.dtype, w.producer), 0, here), (n,))
    if not ch.is_affine(st.chain):
        raise ModelError(f"{here}: its input is a float activation (ReLU without a quantizer after it); "
                         f"matrix layers need a quantized input")
    mul, add = ch.as_affine(st.chain)
    mul = np.broadcast_to(mul, st.shape).reshape(-1)
    add = np.broadcast_to(add, st.shape).reshape(-1)
    offset = add @ (values * ws[None, :])
    s, values, w = input_scale(mul, values, 0, w, here, "features", "a matrix layer")
    if tuple(st.hw_shape) != (1, 1, k):
        st.add_node(Reshape(name=st.new_name("Reshape"), in_shape=st.hw_shape, in_dtype=st.dtype, shape=(1, 1, k)))
    cols = st.index.reshape(-1)
    weights = np.zeros((n, k), dtype=np.int64)
    weights[:, cols] = values.T
    in_dtype = st.dtype
    name = st.new_name("MVAU")
    acc = MatrixVector.minimal_acc_dtype(weights, w.dtype, in_dtype)
    layer = MatrixVector(name=name, in_shape=(1, 1, k), in_dtype=in_dtype, weights=weights,
                         weight_dtype=w.dtype, acc_dtype=acc)
    xnor = xnor_mode(w.dtype, in_dtype)
    if xnor:
        out_mul, out_add = 2 * s * ws, offset - s * ws * k
    else:
        out_mul, out_add = s * ws, offset
    out_mul, out_add = alpha * out_mul, alpha * out_add
    if bias is not None:
        try:
            out_add = out_add + beta * np.broadcast_to(bias, (1, n)).reshape(-1)
        except ValueError:
            raise ModelError(f"{here}: bias of shape {bias.shape} for {n} outputs") from None
    st.add_node(layer, absorbable=True)
    st.shape = (1, n)
    st.index = np.arange(n).reshape(1, n)
    st.chain = [ch.affine(out_mul.reshape(1, n), out_add.reshape(1, n))]
    if w.producer is not None:
        st.record(w.producer, f"weights of {name} ({w.dtype.name})")
    mode = ", XNOR-popcount" if xnor else ""
    st.record(node, f"lowered to {name} (MatrixVector {n}x{k}, {w.dtype.name} weights{mode})")
