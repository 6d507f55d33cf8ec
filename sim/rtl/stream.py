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
    """

    out_frames: list[list[int]]
    frame_done_cycles: list[int]
    total_cycles: int
    protocol_errors: int
    tlast_errors: int = 0
    extra_words: int = 0
    timed_out: bool = False

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


def check_pattern(name: str, value: object) -> str:
    """Validate an idle / backpressure pattern name."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {value!r}")
    if value not in PATTERNS:
        raise ValueError(f"{name} must be one of {', '.join(PATTERNS)}, not {value!r}")
    return value


def check_run_args(*, idle: str, backpressure: str, seed: int, timeout_cycles: int | None,
                   stall_cycles: int) -> None:
    """Validate the arguments shared by :func:`bitsmith.sim.rtl.run` and :func:`bitsmith.sim.rtl.run_cocotb`."""
    check_pattern("idle", idle)
    check_pattern("backpressure", backpressure)
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

    ``frames`` is a sequence of frames, or a 2-D integer array of shape
    ``(frames, in_words_per_frame)`` (the fast path for large runs).
    """
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
    )
