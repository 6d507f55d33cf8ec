"""Native description ops for convolutions, max pooling, global pooling and residual blocks,
in 2-D and on sequences. Every op here declares its keys with ``@native_op`` next to its
parser; ``docs/NATIVE.md`` (generated from the declarations) is the reference of the ops
and their keys. For example::

  - {name: c0, op: conv, weights: c0_w, weight_dtype: INT2, kernel: [3, 3], stride: 1, pad: 1,
     thresholds: c0_t, out_dtype: UINT2, pe: 8, simd: 3}
  - {name: p0, op: maxpool, kernel: 3, stride: 2, pad: 1, ceil_mode: false, pe: 8}
  - {name: r0, op: residual, pe: 4, body: [ {name: r0a, op: conv, ...}, ... ]}
  # on a sequence (input shape [L, C], the tensor (L, 1, C)):
  - {name: k0, op: conv1d, weights: k0_w, weight_dtype: INT4, kernel: 5, stride: 1, pad: 2, simd: 5}

What the declarations do not say:

* ``conv`` weights are ``(OC, KH, KW, IC)`` (``weight_layout: OHWI``, the default) or
  PyTorch/ONNX ``(OC, IC, KH, KW)`` (``weight_layout: OIHW``); the MVAU matrix is the
  OHWI array flattened, columns in window order (kh, kw, ic) (see :mod:`bitsmith.generator.ir.conv`).
* A convolution pads with zero (not on BIPOLAR inputs), a max pool with the input
  datatype's minimum (ONNX's -inf); ``ceil_mode`` rounds a pool's output size up, as in
  ONNX/PyTorch.
* ``simd`` of a convolution divides ``KH*KW*IC``: beyond the input channels a word spans
  several kernel positions (the window held in registers; a first layer with 1 or 3
  channels then takes fewer cycles than ``OH*OW*KH*KW``).
* A 1-D op is its 2-D layer with ``(K, 1)`` kernels on a ``(L, 1, C)`` input (a 2-D
  input is refused by name); its weights are read as the OHWI array of that kernel.
* ``residual``: ``body`` is a list of layers of any op; the block outputs ``x + body(x)``.
  A convenience: it expands to ``<name>_fork`` (a :class:`~bitsmith.generator.ir.branch.Fork`
  of the block input), the body layers (``<name>_<i>`` unless named) and ``<name>``, an
  :class:`~bitsmith.generator.ir.branch.Add` of ``(body output, block input)`` with
  scales 1. ``pe`` folds the fork and the add. The body layers are ordinary layers of
  the graph, folded like every other. Writing the same with ``fork``/``add`` layers and
  ``input:``/``inputs:`` (see :mod:`.native_branch`) also gives other shortcuts (a
  strided 1x1 conv on a downsampling block's shortcut).
"""

from __future__ import annotations

import numpy as np

from ..errors import FoldingError, ModelError
from ..ir.branch import Add, Fork
from ..ir.conv import Conv, GlobalAccPool, MaxPool
from ..ir.core import Node, dtype
from ..ir.winograd import WinogradConv
from .native import (PE, SIMD, WEIGHT_DTYPE, Arrays, checked_weights, fold_value, integer_array,
                     parse_layers, parse_thresholds, probe, threshold_keys)
from .native_schema import (ARRAY, BOOL, FOLD, LAYERS, PAD, PAD_1D, PAIR, POSITIVE, Key, native_op, one_of,
                            short)

LAYOUTS = ("OHWI", "OIHW")
LAYOUTS_1D = ("OWI", "OIW")


def _arrays(arrays) -> Arrays:
    return arrays if isinstance(arrays, Arrays) else Arrays(None, dict(arrays))


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _pair(spec: dict, key: str, default, where: str, minimum: int) -> tuple[int, int]:
    value = spec.get(key, default)
    if _is_int(value):
        value = [value, value]
    if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(_is_int(v) for v in value):
        raise ModelError(f"{where}: {key} must be an integer or [H, W], not {short(value)}")
    if any(v < minimum for v in value):
        raise ModelError(f"{where}: {key} must be >= {minimum}, not {list(value)!r}")
    return int(value[0]), int(value[1])


