"""What the RTL runners share: the top's stream shape, the word files and the result.

Word files (the bulk harness's input and output, and the cocotb testbench's) hold the
words back to back, ``bits // 8`` bytes each, little endian, no header. The stats file
written next to an output word file is JSON with the stream shape the simulation was
built for (``in_bits``, ``out_bits``, ``in_words_per_frame``, ``out_words_per_frame``),
``total_cycles``, ``protocol_errors``, ``tlast_errors``, ``extra_words``, ``timed_out`` and
``frame_done_cycles``.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bitsmith.generator.errors import CheckFailed

PATTERNS = ("none", "cycle", "random")
"""Idle / backpressure patterns: never pause, pause 1,1,1,0 repeated, pause 50 % at random."""

_HARNESS_PATTERN = re.compile(r"^(none|cycle|random|random:(\d{1,3})|stall:([1-9]\d*):(\d+))$")
"""The bulk harness also takes ``random:P`` (pause P % of the cycles, P in 0..99) and
``stall:RUN:PAUSE`` (RUN cycles active, then PAUSE cycles paused, repeated)."""

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


@dataclass(frozen=True)
class StreamIO:
    """The stream shape of a bitsmith top (DESIGN.md §3).

    Parameters
    ----------
    top : str
        Verilog module name of the top.
    in_bits, out_bits : int
        Widths of ``s_axis_tdata`` and ``m_axis_tdata``, positive multiples of 8.
    in_words_per_frame, out_words_per_frame : int
        Words one frame occupies on the input and on the output stream.
    """

    top: str
    in_bits: int
    out_bits: int
    in_words_per_frame: int
    out_words_per_frame: int

    def __post_init__(self) -> None:
        if not isinstance(self.top, str):
            raise TypeError(f"top must be a string, not {self.top!r}")
        if not _IDENTIFIER.match(self.top):
            raise ValueError(f"top must be a Verilog identifier, not {self.top!r}")
        for name in ("in_bits", "out_bits", "in_words_per_frame", "out_words_per_frame"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an integer, not {value!r}")
        for name in ("in_bits", "out_bits"):
            value = getattr(self, name)
            if value <= 0 or value % 8:
                raise ValueError(f"{name} must be a positive multiple of 8, not {value!r}")
        for name in ("in_words_per_frame", "out_words_per_frame"):
            value = getattr(self, name)
            if value <= 0:
                raise ValueError(f"{name} must be positive, not {value!r}")

    @classmethod
    def from_json(cls, data: dict) -> "StreamIO":
        """The inverse of :meth:`to_json`."""
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})

    def to_json(self) -> dict:
        """The fields as a JSON-ready dict."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class RunResult:
    """What one RTL run produced.

    Members
    -------
    out_frames : list of list of int
        Output words, split into frames of ``out_words_per_frame``; after a timeout the
        last frame may be short.
    frame_done_cycles : list of int
        For each complete output frame, the cycle its last word was transferred at
        (cycle 0 is the first rising edge after reset).
    total_cycles : int
        Cycles from reset release up to and including the last expected output word
        (or up to the timeout).
    protocol_errors : int
        Cycles in which the DUT's master port changed ``tdata``/``tlast`` or dropped
        ``tvalid`` while ``tvalid & ~tready`` held on the cycle before (AXI4-Stream rule).
    tlast_errors : int
        Output words whose ``tlast`` differed from "last word of a frame".
    extra_words : int
        Words the DUT emitted after the expected number of output words.
    timed_out : bool
        The run stopped on ``timeout_cycles`` or on a stall before all frames came out.
    frame_ids : list of int, optional
        The input frame of each complete output frame (``None``: ``0, 1, 2...``, no reset).
    resets : tuple of dict
        One entry per reset in the middle of the run (:class:`ResetAt`): ``side``,
        ``cycle``, ``in_words``/``out_words`` transferred before it, ``input_holding``
        (the source offered a word), ``output_pending`` (``m_axis_tvalid`` was high) and
        ``resumed_frame`` (the first input frame sent after it).
    discarded_words : int
        Words of unfinished output frames dropped at resets.
    """

    out_frames: list[list[int]]
    frame_done_cycles: list[int]
    total_cycles: int
    protocol_errors: int
    tlast_errors: int = 0
    extra_words: int = 0
    timed_out: bool = False
    frame_ids: list[int] | None = None
    resets: tuple = ()
    discarded_words: int = 0

    @property
    def ok(self) -> bool:
        """True when the stream protocol was respected and every frame came out."""
        return not (self.timed_out or self.protocol_errors or self.tlast_errors
                    or self.extra_words)

    def check(self) -> None:
        """Raise :class:`~generator.errors.CheckFailed` unless :attr:`ok`."""
        if self.ok:
            return
        problems = []
        if self.timed_out:
            problems.append(f"timed out after {self.total_cycles} cycles with "
                            f"{len(self.frame_done_cycles)} complete output frames")
        if self.protocol_errors:
            problems.append(f"{self.protocol_errors} AXI4-Stream protocol violations on m_axis")
        if self.tlast_errors:
            problems.append(f"{self.tlast_errors} output words with a wrong tlast")
        if self.extra_words:
            problems.append(f"{self.extra_words} output words beyond the expected frames")
        raise CheckFailed("RTL run failed: " + "; ".join(problems))


