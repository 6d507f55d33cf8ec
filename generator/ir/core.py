"""The integer IR: typed, frozen nodes shared by the golden model and the lowering.

A :class:`Graph` is a dataflow DAG of :class:`Node` objects. Every node produces one
tensor, named like the node, and names the tensors it consumes in ``inputs`` (the graph
input is the tensor ``Graph.input_name``, ``"input"`` by default). A node built with
``inputs=()`` takes the tensor of the node listed before it (or the graph input), so a
chain is written as before; the graph fills such inputs in, so every node of a built
graph names its producers. ``Graph.nodes`` is in topological order. Tensors are NHWC,
shapes here are ``(H, W, C)`` (a dense vector is ``(1, 1, C)``). Values are integers
of a qonnx :class:`DataType` (BIPOLAR values are -1/+1). Nodes carry numpy arrays, so
they compare by identity.

A tensor may feed several nodes only through an explicit
:class:`~bitsmith.generator.ir.branch.Fork` before lowering (the ``insert_forks`` pass
adds them); :meth:`Graph.check` accepts a tensor read several times so front ends and
passes may run before that pass.

New node kinds subclass :class:`Node`, are decorated with :func:`register`, and get a
golden function (``sim/golden``), a lowering (``generator/lowering``), estimates and a
schedule model (``generator/estimate``). A node with several inputs overrides
:attr:`Node.in_shapes` and :attr:`Node.in_dtypes`.
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
    """Base of every IR node: a name, the input tensor shape ``(H, W, C)`` and datatype.

    ``inputs`` names the tensors the node consumes (a producing node's name or the
    graph's ``input_name``), one per entry of :attr:`in_shapes`; ``()`` means "the node
    listed before me" and is filled in by :class:`Graph`.
    """

    name: str
    in_shape: Shape3
    in_dtype: DataType
    inputs: tuple[str, ...] = ()

    kind: ClassVar[str] = "node"

    @property
    def in_shapes(self) -> tuple[Shape3, ...]:
        """Shape of each input, in the order of ``inputs``."""
        return (tuple(self.in_shape),)

    @property
    def in_dtypes(self) -> tuple[DataType, ...]:
        """Datatype of each input, in the order of ``inputs``."""
        return (self.in_dtype,)

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


@dataclass(frozen=True)
class FifoEdge:
    """The FIFO of one stream edge of the lowered dataflow, chosen by the FIFO-sizing pass.

    ``dst`` is the consuming hardware stage (``"output"`` for the graph output) and
    ``port`` its input port; ``src``/``src_port`` the producing stage (``"input"`` for
    the graph input). ``depth`` is in words of ``elems`` elements of ``elem_bits`` bits
    (the consumer's word); ``peak`` the occupancy the schedule model reached.
    """

    src: str
    src_port: str
    dst: str
    port: str
    depth: int
    elems: int
    elem_bits: int
    peak: int = 0

    @property
    def bits(self) -> int:
        return self.depth * self.elems * self.elem_bits


@dataclass(frozen=True, eq=False)
class Graph:
    """A streamlined integer network: a DAG of nodes plus float host parts.

    ``host_pre`` turns the model's own (float) input into the integers the hardware
    consumes; ``host_post`` turns the hardware's integers into the model's output.
    Both are tuples of host stages (``bitsmith.generator.ir.host``); empty means identity.
    ``input_name`` names the graph input tensor. ``fifos`` holds the FIFO of every
    stream edge once the FIFO-sizing pass has run (empty before, and again after any
    change of ``nodes``). ``pruning`` holds the per-layer rows of the ``prune_channels``
    pass (:mod:`bitsmith.generator.passes.prune_channels`), empty when it did not run.
    """

    name: str
    in_shape: Shape3
    in_dtype: DataType
    nodes: tuple[Node, ...]
    host_pre: tuple = ()
    host_post: tuple = ()
    provenance: tuple = ()  # (onnx node name, op_type, what it became) rows for the report
    input_name: str = "input"
    fifos: tuple[FifoEdge, ...] = ()
    pruning: tuple = ()     # rows of the prune_channels pass for the report (see that pass)

    def __post_init__(self):
        nodes, prev = [], self.input_name
        for node in tuple(self.nodes):
            if isinstance(node, Node) and not node.inputs:
                node = node.replace(inputs=(prev,))
            nodes.append(node)
            prev = getattr(node, "name", prev)
        object.__setattr__(self, "nodes", tuple(nodes))

    # ----------------------------------------------------------------- structure

    def node(self, name: str) -> Node:
        """The node called ``name`` (``KeyError`` if there is none)."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def producers(self, node: Node | str) -> tuple[str, ...]:
        """Names of the tensors ``node`` consumes (node names or :attr:`input_name`)."""
        node = self.node(node) if isinstance(node, str) else node
        return tuple(node.inputs)

    def consumers(self, name: str) -> tuple[Node, ...]:
        """Nodes reading tensor ``name``, in graph order, once per input that reads it."""
        return tuple(n for n in self.nodes for src in n.inputs if src == name)

    @property
    def output_node(self) -> Node:
        """The node whose tensor nobody consumes: the graph output."""
        ends = self._ends()
        if len(ends) != 1:
            raise ModelError(f"network {self.name!r} must have exactly one output, not "
                             f"{len(ends)} ({', '.join(n.name for n in ends) or 'none'})")
        return ends[0]

    def _ends(self) -> list[Node]:
        used = {src for n in self.nodes for src in n.inputs}
        return [n for n in self.nodes if n.name not in used]

    def tensor_shape(self, name: str) -> Shape3:
        return tuple(self.in_shape) if name == self.input_name else tuple(self.node(name).out_shape)

    def tensor_dtype(self, name: str) -> DataType:
        return self.in_dtype if name == self.input_name else self.node(name).out_dtype

    @property
    def out_shape(self) -> Shape3:
        return self.output_node.out_shape if self.nodes else self.in_shape

    @property
    def out_dtype(self) -> DataType:
        return self.output_node.out_dtype if self.nodes else self.in_dtype

    def check(self) -> None:
        """Check every node, every edge's shape and datatype, names, order and the output.

        The nodes must be listed in topological order (so the graph is acyclic), names
        unique, each input a known tensor, a Fork read exactly ``outputs`` times, and
        exactly one tensor left unconsumed: the graph output.
        """
        if not self.nodes:
            raise ModelError(f"network {self.name!r} has no layers")
        seen = {self.input_name}
        names = [n.name for n in self.nodes]
        for node in self.nodes:
            if not isinstance(node, Node):
                raise ModelError(f"network {self.name!r} holds {node!r}, not a layer")
            if node.name in seen:
                what = "the graph input's name" if node.name == self.input_name else "used twice"
                raise ModelError(f"layer name {node.name!r} is {what}")
            inputs = tuple(node.inputs)
            if len(inputs) != len(node.in_shapes):
                raise ModelError(f"layer {node.name!r} takes {len(node.in_shapes)} input(s), not "
                                 f"{len(inputs)} ({', '.join(map(repr, inputs)) or 'none'})")
            for k, src in enumerate(inputs):
                if src not in seen:
                    if src in names:
                        raise ModelError(f"layer {node.name!r} reads {src!r}, which is listed after it: "
                                         f"{self._cycle_or_order(node.name, src)}")
                    raise ModelError(f"layer {node.name!r} reads {src!r}, which is neither a layer nor "
                                     f"the graph input {self.input_name!r}")
                shape, dt = self.tensor_shape(src), self.tensor_dtype(src)
                want_shape, want_dt = tuple(node.in_shapes[k]), node.in_dtypes[k]
                what = "input" if len(inputs) == 1 else f"input {k}"
                if want_shape != shape:
                    raise ModelError(f"layer {node.name!r}: {what} shape {want_shape} does not match "
                                     f"{src!r}'s output {shape}")
                if want_dt != dt:
                    raise ModelError(f"layer {node.name!r}: {what} datatype {want_dt.name} does not "
                                     f"match {src!r}'s output {dt.name}")
            node.check()
            seen.add(node.name)
        for node in self.nodes:
            need = getattr(node, "fan_out", None)
            if need is not None and len(self.consumers(node.name)) != need:
                raise ModelError(f"layer {node.name!r} forks to {need} consumers but "
                                 f"{len(self.consumers(node.name))} read it")
        self.output_node  # noqa: B018 -- raises unless exactly one

    def _cycle_or_order(self, reader: str, src: str) -> str:
        """Describe why ``reader`` may not read the later ``src``: a cycle, or the order."""
        inputs = {n.name: tuple(n.inputs) for n in self.nodes}
        path, stack = [], [(src, [src])]
        seen = set()
        while stack:
            name, trail = stack.pop()
            if name == reader:
                path = trail
                break
            if name in seen or name not in inputs:
                continue
            seen.add(name)
            stack.extend((p, trail + [p]) for p in inputs[name])
        if path:
            cycle = " -> ".join(reversed([reader] + path))
            return f"the graph has a cycle ({cycle})"
        return "list the layers in topological order (producers first)"

    def check_forks(self) -> None:
        """Raise unless every tensor but a Fork's is read at most once (needed to lower)."""
        producers = {self.input_name: None, **{n.name: n for n in self.nodes}}
        for name, producer in producers.items():
            readers = self.consumers(name)
            if len(readers) > 1 and getattr(producer, "fan_out", None) is None:
                raise ModelError(f"tensor {name!r} feeds {len(readers)} layers "
                                 f"({', '.join(n.name for n in readers)}) without a fork; "
                                 f"run the insert_forks pass")

    def replace(self, **changes) -> "Graph":
        """A copy with ``changes``; new ``nodes`` drop the FIFO depths (sized for the old
        ones) unless ``fifos`` are given too."""
        if "nodes" in changes and "fifos" not in changes:
            changes["fifos"] = ()
        return dataclasses.replace(self, **changes)
