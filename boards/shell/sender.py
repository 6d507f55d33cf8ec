"""Response-frame sender of the UART shell."""

from __future__ import annotations

from functools import reduce
from operator import or_

from amaranth import Array, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .. import protocol
from ..protocol import Status
from .crc import crc16_step
from .onehot import OneHotFSM
from .input_frame import check_tdata_bits
from .receiver import RequestLayout, check_length


#: The sender's states (:class:`~.onehot.OneHotFSM`, a flip-flop each).
STATES = ("IDLE", "SYNC", "STATUS", "LENGTH_LO", "LENGTH_HI", "INFO", "OUTPUT", "CRC_HI",
          "CRC_LO")

#: The states that offer their byte as long as they are in (OUTPUT waits for a word,
#: CRC_HI for the CRC).
PLAIN_OFFERS = frozenset({"SYNC", "STATUS", "LENGTH_LO", "LENGTH_HI", "INFO", "CRC_LO"})
assert PLAIN_OFFERS <= set(STATES), "an offering state that is not a state"


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
        Verdicts; ``ready`` is the idle state's flip-flop, so that nothing combinational
        from the sender reaches the receiver's state.
    feed_start : Out(1)
        Strobe to start streaming the buffered frame (a register; three cycles after an
        accepted ``CMD_INFER`` verdict is taken).
    m_axis : In(stream.Signature(out_tdata_bits))
        Output words of the core.
    tx : Out(stream.Signature(8))
        Bytes to the UART transmitter.
    done : Out(1)
        Registered strobe, two cycles after the last byte of a response was handed to the
        UART.
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
        # what the answer holds, registered with the verdict: the LENGTH_HI state's choice
        # reads two flip-flops, not compares of the length and the command (ECP5 TFC-w2a2:
        # the command's compare into the state register, 6.7 ns)
        empty = Signal(name="empty")             # an error answer: no payload
        output = Signal(name="output")           # an accepted CMD_INFER: the core's output
        # the strobes to the far side of the shell (the frame buffer by the core's input,
        # the receiver) are decided into a register here and then copied through plain
        # flip-flops: nextpnr places a strobe's flip-flop, and the LUT in front of it, by
        # its loads, so the decision's inputs crossed the device (ECP5 TFC-w2a2: the state
        # and the request's valid routed 3.0-4.2 ns into the strobes' resets, 6.8-7.8 ns);
        # two copies for the start strobe, one for ``done``
        start = Signal(name="start")
        start_q = Signal(name="start_q")
        finished = Signal(name="finished")

        m.d.sync += [start.eq(0), start_q.eq(start), self.feed_start.eq(start_q),
                     finished.eq(0), self.done.eq(finished)]
        sending = self.tx.valid & self.tx.ready

        # The CRC takes each sent byte one cycle later from a register (off the state
        # mux path); the UART needs 10 bit times per byte, so it is always up to date
        # before the next byte, and the CRC bytes wait for it explicitly.
        crc_byte = Signal(8)
        crc_pending = Signal()
        with m.If(crc_pending):
            m.d.sync += [crc.eq(crc16_step(crc, crc_byte)), crc_pending.eq(0)]

        # the byte each state offers: ``tx.payload`` is their AND-OR by the state flags
        # (one-hot), not a chain of choices in the order the states are written
        offers = {}

        def emit(value, next_state, *, checked=True):
            """Offer ``value`` (``tx.valid`` is made below, per state) and move on when taken."""
            offers.setdefault(fsm.current, value)
            with m.If(self.tx.ready):
                if checked:
                    m.d.sync += [crc_byte.eq(self.tx.payload), crc_pending.eq(1)]
                fsm.goto(next_state)

        # ``tx.valid`` is a register (``plain``: the states that offer a byte whenever they
        # are in) or the two states that wait for something, each a flag and a register:
        # not an OR of every state's offer in the order the states are written (iCE40
        # UP5K: the state flags, the offers' ORs and the UART's byte register enable, four
        # LUT levels, 16.5 ns)
        plain = Signal(name="plain_offer")

        def follow(state):
            m.d.sync += plain.eq(state in PLAIN_OFFERS)

        fsm = OneHotFSM(m, STATES, init="IDLE", name="state", on_goto=follow)
        with fsm.state("IDLE"):
            m.d.comb += self.request.ready.eq(1)
            with m.If(self.request.valid):
                verdict = self.request.payload
                ok = verdict.status == Status.OK
                infer = ok & (verdict.command == protocol.CMD_INFER)
                m.d.sync += [status.eq(verdict.status),
                             crc.eq(protocol.CRC_INIT), sent.eq(0), have_word.eq(0),
                             last_byte.eq(self.out_len == 1), empty.eq(~ok),
                             output.eq(infer)]
                with m.If(infer):
                    m.d.sync += [start.eq(1), length.eq(self.out_len)]
                with m.Elif(ok):
                    m.d.sync += length.eq(4)
                with m.Else():
                    m.d.sync += length.eq(0)
                fsm.goto("SYNC")
        with fsm.state("SYNC"):
            emit(protocol.RESPONSE_SYNC, "STATUS", checked=False)
        with fsm.state("STATUS"):
            emit(status, "LENGTH_LO")
        with fsm.state("LENGTH_LO"):
            emit(length[:8], "LENGTH_HI")
        with fsm.state("LENGTH_HI"):
            with m.If(empty):                     # every error answer is empty
                emit(length[8:], "CRC_HI")
            with m.Elif(output):
                emit(length[8:], "OUTPUT")
                with m.If(self.tx.ready):
                    m.d.sync += in_output.eq(1)
            with m.Else():
                emit(length[8:], "INFO")
        with fsm.state("INFO"):
            info_bytes = Array(Const((info >> (8 * i)) & 0xFF, 8) for i in range(4))
            emit(info_bytes[sent[:2]], "INFO")
            with m.If(sending):
                m.d.sync += sent.eq(sent + 1)
                with m.If(sent[:2] == 3):           # sent counts 0..3 here
                    fsm.goto("CRC_HI")
        with fsm.state("OUTPUT"):
            with m.If(have_word):
                emit(word[:8], "OUTPUT")
                with m.If(self.tx.ready & last_byte):
                    m.d.sync += in_output.eq(0)
                    fsm.goto("CRC_HI")

        with fsm.state("CRC_HI"):
            with m.If(~crc_pending):
                emit(crc[8:], "CRC_LO", checked=False)
        with fsm.state("CRC_LO"):
            emit(crc[:8], "IDLE", checked=False)
            with m.If(self.tx.ready):
                m.d.sync += finished.eq(1)
        m.d.comb += self.tx.valid.eq(plain | (fsm.ongoing("OUTPUT") & have_word)
                                     | (fsm.ongoing("CRC_HI") & ~crc_pending))
        m.d.comb += self.tx.payload.eq(
            reduce(or_, (Mux(fsm.ongoing(state), value, 0) for state, value in offers.items())))
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
