"""FIFO sizing: every stream edge's FIFO depth from the units' schedules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..ir.core import FifoEdge
from . import register_pass


@register_pass
@dataclass(frozen=True)
class SizeFifos:
    """Set ``graph.fifos``: per edge of the lowered netlist, the depth that keeps every
    unit at its folding rate and never deadlocks
    (:func:`bitsmith.generator.estimate.schedule.fifo_depths`). Needs a folded graph
    with explicit forks (run after ``insert_forks`` and ``fold``)."""

    name: ClassVar[str] = "size_fifos"

    def apply(self, graph):
        from ..estimate.schedule import fifo_depths
        edges = fifo_depths(graph)
        return graph.replace(fifos=tuple(
            FifoEdge(src=e.src, src_port=e.src_port, dst=e.dst, port=e.dst_port, depth=e.depth,
                     elems=e.elems, elem_bits=e.elem_bits, peak=e.peak) for e in edges))
