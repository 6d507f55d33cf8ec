"""``--topk K``: append a hardware top-K (FINN's LabelSelect) to a vector output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import OptionError
from ..ir import LabelSelect
from . import register_pass


@register_pass
@dataclass(frozen=True)
class AppendTopK:
    """Append ``topk``, a :class:`LabelSelect` of ``k`` indices, after the graph output
    (its ``pe`` left to the folding pass)."""

    k: int = 1
    name: ClassVar[str] = "topk"

    def apply(self, graph):
        if isinstance(graph.output_node, LabelSelect):
            raise OptionError("--topk given but the model already ends in a top-K layer")
        channels = graph.out_shape[2]
        if graph.out_shape[:2] != (1, 1):
            raise OptionError(f"--topk needs a vector output, the model's is {graph.out_shape}")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= channels:
            raise OptionError(f"--topk must be in 1..{channels}, not {self.k}")
        node = LabelSelect(name="topk", in_shape=graph.out_shape, in_dtype=graph.out_dtype,
                           inputs=(graph.output_node.name,), k=self.k, pe=0)
        return graph.replace(nodes=graph.nodes + (node,))
