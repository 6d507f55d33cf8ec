"""Lowering: IR nodes -> ``hw`` stages, one table (STYLE.md rule 4).

Kinds register with :func:`lowering`; every module of this package is imported on first
use. ``lower_node(node)`` returns a list of :class:`bitsmith.hw.top.Stage`; an unmapped node
raises :class:`~generator.errors.ModelError` listing what is supported.
"""

from __future__ import annotations

from typing import Callable

from ..errors import ModelError
from ..registry import Registry

LOWERINGS = Registry(__name__, "lowering")
lowering: Callable = LOWERINGS.register
"""Decorator registering ``fn(node) -> list[hw.top.Stage]`` for a node class."""


def lower_node(node) -> list:
    fn = LOWERINGS.lookup(node)
    if fn is None:
        raise ModelError(f"layer {node.name!r}: {type(node).__name__} has no hardware lowering "
                         f"(supported: {LOWERINGS.supported()})")
    return fn(node)
