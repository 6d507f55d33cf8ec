"""The memories of a lowered design, read from its hardware components.

Every memory the hardware instantiates is listed as a :class:`MemoryShape` (width,
depth, ports, synthesis attributes) straight from the components' own parameters (the
same attributes their ``elaborate`` uses), so the list is what Yosys sees, not a guess;
``tests/generator/fit/test_memories.py`` checks it against an elaborated design.
:mod:`.family` maps each shape onto a device family's block RAMs, distributed RAM or
logic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from typing import Callable

from bitsmith.hw.compute.hashed_mvau import HashedMVAU
from bitsmith.hw.compute.mvau import MVAU, weight_bank_depth
from bitsmith.hw.compute.shift_mvau import ShiftMVAU
from bitsmith.hw.compute.threshold_unit import ThresholdTable
from bitsmith.hw.compute.thresholds import Thresholding
from bitsmith.hw.compute.parallel_window import ParallelWindow
from bitsmith.hw.compute.sliding_window import SlidingWindow
from bitsmith.hw.compute.vvau import VVAU
from bitsmith.hw.compute.winograd_input import WinogradInput
from bitsmith.hw.compute.winograd_output import WinogradOutput
from bitsmith.hw.sparse.engine import SparseEngine
from bitsmith.hw.streams import in_block_ram, is_bipolar

#: Memory kinds: ``rom`` (initialised, read only), ``ram`` (written and read through a
#: synchronous port), ``async`` (read combinationally: a queue's storage), ``spram``
#: (an iCE40 SB_SPRAM256KA bank, written at run time: :mod:`bitsmith.hw.plumbing.spram`).
KINDS = ("rom", "ram", "async", "spram")


@dataclass(frozen=True)
class MemoryShape:
    """One memory: ``depth`` words of ``width`` bits.

    ``block`` is Yosys's ``ram_style = "block"`` (the memory must become block RAM);
    without it Yosys chooses by cost (:func:`bitsmith.generator.fit.family.map_memory`).
    ``owner`` names the stage and what the memory holds, for reports and tests.
    """

    width: int
    depth: int
    kind: str
    block: bool
    owner: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")

    @property
    def bits(self) -> int:
        return self.width * self.depth


INVENTORIES: dict[type, Callable] = {}


def inventory(component_cls):
    """Register ``fn(component, name) -> list[MemoryShape]`` for a hardware component."""
    def wrap(fn):
        INVENTORIES[component_cls] = fn
        return fn
    return wrap


def _sync(width: int, depth: int, kind: str, owner: str) -> MemoryShape:
    return MemoryShape(width, depth, kind, in_block_ram(depth), owner)


def output_queue(unit, name: str) -> MemoryShape:
    """A unit's output queue (:func:`bitsmith.hw.streams.add_output_queue`, read
    combinationally)."""
    return MemoryShape(len(unit.o.payload), unit.out_fifo_depth, "async", False, f"{name} output queue")


def live_bits(codes: np.ndarray, bits: int) -> int:
    """Bit columns of a ROM that are not the same in every word: Yosys drops the
    constant ones (``opt_mem``), so only these take block RAM. ``codes`` is a
    ``(words, elements)`` array of element codes of ``bits`` bits each."""
    codes = np.asarray(codes, dtype=np.int64) & ((1 << bits) - 1)
    if codes.shape[0] <= 1:
        return 0
    planes = (codes[:, :, None] >> np.arange(bits)) & 1
    return int(np.count_nonzero(planes.min(axis=0) != planes.max(axis=0)))


def weight_codes(unit: MVAU) -> np.ndarray:
    """The MVAU's ROM as element codes, ``(words, PE*SIMD)`` (as ``_weight_words`` lays it
    out; a unit that stores other codes, such as the shift MVAU's terms, gives its own)."""
    codes = np.asarray(unit.weight_codes(), dtype=np.int64)
    folds = unit.weight_sets * unit.nf             # the Winograd unit: 16 matrices, one after another
    blocks = codes.reshape(folds, unit.pe, unit.sf, unit.simd).transpose(0, 2, 1, 3)
    return blocks.reshape(folds * unit.sf, unit.pe * unit.simd)


def threshold_memories(table: ThresholdTable | None, owner: str) -> list[MemoryShape]:
    """The threshold ROM of a :class:`ThresholdTable` (none when the thresholds are shared
    by all channels or there is one fold: they are constants then)."""
    if table is None or not table.in_rom:
        return []
    codes = np.asarray(table.table, dtype=np.int64).reshape(table.folds, table.pe * table.steps)
    return [_sync(live_bits(codes, table.bits), table.folds, "rom", f"{owner} thresholds")]


@inventory(ShiftMVAU)
@inventory(MVAU)
def mvau_memories(unit: MVAU, name: str) -> list[MemoryShape]:
    """Weight ROM banks (:func:`weight_bank_depth` words each; a single word is a
    constant) and :func:`matrix_unit_buffers`."""
    words = unit.weight_sets * unit.nf * unit.sf
    width = unit.word_bits
    out = []
    if unit.weight_memory == "spram":
        out.append(MemoryShape(width, words, "spram", False, f"{name} weights"))
    elif unit.weight_memory == "ram":
        out.append(_sync(width, words, "ram", f"{name} weights"))
    elif words > 1:
        bank = weight_bank_depth(width)
        codes = weight_codes(unit)
        for base in range(0, words, bank):
            live = live_bits(codes[base:base + bank], unit.code_bits) + unit.pe * unit.extra_bits
            out.append(_sync(live, min(bank, words - base), "rom", f"{name} weights"))
    return out + matrix_unit_buffers(unit, name)


