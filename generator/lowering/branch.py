"""Lowering of the branching node kinds: Fork -> Duplicate, Add -> Add, Concat -> Concat."""

from __future__ import annotations

from bitsmith.hw.plumbing.add import Add as AddUnit
from bitsmith.hw.plumbing.concat import Concat as ConcatUnit
from bitsmith.hw.plumbing.duplicate import Duplicate, output_names
from bitsmith.hw.top import Stage

from ..ir.branch import Add, Concat, Fork
from . import lowering


@lowering(Fork)
def lower_fork(node: Fork) -> list[Stage]:
    bits = node.in_dtype.bitwidth()
    unit = Duplicate(width=node.pe * bits, outputs=node.outputs)
    return [Stage(component=unit, name=node.name, in_elem_bits=bits, in_elems=node.pe,
                  out_elem_bits=bits, out_elems=node.pe, out_ports=output_names(node.outputs))]


@lowering(Add)
def lower_add(node: Add) -> list[Stage]:
    unit = AddUnit(a_dtype=node.in_dtype, b_dtype=node.in_dtype_b, out_dtype=node.out_dtype,
                   pe=node.pe, scale_a=node.scale_a, scale_b=node.scale_b)
    return [Stage(component=unit, name=node.name, in_ports=("a", "b"),
                  in_elem_bits=(node.in_dtype.bitwidth(), node.in_dtype_b.bitwidth()), in_elems=node.pe,
                  out_elem_bits=node.out_dtype.bitwidth(), out_elems=node.pe)]


@lowering(Concat)
def lower_concat(node: Concat) -> list[Stage]:
    bits = node.in_dtype.bitwidth()
    unit = ConcatUnit(width=node.pe * bits, words=[c // node.pe for c in node.channels])
    return [Stage(component=unit, name=node.name, in_ports=unit.names, in_elem_bits=bits,
                  in_elems=node.pe, out_elem_bits=bits, out_elems=node.pe)]
