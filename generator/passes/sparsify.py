"""``--sparse auto``: dense layers with mostly zero weights onto the sparse engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import OptionError
from . import register_pass


@register_pass
@dataclass(frozen=True)
class Sparsify:
    """Replace each integer matrix layer with at least ``threshold`` zero weights by an
    equivalent :class:`~bitsmith.generator.ir.sparse.SparseMatrixVector`
    (:func:`bitsmith.generator.sparse.sparsify_graph`)."""

    threshold: float = 0.5
    name: ClassVar[str] = "sparsify"

    def apply(self, graph):
        try:
            from ..sparse import sparsify_graph
        except ImportError:
            raise OptionError("--sparse auto: the sparse engine is not available in this build") from None
        return sparsify_graph(graph, threshold=self.threshold)
