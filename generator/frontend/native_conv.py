"""Native description ops for convolutions, pooling and residual blocks.

```yaml
  - {name: c0, op: conv, weights: c0_w, weight_dtype: INT2, kernel: [3, 3], stride: 1, pad: 1,
     thresholds: c0_t, out_dtype: UINT2, pe: 8, simd: 3}
  - {name: dw, op: depthwise, weights: dw_w, weight_dtype: INT4, kernel: 3, pad: [1, 1], pe: 4}
  - {name: p0, op: maxpool, kernel: 3, stride: 2, pad: 1, ceil_mode: false, pe: 8}
  - {name: gp, op: global_pool, pe: 4}
  - {name: r0, op: residual, pe: 4, body: [ {name: r0a, op: conv, ...}, ... ]}
  # 1-D, on sequences (input shape [L, C], the tensor (L, 1, C)):
  - {name: k0, op: conv1d, weights: k0_w, weight_dtype: INT4, kernel: 5, stride: 1, pad: 2, simd: 5}
  - {name: k1, op: depthwise1d, weights: k1_w, weight_dtype: INT4, kernel: 3, pad: [1, 1], pe: 8}
  - {name: k2, op: maxpool1d, kernel: 2, stride: 2, pad: 0}
```

* ``conv`` weights are ``(OC, KH, KW, IC)`` (``weight_layout: OHWI``, the default) or
  PyTorch/ONNX ``(OC, IC, KH, KW)`` (``weight_layout: OIHW``); the MVAU matrix is the
  OHWI array flattened, columns in window order (kh, kw, ic) (see :mod:`bitsmith.generator.ir.conv`).
* ``depthwise`` weights are ``(C, KH, KW, 1)`` or ``(C, KH, KW)`` (OHWI) or ``(C, 1, KH, KW)`` (OIHW).
* ``kernel``, ``stride``: an integer or ``[H, W]``; ``kernel`` defaults to the weights'
  kernel, a pool's ``stride`` to its kernel. ``pad``: an integer, ``[H, W]`` or
  ``[top, left, bottom, right]``; a convolution pads with zero (not on BIPOLAR inputs),
  ``maxpool`` with the input datatype's minimum (ONNX's -inf). ``ceil_mode`` (pools,
  default false): the output size rounds up, as in ONNX/PyTorch.
* ``simd`` of a ``conv`` divides ``KH*KW*IC``: beyond the input channels a word spans
  several kernel positions (the window held in registers; a first layer with 1 or 3
  channels then takes fewer cycles than ``OH*OW*KH*KW``).
* 1-D ops take a ``(L, 1, C)`` input and are the 2-D layers with ``(K, 1)`` kernels:
  ``kernel``/``stride`` integers, ``pad`` an integer or ``[left, right]``. ``conv1d``
  weights are ``(OC, K, IC)`` (``weight_layout: OWI``, the default) or PyTorch's
  ``(OC, IC, K)`` (``OIW``); ``depthwise1d`` weights ``(C, K)`` (``OWI``) or ``(C, 1, K)``
  (``OIW``); ``maxpool1d`` as ``maxpool``. ``avgpool1d`` comes with ``avgpool``
  (``native_pool``).
* ``residual``: ``body`` is a list of layers of any op; the block outputs ``x + body(x)``.
  Body layers left at ``auto`` folding are folded like a graph of their own.
* Thresholds, ``out_dtype``, ``out_scale``, ``out_bias``, ``pe``, ``simd`` as for ``dense``.
"""

from __future__ import annotations

import numpy as np

from ..errors import FoldingError, ModelError
from ..ir import Graph
from ..ir.conv import Conv, GlobalAccPool, MaxPool, Residual
from ..ir.core import Node, dtype, values_fit
from .native import AUTO, Arrays, fold_value, integer_array, parse_layers, parse_thresholds

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
        raise ModelError(f"{where}: {key} must be an integer or [H, W], not {value!r}")
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
                         f"non-negative integers, not {spec.get('pad')!r}")
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
    if "weight_dtype" not in spec:
        raise ModelError(f"{where}: weight_dtype is required")
    wdt = dtype(spec["weight_dtype"])
    if not values_fit(w, wdt):
        raise ModelError(f"{where}: weights outside {wdt.name} (found values {int(w.min())}..{int(w.max())})")
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
                weight_dtype=wdt, kernel=kernel, stride=stride,
                pad=pad, acc_dtype=Conv.minimal_acc_dtype(w, wdt, in_dtype),
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


def parse_conv(spec: dict, in_shape, in_dtype, arrays, where: str) -> Conv:
    return _conv(spec, in_shape, in_dtype, arrays, where, depthwise=False)


def parse_depthwise(spec: dict, in_shape, in_dtype, arrays, where: str) -> Conv:
    return _conv(spec, in_shape, in_dtype, arrays, where, depthwise=True)


def _ceil_mode(spec: dict, where: str) -> bool:
    value = spec.get("ceil_mode", False)
    if not isinstance(value, bool):
        raise ModelError(f"{where}: ceil_mode must be true or false, not {value!r}")
    return value


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
            raise ModelError(f"{where}: {key} must be a positive integer, not {value!r}")
    pad = spec.get("pad", 0)
    if _is_int(pad):
        pad = [pad, pad]
    if not isinstance(pad, list) or len(pad) != 2 or not all(_is_int(v) and v >= 0 for v in pad):
        raise ModelError(f"{where}: pad must be an integer or [left, right] of non-negative integers, "
                         f"not {spec.get('pad')!r}")
    return (kernel, 1), (stride, 1), (pad[0], 0, pad[1], 0)


def parse_maxpool(spec: dict, in_shape, in_dtype, arrays, where: str, geometry=None) -> MaxPool:
    kernel, stride, pad = geometry or pool_geometry(spec, where)
    node = MaxPool(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype, kernel=kernel,
                   stride=stride, pad=pad, ceil_mode=_ceil_mode(spec, where),
                   pe=fold_value(spec, "pe", where))
    _check_unfolded(node, where)
    return node


def parse_maxpool1d(spec: dict, in_shape, in_dtype, arrays, where: str) -> MaxPool:
    return parse_maxpool(spec, in_shape, in_dtype, arrays, where, geometry_1d(spec, in_shape, where))


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


def parse_conv1d(spec: dict, in_shape, in_dtype, arrays, where: str) -> Conv:
    return _conv1d(spec, in_shape, in_dtype, arrays, where, depthwise=False)


def parse_depthwise1d(spec: dict, in_shape, in_dtype, arrays, where: str) -> Conv:
    return _conv1d(spec, in_shape, in_dtype, arrays, where, depthwise=True)


def parse_global_pool(spec: dict, in_shape, in_dtype, arrays, where: str) -> GlobalAccPool:
    node = GlobalAccPool(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype,
                         pe=fold_value(spec, "pe", where))
    _check_unfolded(node, where)
    return node


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


NATIVE_OPS = {
    "conv": parse_conv,
    "depthwise": parse_depthwise,
    "maxpool": parse_maxpool,
    "global_pool": parse_global_pool,
    "residual": parse_residual,
    "conv1d": parse_conv1d,
    "depthwise1d": parse_depthwise1d,
    "maxpool1d": parse_maxpool1d,
}
