"""Folding: choose PE/SIMD for every layer left at ``auto`` (or all, from a JSON file).

For a target of T cycles per frame, each auto layer takes the cheapest folding (fewest
parallel lanes PE*SIMD; ties prefer more SIMD, as FINN grows SIMD first) whose ideal
cycles are <= T. Without a target, T is the slowest explicitly folded layer's cycles
(so auto layers never become the bottleneck), or 1024 when every layer is auto.

Node kinds declare what their folding parameters divide through :func:`fold_dims`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar

from ..errors import FoldingError, OptionError
from ..estimate import node_cycles
from ..ir import LabelSelect, MatrixVector, MultiThreshold
from . import register_pass

log = logging.getLogger(__name__)

AUTO = 0
DEFAULT_TARGET = 1024

FOLD_DIMS: dict[type, Callable] = {}


def fold_dims(node_cls):
    """Register ``fn(node) -> {"pe": size, "simd": size}``: each folding parameter must divide its size."""
    def wrap(fn):
        FOLD_DIMS[node_cls] = fn
        return fn
    return wrap


@fold_dims(MatrixVector)
def _mvau_dims(node):
    return {"pe": node.out_features, "simd": node.in_features}


@fold_dims(MultiThreshold)
def _thresholds_dims(node):
    return {"pe": node.in_shape[2]}


@fold_dims(LabelSelect)
def _label_dims(node):
    return {"pe": node.in_shape[2]}


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _dims(node) -> dict[str, int]:
    from ..estimate import CYCLES
    from ..lowering import LOWERINGS
    CYCLES.load()      # node kinds declare their fold dims next to their estimates
    LOWERINGS.load()   # ... or their lowering
    fn = FOLD_DIMS.get(type(node))
    return fn(node) if fn else {}


def fold_parameters(node) -> list[str]:
    """Names of the folding parameters of ``node`` (``[]`` when it has none)."""
    return list(_dims(node))


def best_folding(node, target: int) -> dict[str, int]:
    dims = _dims(node)
    if not dims:
        return {}
    keys = list(dims)
    best = None
    def candidates(i, acc):
        if i == len(keys):
            yield dict(acc)
            return
        for d in divisors(dims[keys[i]]):
            acc[keys[i]] = d
            yield from candidates(i + 1, acc)
    for fold in candidates(0, {}):
        cycles = node_cycles(node.replace(**fold))
        lanes = 1
        for v in fold.values():
            lanes *= v
        key = (cycles > target, lanes if cycles <= target else cycles, -fold.get("simd", 0))
        if best is None or key < best[0]:
            best = (key, fold)
    return best[1]


def is_auto(node) -> bool:
    return any(getattr(node, k, None) == AUTO for k in ("pe", "simd"))


@register_pass
@dataclass(frozen=True)
class Fold:
    """The folding pass, over every node of every branch.

    With ``fold_file``, its foldings are applied first; then every layer left at
    ``auto`` (all foldable layers when ``target_cycles`` is given) gets the cheapest
    folding meeting the target. ``target_cycles`` None means: match the slowest fixed
    layer.
    """

    target_cycles: int | None = None
    fold_file: Path | None = None
    name: ClassVar[str] = "fold"

    def apply(self, graph):
        nodes = list(graph.nodes)
        if self.fold_file is not None:
            nodes = apply_fold_file(nodes, self.fold_file)
        target = self.target_cycles
        if target is None:
            fixed = [node_cycles(n) for n in nodes if _dims(n) and not is_auto(n)]
            target = max(fixed) if fixed else DEFAULT_TARGET
        if target < 1:
            raise OptionError(f"--target-cycles must be >= 1, not {target}")
        out = []
        for n in nodes:
            if self.target_cycles is not None and _dims(n) or is_auto(n):
                n = n.replace(**best_folding(n, target))
                if node_cycles(n) > target:
                    log.warning("layer %r cannot reach %d cycles per frame; its fastest folding "
                                "takes %d", n.name, target, node_cycles(n))
            out.append(n)
        return graph.replace(nodes=tuple(out))


def apply_fold_file(nodes, path: Path):
    """Apply ``{"layer": {"pe": P, "simd": S}, ...}`` from a JSON file."""
    try:
        spec = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise OptionError(f"--fold {path}: cannot read JSON ({exc})") from None
    if not isinstance(spec, dict):
        raise OptionError(f"--fold {path}: must map layer names to {{\"pe\": P, \"simd\": S}}")
    names = {n.name for n in nodes}
    for layer in spec:
        if layer not in names:
            raise OptionError(f"--fold {path}: no layer named {layer!r} (layers: {', '.join(sorted(names))})")
    out = []
    for n in nodes:
        fold = spec.get(n.name)
        if fold:
            allowed = set(_dims(n))
            bad = set(fold) - allowed
            if bad or not all(isinstance(v, int) and v >= 1 for v in fold.values()):
                raise FoldingError(f"--fold {path}: layer {n.name!r} takes {sorted(allowed)} as positive "
                                   f"integers, not {fold!r}")
            n = n.replace(**fold)
        out.append(n)
    return out
