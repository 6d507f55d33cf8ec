"""Estimates next to the IR: ideal cycles and resources, pure functions of a node.

Kinds register with :func:`ideal_cycles` and :func:`resources`; every module of this
package is imported on first use.

* ``ideal_cycles(node) -> int``: cycles per frame of the node at its folding with
  source always valid and sink always ready (the folding bound).
* ``resources(node) -> Resources``: estimated LUT/FF/BRAM18/DSP on a 6-input-LUT FPGA.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

CYCLES: dict[type, Callable] = {}
RESOURCES: dict[type, Callable] = {}
_loaded = False


@dataclass(frozen=True)
class Resources:
    luts: int = 0
    ffs: int = 0
    brams: float = 0.0
    dsps: int = 0

    def __add__(self, other: "Resources") -> "Resources":
        return Resources(self.luts + other.luts, self.ffs + other.ffs,
                         self.brams + other.brams, self.dsps + other.dsps)


def ideal_cycles(node_cls):
    def wrap(fn):
        CYCLES[node_cls] = fn
        return fn
    return wrap


def resources(node_cls):
    def wrap(fn):
        RESOURCES[node_cls] = fn
        return fn
    return wrap


def _load_all() -> None:
    global _loaded
    if not _loaded:
        for mod in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{mod.name}")
        _loaded = True


def node_cycles(node) -> int:
    _load_all()
    fn = CYCLES.get(type(node))
    return int(fn(node)) if fn else 0


def node_resources(node) -> Resources:
    _load_all()
    fn = RESOURCES.get(type(node))
    return fn(node) if fn else Resources()


def graph_cycles(graph) -> int:
    """Ideal cycles per frame of the whole pipeline: its slowest layer."""
    return max((node_cycles(n) for n in graph.nodes), default=0)
