"""``--winograd auto``: 3x3 stride-1 convolutions onto Winograd F(2x2, 3x3) where the
estimates say it is cheaper at the same cycles per frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import OptionError
from ..estimate import Resources, node_cycles, node_resources
from ..ir.conv import Conv
from ..ir.winograd import WinogradConv, winograd_refusal
from . import register_pass
from .fold import best_folding

LUTS_PER_DSP = 64
"""A DSP block weighed as the LUT4s of the 8x8-bit product it replaces (the estimate's
``a*b`` LUTs of an ``a``-bit by ``b``-bit product)."""

LUTS_PER_BRAM = 288
"""An 18-kbit block RAM weighed as the LUT RAM holding the same bits (64 bits a LUT)."""


def cost(res: Resources) -> float:
    """One number for an estimate: LUT4s plus DSPs and block RAMs at their LUT weights."""
    return res.luts + LUTS_PER_DSP * res.dsps + LUTS_PER_BRAM * res.brams


@register_pass
@dataclass(frozen=True)
class Winograd:
    """Replace each plain 3x3, stride-1 :class:`Conv` that Winograd F(2x2, 3x3) can run
    (:func:`~bitsmith.generator.ir.winograd.winograd_refusal` finds nothing, and the
    layer does not say ``winograd: off``) by a :class:`WinogradConv` when that is cheaper.

    Runs after ``fold``: the direct layer's folded cycles per frame are the target; the
    Winograd layer takes its cheapest folding meeting it (:func:`~.fold.best_folding`),
    and wins when it meets the target with fewer multipliers (PE*SIMD product lanes) and
    a lower :func:`cost` (estimated LUTs, DSPs and block RAMs). Layers that cannot run as
    Winograd stay direct silently (``winograd: on`` in the native format refuses them).
    """

    mode: str = "auto"
    name: ClassVar[str] = "winograd"

    def __post_init__(self):
        if self.mode not in ("auto", "off"):
            raise OptionError(f"--winograd must be 'auto' or 'off', not {self.mode!r:.80}")

    def convert(self, node):
        """``node`` as a folded Winograd layer when that is cheaper, else ``node`` itself."""
        if type(node) is not Conv or node.winograd == "off" or winograd_refusal(node) is not None:
            return node
        target = node_cycles(node)
        candidate = WinogradConv.from_conv(node)
        candidate = candidate.replace(**best_folding(candidate, target))
        if node_cycles(candidate) > target or candidate.pe * candidate.simd >= node.pe * node.simd:
            return node
        if cost(node_resources(candidate)) >= cost(node_resources(node)):
            return node
        return candidate

    def apply(self, graph):
        if self.mode == "off":
            return graph
        return graph.replace(nodes=tuple(self.convert(n) for n in graph.nodes))
