"""Structured pruning, exact: remove channels whose value never changes.

Network slimming (arXiv 1708.06519) drives batch-norm scales to zero; filter pruning by
L1 norm (arXiv 1608.08710) zeroes whole filters. After streamlining, such a channel is a
constant: an all-zero filter gives the accumulator 0, a zero batch-norm scale puts every
threshold of the channel below or above every accumulator the layer can reach. This
pass finds those channels, removes them from the hardware and folds their constant
contribution into the next layer, so the pruned network computes *exactly* the same
outputs as the unpruned one, frame by frame.

Three steps:

1. **Constants** (:func:`constant_channels`): a forward interval analysis over the DAG.
   A matrix layer's output channel (``MatrixVector``, ``Conv``) is constant when its
   accumulator range -- from the actual weights, the input datatype, and the input
   channels already known constant (with the zero of padding) -- lies between two
   neighbouring thresholds, or is a single value without thresholds. Per-channel layers
   (max/average/global pool, multi-threshold, upsample, depthwise conv, fork, add,
   concat) are probed with their own golden function on an input whose constant
   channels hold their constant: an output channel that comes out uniform over every
   pixel is constant (its input channel is the same in every frame, so is it).
   Reshape maps channels when it flattens to a vector or keeps the channel count.
2. **What can go** (:func:`removable`): the largest set of constant (tensor, channel)
   pairs such that every producer can drop the channel (a matrix layer drops a weight
   row; a per-channel layer only together with its input channel; an add only with the
   channel of both operands) and every consumer can absorb it (a per-channel layer,
   fork, add, concat or reshape by removing its own output channel too; a matrix layer
   by deleting the weight columns and subtracting the constant's contribution from its
   thresholds). A channel stays when: it is a graph output; a top-K, sparse or unknown
   layer reads it; a matrix layer without thresholds would see a non-zero contribution
   (the raw accumulator has no bias); a padded convolution would see a non-zero
   constant (the zero padding makes the contribution depend on the position); or it is
   the last channel of its tensor. Each reason is reported.
3. **Rewrite**: weights, thresholds, shapes and concat channel counts shrink; a
   thresholded layer's accumulator is narrowed again; a raw accumulator keeps its
   datatype (so readers' datatypes do not change). Every resized layer is refolded:
   to the cheapest folding that keeps the unpruned graph's bottleneck (ideal cycles per
   frame) when every layer had an explicit folding, else left ``auto`` for the folding
   pass. ``--target-cycles`` refolds everything anyway.

The pass then checks itself: the golden model of the graph before and after on
``check_frames`` random frames must agree bit for bit (else an internal error: a bug).
The rows of :attr:`Graph.pruning` say per layer what was removed and why a constant
channel stayed; ``report.md`` shows them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..ir import Add, Concat, Fork, MatrixVector, MultiThreshold, Reshape, Thresholds
from ..ir.conv import Conv, GlobalAccPool, MaxPool
from ..ir.pool import AvgPool
from ..ir.resize import Upsample
from . import register_pass

log = logging.getLogger(__name__)

AUTO = 0
PER_CHANNEL = (MaxPool, AvgPool, GlobalAccPool, MultiThreshold, Upsample, Fork)
"""One input, output channel c depends on input channel c only (plus depthwise Conv)."""


def _is_matrix(node) -> bool:
    return isinstance(node, MatrixVector) or (isinstance(node, Conv) and not node.depthwise)


def _is_per_channel(node) -> bool:
    return isinstance(node, PER_CHANNEL) or (isinstance(node, Conv) and node.depthwise)


def _matrix(node) -> np.ndarray:
    """(out, KH*KW*IC) or (out, IC) weights as int64, columns in window order."""
    return (node.matrix() if isinstance(node, Conv) else node.weights).astype(np.int64)


def _padded(node) -> bool:
    return isinstance(node, Conv) and any(node.padding)


# ----------------------------------------------------------------------------- 1. constants

def _column_ranges(node, consts: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Per weight row, the exact [lo, hi] of the accumulator given constant input channels."""
    w = _matrix(node)
    ic = node.in_shape[2]
    channel = np.arange(w.shape[1]) % ic                     # window order: channel innermost
    if node.xnor:                                            # popcount domain: [w == x] per column
        lo_col = np.zeros(w.shape, dtype=np.int64)
        hi_col = np.ones(w.shape, dtype=np.int64)
        for c, k in consts.items():
            cols = channel == c
            lo_col[:, cols] = hi_col[:, cols] = (w[:, cols] == k)
        return lo_col.sum(axis=1), hi_col.sum(axis=1)
    xlo = np.full(w.shape[1], int(node.in_dtype.min()), dtype=np.int64)
    xhi = np.full(w.shape[1], int(node.in_dtype.max()), dtype=np.int64)
    for c, k in consts.items():
        cols = channel == c
        xlo[cols] = min(k, 0) if _padded(node) else k
        xhi[cols] = max(k, 0) if _padded(node) else k
    a, b = w * xlo, w * xhi
    return np.minimum(a, b).sum(axis=1), np.maximum(a, b).sum(axis=1)


