"""Generic cocotb testbench for any bitsmith top (the ports of DESIGN.md §3).

The design is described by a JSON file whose path is in ``$BITSMITH_TB_CONFIG``::

    {"io": {"top": ..., "in_bits": ..., "out_bits": ...,
            "in_words_per_frame": ..., "out_words_per_frame": ...},
     "input": "in.bin", "output": "out.bin", "stats": "stats.json",
     "idle": "none|cycle|random", "backpressure": "none|cycle|random", "seed": 0,
     "timeout_cycles": null, "stall_cycles": 10000}

Relative paths are relative to the JSON file. The word files are the bulk harness's
(``bits // 8`` bytes per word, little endian, back to back) and the stats JSON has the
same keys (the stream shape, ``total_cycles``, ``frame_done_cycles``, ``protocol_errors``,
``tlast_errors``, ``extra_words``, ``timed_out``), so both runners produce the same artifacts and cycle numbers: cycle ``c`` is
the ``c``-th rising edge after reset is released, a transfer at that edge is recorded
at cycle ``c``. Pause patterns: ``none`` never pauses, ``cycle`` pauses 1,1,1,0
repeated, ``random`` pauses with probability 1/2 from ``random.Random``.

The test writes its results before it checks them, and fails on a timeout, a wrong
``tlast``, extra words, or an AXI4-Stream violation on ``m_axis``.

This module only needs cocotb and the standard library: ``bitsmith build`` copies it
into ``OUT/sim/`` unchanged.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

CONFIG_ENV = "BITSMITH_TB_CONFIG"
RESET_CYCLES = 4
PATTERNS = ("none", "cycle", "random")
SINK_SEED_SALT = 0x9E3779B97F4A7C15


def pause_pattern(kind: str, seed: int) -> Iterator[bool]:
    """One pause flag per cycle: never, 1,1,1,0 repeated, or 50 % at random."""
    if kind == "none":
        return itertools.repeat(False)
    if kind == "cycle":
        return itertools.cycle([True, True, True, False])
    if kind == "random":
        rng = random.Random(seed)
        return (bool(rng.getrandbits(1)) for _ in itertools.count())
    raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}, not {kind!r}")


def read_words(path: Path, bits: int) -> list[int]:
    data = path.read_bytes()
    nbytes = bits // 8
    if len(data) % nbytes:
        raise ValueError(f"{path} does not hold whole words of {nbytes} bytes")
    return [int.from_bytes(data[i:i + nbytes], "little") for i in range(0, len(data), nbytes)]


class StreamSource:
    """Drives an AXI4-Stream slave port (``<prefix>_tdata/tvalid``, reads ``tready``).

    Offers one queued word at a time; in a cycle where the pause pattern says pause and
    no word is pending it keeps ``tvalid`` low. A pending word is held until accepted.
    """

    def __init__(self, dut, prefix: str, pause: Iterator[bool]):
        self.data = getattr(dut, f"{prefix}_tdata")
        self.valid = getattr(dut, f"{prefix}_tvalid")
        self.ready = getattr(dut, f"{prefix}_tready")
        self.pause = pause
        self.queue: deque[int] = deque()
        self.holding = False
        self.sent = 0

    def drive(self) -> None:
        """Low clock phase: set ``tvalid``/``tdata`` for the coming edge."""
        paused = next(self.pause)
        if not self.holding and self.queue and not paused:
            self.data.value = self.queue[0]
            self.holding = True
        self.valid.value = int(self.holding)

    def sample(self) -> bool:
        """ReadOnly phase before the edge: True if the edge transfers the pending word."""
        fire = self.holding and bool(int(self.ready.value))
        if fire:
            self.queue.popleft()
            self.holding = False
            self.sent += 1
        return fire


class StreamSink:
    """Receives an AXI4-Stream master port, checks ``tlast`` and the hold rule.

    ``tready`` follows the pause pattern. Words are grouped into frames of
    ``words_per_frame``; ``tlast`` must be set on exactly the last word of each. While
    ``tvalid & ~tready``, the port must keep ``tvalid``, ``tdata`` and ``tlast``.
    """

    def __init__(self, dut, prefix: str, pause: Iterator[bool], words_per_frame: int):
        self.data = getattr(dut, f"{prefix}_tdata")
        self.valid = getattr(dut, f"{prefix}_tvalid")
        self.ready = getattr(dut, f"{prefix}_tready")
        self.last = getattr(dut, f"{prefix}_tlast")
        self.pause = pause
        self.words_per_frame = words_per_frame
        self.words: list[int] = []
        self.frame_done_cycles: list[int] = []
        self.expected_words: int | None = None
        self.extra_words = 0
        self.tlast_errors = 0
        self.protocol_errors = 0
        self._ready = False
        self._held: tuple[int, bool] | None = None  # (tdata, tlast) while stalled

    def drive(self, always_ready: bool = False) -> None:
        """Low clock phase: set ``tready`` for the coming edge."""
        paused = next(self.pause)
        self._ready = always_ready or not paused
        self.ready.value = int(self._ready)

    def sample(self, cycle: int) -> bool:
        """ReadOnly phase before the edge: record a transfer, check the protocol."""
        valid = bool(int(self.valid.value))
        word = (int(self.data.value), bool(int(self.last.value))) if valid else None
        if self._held is not None and word != self._held:
            self.protocol_errors += 1
        fire = valid and self._ready
        self._held = word if valid and not fire else None
        if not fire:
            return False
        if self.expected_words is not None and len(self.words) >= self.expected_words:
            self.extra_words += 1
            return True
        data, last = word
        position = len(self.words) % self.words_per_frame
        if last != (position == self.words_per_frame - 1):
            self.tlast_errors += 1
        self.words.append(data)
        if position == self.words_per_frame - 1:
            self.frame_done_cycles.append(cycle)
        return True


class TB:
    """Owns the clock, the reset, a source on ``s_axis`` and a sink on ``m_axis``.

    The source pauses after the config's ``idle`` pattern, the sink lowers ``tready``
    after its ``backpressure`` pattern (seeded with ``seed`` and ``seed ^ SINK_SEED_SALT``).
    """

    def __init__(self, dut, config: dict):
        self.dut = dut
        io = config["io"]
        self.in_bits = io["in_bits"]
        self.out_bits = io["out_bits"]
        self.in_words_per_frame = io["in_words_per_frame"]
        self.out_words_per_frame = io["out_words_per_frame"]
        seed = int(config.get("seed", 0))
        self.source = StreamSource(dut, "s_axis", pause_pattern(config.get("idle", "none"), seed))
        self.sink = StreamSink(dut, "m_axis",
                               pause_pattern(config.get("backpressure", "none"),
                                             seed ^ SINK_SEED_SALT),
                               self.out_words_per_frame)
        Clock(dut.clk, 10, unit="ns").start(start_high=False)

    async def reset(self) -> None:
        """Hold ``rst`` for RESET_CYCLES edges; return in the low phase before cycle 0."""
        self.dut.rst.value = 1
        self.dut.s_axis_tvalid.value = 0
        self.dut.m_axis_tready.value = 0
        for _ in range(RESET_CYCLES):
            await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def run(self, words: list[int], *, timeout_cycles: int | None,
                  stall_cycles: int) -> dict:
        """Stream ``words`` in until every output frame is out; return the stats."""
        frames = len(words) // self.in_words_per_frame
        expected = frames * self.out_words_per_frame
        self.source.queue.extend(words)
        self.sink.expected_words = expected
        drain_left = 2 * self.out_words_per_frame + 16
        cycle = last_progress = total_cycles = 0
        timed_out = False
        draining = expected == 0
        while True:
            self.source.drive()
            self.sink.drive(always_ready=draining)
            await ReadOnly()
            in_fire = self.source.sample()
            out_fire = self.sink.sample(cycle)
            await RisingEdge(self.dut.clk)
            if in_fire or out_fire:
                last_progress = cycle
            cycle += 1
            if not draining and len(self.sink.words) == expected:
                draining = True
                total_cycles = cycle
            if draining:
                if drain_left == 0:
                    break
                drain_left -= 1
            elif ((timeout_cycles and cycle >= timeout_cycles)
                  or (stall_cycles and cycle - last_progress > stall_cycles)):
                timed_out = True
                total_cycles = cycle
                break
            await FallingEdge(self.dut.clk)
        return {
            "in_bits": self.in_bits,
            "out_bits": self.out_bits,
            "in_words_per_frame": self.in_words_per_frame,
            "out_words_per_frame": self.out_words_per_frame,
            "frames": frames,
            "out_words": len(self.sink.words),
            "total_cycles": total_cycles,
            "protocol_errors": self.sink.protocol_errors,
            "tlast_errors": self.sink.tlast_errors,
            "extra_words": self.sink.extra_words,
            "timed_out": timed_out,
            "frame_done_cycles": self.sink.frame_done_cycles,
        }


def load_config() -> tuple[dict, Path]:
    path = Path(os.environ[CONFIG_ENV]).resolve()
    return json.loads(path.read_text()), path.parent


@cocotb.test()
async def stream_frames(dut):
    """Push the configured input frames through the top and write what comes out."""
    config, base = load_config()
    io = config["io"]
    words = read_words(base / config["input"], io["in_bits"])
    if len(words) % io["in_words_per_frame"]:
        raise ValueError(f"{config['input']} does not hold whole frames of "
                         f"{io['in_words_per_frame']} words")
    tb = TB(dut, config)
    await tb.reset()
    stats = await tb.run(words, timeout_cycles=config.get("timeout_cycles"),
                         stall_cycles=int(config.get("stall_cycles", 10_000)))
    nbytes = io["out_bits"] // 8
    (base / config["output"]).write_bytes(
        b"".join(word.to_bytes(nbytes, "little") for word in tb.sink.words))
    (base / config["stats"]).write_text(json.dumps(stats))
    dut._log.info("%d frames in %d cycles", stats["frames"], stats["total_cycles"])
    assert not stats["timed_out"], f"timed out after {stats['total_cycles']} cycles"
    assert stats["protocol_errors"] == 0, f"{stats['protocol_errors']} m_axis hold violations"
    assert stats["tlast_errors"] == 0, f"{stats['tlast_errors']} words with a wrong tlast"
    assert stats["extra_words"] == 0, f"{stats['extra_words']} words beyond the last frame"
