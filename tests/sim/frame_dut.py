"""A tiny frame-based DUT with the bitsmith top ports (and broken variants) for the RTL runners."""

from __future__ import annotations

import os
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from bitsmith.sim.rtl import StreamIO

IN_WORDS = 3
OUT_WORDS = 2
BUGS = (None, "tlast", "drop", "unstable", "stall3")
STALL3_CYCLES = 3


class FrameSumXor(wiring.Component):
    """Reads 3 words per frame, emits 2: their sum (mod 2**out_bits) and their xor.

    Parameters
    ----------
    in_bits, out_bits : int
        ``s_axis_tdata`` and ``m_axis_tdata`` widths; ``out_bits >= in_bits + 2``.
    bug : {None, "tlast", "drop"}
        ``"tlast"`` raises tlast on the first word of each frame instead of the last;
        ``"drop"`` drops the xor word of frame 1 (and marks its sum as last);
        ``"unstable"`` flips tdata bit 0 every cycle, breaking the hold rule when stalled;
        ``"stall3"`` holds ``s_axis_tready`` low for :data:`STALL3_CYCLES` cycles before
        every third frame (right data, irregular timing: gaps 3, 3, 6, ...).

    Members
    -------
    s_axis_tdata, s_axis_tvalid, s_axis_tready, m_axis_tdata, m_axis_tvalid,
    m_axis_tready, m_axis_tlast : the AXI4-Stream ports of DESIGN.md §3.

    Latency and throughput: the sum word is valid the cycle after the third input word
    is taken; with no stalls a frame completes every 3 cycles, the first at cycle 4.
    """

    def __init__(self, *, in_bits: int, out_bits: int, bug: str | None = None):
        if out_bits < in_bits + 2:
            raise ValueError(f"out_bits must be at least in_bits + 2, not {out_bits!r}")
        if bug not in BUGS:
            raise ValueError(f"bug must be one of {BUGS}, not {bug!r}")
        self._out_bits = out_bits
        self._bug = bug
        super().__init__({
            "s_axis_tdata": In(in_bits), "s_axis_tvalid": In(1), "s_axis_tready": Out(1),
            "m_axis_tdata": Out(out_bits), "m_axis_tvalid": Out(1), "m_axis_tready": In(1),
            "m_axis_tlast": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        count = Signal(range(IN_WORDS))
        acc_sum = Signal(self._out_bits)
        acc_xor = Signal(self._out_bits)
        out_sum = Signal(self._out_bits)
        out_xor = Signal(self._out_bits)
        second = Signal()  # the output register shows the xor word
        frame = Signal(2)  # index of the frame in the output register, saturating at 3
        loaded = Signal()  # a frame has been loaded into the output register before
        dropping = (frame == 1) if self._bug == "drop" else 0

        out_fire = self.m_axis_tvalid & self.m_axis_tready
        frees = out_fire & (second | dropping)
        ready = (count != IN_WORDS - 1) | ~self.m_axis_tvalid | frees
        if self._bug == "stall3":
            pause = Signal(range(STALL3_CYCLES + 1))
            third = Signal(range(3))
            ready = ready & (pause == 0)
            with m.If(pause != 0):
                m.d.sync += pause.eq(pause - 1)
            with m.If(self.s_axis_tvalid & ready & (count == IN_WORDS - 1)):
                m.d.sync += third.eq(Mux(third == 2, 0, third + 1))
                with m.If(third == 1):
                    m.d.sync += pause.eq(STALL3_CYCLES)
        m.d.comb += self.s_axis_tready.eq(ready)
        in_fire = self.s_axis_tvalid & self.s_axis_tready

        with m.If(out_fire):
            m.d.sync += second.eq(~second)
            with m.If(second | dropping):
                m.d.sync += [self.m_axis_tvalid.eq(0), second.eq(0)]
        with m.If(in_fire):
            total = acc_sum + self.s_axis_tdata
            parity = acc_xor ^ self.s_axis_tdata
            with m.If(count == IN_WORDS - 1):
                m.d.sync += [out_sum.eq(total), out_xor.eq(parity), count.eq(0),
                             acc_sum.eq(0), acc_xor.eq(0), self.m_axis_tvalid.eq(1),
                             second.eq(0)]
                m.d.sync += loaded.eq(1)
                with m.If(loaded):
                    m.d.sync += frame.eq(Mux(frame == 3, 3, frame + 1))
            with m.Else():
                m.d.sync += [acc_sum.eq(total), acc_xor.eq(parity), count.eq(count + 1)]

        word = Mux(second, out_xor, out_sum)
        if self._bug == "unstable":
            toggle = Signal()
            m.d.sync += toggle.eq(~toggle)
            word = word ^ toggle
        m.d.comb += self.m_axis_tdata.eq(word)
        if self._bug == "tlast":
            m.d.comb += self.m_axis_tlast.eq(~second)
        else:
            m.d.comb += self.m_axis_tlast.eq(second | dropping)
        return m


def expected_frames(frames: list[list[int]], out_bits: int) -> list[list[int]]:
    """Independent reference of :class:`FrameSumXor`."""
    result = []
    for frame in frames:
        parity = 0
        for word in frame:
            parity ^= word
        result.append([sum(frame) % (1 << out_bits), parity])
    return result


def emit(tmp_dir: Path, *, in_bits: int, out_bits: int, bug: str | None = None) -> Path:
    """Write the Verilog of one variant (top module ``dut_top``) into ``tmp_dir``."""
    saved = os.environ.get("AMARANTH_USE_YOSYS")
    os.environ["AMARANTH_USE_YOSYS"] = "builtin"
    try:
        text = verilog.convert(FrameSumXor(in_bits=in_bits, out_bits=out_bits, bug=bug),
                               name="dut_top")
    finally:
        if saved is None:
            del os.environ["AMARANTH_USE_YOSYS"]
        else:
            os.environ["AMARANTH_USE_YOSYS"] = saved
    path = tmp_dir / f"dut_top_{in_bits}_{out_bits}_{bug or 'ok'}.v"
    path.write_text(text)
    return path


def stream_io(in_bits: int, out_bits: int) -> StreamIO:
    """The :class:`StreamIO` of :class:`FrameSumXor`."""
    return StreamIO(top="dut_top", in_bits=in_bits, out_bits=out_bits,
                    in_words_per_frame=IN_WORDS, out_words_per_frame=OUT_WORDS)
