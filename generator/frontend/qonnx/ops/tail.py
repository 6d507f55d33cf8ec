"""Tails: ``Softmax`` on host-post; ``ArgMax``/``TopK`` as a hardware LabelSelect."""

from __future__ import annotations


from ....errors import ModelError
from ....ir import host
from ....ir.dense import LabelSelect
from . import attr, constant, handles, opset, where


@handles("Softmax")
def softmax(st, node) -> None:
    legacy = opset(st) < 13
    axis = int(attr(node, "axis", 1 if legacy else -1))
    axis = axis + len(st.shape) if axis < 0 else axis
    if axis < 1:
        raise ModelError(f"{where(node)}: a softmax over the batch axis is not supported")
    st.enter_tail(where(node))
    st.host_post.append(host.Softmax(axis=axis, coerce_2d=legacy))
    st.record(node, "host-post")
    if axis != len(st.shape) - 1 and not (legacy and axis == 1):
        st.order_preserving = False


def select_labels(st, node, k: int, here: str) -> None:
    """Replace the (order-preserving) float tail by a hardware top-K of the integer output."""
    if st.phase == "hw":
        if not st.chain_order_preserving():
            raise ModelError(f"{here}: the scale/bias before the top-K differs between classes (or is "
                             f"negative), so the top-K of the integer output is not the model's")
    elif st.phase == "tail":
        if not st.order_preserving:
            raise ModelError(f"{here}: the float tail before the top-K does not preserve the order of "
                             f"the integer outputs")
    else:
        raise ModelError(f"{here}: no integer layer before the top-K")
    if len(st.shape) != 2 or tuple(st.hw_shape[:2]) != (1, 1):
        raise ModelError(f"{here}: top-K needs a (N, C) vector input, not {st.shape}")
    channels = st.hw_shape[2]
    if not 1 <= k <= channels:
        raise ModelError(f"{here}: K must be 1..{channels}, not {k}")
    st.settle("dropped: order-preserving before top-K")
    st.provenance = [row if row[2] != "host-post" else (row[0], row[1], "dropped: order-preserving before top-K")
                     for row in st.provenance]
    name = st.new_name("LabelSelect")
    st.add_node(LabelSelect(name=name, in_shape=st.hw_shape, in_dtype=st.dtype, k=k))
    st.host_post = [host.Flatten(), host.Cast(dtype="int64")]
    st.chain = []
    st.phase = "labels"
    st.record(node, f"lowered to {name} (top-{k})")


@handles("ArgMax")
def argmax(st, node) -> None:
    axis = int(attr(node, "axis", 0))
    if axis not in (-1, len(st.shape) - 1) or attr(node, "select_last_index", 0):
        raise ModelError(f"{where(node)}: only an ArgMax over the last axis (first index on ties) "
                         f"is supported")
    select_labels(st, node, 1, where(node))
    if not attr(node, "keepdims", 1):
        st.host_post = [host.Reshape(shape=()), host.Cast(dtype="int64")]


@handles("TopK")
def topk(st, node) -> None:
    if opset(st) >= 10:
        k = int(constant(st, node, 1, "K").reshape(-1)[0])
    else:
        k = int(attr(node, "k"))
    axis = int(attr(node, "axis", -1))
    if axis not in (-1, len(st.shape) - 1) or not attr(node, "largest", 1) or not attr(node, "sorted", 1):
        raise ModelError(f"{where(node)}: only a sorted TopK of the largest values over the last axis "
                         f"is supported")
    if node.output[0] and st.model.find_consumers(node.output[0]) or \
            node.output[0] in [o.name for o in st.model.graph.output]:
        raise ModelError(f"{where(node)}: only the indices output of TopK can be used")
    select_labels(st, node, k, where(node))
