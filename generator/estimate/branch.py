"""Cycles, resources and folding of the branching node kinds (fork, add, concat).

Each moves one word of ``pe`` elements per cycle, so its cycles per frame are the words
it passes: ``H*W*C/PE`` (a concat: ``H*W*sum(C_k)/PE``, the words of its output). Their
FIFOs are counted with the other edges' (:func:`bitsmith.generator.estimate.fifo_resources`).
"""

from __future__ import annotations

import math

from ..ir.branch import Add, Concat, Fork
from ..passes.fold import fold_dims
from . import Resources, ideal_cycles, resources


def _words(node, channels: int) -> int:
    h, w, _ = node.in_shape
    return h * w * channels // node.pe


@ideal_cycles(Fork)
def fork_cycles(node: Fork) -> int:
    return _words(node, node.in_shape[2])


@ideal_cycles(Add)
def add_cycles(node: Add) -> int:
    return _words(node, node.in_shape[2])


@ideal_cycles(Concat)
def concat_cycles(node: Concat) -> int:
    return _words(node, node.out_shape[2])


@resources(Fork)
def fork_resources(node: Fork) -> Resources:
    bits = node.pe * node.in_dtype.bitwidth()
    return Resources(luts=node.outputs * 2 + 2, ffs=bits + node.outputs)


@resources(Add)
def add_resources(node: Add) -> Resources:
    obits = node.out_dtype.bitwidth()
    # a constant multiplier per operand that is not a power of two: about one adder more
    extra = sum(1 for k in (node.scale_a, node.scale_b) if abs(k) & (abs(k) - 1))
    return Resources(luts=node.pe * obits * (1 + extra) + 4, ffs=node.pe * obits + 1)


@resources(Concat)
def concat_resources(node: Concat) -> Resources:
    bits = node.pe * node.in_dtype.bitwidth()
    n = len(node.channels)
    return Resources(luts=bits * max(1, (n - 1 + 4) // 5) + 12, ffs=bits + 12)


@fold_dims(Fork)
def _fork_dims(node: Fork) -> dict[str, int]:
    return {"pe": node.in_shape[2]}


@fold_dims(Add)
def _add_dims(node: Add) -> dict[str, int]:
    return {"pe": node.in_shape[2]}


@fold_dims(Concat)
def _concat_dims(node: Concat) -> dict[str, int]:
    return {"pe": math.gcd(*node.channels)}
