"""Leading-non-zero detection: turn input words into a stream of non-zero activations."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from qonnx.core.datatype import BaseDataType

from ..plumbing.register_slice import RegisterSlice
from ..streams import check_dtype, check_int, dtype_shape, elements, is_bipolar

__all__ = ["NonZeroScan", "lowest_one", "token_layout", "SCAN_CHUNK"]


def token_layout(in_dtype: BaseDataType, in_features: int) -> data.StructLayout:
    """One broadcast activation: ``value`` (its integer code), ``col`` (its input index),
    ``last`` (last token of the vector) and ``flush`` (no activation: the vector ended with
    zeros; only ``last`` matters)."""
    return data.StructLayout({
        "value": dtype_shape(in_dtype),
        "col": unsigned(max(1, (in_features - 1).bit_length())),
        "last": 1,
        "flush": 1,
    })


#: Bits of a mask that :func:`lowest_one` searches with one carry chain.
SCAN_CHUNK = 16


def lowest_one(mask: Value) -> tuple[Value, Value, Value]:
    """``(one-hot lowest set bit, at most one bit set, any bit set)`` of ``mask``.

    Two levels, not one carry chain over the mask: in each chunk of :data:`SCAN_CHUNK`
    bits its own lowest set bit (``x & -x``) and whether it has one, then the lowest chunk
    that has one, which selects its chunk's bit (ECP5 digits-sparse, 208 bits in one chain
    behind the handshake: 41 MHz)."""
    n = len(mask)
    chunks = [mask[k:k + SCAN_CHUNK] for k in range(0, n, SCAN_CHUNK)]

    def lowest(x: Value) -> Value:
        return x & (~x + 1)[:len(x)]

    def one_or_none(x: Value) -> Value:
        return (x & (x - 1)[:len(x)]) == 0

    if len(chunks) == 1:
        return lowest(mask), one_or_none(mask), mask.any()
    anys = Cat(c.any() for c in chunks)
    first_chunk = lowest(anys)
    onehot = Cat(lowest(c) & first_chunk[k].replicate(len(c)) for k, c in enumerate(chunks))
    single = one_or_none(anys) & Cat(one_or_none(c) for c in chunks).all()
    return onehot, single, anys.any()


class NonZeroScan(wiring.Component):
    """Emit the non-zero elements of each input vector, one per cycle, with their index.

    Input vectors of ``in_features`` elements arrive as words of ``simd`` elements (element
    ``i`` at bits ``[i*w, (i+1)*w)``). A word is held in a register; a priority encoder
    (the leading-non-zero detector) picks its lowest remaining non-zero element each
    cycle, so zero elements cost nothing. The last token of a vector carries ``last``; if
    the last word has no non-zero element, one ``flush`` token carries it instead.

    Parameters
    ----------
    in_dtype : DataType
        Integer activation type with a zero (not BIPOLAR).
    in_features : int
        Elements per vector.
    simd : int
        Elements per input word; divides ``in_features``.

    Members
    -------
    i : In(stream.Signature(unsigned(simd * w)))
    o : Out(stream.Signature(token_layout(in_dtype, in_features)))

    Latency and throughput
    ----------------------
    A word is taken the cycle after the previous word's last token enters the output
    slice (or at once when the register is empty); the first token enters the slice the
    cycle after the word is taken and is offered the cycle after that. With ``o`` always
    ready a word occupies ``max(1, nonzeros(word))`` cycles. ``o.valid`` and ``i.ready``
    are register functions (the slice's flags, the word register's state).
    """

    def __init__(self, *, in_dtype: BaseDataType, in_features: int, simd: int):
        self.in_dtype = check_dtype("in_dtype", in_dtype)
        if is_bipolar(in_dtype):
            raise ValueError(f"in_dtype must have a zero value, not {in_dtype.name}")
        self.in_features = check_int("in_features", in_features)
        self.simd = check_int("simd", simd)
        if in_features % simd:
            raise ValueError(f"simd must divide in_features={in_features}, not {simd!r}")
        self.words = in_features // simd
        bits = in_dtype.bitwidth()
        super().__init__({
            "i": In(stream.Signature(unsigned(simd * bits))),
            "o": Out(stream.Signature(token_layout(in_dtype, in_features))),
        })

    def elaborate(self, platform):
        m = Module()
        simd, bits = self.simd, self.in_dtype.bitwidth()
        held = Signal()
        word = Signal(simd * bits)
        mask = Signal(simd)
        word_index = Signal(range(self.words))
        base = Signal(range(self.in_features))
        last_word = Signal()

        # The one-hot lowest remaining non-zero (``lowbit``), "at most one left" and "any
        # left" are registers kept with the mask, so a token's index, value and column start
        # from registers (with them computed from the mask in the token's own cycle, the
        # search, the index's OR tree, the value multiplexer and the column adder ran in one
        # path: ECP5 digits-sparse, 22 ns, 45 MHz). The mask changes in two ways only: a new
        # word's non-zeros replace it, or a sent token's bit leaves it. Both next masks, and
        # the search on each, are made from registers and the input payload alone; the
        # handshake only chooses between the two results in front of the registers (with
        # the handshake choosing the mask before the search, the ready, the mask multiplexer
        # and the search ran in series: ECP5 digits-sparse's slowest path, 18.3 ns).
        lowbit = Signal(simd, name="lowbit")
        single = Signal(init=1, name="single")
        any_left = Signal(name="any_left")
        loaded_mask = Signal(simd, name="loaded_mask")
        sent_mask = Signal(simd, name="sent_mask")
        m.d.comb += [
            loaded_mask.eq(Cat(e.any() for e in elements(self.i.payload, simd, bits))),
            sent_mask.eq(mask & ~lowbit),
        ]
        on_load = lowest_one(loaded_mask)
        on_send = lowest_one(sent_mask)
        # ``lowbit`` is one-hot, so bit b of its position is the OR of the bits whose
        # position has bit b set: a balanced OR tree (a chain of ``simd`` priority muxes
        # here was too deep even for Yosys, whose ABC9 pass ran out of stack)
        index = Signal(range(simd))
        m.d.comb += index.eq(Cat(Cat(lowbit[i] for i in range(simd) if i >> b & 1).any()
                                 for b in range(len(index))))
        # the value likewise: each bit the OR of the one-hot's bits ANDed with their
        # elements' (a tree as deep as the index's, beside it, not a multiplexer after it)
        value = Signal(bits)
        elems = elements(word, simd, bits)
        m.d.comb += value.eq(Cat(Cat(lowbit[i] & elems[i][b] for i in range(simd)).any()
                                 for b in range(bits)))

        # The token leaves through a two-word register slice (``out``): the index and value
        # trees end at its registers and the column adder (base + index) starts from them,
        # and the scanner's own handshake reads only the slice's registered ready, not the
        # broadcast's (ECP5 digits-sparse: the one-hot through the index tree, a 208:1
        # value multiplexer and the column adder into the broadcast register, 18 ns).
        fields = data.StructLayout({"value": bits, "index": len(index), "base": len(base),
                                    "last": 1, "flush": 1})
        m.submodules.out = out = RegisterSlice(width=fields.size)
        token = data.View(fields, out.i.payload)
        m.d.comb += [
            out.i.valid.eq(held & (any_left | last_word)),
            token.value.eq(value), token.index.eq(index), token.base.eq(base),
            token.last.eq(last_word & single), token.flush.eq(~any_left),
        ]
        sent = out.i.valid & out.i.ready
        held_token = data.View(fields, out.o.payload)
        o = self.o
        m.d.comb += [
            o.valid.eq(out.o.valid), out.o.ready.eq(o.ready),
            o.p.value.eq(held_token.value), o.p.col.eq(held_token.base + held_token.index),
            o.p.last.eq(held_token.last), o.p.flush.eq(held_token.flush),
        ]
        finishing = held & ((any_left & single & sent) | (~any_left & last_word & sent)
                            | (~any_left & ~last_word))
        m.d.comb += self.i.ready.eq(~held | finishing)

        load = self.i.valid & self.i.ready
        with m.If(load):
            m.d.sync += [
                held.eq(1),
                word.eq(self.i.payload),
                base.eq(word_index * simd),
                last_word.eq(word_index == self.words - 1),
                word_index.eq(word_index + 1 if self.words > 1 else 0),
            ]
            if self.words > 1:
                with m.If(word_index == self.words - 1):
                    m.d.sync += word_index.eq(0)
        with m.Elif(finishing):
            m.d.sync += held.eq(0)
        # a finishing word's mask may lose its sent bit too: nothing reads it until the
        # next word replaces it (``held`` gates the token and the handshake)
        for enable, mask_next, (first, at_most_one, anything) in (
                (load, loaded_mask, on_load), (~load & sent, sent_mask, on_send)):
            with m.If(enable):
                m.d.sync += [lowbit.eq(first), single.eq(at_most_one), any_left.eq(anything),
                             mask.eq(mask_next)]
        return m
