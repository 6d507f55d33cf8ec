"""Word-level schedule models of the hardware units, and the FIFO depths they imply.

Every node kind registers (``@schedule_model(Kind)``, next to its other estimates in
``generator/estimate/<kind>.py``, built from :func:`streaming`, :func:`mvau_unit`,
:func:`window_unit`, :func:`group_unit` or :class:`Unit`) the chain of units its lowering makes, with
the same names (``<node>_swu`` then ``<node>`` for a windowed layer): for each unit,
the order in which it consumes and emits the words of one frame, one step per clock
cycle, and the latency from a step to its output word being valid. The models know the
hardware through the components' documented structure and latency formulas (the
``Latency and throughput`` sections in ``hw/``); tests compare them with the components.

**FIFO sizing** (:func:`fifo_depths`). A deterministic dataflow of such units joined by
bounded FIFOs is a timed event graph: each event (a unit's step) happens at the latest
of its causes (its input words valid, the previous step done, room in the FIFO it
writes). Such a system is monotone: if a schedule satisfies every constraint, the eager
hardware (source always valid, sink always ready) does every event no later. So:

1. ASAP, input always valid, FIFOs unbounded: the slowest unit never waits, so the
   output leaves at the pace of the folding (``P`` cycles per frame);
2. ALAP for the output to leave at that pace: going backwards through the units, each
   step as late as its consumers allow (unit, width-converter and FIFO latencies
   included), one step per cycle; a fork's step meets the earliest of its branches'
   needs. This schedule is feasible, so its peak occupancies are sufficient depths, but
   they overstate what a consumer that absorbs early (a line buffer) needs;
3. the eager hardware itself with those depths, the input arriving at the ALAP pace:
   every step as soon as its words are valid and the FIFO it writes had room the cycle
   before, iterated to the fixed point (backpressure moves one unit upstream per
   sweep). Each edge gets the peak it reached (at least 3, for one word per cycle):
   the eager schedule stays feasible with those depths, so the hardware, never later
   than it, runs at ``P`` cycles per frame and never deadlocks.

A fork whose branch has a long lookahead (a 3x3 window needs a whole row more before its
first output) thus gives the other branch's FIFO exactly the words that branch holds
until the join takes its first pair. :data:`FRAMES` frames are placed; the last (no
successor pulls it) is not counted.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from bitsmith.hw.compute.mvau import buffer_read_stage, write_latency
from bitsmith.hw.compute.sliding_window import buffer_rows
from bitsmith.hw.streams import in_block_ram

from ..errors import ModelError
from ..netlist import INPUT, OUTPUT, wire
from . import SCHEDULES

log = logging.getLogger(__name__)

FRAMES = 5
MIN_DEPTH = 3
"""StreamFifo sustains one word per cycle from 3 words on."""

INF = np.inf


def fifo_latency(depth: int) -> int:
    """Cycles from a write into an empty :class:`~hw.plumbing.fifo.StreamFifo` to ``o.valid``."""
    if depth <= 4:
        return 1
    return 2 + (2 if in_block_ram(depth - 4) else 1)


def fifo_room_latency(depth: int) -> int:
    """Cycles from a read out of a full :class:`~hw.plumbing.fifo.StreamFifo` to the write
    it makes room for: 1 in a register slice (up to 4 words), 2 in front of a memory (the
    slice's room flag, then the memory's, are registers)."""
    return 1 if depth <= 4 else 2


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
        self._alap(deadlines, frames)
        return [self.times[_tile(c, self.steps, frames)] for c in self.consume]

    def _alap(self, deadlines, frames) -> None:
        n = self.steps * frames
        due = np.full(n, INF)
        for k, d in enumerate(deadlines):
            np.minimum.at(due, _tile(self.emit[k], self.steps, frames), d - self._delay(k, frames))
        s = np.arange(n)
        self.times = s + _revcummin(due - s)

    def run(self, ready: list[np.ndarray], frames: int, not_before: np.ndarray | None = None) -> None:
        """Place the steps as soon as possible: a step waits for the words it takes
        (``ready[k][w]``: the first cycle word ``w`` of port ``k`` can be taken), for
        the previous step and until ``not_before`` (room downstream)."""
        n = self.steps * frames
        # no step before cycle 0: a unit whose first steps take no input (a parallel
        # window's top padding) starts them at reset, not arbitrarily early
        due = np.zeros(n) if not_before is None else np.maximum(not_before, 0.0)
        for k, r in enumerate(ready):
            np.maximum.at(due, _tile(self.consume[k], self.steps, frames), r)
        s = np.arange(n)
        self.times = s + np.maximum.accumulate(due - s)

    def taken(self, k: int, frames: int) -> np.ndarray:
        """Cycle each word of input port ``k`` is taken (after :meth:`run`)."""
        return self.times[_tile(self.consume[k], self.steps, frames)]

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
    row_release: np.ndarray = None
    row_words: int = 1
    buffer_rows: int = 1
    writer_times: np.ndarray | None = field(default=None, repr=False)

    def run(self, ready, frames, not_before=None):
        """Writer and reader as soon as possible: the writer starts an image row when a
        line-buffer slot is free (the reader released the row ``buffer_rows`` before),
        the reader takes a step when its rows are complete (seen the next cycle)."""
        words = self.inputs[0].words
        rows = words // self.row_words
        per_row = self.steps // len(self.row_release)
        ready = ready[0]
        writer = np.empty(words * frames)
        reader = np.empty(self.steps * frames)
        complete = np.full(rows * frames, INF)      # cycle the row's last word is written
        released = np.full(rows * frames, INF)      # cycle the reader releases the row
        w_next, w_last, r_last = 0, -INF, -INF
        freed = 0                                    # rows released so far (global)

        def write_row(g):
            nonlocal w_last
            start = -INF if g < self.buffer_rows else released[g - self.buffer_rows] + 1
            a = ready[g * self.row_words:(g + 1) * self.row_words].copy()
            a[0] = max(a[0], start, w_last + 1)
            k = np.arange(self.row_words)
            t = k + np.maximum.accumulate(a - k)
            writer[g * self.row_words:(g + 1) * self.row_words] = t
            w_last = t[-1]
            complete[g] = t[-1]

        for f in range(frames):
            for y in range(len(self.row_release)):
                r0 = f * self.steps + y * per_row
                need = self.row_need[y * per_row:(y + 1) * per_row] + f * rows   # global rows
                while w_next < int(need.max()):
                    assert w_next < self.buffer_rows or released[w_next - self.buffer_rows] < INF, \
                        f"{self.name}: the writer waits for a row the reader releases later"
                    write_row(w_next)
                    w_next += 1
                a = complete[need - 1] + 1
                if not_before is not None:
                    a = np.maximum(a, not_before[r0:r0 + per_row])
                k = np.arange(per_row)
                a[0] = max(a[0], r_last + 1)
                t = k + np.maximum.accumulate(a - k)
                reader[r0:r0 + per_row] = t
                r_last = t[-1]
                upto = f * rows + int(self.row_release[y])
                released[freed:upto] = t[-1]
                freed = max(freed, upto)
        while w_next < rows * frames:
            write_row(w_next)
            w_next += 1
        self.times, self.writer_times = reader, writer

    def taken(self, k, frames):
        return self.writer_times

    def place(self, deadlines, frames):
        self._alap(deadlines, frames)
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


# --------------------------------------------------------------------------- unit builders

def port(name, words, elems, dt) -> Port:
    return Port(name, int(words), int(elems), dt.bitwidth())


def streaming(name, node, in_words, elems, out_dtype, latency) -> Unit:
    """One word in, one word out per step (thresholds, fork, ...)."""
    steps = np.arange(in_words)
    return Unit(name, [port("i", in_words, elems, node.in_dtype)],
                [port("o", in_words, elems, out_dtype)], in_words, [steps], [steps], [latency])


def mvau_unit(name, in_dtype, out_dtype, vectors, mw, mh, pe, simd, thresholds, *,
              multiplier: bool = False, choice_first: bool = False, weight_stage: bool = False,
              xnor: bool = False) -> Unit:
    """FINN MVAU: per vector, NF neuron folds of SF steps; fold 0 reads the input words.
    ``multiplier``: the lanes multiply (:attr:`~hw.compute.mvau.MVAU.multiplier_lanes`),
    which adds :func:`~hw.compute.mvau.multiplier_stages`; ``choice_first``: the input/buffer
    choice comes before the operand register (:func:`~hw.compute.mvau.choice_before_operand`),
    which adds :func:`~hw.compute.mvau.buffer_read_stage`; ``weight_stage``: the weight
    word is registered once more (:func:`~hw.compute.mvau.weight_read_stage`); ``xnor``:
    XNOR lanes (:func:`~hw.compute.mvau.tree_latency`) (all in
    :func:`~hw.compute.mvau.write_latency`)."""
    nf, sf = mh // pe, mw // simd
    per = nf * sf
    thr = threshold_latency(thresholds.steps, True) if thresholds is not None else 0
    latency = write_latency(simd=simd, multiplier=multiplier, buffered=nf > 1 and sf > 1,
                            threshold_latency=thr,
                            buffer_stage=buffer_read_stage(nf=nf, sf=sf, choice_first=choice_first),
                            weight_stage=weight_stage, xnor=xnor) + 2
    v = np.arange(vectors)[:, None] * per
    consume = (v + np.arange(sf)[None, :]).ravel()
    emit = (v + np.arange(nf)[None, :] * sf + sf - 1).ravel()
    return Unit(name, [port("i", vectors * sf, simd, in_dtype)], [port("o", vectors * nf, pe, out_dtype)],
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
    release = np.array([h if y == oh - 1 else max(y * sh + sh - pt, 0) for y in range(oh)])
    steps = np.arange(oh * per_row)
    return WindowUnit(f"{node.name}_swu", [port("i", h * w * cg, simd, node.in_dtype)],
                      [port("o", oh * per_row, simd, node.in_dtype)], oh * per_row,
                      [np.arange(h * w * cg)], [steps], [2], row_need=need, row_release=release,
                      row_words=w * cg, buffer_rows=buffer_rows(h, kh, sh, pt, pb))


def parallel_window_unit(node, simd) -> Unit:
    """:class:`~hw.compute.parallel_window.ParallelWindow`: one step per padded pixel (it
    shifts into the register window, taking an input word when it lies inside the image),
    and after a pixel that completes a window ``T - 1`` more steps for its words.

    Window word ``j < T - 1`` leaves at the ``j + 1``-th step after the pixel; the last
    word leaves with the next pixel's shift (``T = 1``: the step after the pixel's own),
    modelled as one cycle after the step before (an offset of 1), which is exact at full
    pace and never earlier than the hardware when the output stalls.
    """
    h, w, c = node.in_shape
    kh, kw = node.kernel
    sh, sw = node.stride
    pt, pl, pb, pr = node.padding
    hp, wp = h + pt + pb, w + pl + pr
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    words = kh * kw * c // simd
    ys, xs = np.arange(hp)[:, None], np.arange(wp)[None, :]
    completes = (((ys - (kh - 1)) % sh == 0) & (ys >= kh - 1) & ((ys - (kh - 1)) // sh < oh)
                 & ((xs - (kw - 1)) % sw == 0) & (xs >= kw - 1) & ((xs - (kw - 1)) // sw < ow)).ravel()
    inside = ((ys >= pt) & (ys < pt + h) & (xs >= pl) & (xs < pl + w)).ravel()
    per_pixel = 1 + (words - 1) * completes
    start = np.concatenate([[0], np.cumsum(per_pixel)[:-1]])      # each pixel's shift step
    j = np.arange(words)
    emit = (start[completes][:, None] + np.minimum(j + 1, words - 1)[None, :]).ravel()
    offsets = np.tile((j == words - 1).astype(np.int64), oh * ow)
    return Unit(f"{node.name}_swu", [port("i", h * w, c, node.in_dtype)],
                [port("o", oh * ow * words, simd, node.in_dtype)], int(per_pixel.sum()),
                [start[inside]], [emit], [1], offsets=[offsets])


def row_replay_unit(name, dtype, pe, rows, row_words, replays, slots) -> WindowUnit:
    """A unit that writes rows of ``row_words`` words (``pe`` elements each) into ``slots`` buffer slots and emits
    each complete row's words ``replays`` times over, one word per step, then frees its
    slot (:class:`~hw.compute.upsample.Upsample`: ``replays = FH*FW`` per row of pixels).
    Built on :class:`WindowUnit`: reader steps need their row complete (seen the cycle
    after its last word), and a row is written once the row ``slots`` before is freed."""
    per_row = replays * row_words
    steps = rows * per_row
    return WindowUnit(name, [port("i", rows * row_words, pe, dtype)], [port("o", steps, pe, dtype)], steps,
                      [np.arange(rows * row_words)], [np.arange(steps)], [1],
                      row_need=np.repeat(np.arange(1, rows + 1), per_row), row_release=np.arange(1, rows + 1),
                      row_words=row_words, buffer_rows=slots)


def group_unit(name, in_dtype, out_dtype, groups, k, pe, latency) -> Unit:
    """Takes ``k`` words per group, emits one word per group (VVAU, max-pool)."""
    steps = np.arange(groups * k)
    return Unit(name, [port("i", groups * k, pe, in_dtype)], [port("o", groups, pe, out_dtype)],
                groups * k, [steps], [steps[k - 1::k]], [latency])


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
    room: int = 1


def fifo_depths(graph, frames: int = FRAMES) -> list[EdgeSchedule]:
    """Per edge of the lowered netlist, the FIFO depth the schedules need (see above)."""
    units, wires = wire(graph, units_of)
    if not units:               # no hardware (reshapes only): nothing to size
        return []
    by_name = {u.name: u for u in units}
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
        source = _place(units, by_name, edges, frames)
        changed = False
        for e in edges:
            lat, room = fifo_latency(e.depth), fifo_room_latency(e.depth)
            if (lat, room) != (e.latency, e.room):
                e.latency, e.room, changed = lat, room, True
        if not changed:
            break
    _eager(units, by_name, edges, frames, source)
    return edges


def _place(units, by_name, edges, frames) -> dict:
    """Forward (ASAP) pass for the output's natural pace, backward (ALAP) pass from
    it, then each edge's peak occupancy in the backward schedule."""
    into = {(e.src, e.src_port): e for e in edges}
    feeding = {(e.dst, e.dst_port): e for e in edges}
    # 1. as soon as possible, the input always valid, FIFOs unbounded: the bottleneck
    #    runs without a gap, so the output leaves at the pace of the folding
    arrive: dict[tuple[str, str], np.ndarray] = {}      # cycle each word is written to the FIFO
    for unit in units:
        ready = []
        for port in unit.inputs:
            e = feeding.get((unit.name, port.name))
            ready.append(np.zeros(port.words * frames) if e is None
                         else arrive[(e.dst, e.dst_port)] + e.latency)
        unit.run(ready, frames)
        for k, port in enumerate(unit.outputs):
            e = into[(unit.name, port.name)]
            n = np.arange(port.words * frames * port.elems // e.elems)
            last = ((n + 1) * e.elems - 1) // port.elems
            arrive[(e.dst, e.dst_port)] = unit.emitted(k, frames)[last] + converter_latency(port.elems, e.elems)
    out_edge = feeding[(OUTPUT, "i")]
    # 2. as late as possible for the output to leave at that pace: every unit just in
    #    time for its consumers
    needed: dict[tuple[str, str], np.ndarray] = {(OUTPUT, "i"): arrive[(OUTPUT, "i")] + out_edge.latency}
    for unit in reversed(units):
        deadlines = []
        for port in unit.outputs:
            e = into[(unit.name, port.name)]
            c = needed[(e.dst, e.dst_port)]
            first = (np.arange(port.words * frames) * port.elems) // e.elems
            deadlines.append(c[first] - e.latency - converter_latency(port.elems, e.elems))
        for port, d in zip(unit.inputs, unit.place(deadlines, frames)):
            needed[(unit.name, port.name)] = d
    # 3. occupancy: words written and not yet read, counted at each write
    for e in edges:
        unit = by_name[e.src]
        k = unit.out_ports.index(e.src_port)
        port = unit.outputs[k]
        n = np.arange(port.words * frames * port.elems // e.elems)
        last = ((n + 1) * e.elems - 1) // port.elems
        written = unit.emitted(k, frames)[last] + converter_latency(port.elems, e.elems)
        read = needed[(e.dst, e.dst_port)]
        counted = n < len(n) - len(n) // frames          # not the last frame
        reads_before = np.searchsorted(read, written[counted] - e.room, side="right")
        e.peak = max(e.peak, int((n[counted] + 1 - reads_before).max()))
        e.depth = max(MIN_DEPTH, e.peak)
    return {key: t for key, t in needed.items() if key[0] != OUTPUT and key not in feeding}


def _arrivals(unit, k, e, frames) -> np.ndarray:
    """Cycle each consumer-width word of ``unit``'s output ``k`` enters the FIFO of ``e``."""
    port = unit.outputs[k]
    n = np.arange(port.words * frames * port.elems // e.elems)
    last = ((n + 1) * e.elems - 1) // port.elems
    return unit.emitted(k, frames)[last] + converter_latency(port.elems, e.elems)


def _eager(units, by_name, edges, frames, source: dict) -> None:
    """The hardware's own behaviour with the ALAP depths: every unit as soon as it can,
    but a word enters a FIFO only when the FIFO had room the cycle before, the input
    arriving at the ALAP pace (``source``). Iterated to the fixed point (backpressure
    travels one unit upstream per sweep). Each FIFO then gets the peak it reached:
    the eager schedule stays feasible with those depths, so the hardware is never
    later than it (the ALAP depths were upper bounds, and stay if it does not settle)."""
    into = {(e.src, e.src_port): e for e in edges}
    feeding = {(e.dst, e.dst_port): e for e in edges}
    taken: dict[tuple[str, str], np.ndarray] = {}
    previous = None
    for _ in range(10 * len(units) + 10):
        arrive = {}
        for unit in units:
            ready = []
            for port in unit.inputs:
                e = feeding.get((unit.name, port.name))
                ready.append(source[(unit.name, port.name)] if e is None
                             else arrive[(e.dst, e.dst_port)] + e.latency)
            not_before = None
            for k, port in enumerate(unit.outputs):
                e = into[(unit.name, port.name)]
                read = taken.get((e.dst, e.dst_port))
                if read is None:
                    continue
                # producer word p needs room for the FIFO word holding its first element
                p = np.arange(port.words * frames)
                n = (p * port.elems) // e.elems - e.depth
                room = np.where(n >= 0, read[np.maximum(n, 0)] + e.room, -INF)
                room = room - unit._delay(k, frames) - converter_latency(port.elems, e.elems)
                bound = np.full(unit.steps * frames, -INF)
                np.maximum.at(bound, _tile(unit.emit[k], unit.steps, frames), room)
                not_before = bound if not_before is None else np.maximum(not_before, bound)
            unit.run(ready, frames, not_before)
            for k, port in enumerate(unit.outputs):
                e = into[(unit.name, port.name)]
                arrive[(e.dst, e.dst_port)] = _arrivals(unit, k, e, frames)
        for unit in units:
            for k, port in enumerate(unit.inputs):
                taken[(unit.name, port.name)] = unit.taken(k, frames)
        out = feeding[(OUTPUT, "i")]
        taken[(OUTPUT, "i")] = arrive[(OUTPUT, "i")] + out.latency
        state = np.concatenate([u.times for u in units])
        if previous is not None and np.array_equal(state, previous):
            break
        previous = state
    else:
        log.warning("FIFO sizing: the eager schedule did not settle; keeping the ALAP depths")
        return
    for e in edges:
        written = arrive[(e.dst, e.dst_port)]
        read = taken[(e.dst, e.dst_port)]
        n = np.arange(len(written))
        counted = n < len(n) - len(n) // frames
        reads_before = np.searchsorted(read, written[counted] - e.room, side="right")
        e.peak = int((n[counted] + 1 - reads_before).max())
        e.depth = max(MIN_DEPTH, e.peak)
