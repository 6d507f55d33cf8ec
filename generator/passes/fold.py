"""Folding: choose PE/SIMD for every layer left at ``auto`` (or all, from a JSON file).

For a target of T cycles per frame, each auto layer takes the cheapest folding (fewest
parallel lanes PE*SIMD; ties go to the lower :func:`fold_penalty`, then to more SIMD, as
FINN grows SIMD first) whose ideal cycles are <= T. Without a target, T is the slowest explicitly folded layer's cycles
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
from ..limits import MAX_DESCRIPTION_BYTES
from ..safeio import read_text
from . import register_pass

log = logging.getLogger(__name__)

AUTO = 0
DEFAULT_TARGET = 1024

FOLD_DIMS: dict[type, Callable] = {}
FOLD_PENALTY: dict[type, Callable] = {}


def fold_dims(node_cls):
    """Register ``fn(node) -> {"pe": size, "simd": size}``: each folding parameter must divide its size."""
    def wrap(fn):
        FOLD_DIMS[node_cls] = fn
        return fn
    return wrap


def fold_penalty(node_cls):
    """Register ``fn(node) -> int``: the tie-breaker between foldings of equal lanes
    (lower is cheaper; a kind without one has 0 for every folding)."""
    def wrap(fn):
        FOLD_PENALTY[node_cls] = fn
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
    small = [d for d in range(1, int(n ** 0.5) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


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


def best_folding(node, target: int, *, keep_explicit: bool = False) -> dict[str, int]:
    """The cheapest folding of ``node`` that meets ``target``; with ``keep_explicit`` only
    the parameters left at ``auto`` are chosen (the others keep their values)."""
    dims = _dims(node)
    if keep_explicit:
        dims = {k: v for k, v in dims.items() if getattr(node, k, AUTO) == AUTO}
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
    penalty = FOLD_PENALTY.get(type(node), lambda n: 0)
    for fold in candidates(0, {}):
        folded = node.replace(**fold)
        cycles = node_cycles(folded)
        lanes = 1
        for v in fold.values():
            lanes *= v
        key = (cycles > target, lanes if cycles <= target else cycles, penalty(folded), -fold.get("simd", 0))
        if best is None or key < best[0]:
            best = (key, fold)
    return best[1]


def is_auto(node) -> bool:
    return any(getattr(node, k, None) == AUTO for k in ("pe", "simd"))


@register_pass
@dataclass(frozen=True)
class Fold:
    """The folding pass, over every node of every branch.

    With ``fold_file`` (a JSON file) or ``folding`` (the same mapping in memory,
    ``{layer: {"pe": P, "simd": S}}``), its foldings are applied first; then every layer left at
    ``auto`` (all foldable layers when ``target_cycles`` is given) gets the cheapest
    folding meeting the target. ``target_cycles`` None means: match the slowest fixed
    layer.
    """

    target_cycles: int | None = None
    fold_file: Path | None = None
    folding: dict | None = None
    name: ClassVar[str] = "fold"

    def apply(self, graph):
        nodes = list(graph.nodes)
        if self.fold_file is not None:
            nodes = apply_fold_file(nodes, self.fold_file)
        if self.folding is not None:
            nodes = apply_folding(nodes, self.folding, "fold")
        target = self.target_cycles
        if target is None:
            fixed = [node_cycles(n) for n in nodes if _dims(n) and not is_auto(n)]
            target = max(fixed) if fixed else DEFAULT_TARGET
        if target < 1:
            raise OptionError(f"--target-cycles must be >= 1, not {target}")
        out = []
        for n in nodes:
            if self.target_cycles is not None and _dims(n) or is_auto(n):
                # --target-cycles refolds every layer; otherwise explicit PE/SIMD stay as given
                n = n.replace(**best_folding(n, target, keep_explicit=self.target_cycles is None))
                if node_cycles(n) > target:
                    log.warning("layer %r cannot reach %d cycles per frame; its fastest folding "
                                "takes %d", n.name, target, node_cycles(n))
            out.append(n)
        return graph.replace(nodes=tuple(out))


def apply_fold_file(nodes, path: Path):
    """Apply ``{"layer": {"pe": P, "simd": S}, ...}`` from a JSON file."""
    text = read_text(path, "--fold", error=OptionError, max_bytes=MAX_DESCRIPTION_BYTES)
    try:
        spec = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise OptionError(f"--fold {path}: cannot read JSON ({str(exc).splitlines()[0] if str(exc) else 'nested too deeply'})") from None
    return apply_folding(nodes, spec, f"--fold {path}")


def apply_folding(nodes, spec, where: str):
    """Apply ``{"layer": {"pe": P, "simd": S}, ...}``; errors start with ``where``."""
    if not isinstance(spec, dict) or not all(isinstance(v, dict) for v in spec.values()):
        raise OptionError(f"{where}: must map layer names to {{\"pe\": P, \"simd\": S}}")
    names = {n.name for n in nodes}
    for layer in spec:
        if layer not in names:
            raise OptionError(f"{where}: no layer named {layer!r} (layers: {', '.join(sorted(names))})")
    out = []
    for n in nodes:
        fold = spec.get(n.name)
        if fold:
            allowed = set(_dims(n))
            bad = set(fold) - allowed
            if bad or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v < 1 << 31
                              for v in fold.values()):
                raise FoldingError(f"{where}: layer {n.name!r} takes {sorted(allowed)} as positive "
                                   f"integers, not {fold!r:.200}")
            n = n.replace(**fold)
        out.append(n)
    return out
