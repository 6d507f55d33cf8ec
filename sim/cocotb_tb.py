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

The ports are driven by cocotbext-axi (``AxiStreamSource``/``AxiStreamSink`` with pause
generators); a :class:`StreamChecker` of this module watches every edge. This module needs
cocotb, cocotbext-axi and the standard library only: ``bitsmith build`` copies it into
``OUT/sim/`` unchanged.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import random
from collections.abc import Iterator
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

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


class StreamChecker:
    """Watches both ports in the low clock phase, before each edge; the judge of a run.

    cocotbext-axi drives the ports (its source offers words, its sink raises ``tready``);
    this checker sees what each edge transfers and keeps the cycle numbers: the output
    words in order, the cycle each output frame completes, ``tlast`` on exactly the last
    word of each frame, and the AXI4-Stream hold rule on ``m_axis`` (while
    ``tvalid & ~tready`` the port keeps ``tvalid``, ``tdata`` and ``tlast``).
    """

    def __init__(self, dut, words_per_frame: int, expected_words: int):
        self.dut = dut
        self.words_per_frame = words_per_frame
        self.expected_words = expected_words
        self.words: list[int] = []
        self.frame_done_cycles: list[int] = []
        self.in_words = 0
        self.extra_words = 0
        self.tlast_errors = 0
        self.protocol_errors = 0
        self._held: tuple[int, bool] | None = None  # (tdata, tlast) while stalled

    def sample(self, cycle: int) -> bool:
        """ReadOnly phase before edge ``cycle``: record its transfers; True if any."""
        dut = self.dut
        in_fire = bool(int(dut.s_axis_tvalid.value)) and bool(int(dut.s_axis_tready.value))
        self.in_words += in_fire
        valid = bool(int(dut.m_axis_tvalid.value))
        word = (int(dut.m_axis_tdata.value), bool(int(dut.m_axis_tlast.value))) if valid else None
        if self._held is not None and word != self._held:
            self.protocol_errors += 1
        out_fire = valid and bool(int(dut.m_axis_tready.value))
        self._held = word if valid and not out_fire else None
        if out_fire:
            if len(self.words) >= self.expected_words:
                self.extra_words += 1
            else:
                data, last = word
                position = len(self.words) % self.words_per_frame
                if last != (position == self.words_per_frame - 1):
                    self.tlast_errors += 1
                self.words.append(data)
                if position == self.words_per_frame - 1:
                    self.frame_done_cycles.append(cycle)
        return in_fire or out_fire


class TB:
    """Owns the clock, the reset, a cocotbext-axi source on ``s_axis`` and sink on
    ``m_axis`` with their pause generators, and a :class:`StreamChecker`.

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
        self.frames = 0
        self.words: list[int] = []
        seed = int(config.get("seed", 0))
        self.idle = pause_pattern(config.get("idle", "none"), seed)
        self.backpressure = pause_pattern(config.get("backpressure", "none"), seed ^ SINK_SEED_SALT)
        for name in ("cocotb.s_axis", "cocotb.m_axis", f"cocotb.{dut._name}.s_axis",
                     f"cocotb.{dut._name}.m_axis"):
            logging.getLogger(name).setLevel(logging.WARNING)   # a line per frame otherwise
        # byte_lanes=1: one "byte" is a whole tdata word, so a frame is a list of words
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst,
                                      byte_lanes=1)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst,
                                  byte_lanes=1)
        Clock(dut.clk, 10, unit="ns").start(start_high=False)

    async def reset(self) -> None:
        """Hold ``rst`` for RESET_CYCLES edges; return in the low phase before cycle 0.

        The cocotbext-axi source and sink start at the first edge after reset and drive
        from the next one on, so the bench lets one idle edge pass after releasing ``rst``
        and counts cycle 0 from the edge after it: that is where the harness's source
        offers its first word, which keeps both runners' cycle numbers equal.
        """
        self.dut.rst.value = 1
        self.dut.s_axis_tvalid.value = 0
        self.dut.m_axis_tready.value = 0
        for _ in range(RESET_CYCLES):
            await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0
        # Set here, the patterns line up with the harness's: pattern value k pauses
        # the source's offer / lowers tready at edge k (the source's decision for edge k
        # is taken at edge k-1, hence its one leading "no pause").
        self.source.set_pause_generator(itertools.chain([False], self.idle))
        self.sink.set_pause_generator(self.backpressure)
        await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)

    def load(self, words: list[int]) -> None:
        """Queue ``words`` (whole input frames) in the source, before :meth:`reset`."""
        self.frames = len(words) // self.in_words_per_frame
        for k in range(self.frames):
            chunk = words[k * self.in_words_per_frame:(k + 1) * self.in_words_per_frame]
            self.source.send_nowait(AxiStreamFrame(chunk))

    async def run(self, *, timeout_cycles: int | None, stall_cycles: int) -> dict:
        """Run until every output frame of the loaded words is out; return the stats."""
        frames = self.frames
        expected = frames * self.out_words_per_frame
        checker = StreamChecker(self.dut, self.out_words_per_frame, expected)

        drain_left = 2 * self.out_words_per_frame + 16
        cycle = last_progress = total_cycles = 0
        timed_out = False
        draining = expected == 0
        if draining:
            self._drain()
        while True:
            await ReadOnly()
            if checker.sample(cycle):
                last_progress = cycle
            await RisingEdge(self.dut.clk)
            cycle += 1
            if not draining and len(checker.words) == expected:
                draining = True
                total_cycles = cycle
                self._drain()
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
        self.words = checker.words
        return {
            "in_bits": self.in_bits,
            "out_bits": self.out_bits,
            "in_words_per_frame": self.in_words_per_frame,
            "out_words_per_frame": self.out_words_per_frame,
            "frames": frames,
            "out_words": len(checker.words),
            "total_cycles": total_cycles,
            "protocol_errors": checker.protocol_errors,
            "tlast_errors": checker.tlast_errors,
            "extra_words": checker.extra_words,
            "timed_out": timed_out,
            "frame_done_cycles": checker.frame_done_cycles,
        }

    def _drain(self) -> None:
        """Every frame is out: the sink takes all it is offered (extra words show)."""
        self.sink.clear_pause_generator()
        self.sink.pause = False


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
    tb.load(words)
    await tb.reset()
    stats = await tb.run(timeout_cycles=config.get("timeout_cycles"),
                         stall_cycles=int(config.get("stall_cycles", 10_000)))
    nbytes = io["out_bits"] // 8
    (base / config["output"]).write_bytes(
        b"".join(word.to_bytes(nbytes, "little") for word in tb.words))
    (base / config["stats"]).write_text(json.dumps(stats))
    dut._log.info("%d frames in %d cycles", stats["frames"], stats["total_cycles"])
    assert not stats["timed_out"], f"timed out after {stats['total_cycles']} cycles"
    assert stats["protocol_errors"] == 0, f"{stats['protocol_errors']} m_axis hold violations"
    assert stats["tlast_errors"] == 0, f"{stats['tlast_errors']} words with a wrong tlast"
    assert stats["extra_words"] == 0, f"{stats['extra_words']} words beyond the last frame"
