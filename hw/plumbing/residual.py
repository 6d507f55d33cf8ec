"""Residual block: ``o = i + body(i)`` with a duplicate, a bypass FIFO and an add."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..streams import check_dtype, check_int
from .add import Add
from .duplicate import Duplicate
from .fifo import StreamFifo
from .width_converter import WidthConverter

__all__ = ["ResidualBlock"]


def _connect(m: Module, source, sink) -> None:
    m.d.comb += [sink.payload.eq(source.payload), sink.valid.eq(source.valid),
                 source.ready.eq(sink.ready)]


class ResidualBlock(wiring.Component):
    """``i`` is duplicated; one copy runs through ``body``, the other through a FIFO of
    ``bypass_depth`` words; the two meet in an elementwise :class:`~hw.plumbing.add.Add`.

::

        i --> Duplicate --a--> [conv pe->body_in] --> body --> [conv body_out->pe] --> Add.a
                        --b--> StreamFifo(bypass_depth) ---------------------------> Add.b --> o

    Width converters are inserted where the body's element counts differ from ``pe``.

    Parameters
    ----------
    body : wiring.Component
        Stream ports ``i`` (``body_in_elems`` elements of ``in_dtype``) and ``o``
        (``body_out_elems`` elements of ``body_dtype``), e.g. a :class:`bitsmith.hw.top.Dataflow`;
        its output stream has the same elements, in the same order, as its input.
    in_dtype, body_dtype, out_dtype : DataType
        Types of the block input, the body output and the sum (see :class:`Add`).
    pe : int
        Elements per word of ``i``, the bypass and ``o``.
    body_in_elems, body_out_elems : int
    bypass_depth : int
        Words the bypass FIFO holds (>= 3); it must cover the body's lead, see
        :func:`bitsmith.generator.lowering.conv.bypass_depth`.

    Members
    -------
    i : In(stream.Signature(unsigned(pe * in_dtype.bitwidth())))
    o : Out(stream.Signature(unsigned(pe * out_dtype.bitwidth())))

    Latency and throughput
    ----------------------
    The body's throughput (the duplicate, the FIFO and the add take one word per cycle);
    latency the body's plus 2 cycles (duplicate and add registers) plus the converters'.
    """

    def __init__(self, *, body, in_dtype, body_dtype, out_dtype, pe, body_in_elems, body_out_elems,
                 bypass_depth):
        if not isinstance(body, wiring.Component):
            raise TypeError(f"body must be a wiring.Component, not {body!r}")
        self.in_dtype = check_dtype("in_dtype", in_dtype)
        self.body_dtype = check_dtype("body_dtype", body_dtype)
        self.pe = check_int("pe", pe)
        self.body_in_elems = check_int("body_in_elems", body_in_elems)
        self.body_out_elems = check_int("body_out_elems", body_out_elems)
        self.bypass_depth = check_int("bypass_depth", bypass_depth)
        if self.bypass_depth < 3:
            raise ValueError(f"bypass_depth must be an integer >= 3, not {bypass_depth!r}")
        for port, elems, dt in (("i", self.body_in_elems, self.in_dtype),
                                ("o", self.body_out_elems, self.body_dtype)):
            width = len(getattr(body, port).payload)
            if width != elems * dt.bitwidth():
                raise ValueError(f"body port {port!r} must have {elems}*{dt.bitwidth()} payload bits, "
                                 f"not {width}")
        self.body = body
        self.add = Add(a_dtype=self.body_dtype, b_dtype=self.in_dtype, out_dtype=out_dtype, pe=self.pe)
        self.out_dtype = self.add.out_dtype
        super().__init__({
            "i": In(stream.Signature(self.pe * self.in_dtype.bitwidth())),
            "o": Out(stream.Signature(self.pe * self.out_dtype.bitwidth())),
        })

    def elaborate(self, platform):
        m = Module()
        in_bits = self.in_dtype.bitwidth()
        m.submodules.duplicate = dup = Duplicate(width=self.pe * in_bits)
        m.submodules.body = body = self.body
        m.submodules.bypass = bypass = StreamFifo(width=self.pe * in_bits, depth=self.bypass_depth)
        m.submodules.add = add = self.add
        _connect(m, wiring.flipped(self.i), dup.i)

        upstream = dup.a
        if self.body_in_elems != self.pe:
            m.submodules.to_body = conv = WidthConverter(elem_bits=in_bits, in_elems=self.pe,
                                                         out_elems=self.body_in_elems)
            _connect(m, upstream, conv.i)
            upstream = conv.o
        _connect(m, upstream, body.i)
        upstream = body.o
        if self.body_out_elems != self.pe:
            m.submodules.from_body = conv = WidthConverter(elem_bits=self.body_dtype.bitwidth(),
                                                           in_elems=self.body_out_elems, out_elems=self.pe)
            _connect(m, upstream, conv.i)
            upstream = conv.o
        _connect(m, upstream, add.a)
        _connect(m, dup.b, bypass.i)
        _connect(m, bypass.o, add.b)
        _connect(m, add.o, wiring.flipped(self.o))
        return m
