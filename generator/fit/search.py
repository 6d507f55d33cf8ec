"""Fold to a board: the fastest folding whose estimate fits the board, with a margin.

Candidates are cycle targets: every ideal cycle count some folding of some layer has.
For a target T the folding pass (:class:`~bitsmith.generator.passes.fold.Fold`) gives
each layer the fewest lanes that meet T; on an iCE40 UltraPlus a second variant keeps
the first matrix layer's weights in SPRAM (:mod:`.preload`). A variant fits when its
estimate on the board's family (:mod:`.estimate`) plus the board shell's share
(:data:`SHELL`) stays within the board's capacity less the margin (:data:`MARGINS`):
LUTs are kept below :data:`MARGINS` ``["luts"]`` of the device so that place and route
still meets the clock goal (:data:`CLOCK_GOAL_MHZ`), the rest must merely fit. Resources
fall as T grows, though not strictly (block-RAM shapes), so the search bisects for the
boundary and then checks the faster targets near it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from ..errors import OptionError
from ..estimate import graph_cycles, node_cycles
from ..ir import Graph, MatrixVector
from ..passes.fold import Fold, divisors, fold_parameters
from .estimate import DesignEstimate, estimate_design
from .family import family_of, map_memory, with_family_popcount
from .memories import MemoryShape
from .preload import check_runtime_layers, runtime_layers

log = logging.getLogger(__name__)

#: Share of each resource a design may use. LUTs keep headroom for routing (the clock
#: goal; see ``docs/FIT.md`` for the place-and-route runs behind the figure), block RAM,
#: SPRAM and DSPs may be used up.
MARGINS = {"ice40": {"luts": 0.85, "ffs": 0.85, "brams": 1.0, "dsps": 1.0, "spram": 1.0},
           "ecp5": {"luts": 0.75, "ffs": 0.85, "brams": 1.0, "dsps": 1.0, "spram": 1.0},
           "xc7": {"luts": 0.80, "ffs": 0.90, "brams": 1.0, "dsps": 1.0, "spram": 1.0}}
#: iCE40 logic cells (ICESTORM_LC: a LUT4 and a flip-flop) that nextpnr uses per
#: estimated LUT and flip-flop: a flip-flop shares a cell with the LUT driving it about
#: 40 % of the time in these designs (TFC-w1a1 on the UP5K: 3,196 LUTs and 3,601
#: flip-flops took 5,718 cells: 1,446 LUT+FF, 1,750 LUT-only, 2,155 FF-only, 215 carries).
#: Rechecked after the iCE40 refit: 0.66-0.74 on five placements (see below).
ICE40_CELLS_PER_FF = 0.70
#: The share of an iCE40's logic cells (``luts`` in the registry) a design may use: nextpnr
#: placed TFC-w2a2 at 77 % and TFC-w1a1 at 69 % of the UP5K but could not legalise
#: TFC-w1a1 at 82 % or the digits MLP at 81.9 % ("unable to find legal placement": the
#: eight cells of a block share clock enable and reset); in the twelfth session TFC-w2a2
#: placed at 76 % (4,011 cells, 2,048 cycles/frame) and the digits MLP did not at 80.7 %
#: (160 cycles/frame). After the iCE40 LUT and flip-flop refit (thirteenth session,
#: ``generator/fit/family.py``) the cell estimate is within -2.6..+2.6 % of nextpnr's count
#: on those five placements (TFC-w1a1 392, TFC-w2a2 3,136 and 2,048 with SPRAM, digits 256
#: and 160 cycles/frame; 3,830 / 3,765 cells for the first); a folding the tools refuse
#: anyway is replaced by the next slower one (``generator/fit/refold.py``).
ICE40_CELL_MARGIN = 0.75
#: The clock each family's folding is chosen for (the board build's default core clock).
CLOCK_GOAL_MHZ = {"ice40": 60.0, "ecp5": 150.0, "xc7": 100.0}
#: The UART shell around the core on a board (boards/shell), as ``(fixed, per bit of the
#: core's s_axis_tdata)`` LUTs and flip-flops (the bridge's word registers scale with the
#: input word), without its input frame buffer (:func:`shell_memories`, mapped apart).
#: Least squares over Yosys's counts of everything outside the core in the twelfth
#: session's builds (iCE40 UP5K: TFC-w1a1 16 bits 506 LUT4 / 403 FF, TFC-w2a2 56 bits
#: 552 / 567, the digits demo 64 bits 591 / 663 less its 8-byte buffer in logic; ECP5-85F:
#: TFC-w1a1 470 / 407 and the digits demo 513 / 603, less their buffers). The 7-series
#: figures are not measured: the ECP5's flip-flops, and its LUTs scaled by the LUT6/LUT4
#: ratio of the first shell's counts (420 / 560).
SHELL = {"ice40": {"luts": (486, 1.23), "ffs": (340, 4.0)},
         "ecp5": {"luts": (384, 1.9), "ffs": (334, 4.1)},
         "xc7": {"luts": (288, 1.4), "ffs": (334, 4.1)}}


def shell_logic(family: str, in_tdata_bits: int) -> dict:
    """The shell's LUTs and flip-flops (:data:`SHELL`) around a core whose input words
    are ``in_tdata_bits`` wide."""
    return {k: round(fixed + per_bit * in_tdata_bits) for k, (fixed, per_bit) in SHELL[family].items()}


def shell_memories(frame_bytes: int) -> list[MemoryShape]:
    """The shell's input frame buffer: one byte per word (``boards/shell/input_frame.py``)."""
    return [MemoryShape(8, frame_bytes, "ram", False, "shell input frame")]


