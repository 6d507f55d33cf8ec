"""Estimates next to the IR: ideal cycles and resources, pure functions of a node.

Kinds register with :func:`ideal_cycles` and :func:`resources`; every module of this
package is imported on first use.

* ``ideal_cycles(node) -> int``: cycles per frame of the node at its folding with
  source always valid and sink always ready (the folding bound).
* ``resources(node) -> Resources``: estimated LUT/FF/BRAM18/DSP on a 6-input-LUT FPGA.
* ``schedule_model(node) -> list[Unit]``: when each of the node's hardware units consumes and
  emits its words (:mod:`.schedule`), for FIFO sizing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..registry import Registry

CYCLES = Registry(__name__, "cycle estimate")
RESOURCES = Registry(__name__, "resource estimate")
SCHEDULES = Registry(__name__, "schedule model")
ideal_cycles: Callable = CYCLES.register
resources: Callable = RESOURCES.register
schedule_model: Callable = SCHEDULES.register
"""Decorator registering ``fn(node) -> list[schedule.Unit]`` (see :mod:`.schedule`)."""


@dataclass(frozen=True)
class Resources:
    luts: int = 0
    ffs: int = 0
    brams: float = 0.0
    dsps: int = 0

    def __add__(self, other: "Resources") -> "Resources":
        return Resources(self.luts + other.luts, self.ffs + other.ffs,
                         self.brams + other.brams, self.dsps + other.dsps)


def node_cycles(node) -> int:
    fn = CYCLES.lookup(node)
    return int(fn(node)) if fn else 0


def node_resources(node) -> Resources:
    fn = RESOURCES.lookup(node)
    return fn(node) if fn else Resources()


def graph_cycles(graph) -> int:
    """Ideal cycles per frame of the whole pipeline: its slowest layer."""
    return max((node_cycles(n) for n in graph.nodes), default=0)


def fifo_resources(depth: int, width: int) -> Resources:
    """A :class:`~hw.plumbing.fifo.StreamFifo` of ``depth`` words of ``width`` bits:
    flip-flops up to 4 words, else a memory (LUT RAM or block RAM) plus a 3-4 word slice."""
    from .dense import memory_cost
    if depth <= 4:
        return Resources(luts=width // 2 + 4, ffs=depth * width + 4)
    return memory_cost((depth - 4) * width, width, 1) + Resources(luts=width + 16, ffs=4 * width + 20)
