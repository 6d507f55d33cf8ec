"""``bitsmith compress`` on an ONNX model (float or QONNX): every chosen ``MatMul``, ``Gemm``
or ``Conv`` (``group`` 1) whose weight is a constant, or a ``Quant``/``BipolarQuant`` of
one, becomes two nodes with quantized factors (see :mod:`.factor` for the SVD):

* ``MatMul(x, W)`` -> ``MatMul(MatMul(x, Quant(A^T)), Quant(B^T))``; ``Gemm`` likewise, the
  second keeping the bias ``C`` and ``beta`` (``alpha`` and ``transB`` go into the factors);
* ``Conv(x, W)`` (KxK, C_out filters) -> ``Conv`` KxK to R channels (the original strides,
  pads and dilations, no bias) then ``Conv`` 1x1 to C_out (with the original bias).

The factors are weights behind qonnx ``Quant`` nodes (signed, narrow, ``ROUND``, zero
point 0): the first with one scale for the tensor, so the intermediate stream is one
integer accumulator times one scale (the bitsmith front end carries it into the second
layer as a raw accumulator of at most 16 bits); the second with one scale per output
channel. The float domain needs no threshold arithmetic: every quantizer after the layer
reads the same real values, only approximated. Nodes are first given qonnx's unique
names ``OpType_N`` (``GiveUniqueNodeNames``, as bitsmith's front end names them after its
clean-up), which the summary and ``--layers`` use; nothing else of the graph changes.
Without ``--bits``, the factor bits are the widest (8 down to 2) whose first accumulator
fits 16 bits for the layer's integer input, as bitsmith's front end reads the original
model; a model it cannot read (a float model without input quantizers) gets INT8 factors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BitsmithError, ModelError, OptionError
from .factor import (DEFAULT_ENERGY, bit_choices, check_rank, energy_rank, mid_dtype, pays, quantize,
                     singular_values, too_wide)
from ..ir.dense import MAX_INPUT_BITS
from .native import LayerResult

MATRIX_OPS = ("MatMul", "Gemm", "Conv")
QUANT_DOMAIN = "qonnx.custom_op.general"
METADATA_KEY = "bitsmith_compress"
"""The metadata entry of every model compress writes (a later run may replace it)."""


def _init(model, name: str):
    return model.get_initializer(name)


def _attr(node, name, default):
    from onnx import helper
    for a in node.attribute:
        if a.name == name:
            value = helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


def _float_weight(model, node) -> tuple[np.ndarray, str] | None:
    """The layer's real weight and its datatype kind (``"float"`` or ``"quant"``), or None."""
    src = node.input[1]
    w = _init(model, src)
    if w is not None:
        return np.asarray(w, dtype=np.float64), "float"
    producer = model.find_producer(src)
    if producer is None or producer.op_type not in ("Quant", "BipolarQuant"):
        return None
    raw = _init(model, producer.input[0])
    consts = [_init(model, i) for i in producer.input[1:]]
    if raw is None or any(c is None for c in consts):
        return None
    if producer.op_type == "BipolarQuant":
        return np.where(raw >= 0, 1.0, -1.0) * np.asarray(consts[0], dtype=np.float64), "quant"
    from qonnx.custom_op.general.quant import quant
    value = quant(raw, consts[0], consts[1], consts[2], signed=_attr(producer, "signed", 1),
                  narrow=_attr(producer, "narrow", 0), rounding_mode=_attr(producer, "rounding_mode", "ROUND"))
    return np.asarray(value, dtype=np.float64), "quant"


def _matrix(node, w: np.ndarray) -> np.ndarray | None:
    """The (out, in) matrix of a layer (None: a form compress does not factorise)."""
    if node.op_type == "MatMul":
        return w.T if w.ndim == 2 else None
    if node.op_type == "Gemm":
        if _attr(node, "transA", 0) or w.ndim != 2:
            return None
        m = w if _attr(node, "transB", 0) else w.T
        return m * float(_attr(node, "alpha", 1.0))
    if _attr(node, "group", 1) != 1 or w.ndim < 3:
        return None
    return w.reshape(w.shape[0], -1)


def _in_dtypes(path: Path, options) -> dict:
    """``{ONNX node name: integer input datatype}`` as the bitsmith front end reads the
    cleaned model at ``path`` (empty if it cannot)."""
    from ..build import BuildOptions, load_model
    try:
        graph = load_model(path, options or BuildOptions())
    except BitsmithError:
        return {}
    nodes = {n.name: n for n in graph.nodes}
    out = {}
    for onnx_name, _, became in graph.provenance:
        if became.startswith("lowered to "):
            ir = nodes.get(became.split()[2])
            if ir is not None:
                out[onnx_name] = ir.in_dtype
    return out


