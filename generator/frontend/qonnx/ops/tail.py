"""Tails: ``Softmax`` on host-post; ``ArgMax``/``TopK`` as a hardware LabelSelect."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ....errors import ModelError
from ....ir import host
from ....ir.dense import LabelSelect
from ..ratios import integer_ratios
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


#: largest integer class-scale ratio a keyed top-K accepts (per-channel weight scales of a
#: classifier must be in ratios of integers up to this)
MAX_KEY_RATIO = 1 << 12


def class_keys(mul: np.ndarray, add: np.ndarray, here: str) -> tuple[tuple, tuple] | None:
    """Integer ``(key_scale, key_bias)`` per class with ``key_scale*a + key_bias`` ordered
    exactly as the real scores ``mul*a + add`` for every integer ``a`` (ties equal), or
    None when every class has the same ``mul > 0`` and ``add`` (no keys needed).

    With ``mul_j = u*k_j`` (``u`` the largest common rational unit, ``k_j`` integers) the
    score is ``u*(k_j*a + d_j)``, ``d_j = add_j/u``; writing ``d_j = F_j + f_j`` (integer and
    fractional part) and ``r_j`` the rank of ``f_j`` among the R distinct fractional parts,
    ``key_j = R*(k_j*a + F_j) + r_j`` orders the scores lexicographically by (integer part,
    fraction), which is their exact real order. Everything is done in rationals (a float
    is an exact rational), so no float rounding enters.
    """
    if np.any(mul <= 0):
        raise ModelError(f"{here}: the scale before the top-K is negative or zero for some classes, so "
                         f"larger integer outputs are not larger scores; make the last layer's scales positive")
    if np.all(mul == mul[0]) and np.all(add == add[0]):
        return None
    ratios = integer_ratios(mul, MAX_KEY_RATIO)
    if ratios is None:
        raise ModelError(f"{here}: the per-class scales before the top-K are not in ratios of integers up "
                         f"to {MAX_KEY_RATIO}, so no exact integer key exists; use a per-tensor weight scale "
                         f"(or power-of-two per-channel scales) on the last layer")
    unit, ks = ratios
    d = [Fraction(float(b)) / unit for b in add]
    floors = [math.floor(v) for v in d]
    fracs = sorted({v - f for v, f in zip(d, floors)})
    rank = {f: i for i, f in enumerate(fracs)}
    r = len(fracs)
    return (tuple(r * k for k in ks), tuple(r * f + rank[v - f] for v, f in zip(d, floors)))


def select_labels(st, node, k: int, here: str) -> None:
    """Replace the (order-preserving) float tail by a hardware top-K of the integer output;
    a per-class scale/bias becomes the top-K's exact integer keys (:func:`class_keys`)."""
    if st.phase == "hw":
        affine = st.class_affine()
        if affine is None:
            raise ModelError(f"{here}: the float steps before the top-K are not an affine map of an "
                             f"(N, C) vector in the hardware's order, so the top-K of the integer output "
                             f"is not the model's")
    elif st.phase == "tail":
        if not st.order_preserving:
            raise ModelError(f"{here}: the float tail before the top-K does not preserve the order of "
                             f"the integer outputs")
        affine = st.tail_affine
    else:
        raise ModelError(f"{here}: no integer layer before the top-K")
    if len(st.shape) != 2 or tuple(st.hw_shape[:2]) != (1, 1):
        raise ModelError(f"{here}: top-K needs a (N, C) vector input, not {st.shape}")
    channels = st.hw_shape[2]
    if not 1 <= k <= channels:
        raise ModelError(f"{here}: K must be 1..{channels}, not {k}")
    keys = class_keys(*affine, here)
    st.settle("dropped: order-preserving before top-K")
    st.provenance = [row if row[2] != "host-post" else (row[0], row[1], "dropped: order-preserving before top-K")
                     for row in st.provenance]
    name = st.new_name("LabelSelect")
    key_scale, key_bias = keys if keys is not None else (None, None)
    layer = LabelSelect(name=name, in_shape=st.hw_shape, in_dtype=st.dtype, k=k, key_scale=key_scale,
                        key_bias=key_bias)
    layer.check()
    st.add_node(layer)
    st.host_post = [host.Flatten(), host.Cast(dtype="int64")]
    st.chain = []
    st.phase = "labels"
    keyed = ", per-class integer keys" if keys is not None else ""
    st.record(node, f"lowered to {name} (top-{k}{keyed})")


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
