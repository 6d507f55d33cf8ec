"""Read a QONNX / FINN-ONNX file and clean it up with qonnx's own transformations."""

from __future__ import annotations

from pathlib import Path

import onnx
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.fold_constants import FoldConstants
from qonnx.transformation.general import GiveUniqueNodeNames, SortGraph
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.cleanup import cleanup_model

from ...errors import ModelError
from ...limits import MAX_ONNX_BYTES
from ...safeio import regular_file
from .precheck import check_proto

#: ONNX op types the front end lowers (the report and the errors list them).
SUPPORTED_OPS = ("Quant", "BipolarQuant", "Trunc", "MultiThreshold", "MatMul", "Gemm", "Conv", "Add",
                 "Sub", "Mul", "Div", "BatchNormalization", "Relu", "Sign", "Reshape", "Flatten",
                 "Transpose", "Squeeze", "Unsqueeze", "Identity", "Dropout", "MaxPool", "AveragePool",
                 "GlobalAveragePool", "ReduceMean", "Concat", "Resize", "Upsample", "Pad", "Softmax", "ArgMax", "TopK")

#: Default-domain opsets read: 9..18 as promised, plus 19 and 20 (what torch's dynamo
#: exporter writes), whose changes to the ops above (Pad 'wrap' mode, AveragePool
#: dilations, Reshape/Identity types) are all checked by the handlers.
OPSETS = range(9, 21)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def load_wrapper(path: Path) -> ModelWrapper:
    """The raw model (external ``.onnx.data`` files are read from next to ``path``)."""
    path = Path(path)
    regular_file(path, error=ModelError, max_bytes=MAX_ONNX_BYTES)
    try:
        proto = onnx.load(str(path), load_external_data=True)
    except Exception as exc:  # onnx raises DecodeError, OSError, ...: all mean "not readable"
        raise ModelError(f"{path}: not a readable ONNX model ({_first_line(exc)})") from None
    check_proto(proto, path, SUPPORTED_OPS)
    _drop_constant_outputs(proto.graph, {t.name for t in proto.graph.initializer})
    return ModelWrapper(proto)


def single_frame(model: ModelWrapper) -> ModelWrapper:
    """The model with batch size 1: a symbolic batch axis of the input and output is fixed
    to 1 and the stale intermediate shapes are dropped (shape inference restores them)."""
    inits = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    dims = inputs[0].type.tensor_type.shape.dim if inputs else []
    if len(dims) and dims[0].HasField("dim_param"):
        dims[0].dim_value = 1
        for out in model.graph.output:
            odims = out.type.tensor_type.shape.dim
            if len(odims) and odims[0].HasField("dim_param"):
                odims[0].dim_value = 1
        del model.graph.value_info[:]
    return model


def default_opset(model: ModelWrapper) -> int | None:
    for imp in model.model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return None


def _drop_constant_outputs(graph, inits: set[str]) -> None:
    """Forget graph outputs that do not depend on the model input (Brevitas' TorchScript
    exporter sometimes lists constants, such as a zero point, as extra outputs)."""
    live = {i.name for i in graph.input if i.name not in inits}
    for node in graph.node:
        if any(i in live for i in node.input):
            live.update(o for o in node.output if o)
    keep = [o for o in graph.output if o.name in live]
    if keep and len(keep) != len(graph.output):
        del graph.output[:]
        graph.output.extend(keep)


def read_model(path: Path) -> ModelWrapper:
    """Load, check the opset, and clean up: shapes, constants, datatypes, unique names."""
    model = load_wrapper(path)
    version = default_opset(model)
    if version is not None and version not in OPSETS:
        raise ModelError(f"{path}: ONNX opset {version} is not supported "
                         f"(opsets {OPSETS.start}..{OPSETS.stop - 1} are)")
    graph = model.graph
    inits = {t.name for t in graph.initializer}
    if not [i for i in graph.input if i.name not in inits] or len(graph.output) != 1:
        raise ModelError(f"{path}: the model must have one input and one output")
    annotated = model.get_tensor_datatype([i for i in graph.input if i.name not in inits][0].name)
    try:
        model = cleanup_model(single_frame(model))
        for step in (FoldConstants(exclude_op_types=["Quant", "BipolarQuant"]), InferShapes(), SortGraph(),
                     GiveUniqueNodeNames(), InferDataTypes()):
            model = model.transform(step)
    except ModelError:
        raise
    except Exception as exc:  # qonnx/onnx shape inference failing means a malformed graph
        raise ModelError(f"{path}: qonnx could not clean up the graph ({_first_line(exc)})") from None
    inputs = [i for i in model.graph.input if model.get_initializer(i.name) is None]
    if len(inputs) != 1:
        raise ModelError(f"{path}: the model must have exactly one input, not {len(inputs)}")
    if annotated.is_integer():     # FINN's finn_datatype annotation survives the renaming clean-up
        model.set_tensor_datatype(inputs[0].name, annotated)
    for node in model.graph.node:
        if node.op_type not in SUPPORTED_OPS:
            raise ModelError(f"{path}: node {node.name!r} ({node.op_type}) is not supported; supported "
                             f"ops: {', '.join(SUPPORTED_OPS)}")
    return model
