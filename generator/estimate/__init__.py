"""Estimates next to the IR: ideal cycles and resources, pure functions of a node.

Kinds register with :func:`ideal_cycles`, :func:`resources` and :func:`schedule_model`; every module of this
package is imported on first use.

* ``ideal_cycles(node) -> int``: cycles per frame of the node at its folding with
  source always valid and sink always ready (the folding bound).
* ``resources(node) -> Resources``: estimated LUT4/FF/BRAM18/DSP (:data:`UNITS`).
* ``schedule_model(node) -> list[Unit]``: when each of the node's hardware units consumes and
  emits its words (:mod:`.schedule`), for FIFO sizing.

Units. The LUT figures are 4-input LUTs as Yosys ``synth_ecp5`` counts them (LUT4 cells,
two per carry cell, four per 16x4 LUT-RAM): the constants of the models were fitted to
those counts (see :mod:`.dense`), although a few terms still come from a 6-input-LUT
picture (64-bit LUT RAM, two XNOR lanes per LUT). On a 7-series part the same design
needs fewer LUT6s; on an iCE40 the LUT4 count is comparable but its block RAMs are
4-kbit EBRs, so one BRAM18 here is about 4.5 of them. Block RAMs are 18-kbit blocks
(Xilinx RAMB18, ECP5 DP16KD); DSPs are 18x18 multipliers. Nothing here is device
specific beyond that; ``bitsmith synth`` gives real, per-family figures.
"""

from __future__ import annotations

import math
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


#: Unit of each :class:`Resources` field, as reports label them.
UNITS = {"luts": "LUT4", "ffs": "FF", "brams": "BRAM18", "dsps": "DSP"}
#: Capacity of one estimated block RAM (a BRAM18), kbit.
BRAM_KBIT = 18
#: One line for reports: what the estimate is and what its units mean.
MODEL = ("bitsmith analytical estimate (generator/estimate): LUT4 = 4-input LUTs, constants fitted "
         "to Yosys synth_ecp5 counts; BRAM18 = 18-kbit block RAMs; DSP = 18x18 multipliers. "
         "Run `bitsmith synth` for real figures")


@dataclass(frozen=True)
class Resources:
    """Estimated resources; units in :data:`UNITS` (LUT4, FF, BRAM18, DSP)."""

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
    """A :class:`~hw.plumbing.fifo.StreamFifo` of ``depth`` words of ``width`` bits: a
    register slice up to 4 words, else a memory (LUT RAM, or block RAM from
    ``BLOCK_RAM_MIN_WORDS`` words on, as the FIFO marks it) in front of a 3-4 word slice,
    with its pointers (:func:`.plumbing.fifo_logic`)."""
    from .dense import memory_cost
    from .plumbing import fifo_logic, fifo_slice
    entries, words = fifo_slice(depth)
    if not words:
        return fifo_logic(depth, width)
    if entries == 4:            # a block RAM of ``words`` words
        memory = Resources(brams=max(math.ceil(words * width / (BRAM_KBIT * 1024)), math.ceil(width / 36)))
    else:
        memory = memory_cost(words * width, width, 1)
    return fifo_logic(depth, width) + memory