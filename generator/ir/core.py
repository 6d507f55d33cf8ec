"""The integer IR: typed, frozen nodes shared by the golden model and the lowering.

A :class:`Graph` is a chain of :class:`Node` objects. Every node consumes the tensor
produced by the node before it; tensors are NHWC, shapes here are ``(H, W, C)`` (a
dense vector is ``(1, 1, C)``). Values are integers of a qonnx :class:`DataType`
(BIPOLAR values are -1/+1). Nodes carry numpy arrays, so they compare by identity.

New node kinds subclass :class:`Node`, are decorated with :func:`register`, and get a
golden function (``sim/golden``), a lowering (``generator/lower.py``) and a cycle
estimate (``generator/estimate.py``).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from qonnx.core.datatype import DataType

from ..errors import ModelError
from .integers import ascending

Shape3 = tuple[int, int, int]

NODE_KINDS: dict[str, type["Node"]] = {}


def register(cls):
    """Class decorator: make a node kind known to (de)serialisation by its class name."""
    NODE_KINDS[cls.__name__] = cls
    return cls


STREAM_DTYPES = re.compile(r"BIPOLAR|BINARY|TERNARY|INT([2-9]|[12][0-9]|3[0-2])|UINT([1-9]|[12][0-9]|3[0-2])")
"""Datatype names a user may give (weights, activations, inputs): integers of 1..32 bits."""

DTYPE_CHOICES = "BIPOLAR, BINARY, TERNARY, INT2..INT32, UINT1..UINT32"


def dtype(name_or_dt) -> DataType:
    """A qonnx DataType from a name (``"INT4"``) or a DataType, with a clear error.

    Names are those of :data:`STREAM_DTYPES`: the integer types of at most 32 bits that
    streams carry (DESIGN.md §2); float, fixed-point and wider types are refused.
    """
    if isinstance(name_or_dt, str):
        if STREAM_DTYPES.fullmatch(name_or_dt):
            return DataType[name_or_dt]
        try:
            DataType[name_or_dt]
        except Exception:  # qonnx raises KeyError, ValueError or a bare Exception
            raise ModelError(f"unknown datatype {name_or_dt!r} (use qonnx names: BIPOLAR, BINARY, "
                             f"TERNARY, INTn, UINTn)") from None
        raise ModelError(f"datatype {name_or_dt!r} is not supported (bitsmith takes the integer types "
                         f"{DTYPE_CHOICES})")
    if not hasattr(name_or_dt, "bitwidth"):
        raise ModelError(f"a datatype must be a name like 'INT4', not {type(name_or_dt).__name__}")
    return name_or_dt


def values_fit(values: np.ndarray, dt: DataType) -> bool:
    """True if every element of ``values`` is allowed by ``dt``."""
    values = np.asarray(values)
    if dt.name == "BIPOLAR":
        return bool(np.all(np.abs(values) == 1))
    return bool(np.all((values >= dt.min()) & (values <= dt.max())))


def smallest_dtype(lo: int, hi: int) -> DataType:
    """FINN's rule: UINT ceil(log2(hi+1)) if lo >= 0, else INT ceil(log2(max(-lo, hi+1)))+1."""
    lo, hi = int(lo), int(hi)
    if lo >= 0:
        bits = max(1, int(hi).bit_length())
        return DataType[f"UINT{bits}"]
    bits = max(-lo, hi + 1)
    bits = (bits - 1).bit_length() + 1
    return DataType[f"INT{max(2, bits)}"]


