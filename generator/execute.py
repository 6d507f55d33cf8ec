"""Running a built design: golden model, Verilator, Amaranth simulator."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qonnx.core.datatype import DataType

from .errors import CheckFailed, OptionError, ToolError
from .ir import Graph


@dataclass
class RTLRun:
    outputs: np.ndarray              # (N, H, W, C) integers
    cycles_per_frame: float | None   # median over the steady part (None for fewer than 3 frames)
    total_cycles: int
    protocol_errors: int
    mean_cycles_per_frame: float | None = None   # mean over the steady part
    longest_frame_gap: int | None = None         # longest gap between frames in the steady part

    @classmethod
    def timed(cls, outputs: np.ndarray, done_cycles, total_cycles: int, protocol_errors: int) -> "RTLRun":
        """With the steady-state statistics of ``done_cycles`` (see ``bitsmith.sim.rtl.frame_timing``)."""
        from bitsmith.sim.rtl.stream import frame_timing
        if len(done_cycles) < 3:
            return cls(outputs, None, total_cycles, protocol_errors)
        timing = frame_timing(done_cycles)
        return cls(outputs, timing.median, total_cycles, protocol_errors, timing.mean, timing.longest_gap)


def frames_to_words(x: np.ndarray, io: dict) -> list[list[int]]:
    from bitsmith.sim.packing import pack
    dt, n = DataType[io["in"]["dtype"]], io["in"]["elems_per_word"]
    return [pack(frame.reshape(-1), dt, n) for frame in x]


def frames_to_bytes(x: np.ndarray, io: dict) -> np.ndarray:
    """Integer frames -> the harness's input word bytes ``(frames, words, tdata_bits/8)``."""
    from bitsmith.sim.packing import pack_bytes
    dt, n = DataType[io["in"]["dtype"]], io["in"]["elems_per_word"]
    nbytes = io["in"]["tdata_bits"] // 8
    return pack_bytes(x, dt, n, nbytes).reshape(len(x), io["in"]["words_per_frame"], nbytes)


def words_to_frames(frames: list[list[int]], io: dict) -> np.ndarray:
    from bitsmith.sim.packing import unpack
    dt, n = DataType[io["out"]["dtype"]], io["out"]["elems_per_word"]
    shape = tuple(io["out"]["shape"])
    if not frames:
        return np.zeros((0,) + shape, dtype=np.int64)
    if all(len(words) == len(frames[0]) for words in frames):      # one unpack for all
        return unpack([w for words in frames for w in words], dt, n).reshape((len(frames),) + shape)
    return np.stack([unpack(words, dt, n).reshape(shape) for words in frames])


@dataclass(frozen=True)
class Waves:
    """What ``bitsmith sim --waves`` writes.

    Members
    -------
    path : Path
        The VCD file.
    all_signals : bool
        Every signal (``--waves-all``); by default only named ones, without the ``$<n>``
        temporaries Yosys and Amaranth make up (two thirds of a design's signals).
    frames : (int, int or None) or None
        ``--waves-frames A:B``: only frames A..B-1 (B None: to the end).
    """

    path: Path
    all_signals: bool = False
    frames: tuple[int, int | None] | None = None


def parse_frame_window(text: str) -> tuple[int, int | None]:
    """``"A:B"`` (or ``"A:"``) -> ``(A, B)`` for ``--waves-frames``; OptionError otherwise."""
    first, sep, stop = text.partition(":")
    if not sep or not first.strip().isdigit() or not (stop.strip().isdigit() or not stop.strip()):
        raise OptionError(f"--waves-frames must be A:B (frames A..B-1) or A: (from A on), "
                          f"not {text!r}")
    a, b = int(first), (int(stop) if stop.strip() else None)
    if b is not None and b <= a:
        raise OptionError(f"--waves-frames {text}: B must be above A")
    return a, b