def _matrix_constants(node, consts: dict[int, int]) -> dict[int, int]:
    lo, hi = _column_ranges(node, consts)
    out = {}
    th = node.thresholds
    t = None if th is None else th.per_channel(len(lo)).astype(np.int64)
    for r in range(len(lo)):
        if t is None:
            if lo[r] == hi[r]:
                out[r] = int(lo[r])
        elif not np.any((t[r] > lo[r]) & (t[r] <= hi[r])):   # no threshold inside (lo, hi]
            out[r] = th.out_scale * int(np.sum(t[r] <= lo[r])) + th.out_bias
    return out


def _probe_value(dt) -> int:
    return int(dt.min())                                     # BIPOLAR: -1, a valid value


def _probe(node, in_consts: list[dict[int, int]], candidates) -> dict[int, int]:
    """Run ``node``'s golden function on one frame whose constant channels hold their
    constants; the ``candidates`` output channels that come out uniform are constant."""
    from bitsmith.sim.golden import run_node
    xs = []
    for shape, dt, consts in zip(node.in_shapes, node.in_dtypes, in_consts):
        x = np.full((1,) + tuple(shape), _probe_value(dt), dtype=np.int64)
        for c, k in consts.items():
            x[..., c] = k
        xs.append(x)
    y = run_node(node, xs[0] if len(xs) == 1 else tuple(xs))
    out = {}
    for c in candidates:
        v = y[..., c]
        if np.all(v == v.flat[0]):
            out[c] = int(v.flat[0])
    return out


def _concat_offsets(node: Concat) -> list[int]:
    return [int(sum(node.channels[:k])) for k in range(len(node.channels))]


def _reshape_map(node: Reshape):
    """``fn(out_channel) -> in_channel`` when a Reshape keeps whole channels, else None:
    a flatten to ``(1, 1, N)`` or a reshape that keeps the channel count (NHWC order)."""
    cin = node.in_shape[2]
    if tuple(node.out_shape[:2]) == (1, 1) or node.out_shape[2] == cin:
        return lambda c: c % cin
    return None


def constant_channels(graph) -> dict[str, dict[int, int]]:
    """For every tensor of ``graph``, ``{channel: value}`` of the channels whose value is
    the same at every pixel of every frame (see the module docstring)."""
    const: dict[str, dict[int, int]] = {graph.input_name: {}}
    for node in graph.nodes:
        ins = [const[src] for src in node.inputs]
        if _is_matrix(node):
            out = _matrix_constants(node, ins[0])
        elif _is_per_channel(node):
            out = _probe(node, ins, ins[0]) if ins[0] else {}
        elif isinstance(node, Add):
            both = sorted(set(ins[0]) & set(ins[1]))
            out = _probe(node, ins, both) if both else {}
        elif isinstance(node, Concat):
            out = {off + c: k for off, consts in zip(_concat_offsets(node), ins) for c, k in consts.items()}
        elif isinstance(node, Reshape) and _reshape_map(node) is not None:
            fn = _reshape_map(node)
            out = {c: ins[0][fn(c)] for c in range(node.out_shape[2]) if fn(c) in ins[0]}
        else:
            out = {}
        const[node.name] = out
    return const