@dataclass(frozen=True, eq=False)
class Thresholds:
    """qonnx MultiThreshold: ``y = sum_i [x >= T_i]``, output ``out_scale*y + out_bias``.

    ``values`` has shape ``(C, B)`` or ``(1, B)`` (shared by all channels), integers,
    ascending along ``B``. ``out_dtype`` must hold every possible output.
    """

    values: np.ndarray
    out_dtype: DataType
    out_scale: int = 1
    out_bias: int = 0

    @property
    def steps(self) -> int:
        return int(self.values.shape[1])

    def check(self, where: str, channels: int) -> None:
        v = self.values
        if v.ndim != 2 or v.shape[0] not in (1, channels):
            raise ModelError(f"{where}: thresholds must have shape ({channels}, B) or (1, B), "
                             f"not {tuple(v.shape)}")
        if not np.issubdtype(v.dtype, np.integer):
            raise ModelError(f"{where}: thresholds must be integers, not {v.dtype}")
        if not np.all(ok := ascending(v)):      # compares neighbours: no overflow near int64 limits
            row = int(np.nonzero(~ok)[0][0])
            raise ModelError(f"{where}: thresholds of channel {row} are not sorted ascending")
        lo = self.out_bias
        hi = self.out_scale * self.steps + self.out_bias
        if not (values_fit(np.array([lo, hi]), self.out_dtype)
                or (self.out_dtype.name == "BIPOLAR" and self.steps == 1
                    and self.out_scale == 2 and self.out_bias == -1)):
            raise ModelError(f"{where}: outputs {min(lo, hi)}..{max(lo, hi)} of {self.steps} thresholds "
                             f"do not fit {self.out_dtype.name}")

    def per_channel(self, channels: int) -> np.ndarray:
        """Thresholds broadcast to ``(channels, B)``."""
        return np.broadcast_to(self.values, (channels, self.steps))


@dataclass(frozen=True, eq=False)
class Node:
    """Base of every IR node: a name, the input tensor shape ``(H, W, C)`` and datatype."""

    name: str
    in_shape: Shape3
    in_dtype: DataType

    kind: ClassVar[str] = "node"

    @property
    def out_shape(self) -> Shape3:
        return self.in_shape

    @property
    def out_dtype(self) -> DataType:
        return self.in_dtype

    def check(self) -> None:
        """Raise :class:`ModelError` naming this node if its parameters are inconsistent."""
        if len(self.in_shape) != 3 or any(int(d) <= 0 for d in self.in_shape):
            raise ModelError(f"layer {self.name!r}: input shape must be (H, W, C) of positive "
                             f"sizes, not {self.in_shape}")

    def replace(self, **changes) -> "Node":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, eq=False)
class Graph:
    """A streamlined integer network: a chain of nodes plus float host parts.

    ``host_pre`` turns the model's own (float) input into the integers the hardware
    consumes; ``host_post`` turns the hardware's integers into the model's output.
    Both are tuples of host stages (``bitsmith.generator.ir.host``); empty means identity.
    """

    name: str
    in_shape: Shape3
    in_dtype: DataType
    nodes: tuple[Node, ...]
    host_pre: tuple = ()
    host_post: tuple = ()
    provenance: tuple = ()  # (onnx node name, op_type, what it became) rows for the report

    @property
    def out_shape(self) -> Shape3:
        return self.nodes[-1].out_shape if self.nodes else self.in_shape

    @property
    def out_dtype(self) -> DataType:
        return self.nodes[-1].out_dtype if self.nodes else self.in_dtype

    def check(self) -> None:
        """Check every node and that each node's input is its predecessor's output."""
        if not self.nodes:
            raise ModelError(f"network {self.name!r} has no layers")
        shape, dt = tuple(self.in_shape), self.in_dtype
        names = set()
        for node in self.nodes:
            if node.name in names:
                raise ModelError(f"layer name {node.name!r} is used twice")
            names.add(node.name)
            if tuple(node.in_shape) != shape:
                raise ModelError(f"layer {node.name!r}: input shape {tuple(node.in_shape)} does not "
                                 f"match the previous output {shape}")
            if node.in_dtype != dt:
                raise ModelError(f"layer {node.name!r}: input datatype {node.in_dtype.name} does not "
                                 f"match the previous output {dt.name}")
            node.check()
            shape, dt = tuple(node.out_shape), node.out_dtype

    def replace(self, **changes) -> "Graph":
        return dataclasses.replace(self, **changes)
