"""Lowering: IR nodes -> ``hw`` stages, one table (STYLE.md rule 4).

Kinds register with :func:`lowering`; every module of this package is imported on first
use. ``lower_node(node)`` returns a list of :class:`hw.top.Stage`; an unmapped node
raises :class:`~generator.errors.ModelError` listing what is supported.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

from ..errors import ModelError

LOWERINGS: dict[type, Callable] = {}
_loaded = False


def lowering(node_cls):
    """Decorator registering ``fn(node) -> list[hw.top.Stage]`` for ``node_cls``."""
    def wrap(fn):
        LOWERINGS[node_cls] = fn
        return fn
    return wrap


def _load_all() -> None:
    global _loaded
    if not _loaded:
        for mod in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{mod.name}")
        _loaded = True


def lower_node(node) -> list:
    _load_all()
    fn = LOWERINGS.get(type(node))
    if fn is None:
        supported = ", ".join(sorted(cls.__name__ for cls in LOWERINGS))
        raise ModelError(f"layer {node.name!r}: {type(node).__name__} has no hardware lowering "
                         f"(supported: {supported})")
    return fn(node)
