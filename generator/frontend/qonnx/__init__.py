"""QONNX / FINN-ONNX front end: a quantized ONNX model -> the integer IR.

``load_onnx`` reads the model with qonnx (``ModelWrapper``, ``cleanup_model``, shape,
constant and datatype passes), then walks its DAG with one handler per op
(:mod:`.ops`), streamlining the float glue into integer thresholds (:mod:`.thresholds`)
and splitting host-pre / hardware / host-post (DESIGN.md §4). ``reference_outputs``
runs the original model with qonnx, ``compare_with_reference`` is the check ``verify``
uses.
"""

from __future__ import annotations

from pathlib import Path

from qonnx.core.datatype import BaseDataType, DataType

from ...errors import OptionError
from ...ir import Graph
from ...ir.names import safe_name
from .reader import SUPPORTED_OPS, read_model
from .reference import compare_with_reference, model_input, reference_outputs
from .streamline import streamline

__all__ = ["load_onnx", "reference_outputs", "compare_with_reference", "model_input", "SUPPORTED_OPS"]

SPARSE_MODES = ("off", "auto")


def load_onnx(path: Path, *, input_dtype: DataType | None = None, input_scale: float | None = None,
              topk: int | None = None, sparse: str = "off") -> Graph:
    """Read a QONNX / FINN-ONNX model into a streamlined :class:`~generator.ir.Graph`.

    Parameters
    ----------
    path : Path
        The ``.onnx`` file (a dynamo export's ``.onnx.data`` must lie next to it).
    input_dtype : DataType, optional
        The input arrives as integers of this type (the real input is ``x * input_scale``);
        normalisation and the first quantizer become hardware thresholds. Without it the
        host quantizes the float input exactly as the model's first quantizer does.
    input_scale : float, optional
        Scale of the integer input (default 1); only with ``input_dtype``.
    topk : int, optional
        Append a hardware top-K (LabelSelect); the output becomes class indices.
    sparse : str
        ``"auto"`` moves matrix layers with >= 50 % zero weights onto the sparse engine
        (:func:`bitsmith.generator.sparse.sparsify_graph`); ``"off"`` keeps them dense.

    Raises
    ------
    ModelError
        Unsupported or malformed graph: one line naming the node, its op and the reason.
    """
    if sparse not in SPARSE_MODES:
        raise OptionError(f"sparse must be one of {', '.join(SPARSE_MODES)}, not {sparse!r}")
    if input_dtype is not None and not isinstance(input_dtype, BaseDataType):
        raise OptionError(f"input_dtype must be a qonnx DataType, not {input_dtype!r}")
    if input_dtype is not None and not input_dtype.is_integer():
        raise OptionError(f"input_dtype must be an integer datatype, not {input_dtype.name}")
    if input_scale is not None:
        if input_dtype is None:
            raise OptionError("input_scale needs input_dtype (the input is then integer times the scale)")
        if not isinstance(input_scale, (int, float)) or not input_scale > 0:
            raise OptionError(f"input_scale must be a positive number, not {input_scale!r}")
    if topk is not None and (not isinstance(topk, int) or isinstance(topk, bool) or topk < 1):
        raise OptionError(f"topk must be a positive integer, not {topk!r}")
    path = Path(path)
    model = read_model(path)
    name = safe_name(path.name.split(".")[0])     # unsw_nb15-mlp-w2a2.onnx -> unsw_nb15_mlp_w2a2
    graph = streamline(model, name, input_dtype=input_dtype, input_scale=input_scale, topk=topk)
    if sparse == "auto":
        from ...sparse import sparsify_graph
        graph = sparsify_graph(graph)
        graph.check()
    return graph
