"""Word-level schedule models of the hardware units, and the FIFO depths they imply.

Every node kind registers (:func:`schedule`) the chain of units its lowering makes, with
the same names (``<node>_swu`` then ``<node>`` for a windowed layer): for each unit,
the order in which it consumes and emits the words of one frame, one step per clock
cycle, and the latency from a step to its output word being valid. The models know the
hardware through the components' documented structure and latency formulas (the
``Latency and throughput`` sections in ``hw/``); tests compare them with the components.

**FIFO sizing** (:func:`fifo_depths`). A deterministic dataflow of such units joined by
bounded FIFOs is a timed event graph: each event (a unit's step) happens at the latest
of its causes (inputs valid, the previous step done, room in the output FIFO). Such a
system is monotone: if one schedule satisfies every constraint, the eager hardware
(source always valid, sink always ready) does every event no later. So:

1. the sink takes frame ``f`` at cycle ``f*P``, ``P`` the ideal cycles per frame (the
   slowest unit's);
2. going backwards through the units (reverse topological order), each unit's steps
   are placed as late as possible (ALAP) so that its outputs reach their consumers in
   time (unit latency, width converter and FIFO latency included) and it takes one
   step per cycle; a fork's step meets the earliest of its branches' needs;
3. on every edge, the peak number of words written to the FIFO and not yet read in
   that schedule is the depth it needs (at least 3, for one word per cycle).

With those depths the ALAP schedule is feasible, so the eager hardware delivers frame
``f`` by ``f*P`` plus a constant: throughput 1/P, no deadlock. A fork whose branch has
a long lookahead (a 3x3 window needs whole rows before its first output) therefore
gets exactly the words that branch consumes before the join can take its first pair.
:data:`FRAMES` frames are placed; the last one (no successor to pull it) is not counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from bitsmith.hw.compute.mvau import TREE_LEVELS_PER_STAGE
from bitsmith.hw.streams import BLOCK_RAM_MIN_WORDS

from ..errors import ModelError
from ..ir.branch import Add, Concat, Fork
from ..ir.conv import Conv, GlobalAccPool, MaxPool
from ..ir.dense import LabelSelect, MatrixVector, MultiThreshold, Reshape
from ..ir.sparse import SparseMatrixVector
from ..netlist import INPUT, OUTPUT, wire
from . import SCHEDULES, graph_cycles, schedule

FRAMES = 5
MIN_DEPTH = 3
"""StreamFifo sustains one word per cycle from 3 words on."""

INF = np.inf


def fifo_latency(depth: int) -> int:
    """Cycles from a write into an empty :class:`~hw.plumbing.fifo.StreamFifo` to ``o.valid``."""
    if depth <= 4:
        return 1
    return 2 + (2 if depth - 4 >= BLOCK_RAM_MIN_WORDS else 1)


def converter_latency(in_elems: int, out_elems: int) -> int:
    """:class:`~hw.plumbing.width_converter.WidthConverter` latency (0 when a wire)."""
    block = math.lcm(in_elems, out_elems)
    return (block != in_elems) + (block != out_elems)


def threshold_latency(steps: int, registered_rom: bool) -> int:
    """:attr:`~hw.compute.threshold_unit.ThresholdTable.latency` (ROM register assumed)."""
    return int(registered_rom) + 1 + -(-((steps - 1).bit_length()) // 2)


def _revcummin(x: np.ndarray) -> np.ndarray:
    return np.minimum.accumulate(x[::-1])[::-1]


def _tile(steps: np.ndarray, period: int, frames: int) -> np.ndarray:
    return (np.asarray(steps, dtype=np.int64)[None, :] + period * np.arange(frames)[:, None]).ravel()


@dataclass
class Port:
    name: str
    words: int          # per frame
    elems: int          # per word
    elem_bits: int


@dataclass
class Unit:
    """A unit that takes ``steps`` steps per frame, one per cycle, in order.

    ``consume[k]`` gives, for each word of input port ``k`` in a frame, the step that
    takes it; ``emit[k]`` the step after which word ``j`` of output port ``k`` becomes
    valid ``latency[k] + offsets[k][j]`` cycles later (``offsets``: words a step
    produces together but sends one per cycle, as a top-K's indices; zeros if omitted).
    """

    name: str
    inputs: list[Port]
    outputs: list[Port]
    steps: int
    consume: list[np.ndarray]
    emit: list[np.ndarray]
    latency: list[int]
    offsets: list[np.ndarray] | None = None
    times: np.ndarray | None = field(default=None, repr=False)

    def _delay(self, k: int, frames: int) -> np.ndarray:
        extra = 0 if self.offsets is None else np.tile(self.offsets[k], frames)
        return self.latency[k] + extra

    @property
    def in_ports(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.inputs)

    @property
    def out_ports(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.outputs)

    def place(self, deadlines: list[np.ndarray], frames: int) -> list[np.ndarray]:
        """Place the steps ALAP for output ``deadlines``; return the input deadlines."""
        n = self.steps * frames
        due = np.full(n, INF)
        for k, d in enumerate(deadlines):
            np.minimum.at(due, _tile(self.emit[k], self.steps, frames), d - self._delay(k, frames))
        s = np.arange(n)
        self.times = s + _revcummin(due - s)
        return [self.times[_tile(c, self.steps, frames)] for c in self.consume]

    def emitted(self, k: int, frames: int) -> np.ndarray:
        return self.times[_tile(self.emit[k], self.steps, frames)] + self._delay(k, frames)


@dataclass
class WindowUnit(Unit):
    """The sliding-window unit: a writer (one input word per step) and a reader (one
    window word per step) running concurrently, the reader waiting for complete rows.

    ``steps``/``emit``/``latency`` describe the reader; ``row_need[r]`` is the number
    of image rows (from the frame's first) that must be complete for reader step ``r``;
    ``row_words`` the input words per image row.
    """

    row_need: np.ndarray = None
    row_words: int = 1
    writer_times: np.ndarray | None = field(default=None, repr=False)

    def place(self, deadlines, frames):
        Unit.place(self, deadlines, frames)
        rows = self.inputs[0].words // self.row_words
        n = self.inputs[0].words * frames
        due = np.full(n, INF)
        reader = self.times.reshape(frames, self.steps)
        first = np.searchsorted(self.row_need, np.arange(1, rows + 1), side="left")  # per row
        needed = first < self.steps
        last_word = (np.arange(rows) + 1) * self.row_words - 1
        for f in range(frames):
            # a row completed at cycle t is seen by the reader at t + 1
            due[f * self.inputs[0].words + last_word[needed]] = reader[f, first[needed]] - 1
        s = np.arange(n)
        self.writer_times = s + _revcummin(due - s)
        return [self.writer_times]


# --------------------------------------------------------------------------- models

def _port(name, words, elems, dt) -> Port:
    return Port(name, int(words), int(elems), dt.bitwidth())


def streaming(name, node, in_words, elems, out_dtype, latency) -> Unit:
    """One word in, one word out per step (thresholds, fork, ...)."""
    steps = np.arange(in_words)
    return Unit(name, [_port("i", in_words, elems, node.in_dtype)],
                [_port("o", in_words, elems, out_dtype)], in_words, [steps], [steps], [latency])


def mvau_unit(name, in_dtype, out_dtype, vectors, mw, mh, pe, simd, thresholds) -> Unit:
    """FINN MVAU: per vector, NF neuron folds of SF steps; fold 0 reads the input words."""
    nf, sf = mh // pe, mw // simd
    per = nf * sf
    thr = threshold_latency(thresholds.steps, True) if thresholds is not None else 0
    latency = 3 + -(-((simd - 1).bit_length()) // TREE_LEVELS_PER_STAGE) + 1 + thr + 2
    v = np.arange(vectors)[:, None] * per
    consume = (v + np.arange(sf)[None, :]).ravel()
    emit = (v + np.arange(nf)[None, :] * sf + sf - 1).ravel()
    return Unit(name, [_port("i", vectors * sf, simd, in_dtype)], [_port("o", vectors * nf, pe, out_dtype)],
                vectors * per, [consume], [emit], [latency])


def window_unit(node, simd, depthwise, pad) -> WindowUnit:
    """:class:`~hw.compute.sliding_window.SlidingWindow`: reader order and row needs."""
    h, w, c = node.in_shape
    kh, kw = node.kernel
    sh, sw = node.stride
    pt, pl, pb, pr = pad
    oh = (h + pt + pb - kh) // sh + 1
    ow = (w + pl + pr - kw) // sw + 1
    cg = c // simd
    per_row = ow * kh * kw * cg
    need = np.empty(oh * per_row, dtype=np.int64)
    for y in range(oh):
        t = y * sh - pt
        last = min(t + kh, h)
        row = need[y * per_row:(y + 1) * per_row]
        row[:] = last
        row[-1] = h if y == oh - 1 else max(max(t + sh, 0), last)
    steps = np.arange(oh * per_row)
    return WindowUnit(f"{node.name}_swu", [_port("i", h * w * cg, simd, node.in_dtype)],
                      [_port("o", oh * per_row, simd, node.in_dtype)], oh * per_row,
                      [np.arange(h * w * cg)], [steps], [1], row_need=need, row_words=w * cg)


def group_unit(name, in_dtype, out_dtype, groups, k, pe, latency) -> Unit:
    """Takes ``k`` words per group, emits one word per group (VVAU, max-pool)."""
    steps = np.arange(groups * k)
    return Unit(name, [_port("i", groups * k, pe, in_dtype)], [_port("o", groups, pe, out_dtype)],
                groups * k, [steps], [steps[k - 1::k]], [latency])


@schedule(MatrixVector)
def _mvau(node: MatrixVector) -> list[Unit]:
    h, w, _ = node.in_shape
    return [mvau_unit(node.name, node.in_dtype, node.out_dtype, h * w, node.in_features,
                      node.out_features, node.pe, node.simd, node.thresholds)]


@schedule(MultiThreshold)
def _thresholds(node: MultiThreshold) -> list[Unit]:
    h, w, c = node.in_shape
    latency = 1 + threshold_latency(node.thresholds.steps, True) + 2
    return [streaming(node.name, node, h * w * c // node.pe, node.pe, node.out_dtype, latency)]


@schedule(Reshape)
def _reshape(node: Reshape) -> list[Unit]:
    return []


@schedule(LabelSelect)
def _label_select(node: LabelSelect) -> list[Unit]:
    """Reads the C/PE words (the running maximum, K = PE = 1: one every 2 cycles), then
    sends the K indices on consecutive cycles."""
    c = node.in_shape[2]
    words = c // node.pe
    running = node.k == 1 and node.pe == 1
    steps = 2 * c if running else max(words, node.k + 1)
    consume = np.arange(words) * (2 if running else 1)
    return [Unit(node.name, [_port("i", words, node.pe, node.in_dtype)],
                 [_port("o", node.k, 1, node.out_dtype)], steps, [consume],
                 [np.full(node.k, steps - 1)], [3 if running else 2], [np.arange(node.k)])]


@schedule(Conv)
def _conv(node: Conv) -> list[Unit]:
    oh, ow = node.out_hw
    kh, kw = node.kernel
    if node.depthwise:
        c = node.in_channels
        thr = threshold_latency(node.thresholds.steps, False) if node.thresholds is not None else 0
        return [window_unit(node, node.pe, True, node.padding),
                group_unit(node.name, node.in_dtype, node.out_dtype, oh * ow * c // node.pe, kh * kw,
                           node.pe, 3 + thr + 2)]
    pointwise = (tuple(node.kernel) == (1, 1) and tuple(node.stride) == (1, 1)
                 and not any(node.padding))
    mvau = mvau_unit(node.name, node.in_dtype, node.out_dtype, oh * ow, kh * kw * node.in_channels,
                     node.out_channels, node.pe, node.simd, node.thresholds)
    return [mvau] if pointwise else [window_unit(node, node.simd, False, node.padding), mvau]


@schedule(MaxPool)
def _maxpool(node: MaxPool) -> list[Unit]:
    if tuple(node.kernel) == (1, 1) and tuple(node.stride) == (1, 1):
        return []
    oh, ow = node.out_hw
    kh, kw = node.kernel
    c = node.in_shape[2]
    return [window_unit(node, node.pe, True, (0, 0, 0, 0)),
            group_unit(node.name, node.in_dtype, node.out_dtype, oh * ow * c // node.pe, kh * kw,
                       node.pe, 1)]


@schedule(GlobalAccPool)
def _global_pool(node: GlobalAccPool) -> list[Unit]:
    h, w, c = node.in_shape
    cg = c // node.pe
    steps = np.arange(h * w * cg)
    return [Unit(node.name, [_port("i", h * w * cg, node.pe, node.in_dtype)],
                 [_port("o", cg, node.pe, node.out_dtype)], h * w * cg, [steps],
                 [steps[-cg:]], [1])]


@schedule(SparseMatrixVector)
def _sparse(node: SparseMatrixVector) -> list[Unit]:
    """Per vector: its words first, then the output words one per cycle after the
    worst-case (dense activations) vector time and the drain (``SparseEngine``)."""
    from .sparse import drain_latency
    h, w, _ = node.in_shape
    busiest = int(node.column_lengths().sum(axis=1).max())
    in_words, out_words = node.in_features // node.simd, node.out_features // node.n_pe
    per = max(busiest, node.in_features, node.rows_per_pe, in_words, out_words)
    v = np.arange(h * w)[:, None] * per
    consume = (v + np.arange(in_words)[None, :]).ravel()
    emit = np.repeat(v[:, 0] + per - 1, out_words)
    return [Unit(node.name, [_port("i", h * w * in_words, node.simd, node.in_dtype)],
                 [_port("o", h * w * out_words, node.n_pe, node.out_dtype)], h * w * per,
                 [consume], [emit], [5 + drain_latency(node)], [np.tile(np.arange(out_words), h * w)])]


@schedule(Fork)
def _fork(node: Fork) -> list[Unit]:
    from bitsmith.hw.plumbing.duplicate import output_names
    h, w, c = node.in_shape
    words = h * w * c // node.pe
    steps = np.arange(words)
    return [Unit(node.name, [_port("i", words, node.pe, node.in_dtype)],
                 [_port(n, words, node.pe, node.in_dtype) for n in output_names(node.outputs)],
                 words, [steps], [steps] * node.outputs, [1] * node.outputs)]


@schedule(Add)
def _add(node: Add) -> list[Unit]:
    h, w, c = node.in_shape
    words = h * w * c // node.pe
    steps = np.arange(words)
    return [Unit(node.name, [_port("a", words, node.pe, node.in_dtype),
                             _port("b", words, node.pe, node.in_dtype_b)],
                 [_port("o", words, node.pe, node.out_dtype)], words, [steps, steps], [steps], [1])]


@schedule(Concat)
def _concat(node: Concat) -> list[Unit]:
    h, w, _ = node.in_shape
    words = [c // node.pe for c in node.channels]
    per = sum(words)
    pix = np.arange(h * w)[:, None] * per
    consume, offset = [], 0
    for k in words:
        consume.append((pix + offset + np.arange(k)[None, :]).ravel())
        offset += k
    steps = np.arange(h * w * per)
    return [Unit(node.name, [_port(f"i{k}", h * w * n, node.pe, node.in_dtype) for k, n in enumerate(words)],
                 [_port("o", h * w * per, node.pe, node.out_dtype)], h * w * per, consume, [steps], [1])]


# --------------------------------------------------------------------------- sizing

def units_of(node) -> list[Unit]:
    fn = SCHEDULES.lookup(node)
    if fn is None:
        raise ModelError(f"layer {node.name!r}: {type(node).__name__} has no schedule model for FIFO "
                         f"sizing (supported: {SCHEDULES.supported()})")
    return fn(node)


@dataclass
class EdgeSchedule:
    """One stream edge and what the schedule asks of its FIFO."""

    src: str
    src_port: str
    dst: str
    dst_port: str
    elems: int
    elem_bits: int
    depth: int
    peak: int
    latency: int = 1


def fifo_depths(graph, frames: int = FRAMES) -> list[EdgeSchedule]:
    """Per edge of the lowered netlist, the FIFO depth the ALAP schedule needs (see above)."""
    units, wires = wire(graph, units_of)
    by_name = {u.name: u for u in units}
    period = max([graph_cycles(graph)] + [u.steps for u in units])
    edges = []
    for w in wires:
        if w.src == INPUT:
            continue
        src = by_name[w.src].outputs[by_name[w.src].out_ports.index(w.src_port)]
        dst_elems = src.elems if w.dst == OUTPUT else \
            by_name[w.dst].inputs[by_name[w.dst].in_ports.index(w.dst_port)].elems
        edges.append(EdgeSchedule(w.src, w.src_port, w.dst, w.dst_port, dst_elems, src.elem_bits,
                                  MIN_DEPTH, 0))
    for _ in range(4):
        _place(units, by_name, edges, period, frames)
        changed = False
        for e in edges:
            lat = fifo_latency(e.depth)
            if lat != e.latency:
                e.latency, changed = lat, True
        if not changed:
            break
    return edges


def _place(units, by_name, edges, period, frames) -> None:
    """One backward (ALAP) pass with the edges' current FIFO latencies; sets depths."""
    needed: dict[tuple[str, str], np.ndarray] = {}      # consumer-side deadlines per (dst, port)
    out_edge = next(e for e in edges if e.dst == OUTPUT)
    words = by_name[out_edge.src].outputs[by_name[out_edge.src].out_ports.index(out_edge.src_port)].words
    needed[(OUTPUT, "i")] = np.repeat(np.arange(frames) * period, words).astype(float)
    into = {(e.src, e.src_port): e for e in edges}
    for unit in reversed(units):
        deadlines = []
        for port in unit.outputs:
            e = into[(unit.name, port.name)]
            c = needed[(e.dst, e.dst_port)]
            first = (np.arange(port.words * frames) * port.elems) // e.elems
            lat = e.latency + converter_latency(port.elems, e.elems)
            deadlines.append(c[first] - lat)
        for port, d in zip(unit.inputs, unit.place(deadlines, frames)):
            needed[(unit.name, port.name)] = d
    for e in edges:
        unit = by_name[e.src]
        k = unit.out_ports.index(e.src_port)
        port = unit.outputs[k]
        emitted = unit.emitted(k, frames)
        n_words = port.words * frames * port.elems // e.elems
        n = np.arange(n_words)
        last = ((n + 1) * e.elems - 1) // port.elems
        written = emitted[last] + converter_latency(port.elems, e.elems)
        read = needed[(e.dst, e.dst_port)]
        counted = n < n_words - n_words // frames      # not the last frame
        ok = counted & np.isfinite(written)
        reads_before = np.searchsorted(read, written[ok] - 1, side="right")
        peak = int((n[ok] + 1 - reads_before).max()) if ok.any() else 1
        e.peak = max(e.peak, peak)
        e.depth = max(MIN_DEPTH, e.peak)
