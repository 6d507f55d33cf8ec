"""Stream duplicate (fork): every word goes to each of N outputs."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..streams import check_int

__all__ = ["Duplicate", "output_names"]

_NAMES = "abcdefghijklmnopqrstuvwxyz"


def output_names(outputs: int) -> tuple[str, ...]:
    """Port names of a :class:`Duplicate` with ``outputs`` outputs: ``a``, ``b``, ``c``, ..."""
    return tuple(_NAMES[:outputs])


class Duplicate(wiring.Component):
    """Copies each input word to ``outputs`` ports ``a``, ``b``, ...; each drains at its own pace.

    A word is taken when every output register is empty or being emptied, so the copies
    stay in order and the slowest branch sets the pace. Branches that rejoin (a residual
    add) need FIFOs deep enough to hold what one branch takes before the other returns
    its first result, else the fork waits on a full branch; bitsmith sizes them from
    the units' schedules (``generator/passes/size_fifos.py``).

    Parameters
    ----------
    width : int
        Payload bits.
    outputs : int
        Number of outputs, 2 to 26.

    Members
    -------
    i : In(stream.Signature(unsigned(width)))
    a, b, ... : Out(stream.Signature(unsigned(width)))
        One per output, named by :func:`output_names`.

    Latency and throughput
    ----------------------
    One word per cycle when all outputs are ready; a word is valid on every output the
    cycle after its input transfer. Output valids are registers.
    """

    def __init__(self, *, width, outputs=2):
        self.width = check_int("width", width)
        self.outputs = check_int("outputs", outputs, minimum=2)
        if self.outputs > len(_NAMES):
            raise ValueError(f"outputs must be an integer from 2 to {len(_NAMES)}, not {outputs!r}")
        self.names = output_names(self.outputs)
        super().__init__({"i": In(stream.Signature(self.width)),
                          **{n: Out(stream.Signature(self.width)) for n in self.names}})

    def elaborate(self, platform):
        m = Module()
        word = Signal(self.width)
        ports = [getattr(self, n) for n in self.names]
        valids = [Signal(name=f"{n}_valid") for n in self.names]
        free = 1
        for port, valid in zip(ports, valids):
            free = free & (~valid | port.ready)
            m.d.comb += [port.valid.eq(valid), port.payload.eq(word)]
        m.d.comb += self.i.ready.eq(free)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += word.eq(self.i.payload)
            m.d.sync += [v.eq(1) for v in valids]
        with m.Else():
            for port, valid in zip(ports, valids):
                with m.If(port.ready):
                    m.d.sync += valid.eq(0)
        return m
