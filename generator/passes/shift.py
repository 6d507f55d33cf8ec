"""``--shift auto``: integer matrix layers whose weights are powers of two onto the shift unit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bitsmith.hw.streams import SHIFT_ADD_MAX_BITS

from ..errors import OptionError
from ..ir.dense import MatrixVector
from ..ir.shift import MAX_TERMS, ShiftMatrixVector, terms_needed
from . import register_pass


@register_pass
@dataclass(frozen=True)
class Shift:
    """Replace each dense integer layer whose weights are sums of at most ``max_terms``
    signed powers of two (one term always; more only where the MVAU would multiply, see
    :meth:`convert`) by the equivalent :class:`ShiftMatrixVector` (same integers, same
    folding). Conv layers keep their units."""

    max_terms: int = 2
    name: ClassVar[str] = "shift"

    def __post_init__(self):
        if isinstance(self.max_terms, bool) or not isinstance(self.max_terms, int) \
                or not 1 <= self.max_terms <= MAX_TERMS:
            raise OptionError(f"--shift: max_terms must be an integer in 1..{MAX_TERMS}, not {self.max_terms!r}")

    def convert(self, node):
        """``node`` as a shift layer when its weights qualify, else ``node`` itself."""
        if type(node) is not MatrixVector or node.xnor or node.weight_dtype.name == "BIPOLAR":
            return node
        n = terms_needed(node.weights)
        if n == 1 or (n <= self.max_terms and node.weight_dtype.bitwidth() > SHIFT_ADD_MAX_BITS):
            return ShiftMatrixVector.from_dense(node, n)
        return node

    def apply(self, graph):
        return graph.replace(nodes=tuple(self.convert(n) for n in graph.nodes))