# ----------------------------------------------------------------------------- 2. what can go

def _contribution(node, c: int, k: int) -> np.ndarray:
    """Per weight row, what constant input channel ``c`` = ``k`` adds to the accumulator
    (at a pixel whose window lies inside the image)."""
    w = _matrix(node)
    cols = (np.arange(w.shape[1]) % node.in_shape[2]) == c
    if node.xnor:
        return (w[:, cols] == k).sum(axis=1)
    return w[:, cols].sum(axis=1) * k


def _absorb_reason(node, c: int, k: int) -> str | None:
    """Why matrix layer ``node`` cannot absorb constant input channel ``c`` = ``k`` (None: it can)."""
    w = _matrix(node)
    cols = (np.arange(w.shape[1]) % node.in_shape[2]) == c
    silent = not node.xnor and (k == 0 or not np.any(w[:, cols]))
    if _padded(node) and not silent:
        return f"constant {k} into the zero-padded convolution {node.name!r}"
    if node.thresholds is None and np.any(_contribution(node, c, k)):
        return f"constant {k} into the raw accumulator of {node.name!r} (no thresholds to absorb it)"
    return None


def removable(graph, const: dict[str, dict[int, int]]) -> tuple[set, dict]:
    """``(S, kept)``: the (tensor, channel) pairs to remove, and for every constant pair
    that stays, the reason."""
    producer = {n.name: n for n in graph.nodes}
    readers: dict[str, list] = {}
    for n in graph.nodes:
        for slot, src in enumerate(n.inputs):
            readers.setdefault(src, []).append((n, slot))
    out_name = graph.output_node.name
    kept, roots = {}, {}        # roots: the first cause of a chain of kept channels
    S = set()
    for t, consts in const.items():
        for c in consts:
            if t == out_name:
                kept[(t, c)] = roots[(t, c)] = "a graph output"
            else:
                S.add((t, c))

    def producer_needs(t: str, c: int):
        """Pairs that must go with (t, c) for its producer to drop it; None if it cannot."""
        n = producer[t]
        if _is_matrix(n):
            return []
        if _is_per_channel(n):
            return [(n.inputs[0], c)]
        if isinstance(n, Add):
            return [(n.inputs[0], c), (n.inputs[1], c)]
        if isinstance(n, Concat):
            offs = _concat_offsets(n)
            k = max(i for i, off in enumerate(offs) if off <= c)
            return [(n.inputs[k], c - offs[k])]
        if isinstance(n, Reshape) and _reshape_map(n):
            return [(n.inputs[0], _reshape_map(n)(c))]
        return None

    def consumer_needs(t: str, c: int):
        """(pairs that must go too, reason if impossible)."""
        need = []
        for n, slot in readers.get(t, []):
            if _is_matrix(n):
                why = _absorb_reason(n, c, const[t][c])
                if why:
                    return None, why
            elif _is_per_channel(n) or isinstance(n, Add):
                need.append((n.name, c))
            elif isinstance(n, Concat):
                need.append((n.name, _concat_offsets(n)[slot] + c))
            elif isinstance(n, Reshape) and _reshape_map(n):
                fn = _reshape_map(n)
                need += [(n.name, o) for o in range(n.out_shape[2]) if fn(o) == c]
            else:
                return None, f"read by {type(n).__name__} {n.name!r}, which cannot drop a channel"
        return need, None

    def settle() -> None:
        """Drop pairs whose producer or readers cannot follow, until nothing changes."""
        changed = True
        while changed:
            changed = False
            for pair in sorted(S):
                if pair in S and (why := violation(*pair)):
                    S.discard(pair)
                    kept[pair] = why
                    roots.setdefault(pair, why)
                    changed = True

    def violation(t: str, c: int) -> str | None:
        need = producer_needs(t, c)
        if need is None:
            return f"its producer {type(producer[t]).__name__} cannot drop a channel"
        more, why = consumer_needs(t, c)
        if more is None:
            return why
        missing = [p for p in need + more if p not in S]
        if not missing:
            return None
        u, d = missing[0]
        root = roots.get((u, d)) or (f"{u!r} channel {d} varies" if d not in const.get(u, {})
                                     else f"{u!r} channel {d} stays")
        roots[(t, c)] = root
        return root

    order = [graph.input_name] + [n.name for n in graph.nodes]
    while True:
        settle()
        full = [t for t in order if sum(1 for u, _ in S if u == t) == graph.tensor_shape(t)[2]]
        if not full:
            break
        first = (full[0], min(c for u, c in S if u == full[0]))   # a tensor keeps one channel
        S.discard(first)
        kept[first] = roots[first] = "the last channel of its tensor"
    return S, {pair: roots.get(pair, why) for pair, why in kept.items() if pair not in S}


