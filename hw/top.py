"""The dataflow chain of stages and its AXI4-Stream top level (DESIGN.md §3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .plumbing.fifo import StreamFifo
from .plumbing.register_slice import RegisterSlice
from .plumbing.width_converter import WidthConverter
from .streams import check_int

__all__ = ["Stage", "Dataflow", "AxiStreamTop"]


def _stream_width(component, name: str, where: str) -> int:
    """Payload width of the stream port ``name`` of ``component``."""
    port = getattr(component, name, None)
    if port is None or not all(hasattr(port, a) for a in ("payload", "valid", "ready")):
        raise TypeError(f"{where} must have a stream port {name!r}")
    return len(port.payload)


def _connect(m: Module, source, sink) -> None:
    """Stream ``source`` (an output) drives stream ``sink`` (an input) of the same width."""
    m.d.comb += [sink.payload.eq(source.payload), sink.valid.eq(source.valid),
                 source.ready.eq(sink.ready)]


@dataclass(frozen=True)
class Stage:
    """One component of a :class:`Dataflow` and the shape of its streams.

    Parameters
    ----------
    component : wiring.Component
        Has stream ports ``i`` (payload ``in_elems*in_elem_bits`` bits) and ``o``
        (payload ``out_elems*out_elem_bits`` bits).
    name : str
        Unique within the dataflow; names the submodules in the emitted Verilog.
    in_elem_bits, in_elems, out_elem_bits, out_elems : int
        Element width and elements per word of each port.
    fifo_depth : int
        Depth, in words of the next stage's input width, of the FIFO after the stage (and
        after the width converter, if any), at least 3: :class:`StreamFifo` sustains one
        word per cycle only from depth 3 on.
    """

    component: wiring.Component
    name: str
    in_elem_bits: int
    in_elems: int
    out_elem_bits: int
    out_elems: int
    fifo_depth: int = 3

    def __post_init__(self):
        if not isinstance(self.component, wiring.Component):
            raise TypeError(f"component must be a wiring.Component, not {self.component!r}")
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"name must be a Python identifier, not {self.name!r}")
        for field in ("in_elem_bits", "in_elems", "out_elem_bits", "out_elems"):
            check_int(field, getattr(self, field))
        if check_int("fifo_depth", self.fifo_depth) < 3:
            raise ValueError(f"fifo_depth must be an integer >= 3, not {self.fifo_depth!r}")
        where = f"stage {self.name!r}"
        for port, bits, elems in (("i", self.in_elem_bits, self.in_elems),
                                  ("o", self.out_elem_bits, self.out_elems)):
            width = _stream_width(self.component, port, f"component of {where}")
            if width != bits * elems:
                raise ValueError(f"{where}: port {port!r} must have {elems}*{bits} = {bits * elems} "
                                 f"payload bits, not {width}")


class Dataflow(wiring.Component):
    """A chain of stages, each followed by a FIFO, with width converters where needed.

    Between consecutive stages, a :class:`WidthConverter` re-packs the words when the
    element counts differ (element widths must match); it sits before the FIFO, so the
    FIFO holds words of the consumer's width. Submodules are named after the
    stages: ``<name>``, ``<name>_fifo`` and ``<name>_to_<next>`` for a converter.

    Parameters
    ----------
    stages : sequence of Stage

    Members
    -------
    i : In(stream.Signature(unsigned(stages[0].in_elems * stages[0].in_elem_bits)))
    o : Out(stream.Signature(unsigned(stages[-1].out_elems * stages[-1].out_elem_bits)))
    """

    def __init__(self, stages: Sequence[Stage]):
        stages = tuple(stages)
        if not stages:
            raise ValueError("stages must not be empty")
        for s in stages:
            if not isinstance(s, Stage):
                raise TypeError(f"stages must be Stage objects, not {s!r}")
        names = [s.name for s in stages]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"stage name {name!r} is used twice")
        for prev, nxt in zip(stages, stages[1:]):
            if prev.out_elem_bits != nxt.in_elem_bits:
                raise ValueError(f"stage {nxt.name!r} takes {nxt.in_elem_bits}-bit elements but stage "
                                 f"{prev.name!r} produces {prev.out_elem_bits}-bit elements")
        self.stages = stages
        first, last = stages[0], stages[-1]
        self.in_elem_bits, self.in_elems = first.in_elem_bits, first.in_elems
        self.out_elem_bits, self.out_elems = last.out_elem_bits, last.out_elems
        super().__init__({
            "i": In(stream.Signature(first.in_elems * first.in_elem_bits)),
            "o": Out(stream.Signature(last.out_elems * last.out_elem_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        upstream = wiring.flipped(self.i)
        for k, stage in enumerate(self.stages):
            m.submodules[stage.name] = stage.component
            _connect(m, upstream, stage.component.i)
            upstream = stage.component.o
            elems = stage.out_elems
            if k + 1 < len(self.stages) and stage.out_elems != self.stages[k + 1].in_elems:
                # Convert before buffering: the FIFO then holds words of the consumer's
                # width and can refill a bursty consumer (an MVAU reading its whole
                # vector in its first neuron fold) at one word per cycle.
                nxt = self.stages[k + 1]
                conv = WidthConverter(elem_bits=stage.out_elem_bits, in_elems=stage.out_elems,
                                      out_elems=nxt.in_elems)
                m.submodules[f"{stage.name}_to_{nxt.name}"] = conv
                _connect(m, upstream, conv.i)
                upstream, elems = conv.o, nxt.in_elems
            fifo = StreamFifo(width=elems * stage.out_elem_bits, depth=stage.fifo_depth)
            m.submodules[f"{stage.name}_fifo"] = fifo
            _connect(m, upstream, fifo.i)
            upstream = fifo.o
        _connect(m, upstream, wiring.flipped(self.o))
        return m


def _tdata_bits(payload_bits: int) -> int:
    return max(8, -(-payload_bits // 8) * 8)


class AxiStreamTop(wiring.Component):
    """AXI4-Stream wrapper of a dataflow: the ports of the generated Verilog top.

    Uses the default ``sync`` domain, so the Verilog has ``clk`` and a synchronous
    active-high ``rst``. ``tdata`` is the payload zero-padded to a multiple of 8 bits
    (at least 8); padding bits of ``s_axis_tdata`` are ignored.

    Parameters
    ----------
    dataflow : wiring.Component
        Has stream ports ``i`` and ``o`` (usually a :class:`Dataflow`).
    in_elem_bits, in_elems, out_elem_bits, out_elems : int
        Element width and elements per word of ``dataflow.i`` / ``dataflow.o``.
    out_words_per_frame : int
        Output words per frame; ``m_axis_tlast`` marks the last of them.

    Members
    -------
    s_axis_tdata : In(tdata_in_bits)
    s_axis_tvalid : In(1)
    s_axis_tready : Out(1)
    m_axis_tdata : Out(tdata_out_bits)
    m_axis_tvalid : Out(1)
    m_axis_tready : In(1)
    m_axis_tlast : Out(1)

    Latency and throughput
    ----------------------
    Those of ``dataflow`` plus one cycle: ``s_axis`` enters through a
    :class:`~hw.plumbing.register_slice.RegisterSlice`, so ``s_axis_tready`` is a
    register output (the first stage's ready logic does not reach the core's port; on a
    board the port may be far from the stage). ``m_axis_tvalid`` is a register output
    too (every dataflow ends in a :class:`StreamFifo`).
    """

    def __init__(self, *, dataflow: wiring.Component, in_elem_bits: int, in_elems: int,
                 out_elem_bits: int, out_elems: int, out_words_per_frame: int):
        if not isinstance(dataflow, wiring.Component):
            raise TypeError(f"dataflow must be a wiring.Component, not {dataflow!r}")
        self.in_payload_bits = check_int("in_elem_bits", in_elem_bits) * check_int("in_elems", in_elems)
        self.out_payload_bits = (check_int("out_elem_bits", out_elem_bits)
                                 * check_int("out_elems", out_elems))
        self.out_words_per_frame = check_int("out_words_per_frame", out_words_per_frame)
        for port, bits in (("i", self.in_payload_bits), ("o", self.out_payload_bits)):
            width = _stream_width(dataflow, port, "dataflow")
            if width != bits:
                raise ValueError(f"dataflow port {port!r} must have {bits} payload bits, not {width}")
        self.dataflow = dataflow
        self.tdata_in_bits = _tdata_bits(self.in_payload_bits)
        self.tdata_out_bits = _tdata_bits(self.out_payload_bits)
        super().__init__({
            "s_axis_tdata": In(self.tdata_in_bits),
            "s_axis_tvalid": In(1),
            "s_axis_tready": Out(1),
            "m_axis_tdata": Out(self.tdata_out_bits),
            "m_axis_tvalid": Out(1),
            "m_axis_tready": In(1),
            "m_axis_tlast": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.dataflow = df = self.dataflow
        m.submodules.s_axis_slice = entry = RegisterSlice(width=self.in_payload_bits)
        wiring.connect(m, entry.o, df.i)
        word = Signal(range(self.out_words_per_frame), name="out_word")
        last = word == self.out_words_per_frame - 1
        m.d.comb += [
            entry.i.payload.eq(self.s_axis_tdata[:self.in_payload_bits]),
            entry.i.valid.eq(self.s_axis_tvalid),
            self.s_axis_tready.eq(entry.i.ready),
            self.m_axis_tdata.eq(df.o.payload),
            self.m_axis_tvalid.eq(df.o.valid),
            df.o.ready.eq(self.m_axis_tready),
            self.m_axis_tlast.eq(last),
        ]
        with m.If(df.o.valid & self.m_axis_tready):
            m.d.sync += word.eq(word + 1)
            with m.If(last):
                m.d.sync += word.eq(0)
        return m
