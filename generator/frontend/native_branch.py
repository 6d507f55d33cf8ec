"""Native description ops that branch and join: ``fork``, ``add``, ``concat``.

```yaml
  - {name: x, op: conv, ...}
  - {name: split, op: fork, pe: 4}                     # optional: forks are inserted anyway
  - {name: a, op: conv, input: split, ...}
  - {name: s, op: conv, input: split, stride: 2, ...}  # e.g. a strided 1x1 shortcut
  - {name: sum, op: add, inputs: [a, s], scale_a: 1, scale_b: 2, pe: 4}
  - {name: cat, op: concat, inputs: [e1, e3], pe: 2}
```

* ``fork``: copies its input to every layer that reads it (two or more); ``outputs``,
  if given, must equal that number.
* ``add``: ``scale_a*a + scale_b*b`` of ``inputs: [a, b]`` (same shape), scales nonzero
  integers (default 1, per tensor); the output datatype is the narrowest holding every
  sum (BIPOLAR inputs count as -1/+1).
* ``concat``: ``inputs: [a, b, ...]`` (two or more, same H, W and datatype) stacked along
  channels, in the listed order.
* ``pe`` (default ``auto``): elements per stream word; divides the channels of every input.
"""

from __future__ import annotations

from ..errors import ModelError
from ..ir.branch import Add, Concat, Fork
from .native import fold_value
from .native_conv import _check_unfolded


def _scale(spec: dict, key: str, where: str) -> int:
    value = spec.get(key, 1)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModelError(f"{where}: {key} must be an integer, not {value!r}")
    return value


def _checked(node, where: str):
    _check_unfolded(node, where)
    return node


def _keys(spec: dict, allowed: set, where: str) -> None:
    extra = set(spec) - allowed - {"name", "op", "pe"}
    if extra:
        raise ModelError(f"{where}: unknown key {sorted(extra)[0]!r}")


def parse_fork(spec: dict, in_shape, in_dtype, arrays, where: str) -> Fork:
    _keys(spec, {"outputs"}, where)
    outputs = spec.get("outputs", 2)
    if isinstance(outputs, bool) or not isinstance(outputs, int) or outputs < 2:
        raise ModelError(f"{where}: outputs must be an integer >= 2, not {outputs!r}")
    node = Fork(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype, outputs=outputs,
                pe=fold_value(spec, "pe", where))
    _checked(node, where)
    # 0: the number of readers, counted once every layer is read (native.settle_forks)
    return node if "outputs" in spec else node.replace(outputs=0)


def parse_add(spec: dict, in_shapes, in_dtypes, arrays, where: str) -> Add:
    _keys(spec, {"scale_a", "scale_b"}, where)
    if len(in_shapes) != 2:
        raise ModelError(f"{where}: add takes inputs: [a, b], not {len(in_shapes)} inputs")
    if in_shapes[0] != in_shapes[1]:
        raise ModelError(f"{where}: add inputs have shapes {in_shapes[0]} and {in_shapes[1]}")
    node = Add(name=spec["name"], in_shape=tuple(in_shapes[0]), in_dtype=in_dtypes[0],
               in_dtype_b=in_dtypes[1], scale_a=_scale(spec, "scale_a", where),
               scale_b=_scale(spec, "scale_b", where), pe=fold_value(spec, "pe", where))
    return _checked(node, where)


def parse_concat(spec: dict, in_shapes, in_dtypes, arrays, where: str) -> Concat:
    _keys(spec, set(), where)
    if len(in_shapes) < 2:
        raise ModelError(f"{where}: concat takes two or more inputs, not {len(in_shapes)}")
    if len({tuple(s[:2]) for s in in_shapes}) != 1:
        raise ModelError(f"{where}: concat inputs must have equal H, W, not "
                         f"{', '.join(str(tuple(s)) for s in in_shapes)}")
    if len(set(in_dtypes)) != 1:
        raise ModelError(f"{where}: concat inputs must have one datatype, not "
                         f"{', '.join(d.name for d in in_dtypes)}")
    node = Concat(name=spec["name"], in_shape=tuple(in_shapes[0]), in_dtype=in_dtypes[0],
                  channels=tuple(int(s[2]) for s in in_shapes), pe=fold_value(spec, "pe", where))
    return _checked(node, where)


parse_add.multi_input = True
parse_concat.multi_input = True

NATIVE_OPS = {"fork": parse_fork, "add": parse_add, "concat": parse_concat}
