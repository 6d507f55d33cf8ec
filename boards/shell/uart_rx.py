"""UART receiver: 8 data bits, no parity, one stop bit (8N1)."""


from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out


def check_clocks_per_bit(clocks_per_bit) -> int:
    if not isinstance(clocks_per_bit, int) or isinstance(clocks_per_bit, bool):
        raise TypeError(f"Clocks per bit must be an integer, not {clocks_per_bit!r}")
    if clocks_per_bit < 4:
        raise ValueError(f"Clocks per bit must be at least 4, not {clocks_per_bit!r}")
    return clocks_per_bit


class UARTReceiver(wiring.Component):
    """8N1 UART receiver.

    The line is synchronised by two flip-flops; a start bit is a low level held until the
    middle of the bit period, then the eight data bits (LSB first) and the stop bit are
    sampled in their middles.

    Parameters
    ----------
    clocks_per_bit : int
        Clock cycles per bit (``f_clk / baud``, rounded), at least 4.

    Members
    -------
    rx : In(1)
        Serial line (idle high).
    bytes : Out(stream.Signature(8))
        Received bytes. ``valid`` is held until ``ready``; a byte that arrives before the
        previous one was taken replaces it (the host protocol never sends that fast).
    framing_error : Out(1)
        One-cycle strobe when a stop bit was sampled low (the byte is dropped).

    Latency: a byte is valid 3 cycles after the middle of its stop bit (2 synchroniser
    stages and the output register); one byte per 10 bit periods.
    """

    rx: In(1, init=1)
    bytes: Out(stream.Signature(8))
    framing_error: Out(1)

    def __init__(self, *, clocks_per_bit: int):
        self.clocks_per_bit = check_clocks_per_bit(clocks_per_bit)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, line, init=1)

        timer = Signal(range(self.clocks_per_bit * 3 // 2 + 1))
        # ``timer == 0`` as a register of its own, set with every load or step of the timer
        # (from a compare of the current count): the states' decisions read one flip-flop,
        # not a compare of the whole count (iCE40 UP5K: the compare, the choice and the
        # timer's enable were 5 LUT levels, 21 ns)
        timer_zero = Signal(init=1)
        bit = Signal(range(9))
        shift = Signal(8)

        def load(value):
            m.d.sync += [timer.eq(value), timer_zero.eq(value == 0)]

        def step():
            m.d.sync += [timer.eq(timer - 1), timer_zero.eq(timer == 1)]

        with m.If(self.bytes.ready):
            m.d.sync += self.bytes.valid.eq(0)
        m.d.sync += self.framing_error.eq(0)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    load(self.clocks_per_bit // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(~timer_zero):
                    step()
                with m.Elif(line):               # glitch, not a start bit
                    m.next = "IDLE"
                with m.Else():
                    load(self.clocks_per_bit - 1)
                    m.d.sync += bit.eq(0)
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(~timer_zero):
                    step()
                with m.Else():
                    load(self.clocks_per_bit - 1)
                    m.d.sync += [shift.eq((shift >> 1) | (line << 7)), bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(~timer_zero):
                    step()
                with m.Else():
                    with m.If(line):
                        m.d.sync += [self.bytes.payload.eq(shift), self.bytes.valid.eq(1)]
                    with m.Else():
                        m.d.sync += self.framing_error.eq(1)
                    m.next = "WAIT_IDLE"
            with m.State("WAIT_IDLE"):            # a break holds the line low: wait it out
                with m.If(line):
                    m.next = "IDLE"
        return m
