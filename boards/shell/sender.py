"""Response-frame sender of the UART shell."""

from __future__ import annotations

from amaranth import Array, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .. import protocol
from ..protocol import Status
from .crc import crc16_step
from .input_frame import check_tdata_bits
from .receiver import RequestLayout, check_length


class ResponseSender(wiring.Component):
    """Answers each verdict from :class:`RequestReceiver` with one response frame.

    For an accepted ``CMD_INFER`` it strobes ``feed_start`` (the frame buffer streams the
    input into the core) and sends the core's ``out_words`` output words as the payload,
    each ``tdata`` little-endian, computing the CRC on the way: output words are taken
    from ``m_axis`` only as fast as the UART sends them. ``CMD_INFO`` returns the two
    frame lengths; any other verdict an empty payload with the error status.

    Parameters
    ----------
    in_len : int
        Input frame length in bytes (reported by ``CMD_INFO``).
    out_words : int
        Words per output frame.
    out_tdata_bits : int
        Width of the core's ``m_axis_tdata`` (a multiple of 8).

    Members
    -------
    request : In(stream.Signature(RequestLayout))
        Verdicts; ``ready`` is the decoded idle state, so that nothing combinational
        from the sender reaches the receiver's state.
    feed_start : Out(1)
        Strobe to start streaming the buffered frame.
    m_axis : In(stream.Signature(out_tdata_bits))
        Output words of the core.
    tx : Out(stream.Signature(8))
        Bytes to the UART transmitter.
    done : Out(1)
        Registered strobe: the last byte of a response has been handed to the UART.
        By then the core has consumed the whole input frame (its last output depends on
        its last input), so the frame buffer may be refilled.
    """

    def __init__(self, *, in_len: int, out_words: int, out_tdata_bits: int):
        self.in_len = check_length("Input length", in_len)
        self.out_tdata_bits = check_tdata_bits("Output tdata bits", out_tdata_bits)
        self.bytes_per_word = out_tdata_bits // 8
        if not isinstance(out_words, int) or isinstance(out_words, bool):
            raise TypeError(f"Output words must be an integer, not {out_words!r}")
        self.out_words = out_words
        self.out_len = check_length("Output length", out_words * self.bytes_per_word)
        super().__init__({
            "request": In(stream.Signature(RequestLayout)),
            "feed_start": Out(1),
            "m_axis": In(stream.Signature(out_tdata_bits)),
            "tx": Out(stream.Signature(8)),
            "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        command = Signal(8)
        status = Signal(8)
        length = Signal(16)
        crc = Signal(16)
        sent = Signal(range(max(self.out_len, 4) + 1))   # payload bytes sent
        word = Signal(self.out_tdata_bits)
        have_word = Signal()
        in_output = Signal()
        lane = Signal(range(self.bytes_per_word + 1))
        last_lane = Signal()
        last_byte = Signal()
        info = self.in_len | self.out_len << 16      # CMD_INFO payload, little-endian

        m.d.sync += [self.feed_start.eq(0), self.done.eq(0)]
        sending = self.tx.valid & self.tx.ready

        # The CRC takes each sent byte one cycle later from a register (off the state
        # mux path); the UART needs 10 bit times per byte, so it is always up to date
        # before the next byte, and the CRC bytes wait for it explicitly.
        crc_byte = Signal(8)
        crc_pending = Signal()
        with m.If(crc_pending):
            m.d.sync += [crc.eq(crc16_step(crc, crc_byte)), crc_pending.eq(0)]

        def emit(value, next_state, *, checked=True):
            m.d.comb += [self.tx.valid.eq(1), self.tx.payload.eq(value)]
            with m.If(self.tx.ready):
                if checked:
                    m.d.sync += [crc_byte.eq(value), crc_pending.eq(1)]
                m.next = next_state

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.request.ready.eq(1)
                with m.If(self.request.valid):
                    verdict = self.request.payload
                    ok = verdict.status == Status.OK
                    infer = ok & (verdict.command == protocol.CMD_INFER)
                    m.d.sync += [command.eq(verdict.command), status.eq(verdict.status),
                                 crc.eq(protocol.CRC_INIT), sent.eq(0), have_word.eq(0),
                                 last_byte.eq(self.out_len == 1)]
                    with m.If(infer):
                        m.d.sync += [self.feed_start.eq(1), length.eq(self.out_len)]
                    with m.Elif(ok):
                        m.d.sync += length.eq(4)
                    with m.Else():
                        m.d.sync += length.eq(0)
                    m.next = "SYNC"
            with m.State("SYNC"):
                emit(protocol.RESPONSE_SYNC, "STATUS", checked=False)
            with m.State("STATUS"):
                emit(status, "LENGTH_LO")
            with m.State("LENGTH_LO"):
                emit(length[:8], "LENGTH_HI")
            with m.State("LENGTH_HI"):
                with m.If(length == 0):               # every error answer is empty
                    emit(length[8:], "CRC_HI")
                with m.Elif(command == protocol.CMD_INFER):
                    emit(length[8:], "OUTPUT")
                    with m.If(self.tx.ready):
                        m.d.sync += in_output.eq(1)
                with m.Else():
                    emit(length[8:], "INFO")
            with m.State("INFO"):
                info_bytes = Array(Const((info >> (8 * i)) & 0xFF, 8) for i in range(4))
                emit(info_bytes[sent[:2]], "INFO")
                with m.If(sending):
                    m.d.sync += sent.eq(sent + 1)
                    with m.If(sent == 3):
                        m.next = "CRC_HI"
            with m.State("OUTPUT"):
                with m.If(have_word):
                    emit(word[:8], "OUTPUT")
                    with m.If(self.tx.ready & last_byte):
                        m.d.sync += in_output.eq(0)
                        m.next = "CRC_HI"

            with m.State("CRC_HI"):
                with m.If(~crc_pending):
                    emit(crc[8:], "CRC_LO", checked=False)
            with m.State("CRC_LO"):
                emit(crc[:8], "IDLE", checked=False)
                with m.If(self.tx.ready):
                    m.d.sync += self.done.eq(1)
        # The output word is taken and shifted out under ``in_output``, a register set on
        # the way into the OUTPUT state and cleared on the way out, not under the state
        # decode: the word register's enable (as wide as the core's output word) is then
        # one LUT of registers, the stream's valid and the UART's ready. Flags registered a
        # byte ahead (last lane, last byte) keep the compares off the handshake path.
        with m.If(in_output):
            with m.If(~have_word):
                m.d.comb += self.m_axis.ready.eq(1)
                with m.If(self.m_axis.valid):
                    m.d.sync += [word.eq(self.m_axis.payload), have_word.eq(1),
                                 lane.eq(0), last_lane.eq(self.bytes_per_word == 1)]
            with m.Elif(self.tx.ready):       # the byte on tx (valid in OUTPUT) is taken
                m.d.sync += [word.eq(word >> 8), lane.eq(lane + 1),
                             last_lane.eq(lane == self.bytes_per_word - 2),
                             sent.eq(sent + 1), last_byte.eq(sent == self.out_len - 2)]
                with m.If(last_lane):
                    m.d.sync += have_word.eq(0)
        return m
