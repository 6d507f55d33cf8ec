"""Weight memory loaded at run time: iCE40 SPRAM (SB_SPRAM256KA) or a plain RAM."""

from __future__ import annotations

import math

from amaranth.hdl import Array, Cat, ClockSignal, Const, Instance, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..streams import check_int, delay, ram_attrs

__all__ = ["RuntimeWeights", "SPRAM_WORDS", "SPRAM_BITS", "spram_count"]

#: An SB_SPRAM256KA holds 16384 words of 16 bits.
SPRAM_WORDS, SPRAM_BITS = 16384, 16
#: Implementations: ``spram`` instantiates SB_SPRAM256KA primitives (iCE40 UltraPlus);
#: ``ram`` is an Amaranth memory with the same behaviour (any target, and the Amaranth
#: simulator, which cannot run a vendor primitive).
KINDS = ("spram", "ram")


def spram_count(width: int, depth: int) -> int:
    """SB_SPRAM256KA primitives for ``depth`` words of ``width`` bits."""
    return math.ceil(width / SPRAM_BITS) * math.ceil(depth / SPRAM_WORDS)


class RuntimeWeights(wiring.Component):
    """A single-port memory written once after reset, then read every cycle.

    An iCE40 UltraPlus's four SPRAMs (256 kbit each) cannot be initialised by the
    bitstream, so weights kept there are written after each reset: the first ``depth``
    words presented on ``w_data``/``w_en`` go to addresses ``0..depth-1`` in order, and
    ``loading`` stays high until the last of them is written. From then on the memory
    is read: ``r_addr`` at cycle ``t`` gives its word on ``r_data`` at ``t + 1`` (the
    SPRAM's own output register). One address port serves both, as an SPRAM has one.
    A loaded word is written one cycle after it is taken (from registers), so a read
    must come at least two cycles after the last word is taken.

    Parameters
    ----------
    width, depth : int
        Word width and words; a ``spram`` memory takes :func:`spram_count` primitives
        (``ceil(width/16)`` side by side, ``ceil(depth/16384)`` deep).
    kind : str
        ``"spram"`` or ``"ram"`` (:data:`KINDS`).

    Members
    -------
    w_data : In(width), w_en : In(1)
        A word to load (taken only while ``loading``).
    loading : Out(1)
        High from reset until ``depth`` words have been loaded (a register).
    r_addr : In(range(depth)), r_data : Out(width)
        Read port, one cycle of latency; its data is unspecified while ``loading``.
    """

    def __init__(self, *, width: int, depth: int, kind: str = "spram"):
        self.width = check_int("width", width)
        self.depth = check_int("depth", depth)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, not {kind!r}")
        self.kind = kind
        super().__init__({
            "w_data": In(self.width), "w_en": In(1), "loading": Out(1, init=1),
            "r_addr": In(range(self.depth)), "r_data": Out(self.width),
        })

    @property
    def primitives(self) -> int:
        return spram_count(self.width, self.depth) if self.kind == "spram" else 0

    def elaborate(self, platform):
        m = Module()
        w_addr = Signal(range(self.depth), name="w_addr")
        take = Signal(name="take")
        m.d.comb += take.eq(self.loading & self.w_en)
        with m.If(take):
            m.d.sync += w_addr.eq(w_addr + 1)
            with m.If(w_addr == self.depth - 1):
                m.d.sync += [w_addr.eq(0), self.loading.eq(0)]
        # the write reaches the memory one cycle later, from registers: the handshake
        # logic that makes ``w_en`` never shares a path with the SPRAM's slow write pins
        write = Signal(name="write")
        write_addr = Signal(range(self.depth), name="write_addr", reset_less=True)
        write_data = Signal(self.width, name="write_data", reset_less=True)
        writing = Signal(name="writing", init=1)
        m.d.sync += [write.eq(take), write_addr.eq(w_addr), write_data.eq(self.w_data),
                     writing.eq(self.loading)]
        addr = Signal(range(self.depth), name="addr")
        m.d.comb += addr.eq(Mux(writing, write_addr, self.r_addr))
        if self.kind == "ram":
            m.submodules.storage = storage = Memory(
                shape=self.width, depth=self.depth, init=[],
                attrs=ram_attrs(self.depth, collisions_unused=True))
            wr, rd = storage.write_port(), storage.read_port()
            m.d.comb += [wr.addr.eq(addr), wr.data.eq(write_data), wr.en.eq(write),
                         rd.addr.eq(addr), self.r_data.eq(rd.data)]
            return m
        lanes = math.ceil(self.width / SPRAM_BITS)
        banks = math.ceil(self.depth / SPRAM_WORDS)
        padded = Signal(lanes * SPRAM_BITS, name="w_padded")
        m.d.comb += padded.eq(write_data)
        low = addr[:min(len(addr), 14)]
        bank = addr[14:] if len(addr) > 14 else Const(0, 1)
        outputs = []
        for b in range(banks):
            selected = Signal(name=f"bank{b}_write")
            m.d.comb += selected.eq(write & (bank == b))
            words = []
            for lane in range(lanes):
                out = Signal(SPRAM_BITS, name=f"spram{b}_{lane}_out")
                m.submodules[f"spram{b}_{lane}"] = Instance(
                    "SB_SPRAM256KA",
                    i_ADDRESS=low, i_DATAIN=padded[lane * SPRAM_BITS:(lane + 1) * SPRAM_BITS],
                    i_MASKWREN=Const(0b1111, 4), i_WREN=selected, i_CHIPSELECT=Const(1, 1),
                    i_CLOCK=ClockSignal(), i_STANDBY=Const(0, 1), i_SLEEP=Const(0, 1),
                    i_POWEROFF=Const(1, 1), o_DATAOUT=out)
                words.append(out)
            outputs.append(Cat(*words)[:self.width])
        if banks == 1:
            m.d.comb += self.r_data.eq(outputs[0])
        else:
            m.d.comb += self.r_data.eq(Array(outputs)[delay(m, bank, 1, "r_bank")])
        return m