# ----------------------------------------------------------------------------- 3. rewrite

def _keep(n: int, gone: set[int]) -> np.ndarray:
    return np.array([c for c in range(n) if c not in gone], dtype=np.int64)


def _shift_thresholds(th: Thresholds, rows: int, bias: np.ndarray, keep_rows: np.ndarray) -> Thresholds:
    if th.values.shape[0] == 1 and not np.any(bias):
        return th
    values = th.per_channel(rows).astype(np.int64) - bias[:, None]
    return Thresholds(values=values[keep_rows], out_dtype=th.out_dtype, out_scale=th.out_scale,
                      out_bias=th.out_bias)


def _rewrite_matrix(node, gone_in: dict[int, int], gone_out: set[int], in_shape):
    w = _matrix(node)
    rows = w.shape[0]
    bias = np.zeros(rows, dtype=np.int64)
    for c, k in gone_in.items():
        bias += _contribution(node, c, k)
    keep_rows = _keep(rows, gone_out)
    keep_in = _keep(node.in_shape[2], set(gone_in))
    old_out = node.out_dtype
    if isinstance(node, Conv):
        weights = node.weights[keep_rows][..., keep_in]
    else:
        weights = node.weights[keep_rows][:, keep_in]
    changes = {"weights": weights, "in_shape": in_shape}
    if node.thresholds is not None:
        changes["thresholds"] = _shift_thresholds(node.thresholds, rows, bias, keep_rows)
        if node.acc_dtype is not None:
            changes["acc_dtype"] = type(node).minimal_acc_dtype(weights, node.weight_dtype, node.in_dtype)
    else:
        assert not np.any(bias[keep_rows]), "a raw accumulator was given a bias"
        changes["acc_dtype"] = old_out                      # readers keep their datatype
    return node.replace(**changes)


def _rewrite(node, in_shapes: list, gone_ins: list[dict[int, int]], gone_out: set[int]):
    """``node`` with its input shapes ``in_shapes`` and the channels removed."""
    if _is_matrix(node):
        return _rewrite_matrix(node, gone_ins[0], gone_out, in_shapes[0])
    changes = {"in_shape": tuple(in_shapes[0])}
    if isinstance(node, Conv):                               # depthwise: rows are channels
        keep = _keep(node.in_shape[2], gone_out)
        changes["weights"] = node.weights[keep]
        if node.thresholds is not None and node.thresholds.values.shape[0] > 1:
            changes["thresholds"] = _shift_thresholds(node.thresholds, node.in_shape[2],
                                                      np.zeros(node.in_shape[2], np.int64), keep)
    elif isinstance(node, MultiThreshold) and node.thresholds.values.shape[0] > 1:
        keep = _keep(node.in_shape[2], gone_out)
        changes["thresholds"] = _shift_thresholds(node.thresholds, node.in_shape[2],
                                                  np.zeros(node.in_shape[2], np.int64), keep)
    elif isinstance(node, Concat):
        changes["channels"] = tuple(int(s[2]) for s in in_shapes)
    elif isinstance(node, Reshape):
        h, w, c = node.shape
        changes["shape"] = (h, w, c - len(gone_out))
    return node.replace(**changes)


