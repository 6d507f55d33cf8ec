"""Native description ops for convolutions, pooling and residual blocks.

```yaml
  - {name: c0, op: conv, weights: c0_w, weight_dtype: INT2, kernel: [3, 3], stride: 1, pad: 1,
     thresholds: c0_t, out_dtype: UINT2, pe: 8, simd: 3}
  - {name: dw, op: depthwise, weights: dw_w, weight_dtype: INT4, kernel: 3, pad: [1, 1], pe: 4}
  - {name: p0, op: maxpool, kernel: 2, stride: 2, pe: 8}
  - {name: gp, op: global_pool, pe: 4}
  - {name: r0, op: residual, pe: 4, body: [ {name: r0a, op: conv, ...}, ... ]}
```

* ``conv`` weights are ``(OC, KH, KW, IC)`` (``weight_layout: OHWI``, the default) or
  PyTorch/ONNX ``(OC, IC, KH, KW)`` (``weight_layout: OIHW``); the MVAU matrix is the
  OHWI array flattened, columns in window order (kh, kw, ic) (see :mod:`bitsmith.generator.ir.conv`).
* ``depthwise`` weights are ``(C, KH, KW, 1)`` or ``(C, KH, KW)`` (OHWI) or ``(C, 1, KH, KW)`` (OIHW).
* ``kernel``, ``stride``: an integer or ``[H, W]``; ``kernel`` defaults to the weights'
  kernel, a pool's ``stride`` to its kernel. ``pad``: an integer, ``[H, W]`` or
  ``[top, left, bottom, right]`` of zero padding (not on BIPOLAR inputs).
* ``residual``: ``body`` is a list of layers of any op; the block outputs ``x + body(x)``.
  Body layers left at ``auto`` folding are folded like a graph of their own.
* Thresholds, ``out_dtype``, ``out_scale``, ``out_bias``, ``pe``, ``simd`` as for ``dense``.
"""

from __future__ import annotations

import numpy as np

from ..errors import FoldingError, ModelError
from ..ir import Graph
from ..ir.conv import Conv, GlobalAccPool, MaxPool, Residual
from ..ir.core import Node, dtype
from .native import (AUTO, PE, SIMD, WEIGHT_DTYPE, Arrays, checked_weights, fold_value, integer_array,
                     parse_layers, parse_thresholds, threshold_keys)
from .native_schema import ARRAY, FOLD, LAYERS, PAD, PAIR, Key, native_op, one_of, short

LAYOUTS = ("OHWI", "OIHW")


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


def _conv(spec: dict, in_shape, in_dtype, arrays, where: str, depthwise: bool) -> Conv:
    arrays = _arrays(arrays)
    w = _weights(spec, arrays, where, depthwise)
    kernel = _pair(spec, "kernel", list(w.shape[1:3]), where, 1)
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
                weight_dtype=wdt, kernel=kernel, stride=_pair(spec, "stride", 1, where, 1),
                pad=_pad(spec, where), acc_dtype=Conv.minimal_acc_dtype(w, wdt, in_dtype),
                thresholds=th, pe=fold_value(spec, "pe", where), simd=simd, depthwise=depthwise)
    _check_unfolded(node, where)
    return node


def _check_unfolded(node: Node, where: str) -> None:
    """Every check but the ``auto`` foldings (the fold pass fills those in)."""
    probe = node.replace(**{k: 1 for k in ("pe", "simd") if getattr(node, k, None) == AUTO})
    try:
        probe.check()
    except (ModelError, FoldingError) as exc:
        msg = str(exc)
        prefix = f"layer {node.name!r}: "
        raise ModelError(f"{where}: {msg[len(prefix):] if msg.startswith(prefix) else msg}") from None


CONV_KEYS = (
    Key("weight_layout", one_of(*LAYOUTS), "OHWI: weights (OC, KH, KW, IC); OIHW: PyTorch/ONNX "
        "(OC, IC, KH, KW)", default="OHWI"),
    WEIGHT_DTYPE,
    Key("kernel", PAIR, "kernel size", default_doc="the weights' kernel"),
    Key("stride", PAIR, "step between windows", default=1),
    Key("pad", PAD, "zero padding (not on BIPOLAR inputs)", default=0),
    *threshold_keys(),
)


@native_op("conv", "A convolution on a sliding window and a matrix-vector unit: the MVAU matrix is the "
           "OHWI weights flattened, columns in window order (kh, kw, ic); thresholds as for dense.",
           Key("weights", ARRAY, "the kernels, (OC, KH, KW, IC) or as weight_layout says", required=True),
           *CONV_KEYS, PE, SIMD)
def parse_conv(spec: dict, in_shape, in_dtype, arrays, where: str) -> Conv:
    return _conv(spec, in_shape, in_dtype, arrays, where, depthwise=False)


@native_op("depthwise", "A depthwise convolution: one k x k kernel per channel, on a vector unit "
           "(channels folded with pe).",
           Key("weights", ARRAY, "the kernels, (C, KH, KW, 1) or (C, KH, KW) OHWI, (C, 1, KH, KW) OIHW",
               required=True),
           *CONV_KEYS, PE, Key("simd", FOLD, "must be 1 (a depthwise layer folds channels with pe)",
                               default="auto"))
def parse_depthwise(spec: dict, in_shape, in_dtype, arrays, where: str) -> Conv:
    return _conv(spec, in_shape, in_dtype, arrays, where, depthwise=True)


@native_op("maxpool", "Max pooling over kernel windows.",
           Key("kernel", PAIR, "window size", required=True),
           Key("stride", PAIR, "step between windows", default_doc="the kernel"), PE)
def parse_maxpool(spec: dict, in_shape, in_dtype, arrays, where: str) -> MaxPool:
    kernel = _pair(spec, "kernel", None, where, 1) if "kernel" in spec else None
    if kernel is None:
        raise ModelError(f"{where}: kernel is required")
    node = MaxPool(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype, kernel=kernel,
                   stride=_pair(spec, "stride", list(kernel), where, 1), pe=fold_value(spec, "pe", where))
    _check_unfolded(node, where)
    return node


@native_op("global_pool", "The sum over all pixels, per channel (an integer global average pool "
           "without its division, which moves into the next thresholds).", PE)
def parse_global_pool(spec: dict, in_shape, in_dtype, arrays, where: str) -> GlobalAccPool:
    node = GlobalAccPool(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype,
                         pe=fold_value(spec, "pe", where))
    _check_unfolded(node, where)
    return node


@native_op("residual", "A residual block: the output is x + body(x); body layers left at auto folding "
           "are folded like a network of their own.",
           Key("body", LAYERS, "the layers of the branch, any ops; its output shape must equal the input's",
               required=True), PE)
def parse_residual(spec: dict, in_shape, in_dtype, arrays, where: str) -> Residual:
    from ..passes.fold import Fold

    body = spec.get("body")
    if not isinstance(body, list) or not body:
        raise ModelError(f"{where}: body must be a non-empty list of layers")
    nodes = parse_layers(body, in_shape, in_dtype, arrays, container=where, scope=where,
                         label="body layer", default_name=lambda i: f"{spec['name']}_{i}")
    shape = tuple(nodes[-1].out_shape)
    if shape != tuple(in_shape):
        raise ModelError(f"{where}: the body gives shape {shape}, the add needs the input shape "
                         f"{tuple(in_shape)}")
    folded = Fold().run(Graph(name="body", in_shape=tuple(in_shape), in_dtype=in_dtype, nodes=tuple(nodes)))
    node = Residual(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype,
                    body=tuple(folded.nodes), pe=fold_value(spec, "pe", where))
    _check_unfolded(node, where)
    return node
