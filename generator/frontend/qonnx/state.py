"""The walk state: where the current ONNX tensor lives and what has been built so far.

Phases (DESIGN.md §4):

``float``  the model's float input, still on the host (no ``input_dtype``): every op is
           replayed by a host-pre stage up to and including the first quantizer;
``int``    an integer tensor, no hardware layer yet: layout ops stay on the host, float
           steps collect in the chain;
``hw``     hardware layers exist; ``index`` maps the ONNX tensor onto the NHWC stream;
``tail``   after a non-absorbable float op (Softmax): everything is host-post.

The network is a DAG: every ONNX tensor the walk reaches has its own
:class:`TensorState` (phase, shape, float chain, index map, the IR node producing its
integer source). The walk loads the state of a node's input into the :class:`Lowering`
(whose fields the handlers read and write), runs the handler and stores the result as
the state of the node's output. Host-pre and host-post are single paths: the network
may branch only once it runs in hardware (a tensor read twice before the first hardware
layer starts the hardware there), and only one tensor may reach the float tail.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper

from ...errors import ModelError
from ...ir import host
from ...ir.core import Node
from . import chain as ch


@dataclass
class TensorState:
    """Where one ONNX tensor lives: the per-tensor half of :class:`Lowering`."""

    phase: str
    shape: tuple
    dtype: DataType
    chain: list = field(default_factory=list)
    sources: list = field(default_factory=list)
    index: np.ndarray | None = None
    hw_shape: tuple | None = None
    absorbable: bool = False
    order_preserving: bool = True
    pending_pad: tuple = (0, 0, 0, 0)
    producer: str | None = None
    tail_affine: tuple | None = None


TENSOR_FIELDS = tuple(f.name for f in fields(TensorState))


@dataclass
class Lowering:
    """Mutable state of one front-end run (see the module docstring)."""

    model: ModelWrapper
    name: str
    phase: str
    shape: tuple                      # ONNX shape of the current tensor (batch 1 first)
    dtype: DataType                   # datatype of the integer source (meaningless in 'float')
    chain: list = field(default_factory=list)
    sources: list = field(default_factory=list)   # (name, op) folded into the chain
    index: np.ndarray | None = None   # ONNX shape -> flat position in the NHWC stream
    hw_shape: tuple | None = None     # (H, W, C) of the current stream
    in_shape: tuple | None = None
    in_dtype: DataType | None = None
    nodes: list = field(default_factory=list)
    host_pre: list = field(default_factory=list)
    host_post: list = field(default_factory=list)
    provenance: list = field(default_factory=list)
    absorbable: bool = False          # nodes[-1] may still take thresholds
    order_preserving: bool = True     # tail keeps the hardware output's order (for top-K)
    integer_input: host.IntegerInput | None = None
    counters: dict = field(default_factory=dict)
    pending_pad: tuple = (0, 0, 0, 0)  # a Pad waiting for its Conv (top, left, bottom, right)
    producer: str | None = None       # the IR node (or graph input) producing the integer source
    tail_affine: tuple | None = None  # (mul, add) per class of the chain moved to host-post
    hardware_started: bool = False
    tail_started: bool = False

    # ------------------------------------------------------------------ per-tensor state
    def save(self) -> TensorState:
        """The current tensor's state (lists copied, so later handlers cannot alias them)."""
        values = {name: getattr(self, name) for name in TENSOR_FIELDS}
        values["chain"], values["sources"] = list(self.chain), list(self.sources)
        return TensorState(**values)

    def load(self, state: TensorState, *, shared: bool = False) -> None:
        """Make ``state`` the current tensor; ``shared`` (read by several nodes) forbids
        absorbing thresholds into its producer, which the other readers also see."""
        for name in TENSOR_FIELDS:
            setattr(self, name, getattr(state, name))
        self.chain, self.sources = list(state.chain), list(state.sources)
        if shared:
            self.absorbable = False

    def node_named(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def producer_node(self) -> Node:
        """The IR node producing the current tensor's integer source."""
        return self.node_named(self.producer)

    def replace_producer(self, node: Node) -> None:
        """Replace the producing IR node (thresholds absorbed, rows flipped) in place."""
        k = next(i for i, n in enumerate(self.nodes) if n.name == self.producer)
        self.nodes[k] = node
        self.dtype = node.out_dtype

    # ------------------------------------------------------------------ helpers
    def new_name(self, prefix: str) -> str:
        n = self.counters.get(prefix, 0)
        self.counters[prefix] = n + 1
        return f"{prefix}{n}"

    def record(self, node, became: str) -> None:
        self.provenance.append((node.name, node.op_type, became))

    def fold(self, node) -> None:
        """``node`` became part of the chain; its fate is recorded when the chain is consumed."""
        self.sources.append((node.name, node.op_type))

    def settle(self, became: str) -> None:
        for name, op in self.sources:
            self.provenance.append((name, op, became))
        self.sources = []

    def add_node(self, node: Node, *, absorbable: bool = False) -> Node:
        """Append ``node`` reading the current tensor (unless its ``inputs`` say otherwise)."""
        if not node.inputs:
            node = node.replace(inputs=(self.producer,))
        self.nodes.append(node)
        self.producer = node.name
        self.hw_shape = tuple(node.out_shape)
        self.dtype = node.out_dtype
        self.absorbable = absorbable
        return node

    def push(self, step) -> None:
        self.chain = ch.append(self.chain, step)

    # ------------------------------------------------------------------ layout
    def relayout(self, fn, new_shape: tuple) -> None:
        """Apply a layout op ``fn`` (array of the current shape -> new shape) to the state."""
        shape = self.shape
        self.chain = ch.remap(self.chain, lambda c: c if np.size(c) == 1 else fn(np.broadcast_to(c, shape)))
        if self.index is not None:
            self.index = fn(self.index)
        self.shape = tuple(int(d) for d in new_shape)

    def start_hardware(self, where: str) -> None:
        """Fix the hardware input at the current tensor: host-pre ends with ToNHWC."""
        if self.phase == "hw":
            return
        if self.hardware_started:
            raise ModelError(f"{where}: a second path from the model input reaches the hardware; the "
                             f"network may branch only after its first hardware layer")
        if self.phase != "int":
            raise ModelError(f"{where}: the model's float input reaches it without a quantizer; give "
                             f"--input-dtype/--input-scale if the input is integer")
        shape = self.shape
        if len(shape) == 2:
            hw, layout = (1, 1, shape[1]), "NHWC"
            index = np.arange(shape[1]).reshape(shape)
        elif len(shape) in (3, 4):
            c = shape[1]
            # a sequence (N, C, L) is a column (L, 1, C): the 1-D layers' convention
            h, w = (shape[2], 1) if len(shape) == 3 else (shape[2], shape[3])
            hw, layout = (h, w, c), "NCHW"
            index = nchw_index((1, c, h, w)).reshape(shape)
        else:
            raise ModelError(f"{where}: the hardware input must be (N, C), (N, C, W) or (N, C, H, W), "
                             f"not {shape}")
        if self.host_pre and isinstance(self.host_pre[-1], host.Reshape) and layout == "NHWC":
            self.host_pre.pop()           # ToNHWC reshapes anyway
        self.host_pre.append(host.ToNHWC(shape=hw, layout=layout))
        if self.integer_input is not None:
            self.host_pre.append(self.integer_input)
        self.in_shape, self.in_dtype = hw, self.dtype
        self.hw_shape, self.index, self.phase = hw, index, "hw"
        self.producer, self.hardware_started = "input", True

    def per_channel(self, value, where: str, what: str) -> np.ndarray:
        """A constant over the current tensor as one value per stream channel, shape (C, 1)."""
        value = np.asarray(value, dtype=np.float64)
        c = self.hw_shape[2]
        if value.size == 1:
            return np.full((c, 1), float(value.reshape(-1)[0]))
        full = np.broadcast_to(value, self.shape).reshape(-1)
        flat = np.empty(full.size)
        flat[self.index.reshape(-1)] = full
        pix = flat.reshape(-1, c)
        if not np.all(pix == pix[:1]):
            raise ModelError(f"{where}: the {what} differs between pixels of one channel; only "
                             f"per-channel or per-tensor values can run in the hardware")
        return pix[0].reshape(c, 1)

    # ------------------------------------------------------------------ host-post
    def enter_tail(self, where: str) -> None:
        """Move the chain to host-post: hardware output -> ONNX tensor -> float steps."""
        if self.phase == "tail":
            return
        if self.phase != "hw":
            raise ModelError(f"{where}: the model has no integer layer before its float tail")
        if self.tail_started:
            raise ModelError(f"{where}: a second branch enters the float tail; only one path of the "
                             f"network may run on the host after the hardware")
        self.tail_started = True
        self.tail_affine = self.class_affine()
        self.order_preserving = self.tail_affine is not None
        flat = np.arange(self.index.size).reshape(self.index.shape)
        if np.array_equal(self.index, flat) and len(self.shape) == 2:
            self.host_post.append(host.Flatten())
        else:
            self.host_post.append(host.FromNHWC(index=self.index[0].copy()))
        for step in self.chain:
            if isinstance(step, ch.AffineStep):
                mul = np.broadcast_to(step.mul, self.shape)[0] if np.size(step.mul) > 1 else step.mul
                add = np.broadcast_to(step.add, self.shape)[0] if np.size(step.add) > 1 else step.add
                self.host_post.append(host.Affine(mul=np.asarray(mul, np.float64), add=np.asarray(add, np.float64)))
            else:
                self.host_post.append(host.Elementwise(op="Relu"))
        self.settle("host-post")
        self.chain = []
        self.phase = "tail"

    def class_affine(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(mul, add)`` per output class (1-D) if the chain is affine on an un-permuted
        ``(N, C)`` vector, else None: what a hardware top-K must apply before comparing."""
        if not ch.is_affine(self.chain) or len(self.shape) != 2:
            return None
        flat = np.arange(self.index.size).reshape(self.index.shape)
        if not np.array_equal(self.index, flat):
            return None
        mul, add = ch.as_affine(self.chain)
        return (np.broadcast_to(mul, self.shape).reshape(-1).astype(np.float64),
                np.broadcast_to(add, self.shape).reshape(-1).astype(np.float64))


def nchw_index(shape: tuple) -> np.ndarray:
    """The ONNX (1, C, H, W) -> flat NHWC position map of an un-permuted feature map."""
    _, c, h, w = shape
    return np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).reshape(shape)