@dataclass
class Candidate:
    """One folding tried: its target, graph, estimate (core + shell) and verdict."""

    target: int
    graph: Graph
    core: DesignEstimate
    total: dict
    fits: bool
    over: list[str] = field(default_factory=list)

    @property
    def cycles(self) -> int:
        return graph_cycles(self.graph)

    @property
    def spram(self) -> bool:
        return bool(runtime_layers(self.graph))


@dataclass
class FitResult:
    """The folding chosen for a board, and what was tried."""

    board: str
    family: str
    chosen: Candidate
    budget: dict
    tried: list[Candidate]

    def as_json(self) -> dict:
        c = self.chosen
        budget_text = ", ".join(f"{c.total[k]:g}/{v} {k}" for k, v in self.budget.items() if v)
        return {"board": self.board, "family": self.family, "target_cycles": c.target,
                "budget_text": budget_text,
                "cycles": c.cycles, "spram_weights": c.spram, "estimate": c.core.as_json(),
                "with_shell": c.total, "budget": self.budget,
                "clock_goal_mhz": CLOCK_GOAL_MHZ[self.family],
                "candidates_tried": len(self.tried)}


def candidate_targets(graph: Graph) -> list[int]:
    """Every cycle count a folding of a layer can take, ascending (the targets worth trying)."""
    values = set()
    for node in graph.nodes:
        params = fold_parameters(node)
        if not params:
            continue
        dims = _fold_sizes(node, params)
        for fold in _combinations(dims):
            values.add(node_cycles(node.replace(**fold)))
    from ..sweep import cycle_bounds
    floor = cycle_bounds(graph)[0]             # no target below what every layer can reach
    return sorted(v for v in values if v >= floor) or [floor]


def _fold_sizes(node, params):
    from ..passes.fold import _dims
    return {k: v for k, v in _dims(node).items() if k in params}


def _combinations(dims: dict):
    keys = list(dims)
    def rec(i, acc):
        if i == len(keys):
            yield dict(acc)
            return
        for d in divisors(dims[keys[i]]):
            acc[keys[i]] = d
            yield from rec(i + 1, acc)
    yield from rec(0, {})


def board_budget(board) -> dict:
    """The board's capacity per resource, less the family's margin."""
    fam = family_of(board.family).name
    cap = {**board.resources.as_dict(), "spram": getattr(board.resources, "spram", 0)}
    budget = {k: math.floor(cap[k] * MARGINS[fam][k]) for k in cap}
    if fam == "ice40":
        budget["cells"] = math.floor(cap["luts"] * ICE40_CELL_MARGIN)
    return budget


def spram_variant(graph: Graph) -> Graph | None:
    """``graph`` with the first matrix layer's weights in SPRAM, or ``None`` when that is
    not possible (no matrix layer, one weight word, or layers in front it cannot load
    through)."""
    first = next((n for n in graph.nodes if isinstance(n, MatrixVector)), None)
    if first is None or first.cycles_per_vector() == 1:
        return None
    nodes = tuple(n.replace(weight_memory="spram") if n is first else n for n in graph.nodes)
    variant = graph.replace(nodes=nodes)
    try:
        check_runtime_layers(variant)
    except Exception:            # a FoldingError: not a candidate
        return None
    return variant