def _pad(spec: dict, where: str) -> tuple[int, int, int, int]:
    value = spec.get("pad", 0)
    if _is_int(value):
        value = [value] * 4
    elif isinstance(value, list) and len(value) == 2:
        value = [value[0], value[1], value[0], value[1]]
    if not isinstance(value, list) or len(value) != 4 or not all(_is_int(v) and v >= 0 for v in value):
        raise ModelError(f"{where}: pad must be an integer, [H, W] or [top, left, bottom, right] of "
                         f"non-negative integers, not {short(spec.get('pad'))}")
    return tuple(int(v) for v in value)


def _weights(spec: dict, arrays: Arrays, where: str, depthwise: bool) -> np.ndarray:
    w = integer_array(arrays.get(spec.get("weights"), where), "weights", where)
    layout = spec.get("weight_layout", "OHWI")
    if layout not in LAYOUTS:
        raise ModelError(f"{where}: weight_layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    if depthwise and w.ndim == 3 and layout == "OHWI":
        w = w[..., None]
    if w.ndim != 4:
        raise ModelError(f"{where}: weights must be 4-D ({layout}), not shape {tuple(w.shape)}")
    if layout == "OIHW":
        w = w.transpose(0, 2, 3, 1)
    return np.ascontiguousarray(w)


def _weight_dtype(spec: dict, w: np.ndarray, where: str):
    wdt = dtype(spec["weight_dtype"])
    checked_weights(w, wdt, where)
    return wdt


def _conv(spec: dict, in_shape, in_dtype, arrays, where: str, depthwise: bool, w=None,
          geometry=None) -> Conv:
    """A conv from ``spec``; ``w`` (OHWI) and ``geometry`` (kernel, stride, pad) if already
    read (the 1-D ops), else from the spec's 2-D keys."""
    arrays = _arrays(arrays)
    if w is None:
        w = _weights(spec, arrays, where, depthwise)
    if geometry is None:
        kernel = _pair(spec, "kernel", list(w.shape[1:3]), where, 1)
        geometry = kernel, _pair(spec, "stride", 1, where, 1), _pad(spec, where)
    kernel, stride, pad = geometry
    if tuple(w.shape[1:3]) != kernel:
        raise ModelError(f"{where}: weights have kernel {tuple(w.shape[1:3])} but kernel is {kernel}")
    channels = int(in_shape[2])
    if depthwise and (w.shape[0] != channels or w.shape[3] != 1):
        raise ModelError(f"{where}: depthwise weights must have shape ({channels}, {kernel[0]}, "
                         f"{kernel[1]}, 1) for {channels} input channels, not {tuple(w.shape)}")
    if not depthwise and w.shape[3] != channels:
        raise ModelError(f"{where}: weights have {w.shape[3]} input channels but the layer receives "
                         f"{channels} (input shape {tuple(in_shape)})")
    wdt = _weight_dtype(spec, w, where)
    th = parse_thresholds(spec, arrays, int(w.shape[0]), where)
    simd = 1 if depthwise else fold_value(spec, "simd", where)
    if depthwise and spec.get("simd", 1) not in (1, "auto"):
        raise ModelError(f"{where}: a depthwise layer folds channels with pe; simd must be 1, "
                         f"not {spec['simd']!r}")
    node = Conv(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype, weights=w,
                weight_dtype=wdt, kernel=kernel, stride=stride, pad=pad, acc_dtype=None,
                thresholds=th, pe=fold_value(spec, "pe", where), simd=simd, depthwise=depthwise)
    _check_unfolded(node, where)
    return node


def _check_unfolded(node: Node, where: str) -> None:
    """Every check but the ``auto`` foldings (the fold pass fills those in)."""
    try:
        probe(node).check()
    except (ModelError, FoldingError) as exc:
        msg = str(exc)
        prefix = f"layer {node.name!r}: "
        raise ModelError(f"{where}: {msg[len(prefix):] if msg.startswith(prefix) else msg}") from None


# --------------------------------------------------------------------------- declared keys

def conv_keys(one_d: bool = False) -> tuple[Key, ...]:
    """The keys of a (depthwise) convolution but ``weights`` and ``simd``; ``one_d``: integer
    kernel and stride, ``[left, right]`` padding and the 1-D weight layouts."""
    if one_d:
        layout = Key("weight_layout", one_of(*LAYOUTS_1D), "OWI: weights (OC, K, IC); OIW: PyTorch's "
                     "Conv1d (OC, IC, K)", default="OWI")
        size, pad = POSITIVE, PAD_1D
    else:
        layout = Key("weight_layout", one_of(*LAYOUTS), "OHWI: weights (OC, KH, KW, IC); OIHW: PyTorch/ONNX "
                     "(OC, IC, KH, KW)", default="OHWI")
        size, pad = PAIR, PAD
    return (layout, WEIGHT_DTYPE,
            Key("kernel", size, "kernel size", default_doc="the weights' kernel"),
            Key("stride", size, "step between windows", default=1),
            Key("pad", pad, "zero padding (not on BIPOLAR inputs)", default=0),
            *threshold_keys())


def pool_keys(pad_doc: str, one_d: bool = False) -> tuple[Key, ...]:
    """``kernel`` (required), ``stride``, ``pad`` (meaning ``pad_doc``), ``ceil_mode`` of a
    pool; ``one_d``: integer kernel and stride, ``[left, right]`` padding."""
    size, pad = (POSITIVE, PAD_1D) if one_d else (PAIR, PAD)
    return (Key("kernel", size, "window size", required=True),
            Key("stride", size, "step between windows", default_doc="the kernel"),
            Key("pad", pad, pad_doc, default=0),
            Key("ceil_mode", BOOL, "round the output size up (ONNX/PyTorch ceil_mode)", default=False))


CONV_SIMD = Key("simd", FOLD, "input elements each PE takes per cycle: must divide KH*KW*IC (beyond IC a "
                "word spans several kernel positions)", default="auto")
DEPTHWISE_SIMD = Key("simd", FOLD, "must be 1 (a depthwise layer folds channels with pe)", default="auto")
MAXPOOL_PAD = "padding with the input datatype's minimum (ONNX's -inf)"


# --------------------------------------------------------------------------- convolutions

@native_op("conv", "A convolution on a sliding window and a matrix-vector unit: the MVAU matrix is the "
           "OHWI weights flattened, columns in window order (kh, kw, ic); thresholds as for dense.",
           Key("weights", ARRAY, "the kernels, (OC, KH, KW, IC) or as weight_layout says", required=True),
           *conv_keys(), PE, CONV_SIMD,
           Key("winograd", one_of("auto", "on", "off"), "Winograd F(2x2,3x3) engine (3x3, stride 1, "
               "weights and inputs of 2 bits or more): on forces it (an unsupported layer is refused), "
               "off never, auto lets `--winograd auto` choose from the estimates", default="auto"))
def parse_conv(spec: dict, in_shape, in_dtype, arrays, where: str) -> Conv:
    node = _conv(spec, in_shape, in_dtype, arrays, where, depthwise=False)
    mode = spec.get("winograd", "auto")
    if mode == "on":
        node = WinogradConv.from_conv(node)
        _check_unfolded(node, where)
    elif mode == "off":
        node = node.replace(winograd="off")
    return node


@native_op("depthwise", "A depthwise convolution: one k x k kernel per channel, on a vector unit "
           "(channels folded with pe).",
           Key("weights", ARRAY, "the kernels, (C, KH, KW, 1) or (C, KH, KW) OHWI, (C, 1, KH, KW) OIHW",
               required=True),
           *conv_keys(), PE, DEPTHWISE_SIMD)
def parse_depthwise(spec: dict, in_shape, in_dtype, arrays, where: str) -> Conv:
    return _conv(spec, in_shape, in_dtype, arrays, where, depthwise=True)


def _weights_1d(spec: dict, arrays: Arrays, where: str, depthwise: bool) -> np.ndarray:
    """1-D weights as the OHWI array of a ``(K, 1)`` kernel."""
    w = integer_array(arrays.get(spec.get("weights"), where), "weights", where)
    layout = spec.get("weight_layout", "OWI")
    if layout not in LAYOUTS_1D:
        raise ModelError(f"{where}: weight_layout must be one of {', '.join(LAYOUTS_1D)}, not {layout!r}")
    if depthwise and w.ndim == 2 and layout == "OWI":
        w = w[..., None]
    if w.ndim != 3:
        raise ModelError(f"{where}: weights must be 3-D ({layout}), not shape {tuple(w.shape)}")
    if layout == "OIW":
        w = w.transpose(0, 2, 1)
    return np.ascontiguousarray(w[:, :, None, :])


def _conv1d(spec: dict, in_shape, in_dtype, arrays, where: str, depthwise: bool) -> Conv:
    arrays = _arrays(arrays)
    w = _weights_1d(spec, arrays, where, depthwise)
    geometry = geometry_1d(spec, in_shape, where, kernel_default=int(w.shape[1]), stride_default=1)
    return _conv(spec, in_shape, in_dtype, arrays, where, depthwise, w=w, geometry=geometry)


@native_op("conv1d", "A 1-D convolution on a sequence (L, 1, C): the conv with (K, 1) kernels.",
           Key("weights", ARRAY, "the kernels, (OC, K, IC) or as weight_layout says", required=True),
           *conv_keys(one_d=True), PE,
           Key("simd", FOLD, "input elements each PE takes per cycle: must divide K*IC", default="auto"))
def parse_conv1d(spec: dict, in_shape, in_dtype, arrays, where: str) -> Conv:
    return _conv1d(spec, in_shape, in_dtype, arrays, where, depthwise=False)


@native_op("depthwise1d", "A 1-D depthwise convolution on a sequence (L, 1, C): one kernel of K taps "
           "per channel.",
           Key("weights", ARRAY, "the kernels, (C, K) OWI or (C, 1, K) OIW", required=True),
           *conv_keys(one_d=True), PE, DEPTHWISE_SIMD)
def parse_depthwise1d(spec: dict, in_shape, in_dtype, arrays, where: str) -> Conv:
    return _conv1d(spec, in_shape, in_dtype, arrays, where, depthwise=True)


# --------------------------------------------------------------------------- pools

def pool_geometry(spec: dict, where: str) -> tuple:
    """``(kernel, stride, pad)`` of a 2-D pool: ``kernel`` required, ``stride`` defaults to it."""
    if "kernel" not in spec:
        raise ModelError(f"{where}: kernel is required")
    kernel = _pair(spec, "kernel", None, where, 1)
    return kernel, _pair(spec, "stride", list(kernel), where, 1), _pad(spec, where)


def geometry_1d(spec: dict, in_shape, where: str, kernel_default=None, stride_default=None) -> tuple:
    """``(kernel, stride, pad)`` of a 1-D layer as the 2-D ``(K, 1)`` window on ``(L, 1, C)``.

    ``kernel`` and ``stride`` are integers (``kernel`` defaults to ``kernel_default``,
    ``stride`` to ``stride_default`` or else the kernel), ``pad`` an integer or
    ``[left, right]``.
    """
    if in_shape[1] != 1:
        raise ModelError(f"{where}: a 1-D layer takes a sequence (L, 1, C) (input shape [L, C]), "
                         f"not {tuple(in_shape)}")
    kernel = spec.get("kernel", kernel_default)
    if kernel is None:
        raise ModelError(f"{where}: kernel is required")
    stride = spec.get("stride", kernel if stride_default is None else stride_default)
    for key, value in (("kernel", kernel), ("stride", stride)):
        if not _is_int(value) or value < 1:
            raise ModelError(f"{where}: {key} must be a positive integer, not {short(value)}")
    pad = spec.get("pad", 0)
    if _is_int(pad):
        pad = [pad, pad]
    if not isinstance(pad, list) or len(pad) != 2 or not all(_is_int(v) and v >= 0 for v in pad):
        raise ModelError(f"{where}: pad must be an integer or [left, right] of non-negative integers, "
                         f"not {short(spec.get('pad'))}")
    return (kernel, 1), (stride, 1), (pad[0], 0, pad[1], 0)


def _maxpool(spec: dict, in_shape, in_dtype, where: str, geometry: tuple) -> MaxPool:
    kernel, stride, pad = geometry
    node = MaxPool(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype, kernel=kernel,
                   stride=stride, pad=pad, ceil_mode=spec.get("ceil_mode", False),
                   pe=fold_value(spec, "pe", where))
    _check_unfolded(node, where)
    return node


@native_op("maxpool", "Max pooling over kernel windows.", *pool_keys(MAXPOOL_PAD), PE)
def parse_maxpool(spec: dict, in_shape, in_dtype, arrays, where: str) -> MaxPool:
    return _maxpool(spec, in_shape, in_dtype, where, pool_geometry(spec, where))


@native_op("maxpool1d", "Max pooling over windows of a sequence (L, 1, C).",
           *pool_keys(MAXPOOL_PAD, one_d=True), PE)
def parse_maxpool1d(spec: dict, in_shape, in_dtype, arrays, where: str) -> MaxPool:
    return _maxpool(spec, in_shape, in_dtype, where, geometry_1d(spec, in_shape, where))


@native_op("global_pool", "The sum over all pixels, per channel (an integer global average pool "
           "without its division, which moves into the next thresholds).", PE)
def parse_global_pool(spec: dict, in_shape, in_dtype, arrays, where: str) -> GlobalAccPool:
    node = GlobalAccPool(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype,
                         pe=fold_value(spec, "pe", where))
    _check_unfolded(node, where)
    return node


@native_op("residual", "A residual block: the output is x + body(x). It expands into a fork of its "
           "input (<name>_fork), the body layers and an add (<name>); body layers are ordinary layers "
           "of the network, folded like every other.",
           Key("body", LAYERS, "the layers of the branch, any ops, reading the block input and each other; "
               "its output shape must equal the input's", required=True),
           Key("pe", FOLD, "elements per stream word at the fork and the add (must divide the channels)",
               default="auto"), takes_input_name=True)
def parse_residual(spec: dict, in_shape, in_dtype, arrays, where: str, *, input_name: str) -> list[Node]:
    """``x + body(x)`` as ``<name>_fork``, the body layers and the add ``<name>``."""
    body = spec.get("body")
    if not isinstance(body, list) or not body:
        raise ModelError(f"{where}: body must be a non-empty list of layers")
    name, source = spec["name"], input_name
    fork = Fork(name=f"{name}_fork", in_shape=tuple(in_shape), in_dtype=in_dtype, inputs=(source,),
                outputs=2, pe=fold_value(spec, "pe", where))
    tensors = {fork.name: (tuple(in_shape), in_dtype)}
    nodes = parse_layers(body, fork.name, tensors, arrays, container=where, scope=where,
                         label="body layer", default_name=lambda i: f"{name}_{i}")
    last = nodes[-1]
    if tuple(last.out_shape) != tuple(in_shape):
        raise ModelError(f"{where}: the body gives shape {tuple(last.out_shape)}, the add needs the "
                         f"input shape {tuple(in_shape)}")
    readers = sum(src == fork.name for n in nodes for src in n.inputs)
    if readers != 1 or any(src not in tensors for n in nodes for src in n.inputs):
        raise ModelError(f"{where}: body layers may only read the block input (once) and each other")
    add = Add(name=name, in_shape=tuple(in_shape), in_dtype=last.out_dtype, inputs=(last.name, fork.name),
              in_dtype_b=in_dtype, pe=fold_value(spec, "pe", where))
    for node in (fork, add):
        _check_unfolded(node, where)
    return [fork, *nodes, add]

