"""The dataflow netlist of stages and its AXI4-Stream top level (DESIGN.md §3)."""

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

__all__ = ["Stage", "Edge", "Dataflow", "AxiStreamTop", "INPUT", "OUTPUT"]

INPUT = "input"
"""Name of the dataflow's input in an :class:`Edge` (``src``); no stage may use it."""
OUTPUT = "output"
"""Name of the dataflow's output in an :class:`Edge` (``dst``); no stage may use it."""


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
        Has the stream input ports ``in_ports`` and output ports ``out_ports``.
    name : str
        Unique within the dataflow; names the submodules in the emitted Verilog.
    in_elem_bits, in_elems, out_elem_bits, out_elems : int or tuple of int
        Element width and elements per word of each port: an integer (every port of
        that side alike) or a tuple with one entry per port.
    fifo_depth : int
        Chain form of :class:`Dataflow` only: depth, in words of the next stage's input
        width, of the FIFO after the stage (and after the width converter, if any), at
        least 3: :class:`StreamFifo` sustains one word per cycle only from depth 3 on.
    in_ports, out_ports : tuple of str
        Stream port names; ``("i",)`` and ``("o",)`` by default.
    """

    component: wiring.Component
    name: str
    in_elem_bits: int | tuple
    in_elems: int | tuple
    out_elem_bits: int | tuple
    out_elems: int | tuple
    fifo_depth: int = 3
    in_ports: tuple = ("i",)
    out_ports: tuple = ("o",)

    def __post_init__(self):
        if not isinstance(self.component, wiring.Component):
            raise TypeError(f"component must be a wiring.Component, not {self.component!r}")
        if not isinstance(self.name, str) or not self.name.isidentifier() or self.name in (INPUT, OUTPUT):
            raise ValueError(f"name must be a Python identifier other than {INPUT!r} and {OUTPUT!r}, "
                             f"not {self.name!r}")
        for side in ("in_ports", "out_ports"):
            ports = getattr(self, side)
            if (not isinstance(ports, tuple) or not ports
                    or not all(isinstance(p, str) and p.isidentifier() for p in ports)
                    or len(set(ports)) != len(ports)):
                raise ValueError(f"{side} must be a non-empty tuple of distinct port names, not {ports!r}")
        for field, ports in (("in_elem_bits", self.in_ports), ("in_elems", self.in_ports),
                             ("out_elem_bits", self.out_ports), ("out_elems", self.out_ports)):
            value = getattr(self, field)
            if isinstance(value, tuple):
                if len(value) != len(ports):
                    raise ValueError(f"{field} must have one entry per port {ports!r}, not {value!r}")
                for v in value:
                    check_int(field, v)
            else:
                check_int(field, value)
        if check_int("fifo_depth", self.fifo_depth) < 3:
            raise ValueError(f"fifo_depth must be an integer >= 3, not {self.fifo_depth!r}")
        where = f"stage {self.name!r}"
        for port in self.in_ports + self.out_ports:
            bits, elems = self.port_shape(port)
            width = _stream_width(self.component, port, f"component of {where}")
            if width != bits * elems:
                raise ValueError(f"{where}: port {port!r} must have {elems}*{bits} = {bits * elems} "
                                 f"payload bits, not {width}")

    def port_shape(self, port: str) -> tuple[int, int]:
        """``(elem_bits, elems)`` of the stream port ``port``."""
        if port in self.in_ports:
            k, bits, elems = self.in_ports.index(port), self.in_elem_bits, self.in_elems
        elif port in self.out_ports:
            k, bits, elems = self.out_ports.index(port), self.out_elem_bits, self.out_elems
        else:
            raise ValueError(f"stage {self.name!r} has no stream port {port!r}")
        pick = (lambda v: v[k] if isinstance(v, tuple) else v)
        return pick(bits), pick(elems)


@dataclass(frozen=True)
class Edge:
    """A stream from ``src.src_port`` to ``dst.dst_port`` of a :class:`Dataflow` netlist.

    ``src`` may be :data:`INPUT` (the dataflow input, connected without a FIFO: the
    consumer's port must match its width) and ``dst`` :data:`OUTPUT`. Every other edge
    gets a :class:`WidthConverter` when the element counts differ, then a
    :class:`StreamFifo` of ``depth`` (>= 3) words of the consumer's width.
    """

    src: str
    dst: str
    src_port: str = "o"
    dst_port: str = "i"
    depth: int = 3

    def __post_init__(self):
        for field in ("src", "dst", "src_port", "dst_port"):
            if not isinstance(getattr(self, field), str):
                raise TypeError(f"{field} must be a string, not {getattr(self, field)!r}")
        if check_int("depth", self.depth) < 3:
            raise ValueError(f"depth must be an integer >= 3, not {self.depth!r}")

    @property
    def label(self) -> str:
        return f"{self.src}.{self.src_port} -> {self.dst}.{self.dst_port}"


def chain_edges(stages: Sequence[Stage]) -> tuple[Edge, ...]:
    """The edges of a chain of single-port stages, each FIFO of its producer's ``fifo_depth``."""
    names = [INPUT] + [s.name for s in stages] + [OUTPUT]
    depths = [3] + [s.fifo_depth for s in stages]
    return tuple(Edge(src=a, dst=b, depth=d) for a, b, d in zip(names, names[1:], depths))


class Dataflow(wiring.Component):
    """A DAG of stages joined by FIFOs, with width converters where needed.

    ``Dataflow(stages)`` is a chain: each stage feeds the next, each followed by a FIFO
    of its ``fifo_depth``. ``Dataflow(stages, edges)`` is any netlist: every input port
    of every stage is driven by exactly one edge, every output port drives exactly one,
    one edge leaves :data:`INPUT` and one reaches :data:`OUTPUT`, and the stages form no
    cycle. A multi-output stage (a :class:`~hw.plumbing.duplicate.Duplicate`) feeds
    several edges from its several ports; a multi-input one (an
    :class:`~hw.plumbing.add.Add`, a :class:`~hw.plumbing.concat.Concat`) takes them.

    On each edge a :class:`WidthConverter` re-packs the words when the element counts
    differ (element widths must match); it sits before the FIFO, so the FIFO holds words
    of the consumer's width (and can refill a bursty consumer, an MVAU reading its whole
    vector in its first neuron fold, at one word per cycle). Submodules are named after
    the stages: ``<name>``; an edge's FIFO ``<src>_fifo`` when ``src`` has one output
    port, else ``<src>_<port>_fifo``, and its converter ``<src>[_<port>]_to_<dst>``.
    The edge into :data:`OUTPUT` ends in a FIFO, so ``o.valid`` is a register.

    Parameters
    ----------
    stages : sequence of Stage
    edges : sequence of Edge, optional

    Members
    -------
    i : In(stream.Signature(unsigned(in_elems * in_elem_bits)))
        The input of the stage the :data:`INPUT` edge feeds.
    o : Out(stream.Signature(unsigned(out_elems * out_elem_bits)))
        The output of the stage feeding :data:`OUTPUT`.
    """

    def __init__(self, stages: Sequence[Stage], edges: Sequence[Edge] | None = None):
        stages = tuple(stages)
        if not stages:
            raise ValueError("stages must not be empty")
        for s in stages:
            if not isinstance(s, Stage):
                raise TypeError(f"stages must be Stage objects, not {s!r}")
        by_name = {}
        for s in stages:
            if s.name in by_name:
                raise ValueError(f"stage name {s.name!r} is used twice")
            by_name[s.name] = s
        edges = chain_edges(stages) if edges is None else tuple(edges)
        for e in edges:
            if not isinstance(e, Edge):
                raise TypeError(f"edges must be Edge objects, not {e!r}")
        self.stages, self.edges = stages, edges
        self.order = self._check(by_name, edges)
        first = next(e for e in edges if e.src == INPUT)
        last = next(e for e in edges if e.dst == OUTPUT)
        self.in_elem_bits, self.in_elems = by_name[first.dst].port_shape(first.dst_port)
        self.out_elem_bits, self.out_elems = by_name[last.src].port_shape(last.src_port)
        super().__init__({
            "i": In(stream.Signature(self.in_elems * self.in_elem_bits)),
            "o": Out(stream.Signature(self.out_elems * self.out_elem_bits)),
        })

    @staticmethod
    def _check(by_name: dict, edges: tuple) -> list[str]:
        """Validate the netlist; return the stage names in topological order."""
        driven, driving = {}, {}
        for e in edges:
            for end, port, table, side in ((e.src, e.src_port, driving, "out_ports"),
                                           (e.dst, e.dst_port, driven, "in_ports")):
                if end in (INPUT, OUTPUT):
                    if (end == INPUT) != (side == "out_ports"):
                        raise ValueError(f"edge {e.label}: {end!r} can only be an edge's "
                                         f"{'source' if end == INPUT else 'destination'}")
                elif end not in by_name:
                    raise ValueError(f"edge {e.label}: no stage named {end!r}")
                elif port not in getattr(by_name[end], side):
                    raise ValueError(f"edge {e.label}: stage {end!r} has no "
                                     f"{'output' if side == 'out_ports' else 'input'} port {port!r}")
                key = (end, None) if end in (INPUT, OUTPUT) else (end, port)
                if key in table:
                    raise ValueError(f"edge {e.label}: port {end}.{port} is on two edges")
                table[key] = e
        for s in by_name.values():
            for side, table, what in (("in_ports", driven, "input"), ("out_ports", driving, "output")):
                for port in getattr(s, side):
                    if (s.name, port) not in table:
                        raise ValueError(f"stage {s.name!r}: {what} port {port!r} is on no edge")
        if (INPUT, None) not in driving:
            raise ValueError(f"no edge leaves {INPUT!r}")
        if (OUTPUT, None) not in driven:
            raise ValueError(f"no edge reaches {OUTPUT!r}")
        for e in edges:
            if e.src == INPUT and e.dst == OUTPUT:
                raise ValueError(f"edge {e.label}: the input must feed a stage")
            if e.src != INPUT and e.dst != OUTPUT:
                sb, _ = by_name[e.src].port_shape(e.src_port)
                db, _ = by_name[e.dst].port_shape(e.dst_port)
                if sb != db:
                    raise ValueError(f"edge {e.label}: stage {e.dst!r} takes {db}-bit elements but "
                                     f"stage {e.src!r} produces {sb}-bit elements")
        # Kahn's algorithm over stage-to-stage edges
        preds = {n: {e.src for e in edges if e.dst == n and e.src != INPUT} for n in by_name}
        order, ready = [], [n for n in by_name if not preds[n]]
        while ready:
            n = ready.pop(0)
            order.append(n)
            for e in edges:
                if e.src == n and e.dst in preds:
                    preds[e.dst].discard(n)
                    if not preds[e.dst] and e.dst not in order and e.dst not in ready:
                        ready.append(e.dst)
        if len(order) != len(by_name):
            raise ValueError(f"the stages {sorted(set(by_name) - set(order))} form a cycle")
        return order

    def elaborate(self, platform):
        m = Module()
        by_name = {s.name: s for s in self.stages}
        for name in self.order:
            m.submodules[name] = by_name[name].component
        multi = {s.name for s in self.stages if len(s.out_ports) > 1}
        for e in self.edges:
            sink = wiring.flipped(self.o) if e.dst == OUTPUT else getattr(by_name[e.dst].component, e.dst_port)
            if e.src == INPUT:
                _connect(m, wiring.flipped(self.i), sink)
                continue
            src = by_name[e.src]
            upstream = getattr(src.component, e.src_port)
            bits, elems = src.port_shape(e.src_port)
            tag = f"{e.src}_{e.src_port}" if e.src in multi else e.src
            want = self.out_elems if e.dst == OUTPUT else by_name[e.dst].port_shape(e.dst_port)[1]
            if want != elems:
                conv = WidthConverter(elem_bits=bits, in_elems=elems, out_elems=want)
                m.submodules[f"{tag}_to_{e.dst}"] = conv
                _connect(m, upstream, conv.i)
                upstream, elems = conv.o, want
            fifo = StreamFifo(width=elems * bits, depth=e.depth)
            m.submodules[f"{tag}_fifo"] = fifo
            _connect(m, upstream, fifo.i)
            _connect(m, fifo.o, sink)
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