def evaluate(graph: Graph, target: int, board, budget: dict, cache: dict) -> list[Candidate]:
    """The candidates of one target: ROM weights, and SPRAM weights where the board has SPRAM."""
    fam = family_of(board.family)
    from ..build import sized
    folded = Fold(target_cycles=target).apply(graph)
    variants = [folded]
    if budget.get("spram"):
        spram = spram_variant(folded)
        if spram is not None:
            variants.append(spram)
    out = []
    for g in map(sized, variants):          # FIFOs sized for the folding
        shell = [map_memory(m, fam) for m in shell_memories(_frame_bytes(g))]
        logic = shell_logic(fam.name, _in_tdata_bits(g))
        core = estimate_design(g, fam, cache=cache)
        total = {"luts": core.luts + logic["luts"] + sum(c.luts for c in shell),
                 "ffs": core.ffs + logic["ffs"] + sum(c.ffs for c in shell),
                 "brams": core.brams + sum(c.brams for c in shell),
                 "dsps": core.dsps, "spram": core.spram}
        if fam.name == "ice40":
            total["cells"] = round(total["luts"] + ICE40_CELLS_PER_FF * total["ffs"])
        over = [k for k in total if total[k] > budget.get(k, 0)]
        out.append(Candidate(target, g, core, total, not over, over))
    return out


def fold_to_board(graph: Graph, board, *, slower_than: int | None = None) -> FitResult:
    """The fastest folding of ``graph`` that fits ``board`` (a
    :class:`~bitsmith.boards.registry.Board`), ROM weights preferred at equal speed;
    with ``slower_than``, the fastest of those taking more cycles per frame than that (the
    next choice when the board's tools refused the first).

    Raises :class:`OptionError` when even the most folded design does not fit.
    """
    if board.resources is None:
        raise OptionError(f"--board {board.name}: has no resources to fold for")
    fam = family_of(board.family).name
    graph = with_family_popcount(graph, fam)
    budget = board_budget(board)
    targets = [t for t in candidate_targets(graph) if slower_than is None or t > slower_than]
    if not targets:
        raise OptionError(f"--board {board.name}: no folding is slower than {slower_than} cycles/frame")
    cache: dict = {}
    tried: list[Candidate] = []
    results: dict[int, list[Candidate]] = {}

    def fits(i: int) -> Candidate | None:
        if i not in results:
            results[i] = evaluate(graph, targets[i], board, budget, cache)
            tried.extend(results[i])
        return next((c for c in results[i] if c.fits and (slower_than is None or c.cycles > slower_than)),
                    None)

    lo, hi = 0, len(targets) - 1
    if fits(hi) is None:
        worst = min(results[hi], key=lambda c: len(c.over))
        raise OptionError(f"--board {board.name}: the network does not fit {board.device} even fully "
                          f"folded ({', '.join(f'{k} {worst.total[k]:g} > {budget[k]}' for k in worst.over)})")
    while lo < hi:                                   # first index that fits, if monotone
        mid = (lo + hi) // 2
        if fits(mid) is not None:
            hi = mid
        else:
            lo = mid + 1
    best = hi
    for i in range(max(0, hi - 8), hi):              # non-monotone block RAM: look just below
        if fits(i) is not None:
            best = i
            break
    chosen = fits(best)
    log.info("fold to %s: %d cycles/frame (target %d, %s weights), %d candidates tried",
             board.name, chosen.cycles, chosen.target, "SPRAM" if chosen.spram else "ROM", len(tried))
    return FitResult(board.name, fam, chosen, budget, tried)


def _in_elems(graph: Graph) -> int:
    """Elements per word of the core's ``s_axis`` (the first layer's SIMD or PE)."""
    first = graph.nodes[0]
    return max(1, getattr(first, "simd", None) or getattr(first, "pe", None) or 1)


def _in_tdata_bits(graph: Graph) -> int:
    """Width of the core's ``s_axis_tdata`` (its input word, padded to bytes)."""
    from bitsmith.sim.packing import tdata_bits
    return tdata_bits(_in_elems(graph) * graph.in_dtype.bitwidth())


def _frame_bytes(graph: Graph) -> int:
    """Bytes of one input frame on the core's ``s_axis`` (what the shell buffers)."""
    elems = _in_elems(graph)
    words = int(math.prod(graph.in_shape)) // elems
    return words * max(1, -(-elems * graph.in_dtype.bitwidth() // 8))
