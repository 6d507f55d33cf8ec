"""Joins of two computed tensors: ``Add`` -> :class:`~bitsmith.generator.ir.branch.Add`,
``Concat`` -> :class:`~bitsmith.generator.ir.branch.Concat`.

Each operand is ``chain_k(q_k)``: an integer stream times a scale plus an offset.

*Add*: with per-tensor scales ``s_a``, ``s_b`` and offsets ``b_a``, ``b_b``,
``s_a*q_a + s_b*q_b + (b_a + b_b)`` equals ``(s_a/k_a) * (k_a*q_a + k_b*q_b) + ...``
exactly when ``s_a/s_b == k_a/k_b``; the integers are the reduced fraction of the two
float scales (every float is an exact rational), accepted only if both fit
:data:`~bitsmith.generator.ir.branch.MAX_ADD_SCALE`. Equal scales (Brevitas with one
shared quantizer on both operands) give 1:1. Anything else is refused, naming what to
change in the model.

*Concat* along the channel axis: the operands' chains are concatenated along the
channels, so different (even per-channel) scales are allowed and are absorbed exactly
by whatever follows (the next quantizer's per-channel thresholds); a matrix layer that
needs one per-tensor scale refuses them there. The stream datatypes must agree; an
operand whose producer ends in thresholds of a narrower type has its output type widened.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ....errors import ModelError
from ....ir.branch import MAX_ADD_SCALE, Add, Concat
from ....ir.conv import dtype_range
from ....ir.core import smallest_dtype
from .. import chain as ch
from ..state import nchw_index
from . import attr, joins, where


def _standard_index(shape: tuple) -> np.ndarray:
    if len(shape) == 2:
        return np.arange(shape[1]).reshape(shape)
    if len(shape) == 3:
        return nchw_index((1, shape[1], shape[2], 1)).reshape(shape)
    return nchw_index(shape)


def _operand(st, node, state, k: int) -> None:
    here = where(node)
    if state.phase != "hw":
        what = {"float": "the float model input (before its quantizer)", "int": "the integer input",
                "tail": "the float tail"}.get(state.phase, state.phase)
        raise ModelError(f"{here}: operand {k} comes from {what}; only tensors computed in hardware "
                         f"can be joined")
    if not ch.is_affine(state.chain):
        raise ModelError(f"{here}: operand {k} is a float activation (a ReLU without a quantizer after "
                         f"it); quantize both operands before joining them")


def _full(value, shape) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=np.float64), shape)


@joins("Add")
def add(st, node, inputs, shared) -> None:
    here = where(node)
    if len(inputs) != 2:
        raise ModelError(f"{here}: an Add joins two tensors, not {len(inputs)}")
    a, b = inputs
    for k, state in enumerate(inputs):
        _operand(st, node, state, k)
    if tuple(a.shape) != tuple(b.shape) or not np.array_equal(a.index, b.index):
        raise ModelError(f"{here}: the operands have shapes {tuple(a.shape)} and {tuple(b.shape)} (or "
                         f"different layouts); only an Add of two tensors of one shape is supported")
    scales, offsets = [], []
    for k, state in enumerate(inputs):
        mul, off = ch.as_affine(state.chain)
        mul = _full(mul, state.shape).reshape(-1)
        if not np.all(mul == mul[0]) or mul[0] == 0:
            raise ModelError(f"{here}: the scale of operand {k} differs between channels (or is zero); "
                             f"requantize both operands with one shared per-tensor quantizer")
        scales.append(float(mul[0]))
        offsets.append(_full(off, state.shape))
    ratio = Fraction(scales[0]) / Fraction(scales[1])
    ka, kb = ratio.numerator, ratio.denominator
    if max(abs(ka), abs(kb)) > MAX_ADD_SCALE:
        raise ModelError(f"{here}: the operand scales {scales[0]!r} and {scales[1]!r} are not in a ratio "
                         f"of small integers (at most {MAX_ADD_SCALE}); requantize both operands with one "
                         f"shared quantizer")
    st.load(a)
    st.sources = a.sources + b.sources
    layer = Add(name=st.new_name("Add"), in_shape=tuple(a.hw_shape), in_dtype=a.dtype,
                inputs=(a.producer, b.producer), in_dtype_b=b.dtype, scale_a=int(ka), scale_b=int(kb))
    layer.check()
    st.add_node(layer)
    st.chain = [ch.affine(scales[0] / ka, offsets[0] + offsets[1])]
    st.pending_pad = (0, 0, 0, 0)
    ratio_text = "equal scales" if ka == kb == 1 else f"scales {ka}:{kb}"
    st.record(node, f"lowered to {layer.name} (Add, {ratio_text})")


def _widen(st, node, state, target, k: int, shared: bool):
    """``state`` with its producer's thresholds widened to ``target`` (or a ModelError); not
    when another node reads the tensor too (it would see the other type)."""
    here = where(node)
    producer = st.node_named(state.producer) if state.producer != "input" else None
    th = getattr(producer, "thresholds", None)
    readers = [n for n in st.nodes if state.producer in n.inputs]
    if th is None or th.out_scale != 1 or readers or shared:
        raise ModelError(f"{here}: operand {k} is {state.dtype.name}, another is {target.name}; the "
                         f"concatenated tensors must have one datatype (quantize them with one shared "
                         f"quantizer)")
    st.load(state)
    st.replace_producer(producer.replace(thresholds=type(th)(values=th.values, out_dtype=target,
                                                             out_scale=th.out_scale, out_bias=th.out_bias)))
    return st.save()


@joins("Concat")
def concat(st, node, inputs, shared) -> None:
    here = where(node)
    rank = len(inputs[0].shape)
    axis = int(attr(node, "axis", 1))
    axis = axis + rank if axis < 0 else axis
    if axis != 1:
        raise ModelError(f"{here}: only a concatenation along the channel axis (axis 1) is supported, "
                         f"not axis {axis}")
    for k, state in enumerate(inputs):
        _operand(st, node, state, k)
        if len(state.shape) != rank or tuple(state.shape[2:]) != tuple(inputs[0].shape[2:]) \
                or not np.array_equal(state.index, _standard_index(state.shape)):
            raise ModelError(f"{here}: operand {k} of shape {tuple(state.shape)} does not stack with "
                             f"{tuple(inputs[0].shape)} along the channels")
    kinds = [tuple(type(step) for step in state.chain) for state in inputs]
    if any(kind != kinds[0] for kind in kinds):
        raise ModelError(f"{here}: the operands carry different float steps; quantize them before the concat")
    dts = [state.dtype for state in inputs]
    if any(dt.name == "BIPOLAR" for dt in dts) and any(dt.name != "BIPOLAR" for dt in dts):
        raise ModelError(f"{here}: BIPOLAR and non-BIPOLAR tensors cannot be concatenated")
    ranges = [dtype_range(dt) for dt in dts]
    target = dts[0] if all(dt == dts[0] for dt in dts) else \
        smallest_dtype(min(r[0] for r in ranges), max(r[1] for r in ranges))
    inputs = [state if state.dtype == target else _widen(st, node, state, target, k, shared[k])
              for k, state in enumerate(inputs)]
    chain = []
    for j, step in enumerate(inputs[0].chain):
        if isinstance(step, ch.AffineStep):
            mul = np.concatenate([_full(s.chain[j].mul, s.shape) for s in inputs], axis=1)
            add_ = np.concatenate([_full(s.chain[j].add, s.shape) for s in inputs], axis=1)
            chain.append(ch.AffineStep(mul, add_))
        else:
            chain.append(step)
    channels = tuple(int(s.hw_shape[2]) for s in inputs)
    st.load(inputs[0])
    st.sources = [src for s in inputs for src in s.sources]
    layer = Concat(name=st.new_name("Concat"), in_shape=tuple(inputs[0].hw_shape), in_dtype=target,
                   inputs=tuple(s.producer for s in inputs), channels=channels)
    layer.check()
    st.add_node(layer)
    st.shape = (1, sum(s.shape[1] for s in inputs)) + tuple(inputs[0].shape[2:])
    st.index = _standard_index(st.shape)
    st.chain = chain
    st.record(node, f"lowered to {layer.name} (Concat of {len(inputs)} tensors, channels {channels})")
