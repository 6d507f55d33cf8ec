"""The stream edges of a graph once every node is split into its hardware units.

The lowering (``hw`` stages) and the schedule model (``estimate/schedule.py``) both
split a node into a chain of units named alike; :func:`wire` turns a graph and such a
split into the edges between units, so the FIFO-sizing pass and the netlist agree on
every edge. A node with no unit (a reshape) is a wire: its readers connect to its
producer. Forks must be explicit (one reader per tensor, a Fork's ports one each).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .errors import ModelError

INPUT = "input"     # same names as bitsmith.hw.top.INPUT / OUTPUT
OUTPUT = "output"


@dataclass(frozen=True)
class Wire:
    """Stream from ``src.src_port`` to ``dst.dst_port`` (``INPUT`` / ``OUTPUT`` for the graph's)."""

    src: str
    src_port: str
    dst: str
    dst_port: str


def wire(graph, units_of: Callable) -> tuple[list, list[Wire]]:
    """``(units, wires)`` of ``graph``; ``units_of(node)`` gives a node's chain of units,
    each with ``name``, ``in_ports`` and ``out_ports``."""
    graph.check_forks()
    source: dict[str, list] = {graph.input_name: [(INPUT, "o")]}
    units, wires = [], []
    for node in graph.nodes:
        srcs = []
        for tensor in node.inputs:
            if not source[tensor]:
                raise ModelError(f"layer {node.name!r}: tensor {tensor!r} has no output port left")
            srcs.append(source[tensor].pop(0))
        chain = list(units_of(node))
        if not chain:
            if len(srcs) != 1:
                raise ModelError(f"layer {node.name!r}: only a one-input layer may lower to nothing")
            source[node.name] = srcs
            continue
        first = chain[0]
        if len(first.in_ports) != len(srcs):
            raise ModelError(f"layer {node.name!r}: its first unit has {len(first.in_ports)} input "
                             f"ports for {len(srcs)} inputs")
        for (src, port), dport in zip(srcs, first.in_ports):
            wires.append(Wire(src, port, first.name, dport))
        for a, b in zip(chain, chain[1:]):
            wires.append(Wire(a.name, a.out_ports[0], b.name, b.in_ports[0]))
        units.extend(chain)
        source[node.name] = [(chain[-1].name, p) for p in chain[-1].out_ports]
    out = source[graph.output_node.name]
    wires.append(Wire(out[0][0], out[0][1], OUTPUT, "i"))
    return units, wires
