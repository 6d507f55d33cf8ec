"""The UART shell in the Amaranth simulator, with the fixture core as Amaranth code."""

import random
import re

import numpy as np
import pytest
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.sim import Simulator

from bitsmith.boards import protocol
from bitsmith.boards.protocol import Status
from bitsmith.boards.shell import Bridge, UARTReceiver, UARTTransmitter
from bitsmith.boards.shell.crc import crc16_step
from fixture_core import SumMaxCore
from bitsmith.sim.packing import pack, unpack
from qonnx.core.datatype import DataType

CPB = 4          # clocks per UART bit


def test_crc16_check_value():
    assert protocol.crc16(b"123456789") == 0x29B1


def test_crc16_residue_is_zero():
    frame = protocol.request(protocol.CMD_INFER, bytes(range(40)))
    assert protocol.crc16(frame[1:]) == 0


def test_crc16_hardware_step_matches_table():
    rng = random.Random(1)
    m = Module()
    crc, byte, out = Signal(16), Signal(8), Signal(16)
    m.d.comb += out.eq(crc16_step(crc, byte))
    sim = Simulator(m)

    async def tb(ctx):
        for _ in range(300):
            c, b = rng.randrange(1 << 16), rng.randrange(256)
            ctx.set(crc, c)
            ctx.set(byte, b)
            assert ctx.get(out) == protocol.crc16(bytes([b]), c), (c, b)
    sim.add_testbench(tb)
    sim.run()


@pytest.mark.parametrize("kind, value, message", [
    (UARTReceiver, 3, r"^Clocks per bit must be at least 4, not 3$"),
    (UARTTransmitter, 4.0, r"^Clocks per bit must be an integer, not 4\.0$"),
])
def test_uart_rejects_bad_clocks_per_bit(kind, value, message):
    with pytest.raises((TypeError, ValueError), match=message):
        kind(clocks_per_bit=value)


def test_bridge_rejects_unaligned_tdata():
    with pytest.raises(ValueError, match=r"^Input tdata bits must be a positive multiple of 8, "
                                         r"not 12$"):
        Bridge(in_words=1, in_tdata_bits=12, out_words=1, out_tdata_bits=8, clocks_per_bit=4)


def test_bridge_rejects_oversized_frame():
    with pytest.raises(ValueError, match=r"^Input length must be between 1 and 65535, "
                                         r"not 65536$"):
        Bridge(in_words=8192, in_tdata_bits=64, out_words=1, out_tdata_bits=8, clocks_per_bit=4)


class Harness(wiring.Component):
    """Bridge + the Amaranth fixture core, serial pins only."""

    rx: wiring.In(1, init=1)
    tx: wiring.Out(1)

    def __init__(self, core: SumMaxCore):
        self.core = core
        self.bridge = Bridge(in_words=core.words, in_tdata_bits=len(core.s_axis_tdata),
                             out_words=core.words, out_tdata_bits=len(core.m_axis_tdata),
                             clocks_per_bit=CPB, timeout_cycles=400)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.bridge = b = self.bridge
        m.submodules.core = c = self.core
        m.d.comb += [b.rx.eq(self.rx), self.tx.eq(b.tx),
                     c.s_axis_tdata.eq(b.s_axis.payload), c.s_axis_tvalid.eq(b.s_axis.valid),
                     b.s_axis.ready.eq(c.s_axis_tready),
                     b.m_axis.payload.eq(c.m_axis_tdata), b.m_axis.valid.eq(c.m_axis_tvalid),
                     c.m_axis_tready.eq(b.m_axis.ready)]
        return m


