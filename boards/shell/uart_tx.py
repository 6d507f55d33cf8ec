"""UART transmitter: 8 data bits, no parity, one stop bit (8N1)."""


from amaranth import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .uart_rx import check_clocks_per_bit


class UARTTransmitter(wiring.Component):
    """8N1 UART transmitter.

    Parameters
    ----------
    clocks_per_bit : int
        Clock cycles per bit (``f_clk / baud``, rounded), at least 4.

    Members
    -------
    bytes : In(stream.Signature(8))
        Bytes to send; taken (``ready``) only when the transmitter is idle.
    tx : Out(1)
        Serial line (idle high), driven from a register.

    Latency: the start bit begins the cycle after a byte is taken; a byte occupies
    ``10 * clocks_per_bit + 1`` cycles back to back (stop bit plus one idle cycle).
    """

    bytes: In(stream.Signature(8))
    tx: Out(1, init=1)

    def __init__(self, *, clocks_per_bit: int):
        self.clocks_per_bit = check_clocks_per_bit(clocks_per_bit)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        frame = Signal(10, init=0x3FF)     # stop . data[7:0] . start, shifted out LSB first
        bits_left = Signal(range(11))
        timer = Signal(range(self.clocks_per_bit))
        busy = Signal()

        m.d.comb += [self.bytes.ready.eq(~busy), self.tx.eq(frame[0])]
        with m.If(~busy):
            with m.If(self.bytes.valid):
                m.d.sync += [frame.eq(Cat(Const(0, 1), self.bytes.payload, Const(1, 1))),
                             bits_left.eq(10), timer.eq(self.clocks_per_bit - 1), busy.eq(1)]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Else():
            m.d.sync += [frame.eq(Cat(frame[1:], Const(1, 1))), bits_left.eq(bits_left - 1),
                         timer.eq(self.clocks_per_bit - 1), busy.eq(bits_left != 1)]
        return m
