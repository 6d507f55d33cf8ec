"""``Reshape``/``Flatten``/``Transpose``/``Squeeze``/``Unsqueeze``/``Identity``/``Dropout``.

Layout ops cost nothing in hardware: before the first hardware layer they run on the
host; afterwards they only change how the ONNX tensor maps onto the NHWC stream (the
next matrix layer reads its weights through that map).
"""

from __future__ import annotations

import numpy as np

from ....errors import ModelError
from ....ir import host
from . import attr, constant, handles, opset, where


def _apply(st, node, fn, new_shape: tuple, stage) -> None:
    new_shape = tuple(int(d) for d in new_shape)
    if not new_shape or new_shape[0] != 1:
        raise ModelError(f"{where(node)}: the result {new_shape} moves the batch axis; the batch "
                         f"axis must stay first with size 1")
    if st.phase in ("float", "int"):
        st.host_pre.append(stage)
        st.record(node, "host-pre (layout)")
    elif st.phase == "tail":
        st.host_post.append(stage)
        st.record(node, "host-post (layout)")
    else:
        st.record(node, "layout (free in hardware)")
    st.relayout(fn, new_shape)


def _reshape_to(st, node, target) -> None:
    new_shape = tuple(np.empty(st.shape, dtype=np.uint8).reshape(target).shape)
    _apply(st, node, lambda a: np.reshape(a, new_shape), new_shape, host.Reshape(shape=new_shape[1:]))


@handles("Reshape")
def reshape(st, node) -> None:
    target = [int(d) for d in constant(st, node, 1, "shape").reshape(-1)]
    if not attr(node, "allowzero", 0):
        target = [st.shape[i] if d == 0 else d for i, d in enumerate(target)]
    try:
        _reshape_to(st, node, target)
    except ValueError:
        raise ModelError(f"{where(node)}: cannot reshape {st.shape} to {tuple(target)}") from None


@handles("Flatten")
def flatten(st, node) -> None:
    axis = int(attr(node, "axis", 1))
    axis = axis + len(st.shape) if axis < 0 else axis
    _reshape_to(st, node, (int(np.prod(st.shape[:axis])), int(np.prod(st.shape[axis:]))))


@handles("Squeeze", "Unsqueeze")
def squeeze(st, node) -> None:
    if opset(st) >= 13 and len(node.input) > 1:
        axes = [int(a) for a in constant(st, node, 1, "axes").reshape(-1)]
    else:
        axes = list(attr(node, "axes", []))
    if node.op_type == "Squeeze":
        axes = [a + len(st.shape) if a < 0 else a for a in axes] or [i for i, d in enumerate(st.shape) if d == 1 and i]
        if 0 in axes:
            raise ModelError(f"{where(node)}: squeezing the batch axis is not supported")
        new_shape = tuple(d for i, d in enumerate(st.shape) if i not in axes)
    else:
        rank = len(st.shape) + len(axes)
        axes = sorted(a + rank if a < 0 else a for a in axes)
        if 0 in axes:
            raise ModelError(f"{where(node)}: inserting an axis before the batch axis is not supported")
        new_shape = list(st.shape)
        for a in axes:
            new_shape.insert(a, 1)
    _reshape_to(st, node, tuple(new_shape))


@handles("Transpose")
def transpose(st, node) -> None:
    perm = attr(node, "perm")
    perm = tuple(int(p) for p in (perm if perm is not None else reversed(range(len(st.shape)))))
    if perm[0] != 0:
        raise ModelError(f"{where(node)}: the permutation {perm} moves the batch axis")
    new_shape = tuple(st.shape[p] for p in perm)
    if st.phase == "tail":
        st.order_preserving = False
    _apply(st, node, lambda a: np.transpose(a, perm), new_shape,
           host.Transpose(perm=tuple(p - 1 for p in perm[1:])))


@handles("Identity", "Dropout")
def identity(st, node) -> None:
    if node.op_type == "Dropout" and len(node.output) > 1 and node.output[1]:
        raise ModelError(f"{where(node)}: a Dropout mask output is not supported")
    st.record(node, "removed (identity at inference)")