def run_link(core: SumMaxCore, chunks: list[tuple[bytes, int, set]], n_responses: int):
    """Send byte ``chunks`` (bytes, idle cycles after, indices of bytes with a bad stop bit)
    into the shell, each once the previous ones have been answered (as the host driver
    does); return the response frames (status, payload) once ``n_responses`` are in."""
    dut = Harness(core)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    received = bytearray()
    responses = []

    async def host_tx(ctx):
        for index, (data, idle, bad_stop) in enumerate(chunks):
            while len(responses) < index:
                await ctx.tick()
            for i, byte in enumerate(data):
                bits = [0] + [byte >> k & 1 for k in range(8)] + [0 if i in bad_stop else 1]
                for bit in bits:
                    ctx.set(dut.rx, bit)
                    await ctx.tick().repeat(CPB)
                ctx.set(dut.rx, 1)
            if idle:
                await ctx.tick().repeat(idle)

    async def host_rx(ctx):
        cycles = 0
        while len(responses) < n_responses:
            await ctx.tick()
            cycles += 1
            assert cycles < 200_000, f"no answer; got {bytes(received).hex()}"
            if ctx.get(dut.tx) == 0:              # start bit: sample mid-bit
                await ctx.tick().repeat(CPB // 2)
                byte = 0
                for k in range(8):
                    await ctx.tick().repeat(CPB)
                    byte |= ctx.get(dut.tx) << k
                await ctx.tick().repeat(CPB)
                assert ctx.get(dut.tx) == 1, "stop bit"
                received.append(byte)
                responses[:] = split_responses(bytes(received))

    sim.add_process(host_tx)
    sim.add_testbench(host_rx)
    sim.run()
    return responses


def split_responses(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    while len(data) >= 6:
        assert data[0] == protocol.RESPONSE_SYNC, data.hex()
        length = data[2] | data[3] << 8
        if len(data) < 6 + length:
            break
        frame, data = data[:6 + length], data[6 + length:]
        assert protocol.crc16(frame[1:]) == 0, f"response CRC: {frame.hex()}"
        out.append((frame[1], frame[4:4 + length]))
    return out


def infer_request(core: SumMaxCore, x: np.ndarray) -> bytes:
    words = pack(x, DataType[f"UINT{core.bits}"], core.elems)
    return protocol.request(protocol.CMD_INFER,
                            protocol.words_to_bytes(words, len(core.s_axis_tdata)))


def decode_output(core: SumMaxCore, payload: bytes) -> np.ndarray:
    words = protocol.bytes_to_words(payload, len(core.m_axis_tdata))
    return unpack(words, DataType[f"UINT{core.out_bits}"], 2)


@pytest.fixture
def core():
    return SumMaxCore(bits=4, elems=4, words=3)


@pytest.mark.parametrize("bits, elems, words", [
    (4, 4, 3),      # 16-bit words in and out
    (2, 2, 5),      # 8-bit words: one byte per word each way
    (8, 3, 2),      # 24-bit words: three bytes per word each way
])
def test_two_frames_bit_exact(bits, elems, words):
    core = SumMaxCore(bits=bits, elems=elems, words=words)
    rng = np.random.default_rng(bits)
    x = rng.integers(0, 1 << bits, size=(2, 1, 1, elems * words))
    got = run_link(core, [(infer_request(core, x[0]), 0, set()),
                          (infer_request(core, x[1]), 0, set())], 2)
    expected = core.reference(x).reshape(2, -1)
    for frame, (status, payload) in enumerate(got):
        assert status == Status.OK
        assert len(payload) == words * len(core.m_axis_tdata) // 8
        np.testing.assert_array_equal(decode_output(core, payload), expected[frame])


def test_info_reports_frame_lengths(core):
    [(status, payload)] = run_link(core, [(protocol.request(protocol.CMD_INFO), 0, set())], 1)
    assert (status, payload) == (Status.OK, bytes([6, 0, 6, 0]))


def corrupted(frame: bytes, index: int) -> bytes:
    return frame[:index] + bytes([frame[index] ^ 0x10]) + frame[index + 1:]


@pytest.mark.parametrize("case", ["crc", "length", "command", "lost_byte", "framing"])
def test_bad_request_is_rejected_then_link_recovers(core, case):
    x = np.arange(12).reshape(1, 1, 1, 12) % 16
    good = infer_request(core, x)
    bad_stop = set()
    if case == "crc":
        bad, expected = corrupted(good, 6), Status.CRC
    elif case == "length":
        bad, expected = protocol.request(protocol.CMD_INFER, good[4:-3]), Status.LENGTH
    elif case == "command":
        bad, expected = protocol.request(0x7E, good[4:-2]), Status.COMMAND
    elif case == "lost_byte":
        bad, expected = good[:5] + good[6:], Status.TIMEOUT
    else:
        bad, expected, bad_stop = good, Status.FRAMING, {7}
    got = run_link(core, [(bad, 600, bad_stop), (good, 0, set())], 2)
    assert [status for status, _ in got] == [expected, Status.OK]
    assert got[0][1] == b""
    np.testing.assert_array_equal(decode_output(core, got[1][1]), core.reference(x).reshape(-1))


def test_sync_hunting_skips_noise(core):
    x = np.full((1, 1, 1, 12), 15)
    got = run_link(core, [(b"\x00\x13\x5a" + infer_request(core, x), 0, set())], 1)
    assert got[0][0] == Status.OK
    assert re.fullmatch(r"(fc03){3}", got[0][1].hex())