def check_waves(waves: Waves | None, frames: int) -> None:
    """A frame window inside the ``frames`` of the run, or OptionError."""
    if waves is None or waves.frames is None:
        return
    a, b = waves.frames
    if a >= frames or (b is not None and b > frames):
        raise OptionError(f"--waves-frames {a}:{'' if b is None else b}: the input has "
                          f"{frames} frames")


def with_preload(out_dir: Path, io: dict, x: np.ndarray) -> tuple[np.ndarray, int]:
    """``x`` after the frames that load run-time weights (``io.preload_frames``, from
    ``preload.npy``: :mod:`bitsmith.generator.fit.preload`), and how many those are."""
    k = int(io.get("preload_frames", 0) or 0)
    if not k:
        return x, 0
    from .fit.preload import PRELOAD_FILE
    from .safeio import load_npy
    pre = load_npy(Path(out_dir) / PRELOAD_FILE, "preload")
    if pre.shape != (k, *x.shape[1:]):
        raise CheckFailed(f"{Path(out_dir) / PRELOAD_FILE}: shape {pre.shape}, expected "
                          f"{(k, *x.shape[1:])}")
    return np.concatenate([pre.astype(np.int64), np.asarray(x, dtype=np.int64)]), k


PROFILE_WORTH_CYCLES = 40_000_000
"""Runs at least this long get a profile-guided harness (:func:`run_verilator`): its
build takes 10-20 s longer and it simulates about 0.3 s per million cycles faster."""


def run_verilator(out_dir: Path, io: dict, x: np.ndarray, *, idle: str = "none",
                  backpressure: str = "none", seed: int = 0, waves: Waves | None = None,
                  profile: bool | None = None) -> RTLRun:
    """Build (cached) and run the bulk Verilator harness on integer frames ``x`` (after
    the weight-loading frames, if the design has any: their outputs are dropped).

    ``profile``: build the harness profile-guided (:func:`bitsmith.sim.rtl.build`);
    ``None`` does so when the run is long (``len(x)`` times the design's ideal cycles per
    frame from ``design.json`` at least :data:`PROFILE_WORTH_CYCLES`) and no VCD is
    asked for."""
    from bitsmith.sim import rtl
    from .build import io_of
    check_waves(waves, len(x))
    x, skip = with_preload(out_dir, io, x)
    if skip and waves is not None and waves.frames is not None:
        a, b = waves.frames
        waves = Waves(waves.path, waves.all_signals, (a + skip, None if b is None else b + skip))
    sio = io_of(io)
    verilog = Path(out_dir) / io["verilog"]
    trace = None if waves is None else ("all" if waves.all_signals else "named")
    if profile is None:
        profile = waves is None and len(x) * _ideal_cycles(out_dir) >= PROFILE_WORTH_CYCLES
    exe = rtl.build(verilog, sio, trace=trace, profile=profile)
    result = rtl.run(exe, sio, frames_to_bytes(x, io), idle=idle, backpressure=backpressure,
                     seed=seed, waves=None if waves is None else waves.path,
                     waves_frames=None if waves is None else waves.frames)
    if result.timed_out or len(result.out_frames) != len(x):
        result.check()      # raises CheckFailed (exit 1) naming what went wrong
        raise CheckFailed(f"RTL run failed: {len(x)} frames in, {len(result.out_frames)} out")
    # the weight-loading frames' outputs and times are not the model's
    return RTLRun.timed(words_to_frames(result.out_frames[skip:], io), result.frame_done_cycles[skip:],
                        result.total_cycles,
                        result.protocol_errors + result.tlast_errors + result.extra_words)


def _ideal_cycles(out_dir: Path) -> int:
    """The bundle's ideal cycles per frame (``design.json``), 0 when it does not say."""
    import json
    try:
        return int(json.loads((Path(out_dir) / "design.json").read_text()).get("ideal_cycles_per_frame") or 0)
    except (OSError, ValueError, TypeError, AttributeError):
        return 0


