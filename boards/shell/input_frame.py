"""Frame buffer of the UART shell: holds a checked input frame and streams it into the core."""

from __future__ import annotations

from amaranth import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from bitsmith.hw.streams import ram_attrs

from .receiver import check_length


def check_tdata_bits(name: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < 8 or value % 8:
        raise ValueError(f"{name} must be a positive multiple of 8, not {value!r}")
    return value


class InputFrame(wiring.Component):
    """Byte memory of one input frame and the word assembler that feeds ``s_axis``.

    Parameters
    ----------
    words : int
        Words per input frame.
    tdata_bits : int
        Width of the core's ``s_axis_tdata`` (a multiple of 8); a word is
        ``tdata_bits // 8`` consecutive bytes of the frame, little-endian.

    Members
    -------
    wr_addr, wr_data, wr_en : In
        Write port (from :class:`RequestReceiver`).
    start : In(1)
        Strobe: stream the buffered frame out once.
    busy : Out(1)
        Streaming is in progress.
    s_axis : Out(stream.Signature(tdata_bits))
        Words to the core.

    Throughput: three cycles per byte (address, RAM, read register) plus the handshake
    cycle per word (far faster than the UART that fills it).
    """

    def __init__(self, *, words: int, tdata_bits: int):
        self.tdata_bits = check_tdata_bits("Input tdata bits", tdata_bits)
        self.bytes_per_word = tdata_bits // 8
        if not isinstance(words, int) or isinstance(words, bool):
            raise TypeError(f"Input words must be an integer, not {words!r}")
        self.words = words
        self.length = check_length("Input length", words * self.bytes_per_word)
        super().__init__({
            "wr_addr": In(range(self.length)),
            "wr_data": In(8),
            "wr_en": In(1),
            "start": In(1),
            "busy": Out(1),
            "s_axis": Out(stream.Signature(tdata_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        # a write and a read never meet: the receiver writes a request's payload and then
        # waits for the response to be sent before it takes the next request, and the
        # frame is only read while that response is being made (``start`` .. ``busy``)
        m.submodules.memory = memory = Memory(shape=8, depth=self.length, init=[],
                                              attrs=ram_attrs(self.length, collisions_unused=True))
        wr = memory.write_port()
        # read asynchronously, then registered here: Yosys merges that register into the
        # port (``memory_dff``), and only then applies ``no_rw_check``; a port that comes
        # in synchronous (as the board flow reads the shell, from RTLIL) keeps
        # read-old-data on a collision and gets a bypass multiplexer after the block RAM
        rd = memory.read_port(domain="comb")
        m.d.comb += [wr.addr.eq(self.wr_addr), wr.data.eq(self.wr_data), wr.en.eq(self.wr_en)]

        address = Signal(range(self.length + 1))
        lane = Signal(range(self.bytes_per_word))
        word = Signal(self.tdata_bits)
        # the read data goes through a plain register first (always enabled, no reset):
        # on ECP5 the flow moves it into the block RAM's own output register
        # (boards/flows/ecp5_outreg.py), so the RAM's slow clock-to-output ends there
        read = Signal(8, reset_less=True)
        byte = Signal(8, reset_less=True)
        m.d.sync += [read.eq(rd.data), byte.eq(read)]
        m.d.comb += [rd.addr.eq(address), self.s_axis.payload.eq(word)]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [address.eq(0), lane.eq(0)]
                    m.next = "READ"
            with m.State("READ"):
                m.d.comb += self.busy.eq(1)
                m.next = "REGISTER"
            with m.State("REGISTER"):
                m.d.comb += self.busy.eq(1)
                m.next = "LATCH"
            with m.State("LATCH"):
                m.d.comb += self.busy.eq(1)
                # bytes shift in from the top: after a word's last byte, byte i is at
                # bits [8i, 8i+8) (little-endian), and no byte lane needs a decoded enable
                m.d.sync += word.eq(Cat(word[8:], byte))
                m.d.sync += address.eq(address + 1)
                with m.If(lane == self.bytes_per_word - 1):
                    m.d.sync += lane.eq(0)
                    m.next = "VALID"
                with m.Else():
                    m.d.sync += lane.eq(lane + 1)
                    m.next = "READ"
            with m.State("VALID"):
                m.d.comb += [self.busy.eq(1), self.s_axis.valid.eq(1)]
                with m.If(self.s_axis.ready):
                    with m.If(address == self.length):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "READ"
        return m
