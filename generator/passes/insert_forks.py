"""Fork insertion: every tensor read by several layers gets an explicit Fork."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..ir.branch import Fork
from . import register_pass

AUTO = 0


@register_pass
@dataclass(frozen=True)
class InsertForks:
    """Insert ``<tensor>_fork`` after every tensor (graph input included) with several
    readers that is not already a Fork's; its readers then read the fork. The fork's
    ``pe`` is left to the folding pass."""

    name: ClassVar[str] = "insert_forks"

    def apply(self, graph):
        names = {n.name for n in graph.nodes} | {graph.input_name}
        readers = {}
        for n in graph.nodes:
            for src in n.inputs:
                readers[src] = readers.get(src, 0) + 1
        forks = {}
        for tensor, count in readers.items():
            producer = None if tensor == graph.input_name else graph.node(tensor)
            if count > 1 and not isinstance(producer, Fork):
                name = f"{tensor}_fork"
                while name in names:
                    name += "_"
                names.add(name)
                forks[tensor] = Fork(name=name, in_shape=graph.tensor_shape(tensor),
                                     in_dtype=graph.tensor_dtype(tensor), inputs=(tensor,),
                                     outputs=count, pe=AUTO)
        if not forks:
            return graph
        nodes = [forks[graph.input_name]] if graph.input_name in forks else []
        for n in graph.nodes:
            ins = tuple(forks[s].name if s in forks else s for s in n.inputs)
            nodes.append(n.replace(inputs=ins) if ins != tuple(n.inputs) else n)
            if n.name in forks:
                nodes.append(forks[n.name])
        return graph.replace(nodes=tuple(nodes))
