"""Resources of the stream plumbing between layers: register slices, FIFOs, width converters.

These parts are not nodes of the IR (the lowering and :class:`~bitsmith.hw.top.Dataflow`
add them), but on a deep network they are a fifth of the logic. The models are
structural and their constants were read from Yosys ``synth_ecp5 -noflatten`` on the
issue-12 zoo networks (``tests/generator/test_zoo_acceptance.py``), where every FIFO,
converter and the input slice is a module of its own (LUT4 cells, two per carry cell,
four per 16x4 LUT RAM):

* a :class:`~bitsmith.hw.plumbing.register_slice.RegisterSlice` of ``entries`` words of
  ``W`` bits: ``entries * W + 12`` flip-flops (``2 * W + 9`` for a two-word slice; two of
  them the flags' copies offered as ``i.ready`` / ``o.valid``) and an ``entries``:1 output
  multiplexer plus the fill counters: ``W + 35`` LUT4 (2 words), ``2 * W + 46`` (3),
  ``3 * W + 62`` (4) -- e.g. 238 LUT4 / 300 FF for 3 x 96 bits (4 LUT4 more than the
  zoo measurement since the words' enables stopped reading the producer's valid: 3 on
  iCE40, 5 on ECP5 for 2 or 3 words of 32 bits);
* a :class:`~bitsmith.hw.plumbing.fifo.StreamFifo` deeper than 4 words: its memory (counted
  where memories are, :func:`bitsmith.generator.estimate.dense.memory_cost` or the
  family's placement), the slice behind it (3 words, 4 in front of a block RAM) and the
  read/write pointers with the room count: about ``6 * A + 50`` LUT4 and ``3 * A + 13``
  flip-flops for ``A`` address bits (one the offered copy of "not full");
* a :class:`~bitsmith.hw.plumbing.width_converter.WidthConverter` of ``b``-bit elements:
  widening ``1:r`` collects into an output register (``r*b + 5`` flip-flops, a counter
  of about ``5 + 2.5 * log2 r`` LUT4); narrowing ``r:1`` holds the input word and
  multiplexes it (``2 * b * ceil(log2 r) + 12`` LUT4, ``r*b + 4`` flip-flops).
"""

from __future__ import annotations

import math

from bitsmith.hw.streams import in_block_ram

from . import Resources

#: LUT4s of a register slice's output multiplexer and counters: ``(per bit, fixed)`` by entries.
SLICE_LUTS = {2: (1, 35), 3: (2, 46), 4: (3, 62)}


def register_slice_resources(width: int, entries: int) -> Resources:
    """A :class:`~bitsmith.hw.plumbing.register_slice.RegisterSlice` (2 to 4 words)."""
    per_bit, fixed = SLICE_LUTS[entries]
    ffs = 2 * width + 9 if entries == 2 else entries * width + 12
    return Resources(luts=per_bit * width + fixed, ffs=ffs)


def output_skid(width: int) -> Resources:
    """The skid register behind a unit's output register
    (:func:`bitsmith.hw.streams.add_output_queue`): ``width`` flip-flops, a ``width``-bit
    2:1 multiplexer onto ``o.payload``, and two flags."""
    return Resources(luts=width + 2, ffs=width + 2)


def fifo_slice(depth: int) -> tuple[int, int]:
    """``(slice words, memory words)`` of a :class:`~bitsmith.hw.plumbing.fifo.StreamFifo`
    of ``depth`` words (as it builds itself: a plain slice up to 4 words)."""
    if depth <= 4:
        return depth, 0
    stages = 2 if in_block_ram(depth - 4) else 1
    return 2 + stages, depth - 2 - stages


def fifo_logic(depth: int, width: int) -> Resources:
    """A stream FIFO without its memory: the slice and, when deeper, the pointers."""
    entries, words = fifo_slice(depth)
    out = register_slice_resources(width, entries)
    if words:
        addr = max(1, (words - 1).bit_length())
        out = out + Resources(luts=6 * addr + 50, ffs=3 * addr + 13)
    return out


def converter_resources(elem_bits: int, in_elems: int, out_elems: int) -> Resources:
    """A :class:`~bitsmith.hw.plumbing.width_converter.WidthConverter` (nothing when the
    element counts are equal)."""
    if in_elems == out_elems:
        return Resources()
    if out_elems > in_elems:
        ratio = out_elems / in_elems
        return Resources(luts=round(5 + 2.5 * math.log2(ratio)), ffs=out_elems * elem_bits + 5)
    ratio = in_elems / out_elems
    return Resources(luts=2 * out_elems * elem_bits * math.ceil(math.log2(ratio)) + 12,
                     ffs=in_elems * elem_bits + 4)
