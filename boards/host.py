"""Host side of the UART shell: frames in, results out, errors detected and retried.

:class:`Link` speaks :mod:`bitsmith.boards.protocol` over anything with pyserial's ``write``,
``read(n)`` (returning fewer bytes on timeout) and ``reset_input_buffer`` - a real
``serial.Serial`` or a stand-in for simulation. :func:`run_frames` packs frames with
``bitsmith.sim.packing`` exactly as ``design.json["io"]`` says and unpacks the answers.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from bitsmith.generator.errors import CheckFailed, InputDataError, ToolError
from bitsmith.generator.ir.integers import check_fits, to_int64
from bitsmith.sim.packing import pack, unpack

from . import protocol
from .bundle import CoreIO, StreamIO
from .protocol import Status

log = logging.getLogger(__name__)


class LinkFailed(CheckFailed):
    """No valid answer after all retries, or the board holds another design (exit 1)."""


class _BadResponse(Exception):
    """One attempt failed (reason in the message); the frame is sent again."""


class Link:
    """Request/response over a serial port, one request in flight.

    Parameters
    ----------
    port
        pyserial-like object.
    timeout_s : float
        Time allowed for one complete response (after the request is written).
    retries : int
        Extra attempts per request after a NAK, a bad CRC or a timeout.

    Members
    -------
    retried : list of str
        One entry per failed attempt (why), for reports and tests.
    """

    def __init__(self, port, *, timeout_s: float = 2.0, retries: int = 3):
        if not isinstance(retries, int) or retries < 0:
            raise ValueError(f"Retries must be a non-negative integer, not {retries!r}")
        self.port, self.timeout_s, self.retries = port, timeout_s, retries
        self.retried: list[str] = []

    def _read_exact(self, n: int, deadline: float) -> bytes:
        data = bytearray()
        while len(data) < n:
            if time.monotonic() > deadline:
                raise _BadResponse(f"timed out after {len(data)} of {n} bytes")
            data += self.port.read(n - len(data))
        return bytes(data)

    def _drain(self) -> None:
        """Discard whatever is still arriving (a late or partial answer)."""
        deadline = time.monotonic() + min(self.timeout_s, 0.5)
        while time.monotonic() < deadline and self.port.read(4096):
            pass
        self.port.reset_input_buffer()

    def _receive(self, expected_len: int) -> bytes:
        deadline = time.monotonic() + self.timeout_s
        skipped = 0
        while (first := self._read_exact(1, deadline)[0]) != protocol.RESPONSE_SYNC:
            skipped += 1
        head = self._read_exact(3, deadline)
        status, length = head[0], head[1] | head[2] << 8
        body = self._read_exact(length + protocol.TRAILER_BYTES, deadline)
        if protocol.crc16(head + body) != 0:
            raise _BadResponse("response CRC mismatch (corrupted on the way back)")
        if status != Status.OK:
            name = Status(status).name if status in Status._value2member_map_ else status
            raise _BadResponse(f"device reported {name} error")
        if length != expected_len:
            raise _BadResponse(f"response has {length} payload bytes, expected {expected_len}")
        if skipped:
            log.info("skipped %d stray bytes before a response", skipped)
        return body[:length]

    def transact(self, command: int, payload: bytes, expected_len: int, what: str) -> bytes:
        """Send one request and return the response payload, retrying failed attempts."""
        frame = protocol.request(command, payload)
        reason = ""
        for attempt in range(self.retries + 1):
            self.port.write(frame)
            try:
                return self._receive(expected_len)
            except _BadResponse as exc:
                reason = str(exc)
                self.retried.append(f"{what}: {reason}")
                log.warning("%s: %s (attempt %d of %d)", what, reason, attempt + 1,
                            self.retries + 1)
                self._drain()
        raise LinkFailed(f"{what}: no valid response after {self.retries + 1} attempts "
                         f"(last: {reason})")

    def info(self) -> tuple[int, int]:
        """(input frame bytes, output frame bytes) of the design on the board."""
        data = self.transact(protocol.CMD_INFO, b"", 4, "info")
        return data[0] | data[1] << 8, data[2] | data[3] << 8


def _frames(x: np.ndarray, side: StreamIO, where: str) -> np.ndarray:
    x = np.asarray(x)
    if x.shape[1:] != side.shape:
        raise InputDataError(f"{where}: frames must have shape {side.shape} after the batch "
                             f"axis, not {x.shape[1:]}")
    x = to_int64(x, f"{where}: batch", error=InputDataError)       # exact: nothing wraps or rounds
    check_fits(x, side.dtype, f"{where}: batch", error=InputDataError)
    return x


def run_frames(core: CoreIO, link: Link, x: np.ndarray, *, where: str = "input") -> np.ndarray:
    """Run every frame of ``x`` (``(N, *in.shape)``) on the board; ``(N, *out.shape)``."""
    x = _frames(x, core.inp, where)
    in_len, out_len = link.info()
    if (in_len, out_len) != (core.inp.frame_bytes, core.out.frame_bytes):
        raise LinkFailed(f"the board's design takes {in_len}-byte frames and answers "
                         f"{out_len} bytes, but this design needs {core.inp.frame_bytes} and "
                         f"{core.out.frame_bytes}: program the bitstream of this build")
    outputs = []
    for n, frame in enumerate(x):
        try:
            words = pack(frame.reshape(-1), core.inp.dtype, core.inp.elems_per_word)
        except ValueError as exc:
            raise InputDataError(f"{where}: frame {n}: {exc}") from None
        answer = link.transact(protocol.CMD_INFER,
                               protocol.words_to_bytes(words, core.inp.tdata_bits),
                               core.out.frame_bytes, f"frame {n}")
        values = unpack(protocol.bytes_to_words(answer, core.out.tdata_bits), core.out.dtype,
                        core.out.elems_per_word)
        outputs.append(values.reshape(core.out.shape))
    return np.stack(outputs) if outputs else np.zeros((0, *core.out.shape), dtype=np.int64)


def default_timeout(core: CoreIO, baud: int) -> float:
    """Seconds for one exchange: both frames on the wire twice over, plus 0.5 s."""
    wire = (core.inp.frame_bytes + core.out.frame_bytes + 12) * 10 / baud
    return 0.5 + 2 * wire


def open_port(device: str, baud: int):
    """A pyserial port in raw 8N1 with a short read timeout."""
    import serial
    try:
        return serial.Serial(device, baudrate=baud, bytesize=8, parity="N", stopbits=1,
                             timeout=0.05)
    except (serial.SerialException, OSError) as exc:
        raise ToolError(f"--port {device}: {exc}") from None


def board_baud(out_dir: Path, board: str, default: int) -> int:
    """The baud rate ``synth`` built the shell with (``synth.json``), else ``default``."""
    path = Path(out_dir) / "board" / board / "synth.json"
    try:
        return int(json.loads(path.read_text())["uart"]["baud"])
    except (OSError, KeyError, TypeError, ValueError):
        return default