def compress_onnx(path: Path, out: Path, *, rank: int | str, energy: float = DEFAULT_ENERGY,
                  bits: int | None = None, layers: tuple[str, ...] | None = None,
                  command: str = "bitsmith compress", options=None) -> tuple[object, list[LayerResult]]:
    """The factorised model (a qonnx ``ModelWrapper``, not yet written) and the summary."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_shapes import InferShapes
    try:
        model = ModelWrapper(str(path)).transform(GiveUniqueNodeNames(), cleanup=False).transform(InferShapes(), cleanup=False)
    except Exception as exc:   # onnx raises many kinds on a broken file
        raise ModelError(f"{path}: cannot read it as ONNX ({type(exc).__name__}: {exc})") from None
    in_dtypes = _in_dtypes(path, options)
    found = {}
    for node in model.graph.node:
        if node.op_type in MATRIX_OPS:
            got = _float_weight(model, node)
            m = None if got is None else _matrix(node, got[0])
            found[node.name] = (node, m)
    candidates = [name for name, (_, m) in found.items() if m is not None]
    if layers is not None:
        for name in layers:
            if name not in found:
                raise OptionError(f"--layers: {path.name} has no MatMul, Gemm or Conv node {name!r} (named "
                                  f"OpType_N in node order; its matrix nodes: {', '.join(candidates) or 'none'})")
            if name not in candidates:
                raise OptionError(f"--layers: node {name!r} cannot be factorised: its weight is not a "
                                  f"constant (or a Quant of one), or it is a grouped convolution")
    chosen = list(layers) if layers is not None else candidates
    results = []
    for name in chosen:
        node, matrix = found[name]
        rows, cols = matrix.shape
        where = f"{path.name}: node {name!r}"
        r = rank
        if rank == "auto":
            r = energy_rank(singular_values(matrix), energy)
            if not pays(r, rows, cols):
                px = _pixels(model, node)
                results.append(LayerResult(name, node.op_type, (rows, cols), None, None, None, None,
                                           rows * cols * px, rows * cols * px, f"kept: rank {r} for {energy:.4g} of the energy saves "
                                                        f"nothing"))
                continue
        check_rank(r, rows, cols, where)
        in_dtype = in_dtypes.get(name)
        factors, b, mid = _fit(matrix, r, bits, in_dtype, where)
        _rewrite(model, name, factors, b)
        s = singular_values(matrix)
        px = _pixels(model, node)
        results.append(LayerResult(name, node.op_type, (rows, cols), r, float((s[:r] ** 2).sum() / (s ** 2).sum()),
                                   b, None if mid is None else mid.name, rows * cols * px, r * (rows + cols) * px))
    from onnx import helper
    from qonnx.transformation.general import SortGraph
    model = model.transform(SortGraph(), cleanup=False)        # the factors' Quant nodes before their readers
    helper.set_model_props(model.model, {METADATA_KEY: command})
    return model, results


def _pixels(model, node) -> int:
    """Output positions per frame of a layer (a conv's H*W; 1 for a matrix layer)."""
    if node.op_type != "Conv":
        return 1
    shape = model.get_tensor_shape(node.output[0])
    return int(np.prod(shape[2:])) if shape else 1


def _fit(matrix: np.ndarray, rank: int, bits: int | None, in_dtype, where: str):
    """The quantized factors at the widest allowed bits whose intermediate fits (any bits
    when the input datatype is unknown: INT8 unless ``bits``)."""
    if in_dtype is None:
        b = bits or 8
        return _factors(matrix, rank, b), b, None
    choices = bit_choices(bits)
    for b in choices:
        factors = _factors(matrix, rank, b)
        mid = mid_dtype(factors[0], b, in_dtype)
        if mid.bitwidth() <= MAX_INPUT_BITS:
            return factors, b, mid
    raise too_wide(where, rank, choices[-1], mid)


def _factors(matrix: np.ndarray, rank: int, bits: int):
    """Float factors ``A`` (R, in) with one scale and ``B`` (out, R) with a scale per row,
    quantized as :mod:`.factor` does: ``(a_int, a_scale, b_int, b_scales)``."""
    u, s, vt = np.linalg.svd(matrix, full_matrices=False)
    root = np.sqrt(s[:rank])
    a, b = root[:, None] * vt[:rank], u[:, :rank] * root[None, :]
    a_int, a_scale = quantize(a, bits, axis=None)
    b_int, b_scale = quantize(b * float(a_scale), bits, axis=1)
    return a_int, float(a_scale), b_int, b_scale[:, 0]


def _rewrite(model, name: str, factors, bits: int) -> None:
    from onnx import helper, numpy_helper
    a_int, a_scale, b_int, b_scale = factors
    rank = a_int.shape[0]
    graph = model.graph
    node = next(n for n in graph.node if n.name == name)
    mid = f"{name}_lr_out"

    def quantized(tag: str, ints: np.ndarray, scale) -> str:
        scale = np.asarray(scale, dtype=np.float32)
        value = (ints.astype(np.float32) * scale).astype(np.float32)
        inits = {f"{name}_{tag}": value, f"{name}_{tag}_scale": scale,
                 f"{name}_{tag}_zeropt": np.float32(0.0), f"{name}_{tag}_bitwidth": np.float32(bits)}
        for key, v in inits.items():
            graph.initializer.append(numpy_helper.from_array(np.asarray(v, dtype=np.float32), key))
        graph.node.append(helper.make_node("Quant", list(inits), [f"{name}_{tag}_q"], name=f"{name}_{tag}_quant",
                                           domain=QUANT_DOMAIN, signed=1, narrow=1, rounding_mode="ROUND"))
        return f"{name}_{tag}_q"

    x, y = node.input[0], node.output[0]
    if node.op_type in ("MatMul", "Gemm"):
        a = quantized("lr_a", a_int.T, a_scale)                       # (in, R)
        b = quantized("lr_b", b_int.T, b_scale[None, :])              # (R, out), per output column
        first = helper.make_node("MatMul", [x, a], [mid], name=f"{name}_lr")
        if node.op_type == "MatMul":
            second = helper.make_node("MatMul", [mid, b], [y], name=name)
        else:
            second = helper.make_node("Gemm", [mid, b, *node.input[2:]], [y], name=name,
                                      beta=float(_attr(node, "beta", 1.0)))
    else:
        w_shape = _init_shape(model, node)
        spatial = len(w_shape) - 2
        a = quantized("lr_a", a_int.reshape(rank, *w_shape[1:]), a_scale)
        b = quantized("lr_b", b_int.reshape(b_int.shape[0], rank, *([1] * spatial)),
                      b_scale.reshape(-1, 1, *([1] * spatial)))
        attrs = {a_.name: helper.get_attribute_value(a_) for a_ in node.attribute}
        attrs["kernel_shape"] = list(w_shape[2:])
        first = helper.make_node("Conv", [x, a], [mid], name=f"{name}_lr", **attrs)
        second = helper.make_node("Conv", [mid, b, *node.input[2:]], [y], name=name, kernel_shape=[1] * spatial,
                                  strides=[1] * spatial, pads=[0] * (2 * spatial), dilations=[1] * spatial, group=1)
    i = list(graph.node).index(node)
    old = node.input[1]
    graph.node.remove(node)
    graph.node.insert(i, second)
    graph.node.insert(i, first)
    _drop_unused(model, old)


def _drop_unused(model, tensor: str) -> None:
    """Remove ``tensor`` (an initializer, or a node's output) and then its producer's inputs,
    while nothing reads them and no graph output names them."""
    graph = model.graph
    outputs = {o.name for o in graph.output}
    if tensor in outputs or model.find_consumers(tensor):
        return
    producer = model.find_producer(tensor)
    if producer is not None:
        graph.node.remove(producer)
        for src in producer.input:
            _drop_unused(model, src)
        return
    for init in list(graph.initializer):
        if init.name == tensor:
            graph.initializer.remove(init)
            for inp in list(graph.input):      # TorchScript exports list initializers as inputs too
                if inp.name == tensor:
                    graph.input.remove(inp)


def _init_shape(model, node) -> tuple[int, ...]:
    src = node.input[1]
    w = _init(model, src)
    if w is None:
        w = _init(model, model.find_producer(src).input[0])
    return tuple(w.shape)


def is_compress_onnx(path: Path) -> bool:
    """An existing file compress may replace: an ONNX model it wrote (its metadata entry)."""
    try:
        import onnx
        model = onnx.load(str(path), load_external_data=False)
    except Exception:   # not ONNX at all
        return False
    return any(p.key == METADATA_KEY for p in model.metadata_props)
