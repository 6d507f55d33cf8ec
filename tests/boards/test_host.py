"""The host driver's protocol code against a Python model of the board."""

import numpy as np
import pytest

from bitsmith.boards import protocol
from bitsmith.boards.bundle import read_core_io
from bitsmith.boards.host import Link, LinkFailed, run_frames
from bitsmith.boards.protocol import Status
from fixture_core import SumMaxCore, write_bundle
from bitsmith.generator.errors import InputDataError
from bitsmith.sim.packing import pack, unpack
from qonnx.core.datatype import DataType


class ModelPort:
    """A serial port whose far end computes the fixture core, with injectable faults."""

    def __init__(self, core: SumMaxCore, faults=()):
        self.core, self.faults = core, list(faults)
        self.inbox = bytearray()
        self.requests = 0

    def write(self, data: bytes) -> None:
        frame = bytes(data)
        self.requests += 1
        fault = self.faults.pop(0) if self.faults else None
        assert frame[0] == protocol.REQUEST_SYNC and protocol.crc16(frame[1:]) == 0
        if frame[1] == protocol.CMD_INFO:
            answer = protocol.response(Status.OK, bytes([6, 0, 6, 0]))
        else:
            words = protocol.bytes_to_words(frame[4:-2], 16)
            x = unpack(words, DataType["UINT4"], 4).reshape(1, 1, 1, 12)
            y = self.core.reference(x).reshape(-1)
            answer = protocol.response(Status.OK, protocol.words_to_bytes(
                pack(y, DataType["UINT6"], 2), 16))
        if fault == "nak":
            answer = protocol.response(Status.CRC)
        elif fault == "garble":
            answer = answer[:5] + bytes([answer[5] ^ 1]) + answer[6:]
        elif fault == "silent":
            answer = b""
        elif fault == "noise":
            answer = b"\x00\xff" + answer
        self.inbox += answer

    def read(self, n: int) -> bytes:
        out, self.inbox = bytes(self.inbox[:n]), self.inbox[n:]
        return out

    def reset_input_buffer(self) -> None:
        self.inbox.clear()


@pytest.fixture
def setup(tmp_path):
    core = SumMaxCore(bits=4, elems=4, words=3)
    io = read_core_io(write_bundle(core, tmp_path))
    x = np.random.default_rng(3).integers(0, 16, size=(4, 1, 1, 12))
    return core, io, x


@pytest.mark.parametrize("faults, retried", [
    ([], 0), ([None, "nak"], 1), ([None, "garble", None, "silent"], 2), ([None, "noise"], 0),
])
def test_run_frames_is_exact_despite_faults(setup, faults, retried):
    core, io, x = setup
    link = Link(ModelPort(core, faults), timeout_s=0.05, retries=3)
    y = run_frames(io, link, x)
    np.testing.assert_array_equal(y, core.reference(x))
    assert len(link.retried) == retried


def test_persistent_fault_fails(setup):
    core, io, x = setup
    link = Link(ModelPort(core, [None, "nak", "nak"]), timeout_s=0.05, retries=1)
    with pytest.raises(LinkFailed, match=r"^frame 0: no valid response after 2 attempts "
                                         r"\(last: device reported CRC error\)$"):
        run_frames(io, link, x)


def test_wrong_design_on_board_is_refused(setup):
    core, io, x = setup

    class Other(ModelPort):
        def write(self, data):
            self.inbox += protocol.response(Status.OK, bytes([7, 0, 6, 0]))
    with pytest.raises(LinkFailed, match=r"^the board's design takes 7-byte frames"):
        run_frames(io, Link(Other(core), timeout_s=0.05), x)


def test_bad_input_shape_and_values(setup):
    core, io, x = setup
    link = Link(ModelPort(core), timeout_s=0.05)
    with pytest.raises(InputDataError, match=r"^x\.npy: frames must have shape \(1, 1, 12\) "
                                             r"after the batch axis, not \(1, 12\)$"):
        run_frames(io, link, x.reshape(4, 1, 12), where="x.npy")
    bad = x.copy()
    bad[1, 0, 0, 5] = 16
    with pytest.raises(InputDataError, match=r"^x\.npy: batch\[1, 0, 0, 5\] is 16, outside UINT4 \(0\.\.15\)$"):
        run_frames(io, Link(ModelPort(core), timeout_s=0.05), bad, where="x.npy")


def test_run_command_rejects_board_without_uart_shell(setup, tmp_path, capsys):
    from bitsmith.generator.cli import main
    core, io, x = setup
    np.save(tmp_path / "x.npy", x)
    args = ["run", str(tmp_path), "--input", str(tmp_path / "x.npy"),
            "--output", str(tmp_path / "y.npy")]
    assert main([*args, "--board", "pynq_z2", "--port", "/dev/null"]) == 2
    assert capsys.readouterr().err == ("bitsmith: error: --board pynq_z2: no UART shell on this "
                                       "board (use the generated PYNQ driver on the board "
                                       "itself)\n")
    assert main([*args, "--board", "icebreaker", "--port", str(tmp_path / "ttyNONE")]) == 2
    assert capsys.readouterr().err.startswith(f"bitsmith: error: --port {tmp_path}/ttyNONE: ")
    assert not (tmp_path / "y.npy").exists()
