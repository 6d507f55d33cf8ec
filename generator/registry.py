"""A table from IR node classes to functions, filled by the modules of one package.

The golden model, the lowering and the estimates are each such a table (STYLE.md rule 4:
one table, an unmapped node gets a clear error). Every module of the owning package is
imported on first lookup, so a new ``<package>/<kind>.py`` registers itself.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable


class Registry:
    """``register(node_cls)`` decorates a function; ``lookup(node)`` finds it by the node's class."""

    def __init__(self, package: str, what: str):
        self.package, self.what = package, what
        self.table: dict[type, Callable] = {}
        self._loaded = False

    def register(self, node_cls: type) -> Callable[[Callable], Callable]:
        def wrap(fn: Callable) -> Callable:
            self.table[node_cls] = fn
            return fn
        return wrap

    def load(self) -> None:
        if not self._loaded:
            self._loaded = True
            module = importlib.import_module(self.package)
            for info in pkgutil.iter_modules(module.__path__):
                importlib.import_module(f"{self.package}.{info.name}")

    def lookup(self, node) -> Callable | None:
        self.load()
        return self.table.get(type(node))

    def supported(self) -> str:
        self.load()
        return ", ".join(sorted(cls.__name__ for cls in self.table))