def _refold(node, target: int | None):
    from .fold import best_folding, fold_parameters
    params = fold_parameters(node)
    if not params:
        return node
    if target is None:
        return node.replace(**{k: AUTO for k in params})
    return node.replace(**best_folding(node.replace(**{k: 1 for k in params}), target))


@register_pass
@dataclass(frozen=True)
class PruneChannels:
    """Remove constant channels exactly (module docstring); ``check_frames`` random
    frames compare the golden model before and after (0: no check)."""

    check_frames: int = 64
    name: ClassVar[str] = "prune_channels"

    def apply(self, graph):
        from ..estimate import graph_cycles
        from .fold import fold_parameters, is_auto
        const = constant_channels(graph)
        S, kept = removable(graph, const)
        gone = {}
        for t, c in S:
            gone.setdefault(t, {})[c] = const[t][c]
        explicit = not any(is_auto(n) for n in graph.nodes if fold_parameters(n))
        target = graph_cycles(graph) if explicit else None
        nodes, shapes, rows = [], {graph.input_name: tuple(graph.in_shape)}, []
        for node in graph.nodes:
            in_shapes = [shapes[src] for src in node.inputs]
            gone_ins = [gone.get(src, {}) for src in node.inputs]
            gone_out = set(gone.get(node.name, {}))
            new = node
            if any(gone_ins) or gone_out:
                new = _refold(_rewrite(node, in_shapes, gone_ins, gone_out), target)
            nodes.append(new)
            shapes[node.name] = tuple(new.out_shape)
            found = const.get(node.name, {})
            if found or any(gone_ins):
                rows.append(self._row(node, new, found, gone_out, kept))
        if not S:
            return graph.replace(pruning=tuple(rows)) if rows else graph
        pruned = graph.replace(nodes=tuple(nodes), pruning=tuple(rows))
        self._check(graph, pruned)
        log.info("pruning removed %d constant channel(s) from %d tensor(s)", len(S), len(gone))
        return pruned

    @staticmethod
    def _row(node, new, found: dict, gone_out: set, kept: dict) -> tuple:
        """``(layer, kind, in before, in after, out before, out after, removed, kept)``:
        ``removed`` lists ``channel=constant``; ``kept`` the constant channels that stay,
        grouped by the first cause (``"7, 9: constant 3 into ..."``)."""
        by_reason: dict[str, list[int]] = {}
        for c in sorted(found):
            if (node.name, c) in kept:
                by_reason.setdefault(kept[(node.name, c)], []).append(c)
        why = "; ".join(f"{', '.join(map(str, cs))}: {reason}" for reason, cs in by_reason.items())
        removed = ", ".join(f"{c}={found[c]}" for c in sorted(gone_out))
        return (node.name, type(node).__name__, int(node.in_shape[2]), int(new.in_shape[2]),
                int(node.out_shape[2]), int(new.out_shape[2]), removed, why)

    def _check(self, before, after) -> None:
        if not self.check_frames:
            return
        from bitsmith.sim.golden import run_graph
        rng = np.random.default_rng(0)
        dt = before.in_dtype
        shape = (self.check_frames,) + tuple(before.in_shape)
        if dt.name == "BIPOLAR":
            x = rng.choice(np.array([-1, 1]), size=shape)
        else:
            x = rng.integers(int(dt.min()), int(dt.max()), size=shape, endpoint=True)
        want, got = run_graph(before, x), run_graph(after, x)
        if want.shape != got.shape or not np.array_equal(want, got):
            raise AssertionError(f"internal: pruning changed the outputs of {before.name!r}")
