"""Request-frame receiver of the UART shell."""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .. import protocol
from ..protocol import Status
from .crc import crc16_step

#: What the receiver hands to the response sender: the command and the verdict.
RequestLayout = data.StructLayout({"command": 8, "status": 8})


def check_length(name: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if not 1 <= value <= protocol.MAX_PAYLOAD:
        raise ValueError(f"{name} must be between 1 and {protocol.MAX_PAYLOAD}, not {value!r}")
    return value


class RequestReceiver(wiring.Component):
    """Parses request frames, writes an input frame's payload into the frame buffer and
    checks the CRC before anything reaches the core.

    Bytes that are not a sync byte are skipped between frames. A length or command that
    does not match makes the receiver drain the rest of the frame (until the line has
    been quiet for ``timeout_cycles``) before it answers, so every request gets exactly
    one response. A frame that stops arriving mid-way (a lost byte) is answered with
    ``Status.TIMEOUT`` after ``timeout_cycles`` of silence (``Status.FRAMING`` if a UART
    stop bit was missing in it, which is how a byte gets lost on a noisy line). One request
    is in flight at a time: bytes that arrive before the answer is complete are ignored.

    Parameters
    ----------
    in_len : int
        Payload bytes of an input frame (1..65535).
    timeout_cycles : int
        Quiet cycles after which a partial frame is abandoned (>= 1).

    Members
    -------
    bytes : In(stream.Signature(8))
        Received bytes (always taken).
    framing_error : In(1)
        UART stop-bit error strobe; marks the frame being received as bad.
    wr_addr, wr_data, wr_en : Out
        Write port into the frame buffer.
    request : Out(stream.Signature(RequestLayout))
        One verdict per frame, held until taken.
    response_idle : In(1)
        The sender and the frame buffer are idle (the previous answer is complete); the
        receiver ignores the line from the end of a frame until then.
    """

    def __init__(self, *, in_len: int, timeout_cycles: int):
        self.in_len = check_length("Input length", in_len)
        if not isinstance(timeout_cycles, int) or isinstance(timeout_cycles, bool):
            raise TypeError(f"Timeout cycles must be an integer, not {timeout_cycles!r}")
        if timeout_cycles < 1:
            raise ValueError(f"Timeout cycles must be at least 1, not {timeout_cycles!r}")
        self.timeout_cycles = timeout_cycles
        super().__init__({
            "bytes": In(stream.Signature(8)),
            "framing_error": In(1),
            "wr_addr": Out(range(self.in_len)),
            "wr_data": Out(8),
            "wr_en": Out(1),
            "request": Out(stream.Signature(RequestLayout)),
            "response_idle": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        byte = self.bytes.payload
        got = self.bytes.valid          # ready is always 1
        m.d.comb += self.bytes.ready.eq(1)

        crc = Signal(16)
        command = Signal(8)
        length = Signal(16)
        status = Signal(8)
        bad_bits = Signal()             # a framing error inside this frame
        count = Signal(range(self.in_len + 1))
        quiet = Signal(range(self.timeout_cycles + 1))
        timed_out = Signal()

        m.d.comb += timed_out.eq(quiet == self.timeout_cycles)
        with m.If(got):
            m.d.sync += quiet.eq(0)
        with m.Elif(~timed_out):
            m.d.sync += quiet.eq(quiet + 1)
        with m.If(self.framing_error):
            m.d.sync += bad_bits.eq(1)

        with m.If(self.request.ready):
            m.d.sync += self.request.valid.eq(0)

        def answer(code):
            m.d.sync += [self.request.payload.command.eq(command),
                         self.request.payload.status.eq(code),
                         self.request.valid.eq(1)]
            m.next = "ANSWER"

        def in_frame(handle):
            """Run ``handle`` on a byte; abandon the frame on silence."""
            with m.If(got):
                m.d.sync += crc.eq(crc16_step(crc, byte))
                handle()
            with m.Elif(timed_out):
                answer(Mux(bad_bits, Status.FRAMING, Status.TIMEOUT))

        with m.FSM():
            with m.State("IDLE"):
                with m.If(got & (byte == protocol.REQUEST_SYNC)):
                    m.d.sync += [crc.eq(protocol.CRC_INIT), bad_bits.eq(0), count.eq(0)]
                    m.next = "COMMAND"
            with m.State("COMMAND"):
                def take_command():
                    m.d.sync += command.eq(byte)
                    m.next = "LENGTH_LO"
                in_frame(take_command)
            with m.State("LENGTH_LO"):
                def take_length_lo():
                    m.d.sync += length[:8].eq(byte)
                    m.next = "LENGTH_HI"
                in_frame(take_length_lo)
            with m.State("LENGTH_HI"):
                def take_length_hi():
                    full = byte.as_unsigned() << 8 | length[:8]
                    m.d.sync += length[8:].eq(byte)
                    with m.If(command == protocol.CMD_INFER):
                        with m.If(full == self.in_len):
                            m.next = "PAYLOAD"
                        with m.Else():
                            m.d.sync += status.eq(Status.LENGTH)
                            m.next = "DRAIN"
                    with m.Elif(command == protocol.CMD_INFO):
                        with m.If(full == 0):
                            m.next = "CRC_HI"
                        with m.Else():
                            m.d.sync += status.eq(Status.LENGTH)
                            m.next = "DRAIN"
                    with m.Else():
                        m.d.sync += status.eq(Status.COMMAND)
                        m.next = "DRAIN"
                in_frame(take_length_hi)
            with m.State("PAYLOAD"):
                m.d.comb += [self.wr_addr.eq(count), self.wr_data.eq(byte), self.wr_en.eq(got)]
                def take_payload():
                    m.d.sync += count.eq(count + 1)
                    with m.If(count == self.in_len - 1):
                        m.next = "CRC_HI"
                in_frame(take_payload)
            with m.State("CRC_HI"):
                def take_crc_hi():
                    m.next = "CRC_LO"
                in_frame(take_crc_hi)
            with m.State("CRC_LO"):
                def take_crc_lo():
                    m.next = "CHECK"
                in_frame(take_crc_lo)
            with m.State("CHECK"):
                # The CRC register has taken both CRC bytes: a good frame leaves 0.
                with m.If(bad_bits):
                    answer(Status.FRAMING)
                with m.Elif(crc != 0):
                    answer(Status.CRC)
                with m.Else():
                    answer(Status.OK)
            with m.State("DRAIN"):
                with m.If(timed_out):
                    answer(status)
            with m.State("ANSWER"):
                # Wait until the sender has taken the verdict and finished answering.
                with m.If(~self.request.valid & self.response_idle):
                    m.next = "IDLE"
        return m
