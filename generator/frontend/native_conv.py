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
  A convenience: it expands to ``<name>_fork`` (a :class:`~bitsmith.generator.ir.branch.Fork`
  of the block input), the body layers (``<name>_<i>`` unless named) and ``<name>``, an
  :class:`~bitsmith.generator.ir.branch.Add` of ``(body output, block input)`` with
  scales 1. ``pe`` folds the fork and the add. The body layers are ordinary layers of
  the graph, folded like every other. Writing the same with ``fork``/``add`` layers and
  ``input:``/``inputs:`` (see :mod:`.native_branch`) also gives other shortcuts (a
  strided 1x1 conv on a downsampling block's shortcut).
* Thresholds, ``out_dtype``, ``out_scale``, ``out_bias``, ``pe``, ``simd`` as for ``dense``.
"""

from __future__ import annotations

import numpy as np

from ..errors import FoldingError, ModelError
from ..ir.branch import Add, Fork
from ..ir.conv import Conv, GlobalAccPool, MaxPool
from ..ir.core import Node, dtype, values_fit
from .native import Arrays, fold_value, integer_array, parse_layers, parse_thresholds, probe

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
                pad=_pad(spec, where), acc_dtype=None,
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


def parse_conv(spec: dict, in_shape, in_dtype, arrays, where: str) -> Conv:
    return _conv(spec, in_shape, in_dtype, arrays, where, depthwise=False)


def parse_depthwise(spec: dict, in_shape, in_dtype, arrays, where: str) -> Conv:
    return _conv(spec, in_shape, in_dtype, arrays, where, depthwise=True)


def parse_maxpool(spec: dict, in_shape, in_dtype, arrays, where: str) -> MaxPool:
    kernel = _pair(spec, "kernel", None, where, 1) if "kernel" in spec else None
    if kernel is None:
        raise ModelError(f"{where}: kernel is required")
    node = MaxPool(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype, kernel=kernel,
                   stride=_pair(spec, "stride", list(kernel), where, 1), pe=fold_value(spec, "pe", where))
    _check_unfolded(node, where)
    return node


def parse_global_pool(spec: dict, in_shape, in_dtype, arrays, where: str) -> GlobalAccPool:
    node = GlobalAccPool(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype,
                         pe=fold_value(spec, "pe", where))
    _check_unfolded(node, where)
    return node


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


parse_residual.takes_input_name = True

NATIVE_OPS = {
    "conv": parse_conv,
    "depthwise": parse_depthwise,
    "maxpool": parse_maxpool,
    "global_pool": parse_global_pool,
    "residual": parse_residual,
}