def run_amaranth(graph: Graph, x: np.ndarray, *, waves: Waves | None = None) -> RTLRun:
    """Run the elaborated design in the Amaranth simulator (slow; for small batches).

    Amaranth writes every signal of the whole run; the VCD is then cut down to what
    ``waves`` asks for (:func:`bitsmith.sim.vcd.filter_vcd`)."""
    from amaranth.sim import Simulator
    from .build import elaborate
    from .fit.preload import preload_frames
    check_waves(waves, len(x))
    # the simulator runs no vendor primitive: SPRAM weights become a RAM of the same
    # behaviour, loaded by the same frames (whose outputs are dropped)
    graph = graph.replace(nodes=tuple(
        n.replace(weight_memory="ram") if getattr(n, "weight_memory", "rom") == "spram" else n
        for n in graph.nodes), fifos=graph.fifos)    # same stages: the sized FIFOs stay
    pre = preload_frames(graph)
    skip = 0 if pre is None else len(pre)
    if skip:
        x = np.concatenate([pre, np.asarray(x, dtype=np.int64)])
        if waves is not None and waves.frames is not None:
            a, b = waves.frames
            waves = Waves(waves.path, waves.all_signals, (a + skip, None if b is None else b + skip))
    elab = elaborate(graph)
    top, io = elab.top, elab.io
    words = frames_to_words(x, io)
    flat = [w for frame in words for w in frame]
    n_out = len(x) * io["out"]["words_per_frame"]
    received, done_at = [], []
    cycle = [0]                        # the sink's count of clock edges, shared
    window_start = [0]
    first_word = 0 if waves is None or waves.frames is None else \
        waves.frames[0] * io["in"]["words_per_frame"]

    async def source(ctx):
        for i, w in enumerate(flat):
            if i == first_word:
                window_start[0] = cycle[0]
            ctx.set(top.s_axis_tdata, w)
            ctx.set(top.s_axis_tvalid, 1)
            await ctx.tick().until(top.s_axis_tready)
        ctx.set(top.s_axis_tvalid, 0)

    async def sink(ctx):
        ctx.set(top.m_axis_tready, 1)
        while len(received) < n_out:
            await ctx.tick()
            cycle[0] += 1
            if ctx.get(top.m_axis_tvalid):
                received.append(ctx.get(top.m_axis_tdata))
                if ctx.get(top.m_axis_tlast):
                    done_at.append(cycle[0])
            if cycle[0] > 1000 + 50 * (len(flat) + n_out) * max(1, graph_cycles_guess(graph)):
                raise ToolError("Amaranth simulation: the design stopped producing output")

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(source, background=True)
    sim.add_testbench(sink)
    if waves is not None:
        from bitsmith.sim.vcd import filter_vcd, is_named
        raw = Path(waves.path).with_name(f".{Path(waves.path).name}.all")
        try:
            with sim.write_vcd(str(raw)):
                sim.run()
            edges = None
            if waves.frames is not None:
                stop = waves.frames[1]
                edges = (window_start[0], None if stop is None else done_at[stop - 1] + 1)
            filter_vcd(raw, waves.path, keep=None if waves.all_signals else is_named, edges=edges)
        finally:
            raw.unlink(missing_ok=True)
    else:
        sim.run()
    per = io["out"]["words_per_frame"]
    frames = [received[i * per:(i + 1) * per] for i in range(skip, len(x))]
    return RTLRun.timed(words_to_frames(frames, io), done_at[skip:], done_at[-1] if done_at else 0, 0)


def graph_cycles_guess(graph: Graph) -> int:
    from .estimate import graph_cycles
    return max(1, graph_cycles(graph))


def compare(expected: np.ndarray, actual: np.ndarray) -> list[str]:
    """Every mismatching frame as 'frame i: index j expected e, got a' (first element shown)."""
    out = []
    exp = expected.reshape(len(expected), -1)
    act = actual.reshape(len(actual), -1)
    for i in np.nonzero(np.any(exp != act, axis=1))[0]:
        j = int(np.nonzero(exp[i] != act[i])[0][0])
        out.append(f"frame {i}: element {j} expected {int(exp[i, j])}, got {int(act[i, j])}")
    return out
