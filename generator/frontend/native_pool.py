"""Native description ops for average pooling and nearest-neighbour upsampling, in 2-D and
on sequences. Every op here declares its keys with ``@native_op`` next to its parser;
``docs/NATIVE.md`` (generated from the declarations) is the reference of the ops and their
keys. For example::

  - {name: a0, op: avgpool, kernel: 2, stride: 2, pad: 0, ceil_mode: false, pe: 4}      # window sum
  - {name: a1, op: avgpool, kernel: 2, shift: 2, rounding: FLOOR, trunc_dtype: UINT4}   # TruncAvgPool2d
  - {name: a2, op: avgpool1d, kernel: 3, stride: 1, pad: 1}                             # on (L, 1, C)
  - {name: u0, op: upsample, scale: 2, pe: 4}                                           # or [FH, FW]

What the declarations do not say:

* An average pool outputs the exact window **sum** (zero padding), in a datatype proven
  from the input range times the window size; the ``1/(KH*KW)`` belongs to what follows
  (the next layer's thresholds or the host).
* ``shift``, ``rounding``, ``trunc_dtype``, ``narrow``: qonnx ``Trunc`` on the sum, as
  Brevitas' ``TruncAvgPool2d`` exports it: ``clip(rounding(sum / 2**shift))``, clipped to
  ``trunc_dtype`` (INTn/UINTn; ``narrow`` drops its most negative value, or, unsigned, its
  largest). See :mod:`bitsmith.generator.ir.pool`. ``shift`` is at most 62: the sum is a
  64-bit integer.
* ``count_include_pad: false`` with padding (or a ceil-mode overhang) is refused: ONNX then
  divides border windows by how many input pixels they cover, a divisor varying with the
  output position that no per-channel scale, threshold or shift applies. Without
  padding both mean the same.
* ``upsample`` on a sequence: ``scale: [F, 1]``.
"""

from __future__ import annotations

from ..errors import ModelError
from ..ir.core import dtype
from ..ir.pool import ROUNDING, AvgPool
from ..ir.resize import Upsample
from .native import PE, fold_value
from .native_conv import _check_unfolded, _pair, geometry_1d, pool_geometry, pool_keys
from .native_schema import BOOL, DTYPE, PAIR, Key, Kind, int_range, native_op

MAX_SHIFT = 62
"""Largest ``shift``: the window sum is a 64-bit integer."""


def _any_case(word: str) -> str:
    """A regular expression matching ``word`` in any case (portable: no inline flags)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


ROUNDING_KIND = Kind(f"one of {', '.join(ROUNDING)} (any case)",
                     {"type": "string", "pattern": f"^({'|'.join(_any_case(r) for r in ROUNDING)})$"})

AVG_PAD = "zero padding (counted in the sum; not on BIPOLAR inputs)"
TRUNC_KEYS = (
    Key("shift", int_range(0, MAX_SHIFT), "qonnx Trunc: divide the sum by 2**shift", default=0),
    Key("rounding", ROUNDING_KIND, "qonnx Trunc: how the division rounds (ROUND and HALF_EVEN: half to "
        "even; UP: away from zero; DOWN: towards zero)", default="FLOOR"),
    Key("trunc_dtype", DTYPE, "qonnx Trunc: clip the result to this INTn/UINTn datatype",
        default_doc="none: no clipping, the datatype proven from the range"),
    Key("narrow", BOOL, "with trunc_dtype: leave out its most negative (unsigned: its largest) value",
        default=False),
    Key("count_include_pad", BOOL, "ONNX AveragePool's: false is refused with padding (a divisor that "
        "varies with the output position)", default=True),
)


def _avgpool(spec: dict, in_shape, in_dtype, where: str, geometry: tuple) -> AvgPool:
    kernel, stride, pad = geometry
    trunc = dtype(spec["trunc_dtype"]) if "trunc_dtype" in spec else None
    node = AvgPool(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype, kernel=kernel,
                   stride=stride, pad=pad, ceil_mode=spec.get("ceil_mode", False),
                   pe=fold_value(spec, "pe", where), shift=spec.get("shift", 0),
                   rounding=spec.get("rounding", "FLOOR").upper(), trunc_dtype=trunc,
                   narrow=spec.get("narrow", False))
    _check_unfolded(node, where)
    if not spec.get("count_include_pad", True) and any(node.padding):
        raise ModelError(f"{where}: count_include_pad: false with padding {node.padding} divides border "
                         f"windows by the input pixels they cover, a divisor that varies with the output "
                         f"position; pad explicitly or count the padding (count_include_pad: true)")
    return node


@native_op("avgpool", "Average pooling over kernel windows: the exact window sum (the 1/(KH*KW) moves "
           "into what follows), optionally truncated as qonnx Trunc (Brevitas TruncAvgPool2d).",
           *pool_keys(AVG_PAD), *TRUNC_KEYS, PE)
def parse_avgpool(spec: dict, in_shape, in_dtype, arrays, where: str) -> AvgPool:
    return _avgpool(spec, in_shape, in_dtype, where, pool_geometry(spec, where))


@native_op("avgpool1d", "Average pooling over windows of a sequence (L, 1, C), as avgpool.",
           *pool_keys(AVG_PAD, one_d=True), *TRUNC_KEYS, PE)
def parse_avgpool1d(spec: dict, in_shape, in_dtype, arrays, where: str) -> AvgPool:
    return _avgpool(spec, in_shape, in_dtype, where, geometry_1d(spec, in_shape, where))


@native_op("upsample", "Nearest-neighbour upsampling: every pixel repeated FW times along its row, every "
           "row FH times.",
           Key("scale", PAIR, "repeat factors [FH, FW] (an integer: both; on a sequence [F, 1])",
               required=True),
           Key("pe", PE.kind, "channels per stream word (must divide them)", default="auto"))
def parse_upsample(spec: dict, in_shape, in_dtype, arrays, where: str) -> Upsample:
    node = Upsample(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype,
                    scale=_pair(spec, "scale", None, where, 1), pe=fold_value(spec, "pe", where))
    _check_unfolded(node, where)
    return node
