"""Integer weights and their scale, read from a weight quantizer or an initializer.

A matrix's weight input is either a qonnx ``Quant``/``BipolarQuant`` whose inputs are all
initializers (qonnx's cleanup already folded any Transpose into them), or a plain
initializer (FINN-ONNX: integer values, optionally annotated with a qonnx datatype).
The real weight is ``integers * scale``; the scale must be the same along the axis the
matrix sums over, so it can be pulled out of the accumulator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from ...errors import ModelError
from ...ir.core import smallest_dtype
from ...ir.integers import to_int64
from .quantizers import BipolarQuant, IntQuant
from .ratios import integer_ratios


@dataclass(frozen=True)
class Weights:
    """``real = values * scale``; ``values`` int64 in the ONNX layout, ``scale`` broadcastable."""

    values: np.ndarray
    scale: np.ndarray
    dtype: DataType
    producer: object | None   # the quantizer node, for provenance

    @property
    def real(self) -> np.ndarray:
        return self.values * self.scale


def weight_dtype(values: np.ndarray) -> DataType:
    """BIPOLAR for ±1 weights, else the smallest INT/UINT type that holds them."""
    if values.size and np.all(np.abs(values) == 1):
        return DataType["BIPOLAR"]
    return smallest_dtype(int(values.min(initial=0)), int(values.max(initial=0)))


def read_weights(model: ModelWrapper, tensor: str, where: str) -> Weights:
    """The weights feeding ``tensor`` (a constant input of the node described by ``where``)."""
    init = model.get_initializer(tensor)
    if init is not None:
        values = np.asarray(init, dtype=np.float64)
        if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            raise ModelError(f"{where}: the weights {tensor!r} are float values without a quantizer "
                             f"(Quant/BipolarQuant) and not integers, so they cannot run in integer hardware")
        ints = to_int64(values, f"{where}: weights")
        return Weights(ints, np.ones((1,) * ints.ndim), weight_dtype(ints), None)
    producer = model.find_producer(tensor)
    if producer is None or producer.op_type not in ("Quant", "BipolarQuant"):
        what = producer.op_type if producer is not None else "a graph input"
        raise ModelError(f"{where}: the weights come from {what}, not from a quantized constant "
                         f"(Quant/BipolarQuant of an initializer)")
    params = [model.get_initializer(i) for i in producer.input]
    if any(p is None for p in params):
        raise ModelError(f"{where}: the weight quantizer {producer.name!r} ({producer.op_type}) has a "
                         f"non-constant input")
    w = np.asarray(params[0], dtype=np.float64)
    if producer.op_type == "BipolarQuant":
        q = BipolarQuant(scale=np.asarray(params[1], dtype=np.float64))
        codes, zero = q.codes(w), 0.0
    else:
        op = getCustomOp(producer)
        bits = float(np.asarray(params[3]))
        if bits != int(bits) or bits < 1:
            raise ModelError(f"{where}: weight quantizer {producer.name!r} has bit width {bits}, "
                             f"not a positive integer")
        q = IntQuant(scale=np.asarray(params[1], np.float64), zero_point=np.asarray(params[2], np.float64),
                     bitwidth=int(bits), signed=bool(op.get_nodeattr("signed")),
                     narrow=bool(op.get_nodeattr("narrow")), rounding_mode=op.get_nodeattr("rounding_mode"))
        codes, zero = q.codes(w), np.asarray(params[2], np.float64)
        if not np.all(np.isfinite(zero)) or not np.all(zero == np.round(zero)):
            raise ModelError(f"{where}: weight quantizer {producer.name!r} has a non-integer zero point")
    scale = np.asarray(params[1], dtype=np.float64)
    if not np.all(np.isfinite(scale)):
        raise ModelError(f"{where}: weight quantizer {producer.name!r} has a scale that is not finite")
    if np.any(scale == 0):
        raise ModelError(f"{where}: weight quantizer {producer.name!r} has a zero scale")
    ints = to_int64(np.broadcast_to(codes - zero, w.shape), f"{where}: weight codes")
    return Weights(ints, scale, weight_dtype(ints), producer)


def constant_value(model: ModelWrapper, tensor: str) -> np.ndarray | None:
    """The value of ``tensor`` if it is a constant: an initializer, or a ``Quant``/``BipolarQuant``
    of initializers (a quantized bias, QKeras' quantized constants) evaluated by qonnx's own
    op, so the value is bit for bit what qonnx computes; ``None`` for a computed tensor."""
    init = model.get_initializer(tensor)
    if init is not None:
        return np.asarray(init)
    producer = model.find_producer(tensor)
    if producer is None or producer.op_type not in ("Quant", "BipolarQuant"):
        return None
    params = [model.get_initializer(i) for i in producer.input]
    if any(p is None for p in params):
        return None
    context = {name: np.asarray(value) for name, value in zip(producer.input, params)}
    context[producer.output[0]] = None
    getCustomOp(producer).execute_node(context, model.graph)
    return np.asarray(context[producer.output[0]])


#: largest integer ratio between per-channel input scales that is folded into the weights
MAX_INPUT_RATIO = 16


def input_scale(mul: np.ndarray, values: np.ndarray, axis: int, weights: "Weights", where: str,
                what: str, layer: str) -> tuple:
    """``(s, values, weights)`` for an input of real scale ``mul`` per input channel along
    ``axis`` of the integer weights: one per-tensor scale ``s``, or per-channel scales
    ``unit * k_c`` in ratios of small integers, folded exactly into the integer weights
    (``W[c] * k_c``, the weight datatype widened to hold them); refused otherwise."""
    s = float(mul[0])
    if np.all(mul == s) and s != 0:
        return s, values, weights
    ratios = integer_ratios(mul, MAX_INPUT_RATIO)
    if ratios is None:
        raise ModelError(f"{where}: the input scale differs between {what} and not in ratios of integers up to "
                         f"{MAX_INPUT_RATIO} (or is zero); a quantizer with a per-tensor scale must come before "
                         f"{layer}")
    unit, ks = ratios
    shape = [1] * values.ndim
    shape[axis] = -1
    values = values * np.asarray(ks, dtype=np.int64).reshape(shape)
    return float(unit), values, Weights(values, weights.scale, weight_dtype(values), weights.producer)


def column_scale(weights: Weights, sum_axis: int, where: str) -> np.ndarray:
    """The scale per output (constant along ``sum_axis``), as a 1-D array over the other axis."""
    scale = np.broadcast_to(weights.scale, weights.values.shape)
    first = np.take(scale, [0], axis=sum_axis)
    if not np.all(scale == first):
        raise ModelError(f"{where}: the weight scale varies along the summed (input) axis; only "
                         f"per-tensor or per-output-channel weight scales can be pulled out of an "
                         f"integer accumulator")
    return np.squeeze(first, axis=sum_axis).reshape(-1)
