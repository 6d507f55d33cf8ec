"""Graph passes: small objects with a ``name`` and ``apply(graph) -> graph``.

One pass, one file in this package, in the manner of qonnx transformations: each module
defines a frozen dataclass with a class attribute ``name`` and registers it with
:func:`register_pass`. A pipeline is a tuple of passes; :func:`run_pipeline` checks the
graph after each one so a broken pass is caught where it happens, and
:func:`pipeline` builds one from names, rejecting an unknown name with the list of
valid ones before anything runs.

The build pipeline (:func:`bitsmith.generator.build.prepare`), in order:
``acc_widths`` (narrowest accumulators), ``topk`` (with ``--topk``), ``sparsify``
(``--sparse auto``), ``insert_forks``, ``fold`` (``--fold``/``--target-cycles``),
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


def run_pipeline(graph, passes):
    """Apply ``passes`` in order, checking the graph after each."""
    for p in passes:
        graph = p.apply(graph)
        graph.check()
    return graph
