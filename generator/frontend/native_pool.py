"""Native description ops for average pooling and nearest-neighbour upsampling.

```yaml
  - {name: a0, op: avgpool, kernel: 2, stride: 2, pad: 0, ceil_mode: false, pe: 4}      # window sum
  - {name: a1, op: avgpool, kernel: 2, shift: 2, rounding: FLOOR, trunc_dtype: UINT4}   # TruncAvgPool2d
  - {name: a2, op: avgpool1d, kernel: 3, stride: 1, pad: 1}                             # on (L, 1, C)
  - {name: u0, op: upsample, scale: 2, pe: 4}                                           # or [FH, FW]
```

* ``avgpool`` outputs the exact window **sum** (zero padding), in a datatype proven from
  the input range times the window size; the ``1/(KH*KW)`` belongs to what follows (the
  next layer's thresholds or the host). ``kernel`` (required), ``stride`` (default: the
  kernel), ``pad``, ``ceil_mode`` as for ``maxpool``.
* ``shift``, ``rounding``, ``trunc_dtype``, ``narrow``: qonnx ``Trunc`` on the sum, as
  Brevitas' ``TruncAvgPool2d`` exports it: ``clip(rounding(sum / 2**shift))`` with
  ``rounding`` one of ROUND (half to even), HALF_EVEN, CEIL, FLOOR (the default), UP,
  DOWN, HALF_UP, HALF_DOWN, clipped to ``trunc_dtype`` (INTn/UINTn, ``narrow`` drops its
  most negative value, or, unsigned, its largest). See :mod:`bitsmith.generator.ir.pool`.
* ``count_include_pad`` (default true): ``false`` with padding (or a ceil-mode overhang)
  is rejected, because ONNX then divides border windows by how many input pixels they
  cover: a divisor varying with the output position that no per-channel scale, threshold
  or shift applies. Without padding both mean the same.
* ``avgpool1d``: the same on a sequence ``(L, 1, C)``: ``kernel``/``stride`` integers,
  ``pad`` an integer or ``[left, right]`` (see ``native_conv``).
* ``upsample``: nearest neighbour, ``scale`` an integer or ``[FH, FW]`` (>= 1), ``pe``
  channels per word. On a sequence use ``[F, 1]``.
"""

from __future__ import annotations

from ..errors import ModelError
from ..ir.core import dtype
from ..ir.pool import AvgPool
from ..ir.resize import Upsample
from .native import fold_value
from .native_conv import _ceil_mode, _check_unfolded, _is_int, _pair, geometry_1d, pool_geometry


def _flag(spec: dict, key: str, default: bool, where: str) -> bool:
    value = spec.get(key, default)
    if not isinstance(value, bool):
        raise ModelError(f"{where}: {key} must be true or false, not {value!r}")
    return value


def parse_avgpool(spec: dict, in_shape, in_dtype, arrays, where: str, geometry=None) -> AvgPool:
    kernel, stride, pad = geometry or pool_geometry(spec, where)
    shift = spec.get("shift", 0)
    if not _is_int(shift) or shift < 0:
        raise ModelError(f"{where}: shift must be a non-negative integer, not {shift!r}")
    rounding = spec.get("rounding", "FLOOR")
    if not isinstance(rounding, str):
        raise ModelError(f"{where}: rounding must be a string, not {rounding!r}")
    trunc = dtype(spec["trunc_dtype"]) if "trunc_dtype" in spec else None
    node = AvgPool(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype, kernel=kernel,
                   stride=stride, pad=pad, ceil_mode=_ceil_mode(spec, where), pe=fold_value(spec, "pe", where),
                   shift=shift, rounding=rounding.upper(), trunc_dtype=trunc,
                   narrow=_flag(spec, "narrow", False, where))
    _check_unfolded(node, where)
    if not _flag(spec, "count_include_pad", True, where) and any(node.padding):
        raise ModelError(f"{where}: count_include_pad: false with padding {node.padding} divides border "
                         f"windows by the input pixels they cover, a divisor that varies with the output "
                         f"position; pad explicitly or count the padding (count_include_pad: true)")
    return node


def parse_avgpool1d(spec: dict, in_shape, in_dtype, arrays, where: str) -> AvgPool:
    return parse_avgpool(spec, in_shape, in_dtype, arrays, where, geometry_1d(spec, in_shape, where))


def parse_upsample(spec: dict, in_shape, in_dtype, arrays, where: str) -> Upsample:
    if "scale" not in spec:
        raise ModelError(f"{where}: scale is required")
    node = Upsample(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype,
                    scale=_pair(spec, "scale", None, where, 1), pe=fold_value(spec, "pe", where))
    _check_unfolded(node, where)
    return node


NATIVE_OPS = {
    "avgpool": parse_avgpool,
    "avgpool1d": parse_avgpool1d,
    "upsample": parse_upsample,
}
