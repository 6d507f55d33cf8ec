"""Graph passes: small objects with a ``name`` and ``apply(graph) -> graph``.

One pass, one file in this package, in the manner of qonnx transformations: each module
defines a frozen dataclass with a class attribute ``name`` and registers it with
:func:`register_pass`. A pipeline is a tuple of passes; :func:`run_pipeline` checks the
graph after each one so a broken pass is caught where it happens, and
:func:`pipeline` builds one from names, rejecting an unknown name with the list of
valid ones before anything runs.

The build pipeline (:func:`bitsmith.generator.build.prepare`), in order:
``acc_widths`` (narrowest accumulators), ``topk`` (with ``--topk``), ``sparsify``
(``--sparse auto``), ``shift`` (``--shift auto``), ``insert_forks``, ``fold`` (``--fold``/``--target-cycles``), ``winograd`` (``--winograd auto``),
``size_fifos``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Protocol

from ..errors import OptionError


class Pass(Protocol):
    name: str

    def apply(self, graph): ...


PASSES: dict[str, type] = {}


def register_pass(cls):
    """Class decorator: make a pass known to :func:`pipeline` by its ``name``."""
    PASSES[cls.name] = cls
    return cls


def _load() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


def pipeline(names, **options) -> tuple:
    """Passes from names; ``options[name]`` (a dict) gives a pass its keyword arguments.

    Raises :class:`OptionError` naming an unknown pass and listing the valid ones.
    """
    _load()
    names = tuple(names)
    for name in names:
        if name not in PASSES:
            raise OptionError(f"unknown pass {name!r} (valid: {', '.join(sorted(PASSES))})")
    return tuple(PASSES[name](**options.get(name, {})) for name in names)


AUTO = 0
"""Folding placeholder: a ``pe``/``simd`` of 0 is left to the folding pass."""


def settled(node):
    """``node`` with what later passes settle filled in: ``auto`` foldings at 1 and an
    accumulator left ``None`` at its narrowest, so everything else can be checked now."""
    from .acc_widths import minimal_acc
    changes = {k: 1 for k in ("pe", "simd") if getattr(node, k, None) == AUTO}
    if getattr(node, "acc_dtype", 0) is None and minimal_acc(node) is not None:
        changes["acc_dtype"] = minimal_acc(node)
    return node.replace(**changes) if changes else node


def check_settled(graph) -> None:
    """:meth:`Graph.check` of ``graph`` with its nodes :func:`settled`."""
    graph.replace(nodes=tuple(settled(n) for n in graph.nodes)).check()


def run_pipeline(graph, passes):
    """Apply ``passes`` in order, checking the graph after each (foldings still ``auto``
    and accumulators still unsized are checked as :func:`settled`; lowering checks
    them for real)."""
    for p in passes:
        graph = p.apply(graph)
        check_settled(graph)
    return graph