def steady_state_cycles_per_frame(result: RunResult) -> float:
    """Measured cycles per frame once the pipeline is full.

    The median of the differences between consecutive entries of
    ``result.frame_done_cycles``. The median ignores the pipeline fill before the first
    frame and the odd frame delayed by backpressure; with no idle and no backpressure
    on a design that is not input-bound it equals the design's initiation interval.
    Needs at least two complete frames.
    """
    cycles = result.frame_done_cycles
    if len(cycles) < 2:
        raise ValueError(f"steady state needs at least 2 complete frames, not {len(cycles)}")
    return float(statistics.median(b - a for a, b in zip(cycles, cycles[1:])))


@dataclass(frozen=True)
class FrameTiming:
    """How output frames are spaced over the steady part of a run (see :func:`frame_timing`).

    Members
    -------
    median, mean : float
        Median and mean cycles between consecutive output frames.
    longest_gap : int
        The longest of those gaps.
    """

    median: float
    mean: float
    longest_gap: int


def frame_timing(done_cycles: Sequence[int]) -> FrameTiming:
    """Median, mean and longest gap between output frames over the steady part of a run.

    ``done_cycles`` holds the cycle each output frame completed. The steady part is every
    gap after the first quarter of the frames (pipeline fill and FIFO warm-up). A design
    at its folding bound has all three equal to its initiation interval; one that slips a
    stall into every third frame keeps the median but not the mean or the longest gap.
    Needs at least three frames.
    """
    if len(done_cycles) < 3:
        raise ValueError(f"frame timing needs at least 3 complete frames, not {len(done_cycles)}")
    gaps = np.diff(np.asarray(done_cycles, dtype=np.int64))[len(done_cycles) // 4:]
    return FrameTiming(median=float(np.median(gaps)), mean=float(gaps.mean()),
                       longest_gap=int(gaps.max()))


def check_pattern(name: str, value: object) -> str:
    """Validate an idle / backpressure pattern name."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {value!r}")
    if value not in PATTERNS:
        raise ValueError(f"{name} must be one of {', '.join(PATTERNS)}, not {value!r}")
    return value


def check_harness_pattern(name: str, value: object) -> str:
    """Validate a bulk-harness pattern: one of :data:`PATTERNS`, ``random:P`` or ``stall:RUN:PAUSE``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {value!r}")
    match = _HARNESS_PATTERN.match(value)
    if not match or (match.group(2) is not None and int(match.group(2)) > 99):
        raise ValueError(f"{name} must be one of {', '.join(PATTERNS)}, random:P (P in 0..99) or "
                         f"stall:RUN:PAUSE (RUN >= 1), not {value!r}")
    return value


@dataclass(frozen=True)
class ResetAt:
    """A reset asserted in the middle of a bulk-harness run (synchronous ``rst``, DESIGN.md §3).

    Parameters
    ----------
    side : {"in", "out"}
        ``"in"``: right after the ``words``-th input word was accepted, while the source
        offers the next. ``"out"``: after the ``words``-th output word the sink stalls for
        ``stall`` cycles, then the reset comes while it still stalls.
    words : int
        Words transferred on that side since the start of the run, at least 1.
    stall : int
        Sink stall before an output-side reset (0 for ``"in"``).
    """

    side: str
    words: int
    stall: int = 0

    def __post_init__(self) -> None:
        if self.side not in ("in", "out"):
            raise ValueError(f"side must be 'in' or 'out', not {self.side!r}")
        for name in ("words", "stall"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an integer, not {value!r}")
        if self.words < 1 or self.stall < 0:
            raise ValueError(f"words must be >= 1 and stall >= 0, not {self.words!r} and {self.stall!r}")
        if self.side == "in" and self.stall:
            raise ValueError(f"an input-side reset has no sink stall, not {self.stall!r}")

    def to_arg(self) -> str:
        """The event as the harness's ``--resets`` takes it."""
        return f"in:{self.words}" if self.side == "in" else f"out:{self.words}:{self.stall}"


def check_run_args(*, idle: str, backpressure: str, seed: int, timeout_cycles: int | None,
                   stall_cycles: int, harness: bool = False) -> None:
    """Validate the arguments shared by :func:`bitsmith.sim.rtl.run` and
    :func:`bitsmith.sim.rtl.run_cocotb` (``harness``: the bulk harness's wider pattern set)."""
    check = check_harness_pattern if harness else check_pattern
    check("idle", idle)
    check("backpressure", backpressure)
    for name, value in (("seed", seed), ("stall_cycles", stall_cycles)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an integer, not {value!r}")
        if not 0 <= value < 1 << 64:
            raise ValueError(f"{name} must be a non-negative 64-bit integer, not {value!r}")
    if timeout_cycles is not None:
        if not isinstance(timeout_cycles, int) or isinstance(timeout_cycles, bool):
            raise TypeError(f"timeout_cycles must be an integer or None, not {timeout_cycles!r}")
        if timeout_cycles <= 0:
            raise ValueError(f"timeout_cycles must be positive, not {timeout_cycles!r}")


def check_frames(io: StreamIO, frames: Sequence[Sequence[int]]) -> None:
    """Every frame must hold ``io.in_words_per_frame`` words."""
    for index, frame in enumerate(frames):
        if len(frame) != io.in_words_per_frame:
            raise ValueError(f"frame {index} must hold {io.in_words_per_frame} words, "
                             f"not {len(frame)}")


def encode_words(words: Sequence[int], bits: int) -> bytes:
    """Words -> the word-file bytes (``bits // 8`` bytes each, little endian)."""
    nbytes = bits // 8
    if bits < 64:
        array = np.asarray(words)
        if (array.ndim == 1 and array.dtype.kind in "iu" and array.size
                and array.min() >= 0 and array.max() < (1 << bits)):
            return array.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :nbytes].tobytes()
    limit = 1 << bits
    chunks = []
    for index, word in enumerate(words):
        if not isinstance(word, (int, np.integer)) or isinstance(word, bool):
            raise TypeError(f"word {index} must be an integer, not {word!r}")
        word = int(word)
        if not 0 <= word < limit:
            raise ValueError(f"word {index} must fit in {bits} unsigned bits, not {word!r}")
        chunks.append(word.to_bytes(nbytes, "little"))
    return b"".join(chunks)


def decode_words(data: bytes, bits: int) -> list[int]:
    """The word-file bytes -> list of ``int`` words."""
    nbytes = bits // 8
    if len(data) % nbytes:
        raise ValueError(f"{len(data)} bytes do not hold whole words of {nbytes} bytes")
    if bits <= 64:
        padded = np.zeros((len(data) // nbytes, 8), dtype=np.uint8)
        padded[:, :nbytes] = np.frombuffer(data, dtype=np.uint8).reshape(-1, nbytes)
        return padded.view(np.uint64).reshape(-1).tolist()
    return [int.from_bytes(data[i:i + nbytes], "little") for i in range(0, len(data), nbytes)]


def write_input(path: Path, io: StreamIO, frames: Sequence[Sequence[int]] | np.ndarray) -> None:
    """Write the frames' words as an input word file.

    ``frames`` is a sequence of frames, a 2-D integer array of shape
    ``(frames, in_words_per_frame)``, or the word-file bytes themselves as a ``uint8``
    array ``(frames, in_words_per_frame, in_bits // 8)`` (the fast paths for large runs;
    see :func:`bitsmith.sim.packing.pack_bytes`).
    """
    if isinstance(frames, np.ndarray) and frames.ndim == 3:
        if frames.dtype != np.uint8 or frames.shape[1:] != (io.in_words_per_frame, io.in_bits // 8):
            raise ValueError(f"word bytes must be uint8 of shape (frames, {io.in_words_per_frame}, "
                             f"{io.in_bits // 8}), not {frames.dtype} {frames.shape}")
        path.write_bytes(frames.tobytes())
        return
    if isinstance(frames, np.ndarray) and frames.ndim == 2:
        if frames.shape[1] != io.in_words_per_frame:
            raise ValueError(f"frames must have {io.in_words_per_frame} words per row, "
                             f"not {frames.shape[1]}")
        words = frames.reshape(-1)
    else:
        check_frames(io, frames)
        words = [word for frame in frames for word in frame]
    path.write_bytes(encode_words(words, io.in_bits))


def read_result(out_path: Path, stats_path: Path, io: StreamIO) -> RunResult:
    """Read the output word file and its stats JSON into a :class:`RunResult`."""
    stats = json.loads(stats_path.read_text())
    shape = {name: stats[name] for name in ("in_bits", "out_bits", "in_words_per_frame",
                                            "out_words_per_frame")}
    if shape != {name: getattr(io, name) for name in shape}:
        raise ValueError(f"the simulation was built for {shape}, not for {io}")
    words = decode_words(out_path.read_bytes(), io.out_bits)
    per = io.out_words_per_frame
    return RunResult(
        out_frames=[words[i:i + per] for i in range(0, len(words), per)],
        frame_done_cycles=[int(c) for c in stats["frame_done_cycles"]],
        total_cycles=int(stats["total_cycles"]),
        protocol_errors=int(stats["protocol_errors"]),
        tlast_errors=int(stats["tlast_errors"]),
        extra_words=int(stats["extra_words"]),
        timed_out=bool(stats["timed_out"]),
        frame_ids=[int(i) for i in stats["frame_ids"]] if "frame_ids" in stats else None,
        resets=tuple(stats.get("resets", ())),
        discarded_words=int(stats.get("discarded_words", 0)),
    )