@inventory(HashedMVAU)
def hashed_memories(unit: HashedMVAU, name: str) -> list[MemoryShape]:
    """Each lane's copy of the ``K`` bucket values (read synchronously) and
    :func:`matrix_unit_buffers`; no weight ROM."""
    tables = [_sync(unit.w_bits, unit.bucket_count, "rom", f"{name} buckets {k}")
              for k in range(unit.pe * unit.simd)]
    return tables + matrix_unit_buffers(unit, name)


def matrix_unit_buffers(unit: MVAU, name: str) -> list[MemoryShape]:
    """A matrix unit's input buffer (several neuron and synapse folds), threshold ROM and
    output queue (read combinationally)."""
    out = []
    if unit.nf > 1 and unit.sf > 1:
        out.append(_sync(unit.simd * unit.in_bits, unit.sf, "ram", f"{name} input buffer"))
    out += threshold_memories(unit.thresholds, name)
    out.append(output_queue(unit, name))
    return out


@inventory(Thresholding)
def thresholding_memories(unit: Thresholding, name: str) -> list[MemoryShape]:
    """The threshold ROM and the output queue (read combinationally)."""
    return threshold_memories(unit.table, name) + [output_queue(unit, name)]


@inventory(SlidingWindow)
def sliding_window_memories(unit: SlidingWindow, name: str) -> list[MemoryShape]:
    """The line buffer: ``rows`` rows of ``W*C/SIMD`` words."""
    return [_sync(len(unit.i.payload), unit.rows * unit.row_words, "ram", f"{name} line buffer")]


@inventory(VVAU)
def vvau_memories(unit: VVAU, name: str) -> list[MemoryShape]:
    """The depthwise unit's weight ROM (``folds x K`` words of PE weights; a single word is
    a constant), its threshold ROM and its output queue (read combinationally)."""
    out = []
    words = unit.folds * unit.k
    if words > 1:
        values = unit.weights.reshape(unit.folds, unit.pe, unit.k).transpose(0, 2, 1).reshape(words, unit.pe)
        codes = (values > 0).astype(np.int64) if is_bipolar(unit.weight_dtype) else values
        out.append(_sync(live_bits(codes, unit.w_bits), words, "rom", f"{name} weights"))
    out += threshold_memories(unit.thresholds, name)
    out.append(output_queue(unit, name))
    return out


@inventory(ParallelWindow)
def parallel_window_memories(unit: ParallelWindow, name: str) -> list[MemoryShape]:
    """The line buffer: the ``KH-1`` pixels above each of the ``Wp`` padded columns in one
    word (none for a one-row kernel)."""
    if unit.kh <= 1:
        return []
    return [_sync((unit.kh - 1) * unit.c * unit.elem_bits, unit.wp, "ram", f"{name} line buffer")]


@inventory(SparseEngine)
def sparse_memories(unit: SparseEngine, name: str) -> list[MemoryShape]:
    """The output queue (read combinationally; ``latency + 3`` words, as the engine sizes
    it). The engine's other memories (sparse matrix, pointers, codebook, the
    accumulators read combinationally by two ports) never become block RAM; their logic
    is in the analytical estimate."""
    return [MemoryShape(len(unit.o.payload), unit.latency + 3, "async", False, f"{name} output queue")]


@inventory(WinogradInput)
def winograd_input_memories(unit: WinogradInput, name: str) -> list[MemoryShape]:
    """The four quadrant memories (two patches of ``SF`` words per quadrant) and the output
    queue."""
    return [_sync(len(unit.i.payload), 8 * unit.sf, "ram", f"{name} quadrant {q}") for q in range(4)] + [
        output_queue(unit, name)]


@inventory(WinogradOutput)
def winograd_output_memories(unit: WinogradOutput, name: str) -> list[MemoryShape]:
    """The Y accumulators (one word of the four tile rows' ``4*PE`` sums per channel
    group, read combinationally; a register for one group), the four re-order memories
    (two tile rows each) and the output queue."""
    out = []
    if unit.nf > 1:
        out.append(MemoryShape(4 * unit.pe * unit.y_bits, unit.nf, "async", False, f"{name} Y accumulators"))
    out += [_sync(unit.pe * unit.out_bits, 2 * unit.tw * unit.nf, "ram", f"{name} re-order {q}") for q in range(4)]
    return out + [output_queue(unit, name)]


def fifo_memories(width: int, depth: int, owner: str) -> list[MemoryShape]:
    """The storage of a :class:`StreamFifo` (none up to 4 words: a register slice)."""
    if depth <= 4:
        return []
    stages = 2 if in_block_ram(depth - 4) else 1      # as StreamFifo reads
    size = depth - 2 - stages
    return [MemoryShape(width, size, "ram", stages == 2 and in_block_ram(size), owner)]


def stage_memories(stages, fifos) -> list[MemoryShape]:
    """Every memory of a :class:`~bitsmith.hw.top.Dataflow`: each stage's component
    (registered inventories; a component without one holds no memory the estimate counts
    apart from its logic) and the FIFO of each edge in ``fifos`` (the graph's
    :class:`~bitsmith.generator.ir.core.FifoEdge` list; the edge from the graph input
    has none, as :class:`~bitsmith.hw.top.Dataflow` wires it directly)."""
    out = []
    for stage in stages:
        # the nearest registered class (the Winograd products' unit is an MVAU)
        fn = next((INVENTORIES[c] for c in type(stage.component).__mro__ if c in INVENTORIES), None)
        if fn is not None:
            out += fn(stage.component, stage.name)
    for f in fifos:
        if f.src != "input":
            out += fifo_memories(f.elems * f.elem_bits, f.depth, f"{f.src}.{f.src_port} FIFO")
    return out
