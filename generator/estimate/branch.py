"""Cycles, resources and folding of the branching node kinds (fork, add, concat).

Each moves one word of ``pe`` elements per cycle, so its cycles per frame are the words
it passes: ``H*W*C/PE`` (a concat: ``H*W*sum(C_k)/PE``, the words of its output). Their
FIFOs are counted with the other edges' (:func:`bitsmith.generator.estimate.fifo_resources`).
"""

from __future__ import annotations

import math

import numpy as np

from ..ir.branch import Add, Concat, Fork
from ..passes.fold import fold_dims
from . import Resources, ideal_cycles, resources, schedule_model
from .schedule import Unit, port


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


# Schedule models (FIFO sizing, see schedule.py).

@schedule_model(Fork)
def _fork(node: Fork) -> list[Unit]:
    from bitsmith.hw.plumbing.duplicate import output_names
    h, w, c = node.in_shape
    words = h * w * c // node.pe
    steps = np.arange(words)
    return [Unit(node.name, [port("i", words, node.pe, node.in_dtype)],
                 [port(n, words, node.pe, node.in_dtype) for n in output_names(node.outputs)],
                 words, [steps], [steps] * node.outputs, [1] * node.outputs)]


@schedule_model(Add)
def _add(node: Add) -> list[Unit]:
    h, w, c = node.in_shape
    words = h * w * c // node.pe
    steps = np.arange(words)
    return [Unit(node.name, [port("a", words, node.pe, node.in_dtype),
                             port("b", words, node.pe, node.in_dtype_b)],
                 [port("o", words, node.pe, node.out_dtype)], words, [steps, steps], [steps], [1])]


@schedule_model(Concat)
def _concat(node: Concat) -> list[Unit]:
    h, w, _ = node.in_shape
    words = [c // node.pe for c in node.channels]
    per = sum(words)
    pix = np.arange(h * w)[:, None] * per
    consume, offset = [], 0
    for k in words:
        consume.append((pix + offset + np.arange(k)[None, :]).ravel())
        offset += k
    steps = np.arange(h * w * per)
    return [Unit(node.name, [port(f"i{k}", h * w * n, node.pe, node.in_dtype) for k, n in enumerate(words)],
                 [port("o", h * w * per, node.pe, node.out_dtype)], h * w * per, consume, [steps], [1])]
