"""Native description ops that branch and join: ``fork``, ``add``, ``concat``.

```yaml
  - {name: x, op: conv, ...}
  - {name: split, op: fork, pe: 4}                     # optional: forks are inserted anyway
  - {name: a, op: conv, input: split, ...}
  - {name: s, op: conv, input: split, stride: 2, ...}  # e.g. a strided 1x1 shortcut
  - {name: sum, op: add, inputs: [a, s], scale_a: 1, scale_b: 2, pe: 4}
  - {name: cat, op: concat, inputs: [e1, e3], pe: 2}
```

What the declarations do not say:

* ``fork``: without ``outputs`` it copies its input to every layer that reads it (two or
  more); with ``outputs``, exactly that many layers must read it.
* ``add``: the output datatype is the narrowest holding every ``scale_a*a + scale_b*b``
  (BIPOLAR inputs count as -1/+1); the scales are per tensor.
* ``concat``: its inputs must have equal H, W and one datatype; they are stacked along
  channels in the listed order.
* ``pe`` divides the channels of every input.
"""

from __future__ import annotations

from ..errors import ModelError
from ..ir.branch import MAX_ADD_SCALE, Add, Concat, Fork
from ..limits import MAX_LAYERS
from .native import fold_value
from .native_conv import _check_unfolded
from .native_schema import FOLD, Key, Kind, inputs_key, int_range, native_op

BRANCH_PE = Key("pe", FOLD, "elements per stream word (must divide the channels of every input)",
                default="auto")
SCALE = Kind(f"a nonzero integer in -{MAX_ADD_SCALE}..{MAX_ADD_SCALE}",
             {"type": "integer", "minimum": -MAX_ADD_SCALE, "maximum": MAX_ADD_SCALE, "not": {"const": 0}})


def _checked(node, where: str):
    _check_unfolded(node, where)
    return node


@native_op("fork", "Copies its input to every layer that reads it (forks are inserted where a tensor "
           "is read more than once anyway; write one to fold it or to pin its fan-out).",
           Key("outputs", int_range(2, MAX_LAYERS), "how many layers read it",
               default_doc="the layers that read it"),
           BRANCH_PE)
def parse_fork(spec: dict, in_shape, in_dtype, arrays, where: str) -> Fork:
    node = Fork(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype,
                outputs=spec.get("outputs", 2), pe=fold_value(spec, "pe", where))
    _checked(node, where)
    # 0: the number of readers, counted once every layer is read (native.settle_forks)
    return node if "outputs" in spec else node.replace(outputs=0)


@native_op("add", "The elementwise sum scale_a*a + scale_b*b of two tensors of one shape; the output "
           "datatype is the narrowest holding every sum.",
           inputs_key(2, 2, "the two tensors [a, b], of one shape: layers listed before it, or 'input' "
                      "(the network input)"),
           Key("scale_a", SCALE, "integer scale of a", default=1),
           Key("scale_b", SCALE, "integer scale of b", default=1),
           BRANCH_PE, multi_input=True)
def parse_add(spec: dict, in_shapes, in_dtypes, arrays, where: str) -> Add:
    if in_shapes[0] != in_shapes[1]:
        raise ModelError(f"{where}: add inputs have shapes {in_shapes[0]} and {in_shapes[1]}")
    node = Add(name=spec["name"], in_shape=tuple(in_shapes[0]), in_dtype=in_dtypes[0],
               in_dtype_b=in_dtypes[1], scale_a=spec["scale_a"], scale_b=spec["scale_b"],
               pe=fold_value(spec, "pe", where))
    return _checked(node, where)


@native_op("concat", "Channel concatenation of two or more tensors of equal H, W and one datatype, "
           "in the listed order.",
           inputs_key(2, MAX_LAYERS), BRANCH_PE, multi_input=True)
def parse_concat(spec: dict, in_shapes, in_dtypes, arrays, where: str) -> Concat:
    if len({tuple(s[:2]) for s in in_shapes}) != 1:
        raise ModelError(f"{where}: concat inputs must have equal H, W, not "
                         f"{', '.join(str(tuple(s)) for s in in_shapes)}")
    if len(set(in_dtypes)) != 1:
        raise ModelError(f"{where}: concat inputs must have one datatype, not "
                         f"{', '.join(d.name for d in in_dtypes)}")
    node = Concat(name=spec["name"], in_shape=tuple(in_shapes[0]), in_dtype=in_dtypes[0],
                  channels=tuple(int(s[2]) for s in in_shapes), pe=fold_value(spec, "pe", where))
    return _checked(node, where)
