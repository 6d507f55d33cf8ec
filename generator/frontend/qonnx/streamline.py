"""Walk the cleaned ONNX chain, one handler per op, into a :class:`~generator.ir.Graph`."""

from __future__ import annotations

from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper

from ...errors import ModelError
from ...ir import Graph, host
from ...ir.origin import check_naming_origin
from . import chain as ch
from .ops import HANDLERS, JOINS, where
from .ops.tail import select_labels
from .reader import SUPPORTED_OPS
from .state import Lowering


def _parameter_nodes(model: ModelWrapper) -> set[str]:
    """Weight quantizers: Quant/BipolarQuant nodes whose inputs are all initializers."""
    return {n.name for n in model.graph.node if n.op_type in ("Quant", "BipolarQuant")
            and all(model.get_initializer(i) is not None for i in n.input if i)}


def streamline(model: ModelWrapper, name: str, *, input_dtype: DataType | None,
               input_scale: float | None, topk: int | None) -> Graph:
    graph_in = [i for i in model.graph.input if model.get_initializer(i.name) is None][0].name
    shape = tuple(model.get_tensor_shape(graph_in) or ())
    if len(shape) < 2 or shape[0] != 1 or any(int(d) <= 0 for d in shape):
        raise ModelError(f"model input {graph_in!r}: shape {shape} must be fixed with batch size 1 first")
    st = Lowering(model=model, name=name, phase="float", shape=shape, dtype=DataType["FLOAT32"])
    layout = {2: "NC", 3: "NCW", 4: "NCHW"}.get(len(shape), "")
    st.host_pre.append(host.InputFrame(shape=tuple(int(d) for d in shape[1:]),
                                       layout=f"{layout + ' ' if layout else ''}as the ONNX graph's input"))
    annotated = model.get_tensor_datatype(graph_in)
    if input_dtype is None and annotated.is_integer():
        # FINN-ONNX zoo models annotate their integer input (``finn_datatype``, e.g. BIPOLAR)
        input_dtype = DataType[annotated.name]
    if input_dtype is not None:
        scale = 1.0 if input_scale is None else float(input_scale)
        st.phase, st.dtype = "int", input_dtype
        st.chain = [ch.affine(scale, 0.0)]
        st.integer_input = host.IntegerInput(dtype=input_dtype, scale=scale)
    params = _parameter_nodes(model)
    states = {graph_in: st.save()}
    readers = _readers(model, params)
    for node in model.graph.node:
        if node.name in params:
            continue
        dynamic = [i for i in node.input if i and model.get_initializer(i) is None
                   and (model.find_producer(i) is None or model.find_producer(i).name not in params)]
        missing = [i for i in dynamic if i not in states]
        if missing or not dynamic:
            raise ModelError(f"{where(node)}: reads {missing or 'only constants'}, which the walk from the "
                             f"model input has not reached")
        for tensor in dynamic:
            if states[tensor].phase == "labels":
                raise ModelError(f"{where(node)}: nothing may follow the ArgMax/TopK")
        _run_handler(st, node, dynamic, states, readers)
        for out in node.output:
            if out:
                states[out] = st.save()
    out = model.graph.output[0].name
    if out not in states:
        raise ModelError(f"the walk never reached the model output {out!r}")
    st.load(states[out])
    _finish(st, topk)
    _check_dead_ends(st)
    graph = Graph(name=name, in_shape=st.in_shape, in_dtype=st.in_dtype, nodes=tuple(st.nodes),
                  host_pre=tuple(st.host_pre), host_post=tuple(st.host_post), provenance=tuple(st.provenance))
    check_naming_origin(graph)
    return graph


def _readers(model: ModelWrapper, params: set[str]) -> dict[str, int]:
    """How many (non-parameter) nodes read each tensor."""
    count: dict[str, int] = {}
    for node in model.graph.node:
        if node.name not in params:
            for i in set(node.input):
                if i:
                    count[i] = count.get(i, 0) + 1
    return count


def _run_handler(st: Lowering, node, dynamic: list[str], states: dict, readers: dict[str, int]) -> None:
    """Load the input state(s) of ``node`` and run its handler (a join for two or more inputs)."""
    inputs = [states[t] for t in dynamic]
    shared = [readers.get(t, 0) > 1 for t in dynamic]
    if len(dynamic) == 1:
        handler = HANDLERS.get(node.op_type)
        st.load(inputs[0], shared=shared[0])
        if shared[0] and st.phase == "int":
            st.start_hardware(where(node))     # a branch: the hardware starts at the fork
            states[dynamic[0]] = st.save()
            st.absorbable = False
    else:
        handler = JOINS.get(node.op_type)
        if handler is None:
            raise ModelError(f"{where(node)}: takes {len(dynamic)} computed tensors; only Add and Concat "
                             f"can join branches")
    if handler is None:
        raise ModelError(f"{where(node)}: not supported; supported ops: {', '.join(SUPPORTED_OPS)}")
    if len(dynamic) == 1 and shared[0] and st.phase in ("float", "tail"):
        place = "before the model's input quantizer" if st.phase == "float" else "in the float tail"
        raise ModelError(f"{where(node)}: its input {dynamic[0]!r} feeds several nodes {place}; the "
                         f"network may branch only in the integer part")
    try:
        if len(dynamic) == 1:
            handler(st, node)
        else:
            handler(st, node, inputs, shared)
    except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError, OverflowError) as exc:
        # the checks above let only well-typed nodes through; what a handler still cannot
        # read (an axis out of range, a zero group...) is the node's fault, or a bug
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ModelError(f"{where(node)}: the front end cannot read it ({type(exc).__name__}: {reason}); "
                         f"if the node is valid ONNX, this is a bug (--debug shows where)") from exc


def _check_dead_ends(st: Lowering) -> None:
    """Every hardware layer must lead to the output (a dangling branch has no stream sink)."""
    used = {i for n in st.nodes for i in n.inputs}
    final = st.producer
    for node in st.nodes:
        if node.name not in used and node.name != final:
            raise ModelError(f"layer {node.name!r}: its output reaches no model output (a branch that "
                             f"ends nowhere is not supported)")


class _TopK:
    """Stand-in ONNX node for ``--topk`` in provenance rows."""

    name = "--topk"
    op_type = "TopK"


def _finish(st: Lowering, topk: int | None) -> None:
    if st.phase in ("float", "int"):
        raise ModelError("the model has no layer that runs in integer hardware (no MatMul/Gemm or "
                         "quantizer after the input)")
    if st.phase == "labels":
        k = st.producer_node().k
        if topk is not None and topk != k:
            raise ModelError(f"--topk {topk} differs from the model's own top-K ({k})")
        return
    if topk is not None:
        if not isinstance(topk, int) or isinstance(topk, bool):
            raise ModelError(f"topk must be an integer, not {topk!r}")
        select_labels(st, _TopK(), topk, "--topk")
        return
    st.enter_tail("the model output")
    st.host_post.append(host.Cast(dtype="float32"))
