"""Stream FIFO: block RAM (or flip-flops) with every control signal a register."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..streams import check_int, delay, in_block_ram, next_mod, occupancy, ram_attrs
from .register_slice import RegisterSlice

__all__ = ["StreamFifo"]


class StreamFifo(wiring.Component):
    """First-in first-out buffer of ``depth`` words of ``width`` bits.

    Up to 4 words: a :class:`~hw.plumbing.register_slice.RegisterSlice`. Deeper: a
    memory of ``depth - 3`` words (synchronous read port) in front of a 3-word slice; from
    ``BLOCK_RAM_MIN_WORDS + 4`` words on, a block RAM of ``depth - 4`` words whose read
    data passes one plain register (nothing but a flip-flop after an ECP5 DP16KD's 5.8 ns
    clock-to-out; the ECP5 board flow moves it into the RAM's output register) in front
    of a 4-word slice. A read is issued while the slice's words plus the reads in flight
    are fewer than its size, so the slice never overflows and keeps taking a word per
    cycle; that sum is kept as a count of its own with a registered "room" flag, so the
    decision is one LUT on two flip-flops. Every path of the
    FIFO starts and ends at a flip-flop after at most a few LUTs, and none passes
    through its neighbours: ``i.ready``, ``o.valid`` and ``o.payload`` (through the
    slice's multiplexer) come from registers. (This replaced
    :class:`amaranth.lib.fifo.SyncFIFOBuffered`, whose ready is a level compare and
    whose read enable runs through its level logic; on iCE40 those were the paths that
    held the core clock under 50 MHz.)

    Parameters
    ----------
    width : int
        Payload bits (>= 1).
    depth : int
        Words held (>= 2).

    Members
    -------
    i : In(stream.Signature(unsigned(width)))
    o : Out(stream.Signature(unsigned(width)))

    Latency and throughput
    ----------------------
    One word per cycle in and out at every depth. A word written into an empty FIFO is
    valid on ``o`` ``latency`` cycles after its input transfer: 1 up to 4 words, 3
    deeper (memory write, registered read, slice), 4 with block RAM.
    """

    def __init__(self, *, width: int, depth: int):
        self.width = check_int("width", width)
        self.depth = check_int("depth", depth, minimum=2)
        # block RAM storage (see ram_attrs) is read through one more register
        self._read_stages = 2 if in_block_ram(self.depth - 4) else 1
        self.latency = 1 if self.depth <= 4 else 2 + self._read_stages
        super().__init__({
            "i": In(stream.Signature(self.width)),
            "o": Out(stream.Signature(self.width)),
        })

    def elaborate(self, platform):
        m = Module()
        if self.depth <= 4:
            m.submodules.slice = out = RegisterSlice(width=self.width, entries=self.depth)
            wiring.connect(m, wiring.flipped(self.i), out.i)
            wiring.connect(m, out.o, wiring.flipped(self.o))
            return m
        stages, size = self._read_stages, self.depth - 2 - self._read_stages
        m.submodules.slice = out = RegisterSlice(width=self.width, entries=2 + stages)
        wiring.connect(m, out.o, wiring.flipped(self.o))
        # a write and a read meet at one address only when the storage is empty (the
        # read is not issued, its data not taken) or full (no write)
        m.submodules.storage = storage = Memory(
            shape=self.width, depth=size, init=[],
            attrs=ram_attrs(size, block=stages == 2, collisions_unused=True))
        wr, rd = storage.write_port(), storage.read_port(domain="sync")
        wp = Signal(range(size), name="wp")
        rp = Signal(range(size), name="rp")
        put, issue = Signal(name="put"), Signal(name="issue")
        has_data, not_full, ready = occupancy(m, size=size, inc=put, dec=issue,
                                              name="storage", offered=("not_full",))
        # an issued read's data reaches the slice ``stages`` cycles later; block RAM data
        # passes one plain register on the way
        arrives = delay(m, issue, stages, "in_flight")
        data = delay(m, rd.data, stages - 1, "read_data", reset_less=True)
        # slice places claimed: words in the slice plus reads in flight, counted up at
        # each issue and down when the slice hands a word on (the consumer's ready
        # arrives late, so it only chooses between precomputed next states)
        _, room = occupancy(m, size=2 + stages, inc=issue, dec=out.o.valid,
                            late=self.o.ready, name="claimed")
        m.d.comb += [put.eq(self.i.valid & not_full), issue.eq(has_data & room)]
        m.d.comb += [
            self.i.ready.eq(ready),
            wr.addr.eq(wp), wr.data.eq(self.i.payload), wr.en.eq(put),
            # no read enable: the port reads ``rp`` every cycle and the slice takes the
            # data only for an issued read (an enable made Yosys put a LUT after the
            # ECP5 block RAM's output); ``rp`` is written at least a cycle earlier
            rd.addr.eq(rp),
            out.i.payload.eq(data), out.i.valid.eq(arrives),
        ]
        with m.If(put):
            m.d.sync += wp.eq(next_mod(wp, size))
        with m.If(issue):
            m.d.sync += rp.eq(next_mod(rp, size))
        return m
