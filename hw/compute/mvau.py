"""Matrix-vector-activation unit (FINN's MVAU): folded dense layer, XNOR or integer MAC."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from qonnx.core.datatype import BaseDataType, DataType

from ..streams import (add_output_queue, in_block_ram, check_dtype, check_int,
                       check_int_array, delay, accumulate_and_emit, elements, is_bipolar,
                       multiplies, next_is_last, next_mod, pack_codes, pipelined_sum, product, ram_attrs,
                       replicas, rom_row_register, tree_level_registered)
from ..plumbing.spram import RuntimeWeights
from .threshold_unit import ThresholdTable
from .popcount import POPCOUNTS, xnor_popcount

TREE_LEVELS_PER_STAGE = 2
"""Adder-tree levels between registers. 2 reaches 60 MHz on iCE40 UP5K (measured: the
popcount tree of a 64-wide XNOR fold at 59.9 MHz, nextpnr seed 1) and 170 MHz on ECP5;
1 costs a register per node at every level (+11 % flip-flops on the digits demo) and
did not move the UP5K figure, which routing dominates."""


def multiplier_stages(multiplier_lanes: bool, buffered: bool = False) -> int:
    """Pipeline stages an MVAU's multiplier lanes add to its latency (none for LUT
    products): a plain register on both operands after the read-data registers, the DSP
    block's input register (the weights' read-data register being the block RAM's own
    output register on ECP5 and Xilinx), and a second product register after the first,
    which is the block's output register: no routing from a RAM or from the DSP column
    across the device ends in logic (ECP5 mvau-int8 with the first alone: 105 MHz, the
    product routed 5 ns into two adder levels). With an input buffer (``buffered``: several
    synapse and neuron folds) one more: the buffer's read data and the input word are
    registered, then chosen into a register whose output (a flip-flop, not the choice's
    LUT) fans out to the PEs' operand registers."""
    return (3 if buffered else 2) if multiplier_lanes else 0


MULTIPLIER_TREE_LEVELS_PER_STAGE = 1
"""Adder-tree levels between registers after multiplier lanes: their products are wide
(two carry-chain adders in one stage after the DSP blocks: 6.9 ns on ECP5, mvau-int8 at
145-151 MHz over five seeds)."""


TREE_PAIRED_LEVELS = 2
"""Levels of an adder tree over LUT lanes (not multiplier lanes, not XNOR lanes)
registered in pairs (:data:`TREE_LEVELS_PER_STAGE`) from the products; every level above
has a register of its own. The upper levels join sums of lanes from far apart: two of them
in one stage, with the route between them, were the critical path of TFC-w2a2's MVAU0 (49
lanes, six levels) on 2 of 5 ECP5 seeds (a level's sum routed 2.4-3.2 ns into the next
level's adder, 145 MHz). Costs the registers of the levels above the second that were not
registered (MVAU0: levels 3 and 5, two cycles more latency)."""


def tree_paired_levels(multiplier: bool, xnor: bool = False) -> int | None:
    """``paired_levels`` of :func:`~bitsmith.hw.streams.pipelined_sum` for a PE's adder
    tree: :data:`TREE_PAIRED_LEVELS` over LUT lanes; none after multiplier lanes (every
    level is registered there) or XNOR lanes (two levels per stage throughout, as their
    counter tree: the two stay cycle for cycle the same)."""
    return None if multiplier or xnor else TREE_PAIRED_LEVELS


def tree_latency(simd: int, multiplier: bool = False, xnor: bool = False) -> int:
    """Register stages of a PE's adder tree over ``simd`` products (after the product
    register): the levels :func:`~bitsmith.hw.streams.tree_level_registered` registers
    (one level per stage after multiplier lanes; over LUT lanes
    :data:`TREE_LEVELS_PER_STAGE` up to :data:`TREE_PAIRED_LEVELS`, one above; XNOR lanes
    ``ceil(levels / TREE_LEVELS_PER_STAGE)``, which the XNOR popcount's counter tree takes
    too)."""
    levels = (simd - 1).bit_length()
    return sum(tree_level_registered(level, last=level == levels,
                                     levels_per_stage=tree_levels_per_stage(multiplier),
                                     paired_levels=tree_paired_levels(multiplier, xnor))
               for level in range(1, levels + 1))


def choice_before_operand(*, xnor: bool, counters: bool, multiplier: bool) -> bool:
    """Whether an MVAU makes its input/buffer choice (input buffer of several synapse and
    neuron folds) before the operand register: for LUT lanes but an XNOR lane into an
    adder tree, which absorbs the choice into its own LUT (``counters``: the XNOR bits
    go into a counter tree instead). Multiplier lanes choose between registered copies,
    before their own operand register (:func:`multiplier_stages`)."""
    return (not xnor or counters) and not multiplier


def buffer_read_stage(*, nf: int, sf: int, choice_first: bool) -> bool:
    """Whether an MVAU's input buffer read data is registered before the input/buffer
    choice of :func:`choice_before_operand` lanes (``choice_first``), a pipeline stage: when
    the buffer is a block RAM (:data:`~bitsmith.hw.streams.BLOCK_RAM_MIN_WORDS` words on),
    whose slow clock-to-output then ends in a register (its own output register on ECP5)
    rather than in the choice's LUT (ECP5 digits CNN: 5.8 ns RAM output + LUT, 137 MHz at
    the median seed). A smaller buffer is LUT RAM or flip-flops, read as fast as a register."""
    return nf > 1 and in_block_ram(sf) and choice_first


def weight_read_stage(*, words: int, choice_first: bool, xnor: bool) -> bool:
    """Whether an MVAU's weight word is registered once more, in the fabric, after its
    memory's read-data register (a pipeline stage): for LUT lanes that are not XNOR
    (:func:`choice_before_operand`: shift-and-add lanes, a few LUT levels into a carry
    chain) reading a weight memory of ``words`` words in block RAM
    (:data:`~bitsmith.hw.streams.BLOCK_RAM_MIN_WORDS` on). The block RAMs sit in the
    device's RAM rows and their lanes spread over the fabric around them: ECP5 TFC-w2a2,
    the read data routed 3.2-3.8 ns into the lanes on 4 of 5 seeds, 138.7 MHz at the
    median. Multiplier lanes have their operand registers, XNOR lanes one LUT before a
    register, and a smaller memory is logic or LUT RAM placed by its lanes."""
    return choice_first and not xnor and in_block_ram(words)


def write_latency(*, simd: int, multiplier: bool, buffered: bool, threshold_latency: int,
                  buffer_stage: bool = False, weight_stage: bool = False,
                  xnor: bool = False) -> int:
    """Cycles from an MVAU fold step's issue to its output word's write into the output
    queue: issue -> products (read, read-data, [buffer read or weight], [multiplier] and
    product registers) -> tree -> accumulator -> threshold stages. ``buffered``: several
    synapse and neuron folds; ``buffer_stage``: :func:`buffer_read_stage`;
    ``weight_stage``: :func:`weight_read_stage`; ``xnor``: XNOR lanes (:func:`tree_latency`)."""
    return (3 + int(buffer_stage) + int(weight_stage) + multiplier_stages(multiplier, buffered)
            + tree_latency(simd, multiplier, xnor) + 1 + threshold_latency)


INPUT_COPY_PES = 4
"""PEs that read one copy of the input word when LUT lanes (not XNOR) take it straight
from its register: the word fans out to every PE's shift-and-add lanes, a few LUTs per
input bit each, and on the ECP5 a single register routed 4.5-5.4 ns to its far PEs
(TFC-w2a2's MVAU0, 16 PEs: 118-120 MHz on 2 of 5 seeds)."""


def input_copies(*, pe: int, choice_first: bool, xnor: bool) -> int:
    """Copies of the input word register (:data:`INPUT_COPY_PES`): LUT lanes that make the
    input/buffer choice before the operand (:func:`choice_before_operand`), XNOR counters
    excepted (a counter reads one bit per lane)."""
    return -(-pe // INPUT_COPY_PES) if choice_first and not xnor else 1


def first_copies(pe: int) -> int:
    """Copies of the accumulators' "first partial sum" flag, one per :data:`INPUT_COPY_PES`
    PEs: it chooses, in front of every accumulator bit's adder, between the running sum
    and the start value, and a single register routed 3.8-4.5 ns across TFC-w2a2's MVAU0
    (16 PEs) on 3 of 5 ECP5 seeds."""
    return -(-pe // INPUT_COPY_PES)


def tree_levels_per_stage(multiplier: bool) -> int:
    """Adder-tree levels between registers after multiplier (or other) lanes."""
    return MULTIPLIER_TREE_LEVELS_PER_STAGE if multiplier else TREE_LEVELS_PER_STAGE


__all__ = ["MVAU", "accumulator_range", "BANK_BITS", "MAX_INPUT_BITS", "WEIGHT_MEMORIES",
           "buffer_read_stage", "choice_before_operand", "input_copies", "multiplier_stages",
           "tree_latency", "tree_levels_per_stage", "tree_paired_levels", "weight_bank_depth", "weight_read_stage",
           "write_latency"]

#: Where an MVAU keeps its weights (``MVAU(weight_memory=...)``).
WEIGHT_MEMORIES = ("rom", "spram", "ram")

#: Widest input element the matrix units (MVAU, VVAU) multiply.
MAX_INPUT_BITS = 16

#: Bits per weight-ROM bank: one ECP5 DP16KD (iCE40: four SB_RAM40_4K).
BANK_BITS = 16384


def weight_bank_depth(width: int) -> int:
    """Words per weight-ROM bank for ROM words of ``width`` bits: the largest power of
    two whose bank fits :data:`BANK_BITS`, at least 512."""
    return max(512, 1 << ((BANK_BITS // width).bit_length() - 1)) if width <= BANK_BITS else 512


def accumulator_range(weights: np.ndarray, weight_dtype: BaseDataType,
                      in_dtype: BaseDataType) -> tuple[int, int]:
    """Exact ``(min, max)`` of the accumulator over every input of ``in_dtype``.

    XNOR mode (both BIPOLAR) counts matching bits: ``(0, MW)``. Otherwise, per row, the
    sum of the extreme products over the input range, then the extremes over rows.
    """
    if is_bipolar(weight_dtype) and is_bipolar(in_dtype):
        return 0, int(weights.shape[1])
    w = weights.astype(np.int64)
    a, b = w * int(in_dtype.min()), w * int(in_dtype.max())
    return int(np.minimum(a, b).sum(axis=1).min()), int(np.maximum(a, b).sum(axis=1).max())


class MVAU(wiring.Component):
    """Folded matrix-vector unit with optional multi-threshold activation.

    Computes, for an endless sequence of input vectors ``x`` of MW elements, the MH
    accumulators ``acc[r] = sum_c w[r, c] * x[c]`` (true values; BIPOLAR = -1/+1). When
    weights and inputs are both BIPOLAR (XNOR mode) ``acc[r] = popcount(xnor(w[r], x))``
    in ``[0, MW]`` instead, and thresholds live in that popcount domain. With thresholds the
    output is ``out_scale * sum_i [acc >= T_i] + out_bias`` in ``out_dtype``; without, the
    accumulator itself in ``acc_dtype``.

    Folding: each input word carries SIMD elements (synapse fold ``sf``), each output word
    PE channels (neuron fold ``nf``); output word ``nf`` holds channels ``nf*PE + p`` at
    element ``p``. During ``nf == 0`` input words are consumed and stored in an input
    buffer, later neuron folds re-read them, so one vector takes exactly
    ``(MH/PE)*(MW/SIMD)`` cycles and the next vector follows without a bubble.

    Parameters
    ----------
    weights : numpy.ndarray
        ``(MH, MW)`` integer weight values of ``weight_dtype`` (BIPOLAR as -1/+1).
    weight_dtype : DataType
        Integer type of 1..8 bits (BIPOLAR, BINARY, TERNARY, INTn, UINTn).
    in_dtype : DataType
        Integer type of 1..16 bits (:data:`MAX_INPUT_BITS`: a wide sum, such as a global
        pool's, may come in without a quantizer; the products and the accumulator width
        follow from the actual range).
    acc_dtype : DataType
        Accumulator type; must hold :func:`accumulator_range` (else ``ValueError``).
    pe, simd : int
        Output channels per output word (divides MH), input elements per word (divides MW).
    thresholds : numpy.ndarray, optional
        ``(MH, B)`` or ``(1, B)`` ascending integer thresholds in the accumulator domain.
    out_dtype : DataType, optional
        Output type with thresholds (required then); must be ``acc_dtype`` or omitted without.
    out_scale, out_bias : int
        Threshold output mapping.
    popcount : str
        How an XNOR PE counts (BIPOLAR weights and inputs; ignored otherwise):
        ``"counters"`` (default), a counter tree (:mod:`~bitsmith.hw.compute.popcount`,
        made for 6-input LUTs: ECP5, Xilinx), or ``"adders"``, registered XNOR bits and an
        adder tree (fewer LUTs where the LUTs have 4 inputs and carry chains are cheap:
        iCE40). The latency is the same.
    weight_memory : str
        ``"rom"`` (default): the weights are the memory's initial contents. ``"spram"``
        (iCE40 UltraPlus SB_SPRAM256KA primitives) or ``"ram"`` (a plain RAM, same
        behaviour): the weights are loaded at run time, through ``i``, after each reset
        (:class:`~bitsmith.hw.plumbing.spram.RuntimeWeights`): the first input words
        carry them, :meth:`load_words_per_weight_word` input words per ROM word (its
        bits little-endian across them, element 0 first), in ROM order
        (:meth:`weight_words`). Those frames produce outputs of unspecified values.

    Members
    -------
    i : In(stream.Signature(unsigned(simd * in_dtype.bitwidth())))
        Input vectors, MW/SIMD words each, element ``s`` of word ``sf`` is ``x[sf*SIMD + s]``.
    o : Out(stream.Signature(unsigned(pe * out_bits)))
        MH/PE words per vector, ``out_bits`` = ``out_dtype`` (or ``acc_dtype``) bit width.

    Latency and throughput
    ----------------------
    One fold step per cycle while the input is valid (during ``nf == 0``) and the output
    has room: ``(MH/PE)*(MW/SIMD)`` cycles per vector in steady state. :attr:`latency` is
    the number of cycles from the transfer of the last input word of a vector to the
    cycle its first output word is valid on ``o`` (with no stall); later output words
    follow every MW/SIMD cycles. The datapath never stalls: a credit counter only lets a
    fold start when the output FIFO (:attr:`out_fifo_depth` words) will have room, so
    ``o.ready`` feeds only that FIFO and ``i.ready`` depends only on registers.

    Timing: ``i.ready`` is one gate of registers (registered ``sf == SF-1``, ``nf == 0``
    flags and the credit count), credits come back through a register, every memory read
    (weight ROM banks of :data:`BANK_BITS` bits, input buffer, threshold ROM) ends in a
    register before any logic, and the adder tree has a register every two levels.
    Multiplier lanes get one more register on both operands and one more after the
    product register (:func:`multiplier_stages`, two cycles more latency, three with an
    input buffer, the same cycles per vector): the DSP block's input and output
    registers, and a fabric register by the adder tree. LUT lanes that are not XNOR and
    read a weight memory of 32 words or more register the weight word once more
    (:func:`weight_read_stage`), and a block-RAM input buffer's read data is registered
    before their input/buffer choice (:func:`buffer_read_stage`): a cycle of latency each.
    """

    def __init__(self, *, weights: np.ndarray, weight_dtype: BaseDataType, in_dtype: BaseDataType,
                 acc_dtype: BaseDataType, pe: int, simd: int, thresholds: np.ndarray | None = None,
                 out_dtype: BaseDataType | None = None, out_scale: int = 1, out_bias: int = 0,
                 weight_memory: str = "rom", popcount: str = "counters"):
        w = check_int_array("weights", weights, 2)
        if popcount not in POPCOUNTS:
            raise ValueError(f"popcount must be one of {', '.join(map(repr, POPCOUNTS))}, "
                             f"not {popcount!r}")
        self.popcount = popcount
        self.weight_dtype = check_dtype("weight_dtype", weight_dtype, max_bits=self.max_weight_bits)
        self.in_dtype = check_dtype("in_dtype", in_dtype, max_bits=MAX_INPUT_BITS)
        self.acc_dtype = check_dtype("acc_dtype", acc_dtype)
        self.mh, self.mw = (int(d) for d in w.shape)
        if self.mh < 1 or self.mw < 1:
            raise ValueError(f"weights must not be empty, not shape {w.shape}")
        self.pe = check_int("pe", pe)
        self.simd = check_int("simd", simd)
        if self.mh % self.pe:
            raise ValueError(f"pe must divide MH={self.mh}, not {pe!r}")
        if self.mw % self.simd:
            raise ValueError(f"simd must divide MW={self.mw}, not {simd!r}")
        if is_bipolar(self.weight_dtype):
            bad = w[np.abs(w) != 1]
        else:
            bad = w[(w < self.weight_dtype.min()) | (w > self.weight_dtype.max())]
        if bad.size:
            raise ValueError(f"weights must be values of {self.weight_dtype.name}, not {int(bad.flat[0])}")
        self.weights = w
        self.xnor = is_bipolar(self.weight_dtype) and is_bipolar(self.in_dtype)
        self.acc_range = accumulator_range(w, self.weight_dtype, self.in_dtype)
        lo, hi = self.acc_range
        if is_bipolar(self.acc_dtype) or lo < self.acc_dtype.min() or hi > self.acc_dtype.max():
            raise ValueError(f"acc_dtype must hold the accumulator range {lo}..{hi}, "
                             f"not {self.acc_dtype.name}")
        self.nf, self.sf = self.mh // self.pe, self.mw // self.simd
        if weight_memory not in WEIGHT_MEMORIES:
            raise ValueError(f"weight_memory must be one of {', '.join(map(repr, WEIGHT_MEMORIES))}, "
                             f"not {weight_memory!r}")
        if weight_memory != "rom" and self.nf * self.sf == 1:
            raise ValueError(f"weight_memory must be 'rom' when the weights are one word "
                             f"(PE = MH, SIMD = MW), not {weight_memory!r}")
        self.weight_memory = weight_memory
        if thresholds is None:
            if out_dtype is not None and out_dtype != self.acc_dtype:
                raise ValueError(f"out_dtype must be acc_dtype ({self.acc_dtype.name}) or None "
                                 f"without thresholds, not {out_dtype!r}")
            self.thresholds = None
            self.out_dtype = self.acc_dtype
        else:
            if out_dtype is None:
                raise TypeError("out_dtype must be a qonnx DataType when thresholds are given, not None")
            self.thresholds = ThresholdTable(
                thresholds, channels=self.mh, pe=self.pe,
                in_lo=int(self.acc_dtype.min()), in_hi=int(self.acc_dtype.max()),
                out_dtype=out_dtype, out_scale=out_scale, out_bias=out_bias, registered_rom=True)
            self.out_dtype = self.thresholds.out_dtype

        self.in_bits = self.in_dtype.bitwidth()
        self.w_bits = self.weight_dtype.bitwidth()
        self.acc_bits = self.acc_dtype.bitwidth()
        self.out_bits = self.out_dtype.bitwidth()
        self.tree_latency = tree_latency(self.simd, self.multiplier_lanes, self.xnor)
        self._set_latency()
        super().__init__({
            "i": In(stream.Signature(self.simd * self.in_bits)),
            "o": Out(stream.Signature(self.pe * self.out_bits)),
        })

    def _set_latency(self) -> None:
        """:attr:`write_latency`, :attr:`out_fifo_depth` and :attr:`latency` from the
        folding (again by a subclass that changes ``nf``)."""
        self.write_latency = write_latency(
            simd=self.simd, multiplier=self.multiplier_lanes, buffered=self.nf > 1 and self.sf > 1,
            threshold_latency=self.thresholds.latency if self.thresholds is not None else 0,
            buffer_stage=self.buffer_stage, weight_stage=self.weight_stage,
            xnor=self.xnor)
        # + 1 over the write latency and the FIFO's 2 cycles: credits return one cycle
        # after the output transfer (registered, see add_output_queue)
        self.out_fifo_depth = self.write_latency + 4
        self.latency = self.write_latency + 2

    @property
    def cycles_per_vector(self) -> int:
        return self.nf * self.sf

    @property
    def code_bits(self) -> int:
        """Bits of one weight's code in the weight memory (the weight's own bits here)."""
        return self.w_bits

    @property
    def word_bits(self) -> int:
        """Bits of one weight memory word: PE x SIMD codes, then PE x :attr:`extra_bits`."""
        return self.pe * (self.simd * self.code_bits + self.extra_bits)

    def weight_codes(self) -> np.ndarray:
        """``(MH, MW)`` int64 codes of the weights in the weight memory (vectorised:
        the :func:`~bitsmith.hw.streams.encode_int` code of each weight)."""
        w = self.weights.astype(np.int64)
        if is_bipolar(self.weight_dtype):
            return (w > 0).astype(np.int64)
        return w & ((1 << self.w_bits) - 1)

    def lane_product(self, w_code: Value, x_code: Value) -> Value:
        """One lane's product from a weight code and an input element code."""
        return product(w_code, x_code, self.weight_dtype, self.in_dtype)

    @property
    def compressor_popcount(self) -> bool:
        """Whether the PEs count XNOR bits with a counter tree
        (:mod:`~bitsmith.hw.compute.popcount`): ``popcount="counters"``, BIPOLAR weights
        and inputs, products that are this class's XNOR and no per-PE constant."""
        return (self.xnor and self.popcount == "counters"
                and type(self).lane_product is MVAU.lane_product and not self.extra_bits)

    @property
    def choice_before_operand(self) -> bool:
        """Whether the input/buffer choice is made before the operand register
        (:func:`choice_before_operand`)."""
        return choice_before_operand(xnor=self.xnor, counters=self.compressor_popcount,
                                     multiplier=self.multiplier_lanes)

    @property
    def input_copies(self) -> int:
        """Copies of the input word register, each read by its share of the PEs
        (:func:`input_copies`)."""
        return input_copies(pe=self.pe, choice_first=self.choice_before_operand, xnor=self.xnor)

    @property
    def buffer_stage(self) -> bool:
        """Whether the input buffer's read data is registered before the input/buffer
        choice, one more pipeline stage (:func:`buffer_read_stage`)."""
        return buffer_read_stage(nf=self.nf, sf=self.sf, choice_first=self.choice_before_operand)

    @property
    def weight_stage(self) -> bool:
        """Whether the weight word is registered once more after the weight memory's
        read data, one more pipeline stage (:func:`weight_read_stage`)."""
        return weight_read_stage(words=self.weight_sets * self.nf * self.sf, xnor=self.xnor,
                                 choice_first=self.choice_before_operand)

    @property
    def multiplier_lanes(self) -> bool:
        """Whether :meth:`lane_product` is a multiplier (``$mul``: a DSP block on FPGAs),
        as :func:`~bitsmith.hw.streams.product` decides: then the operand register sits
        right before the multipliers; LUT products absorb the input/buffer choice."""
        return multiplies(self.weight_dtype, self.in_dtype)

    #: Bits per PE stored after the weight codes of a ROM word (see :meth:`word_extra`).
    extra_bits = 0

    #: Widest weight datatype (16 for the Winograd unit's transformed weights).
    max_weight_bits = 8

    #: Weight matrices the ROM holds, used in turn for consecutive vectors (set ``k`` at
    #: addresses ``k*NF*SF ..``); 1 here, 16 for the Winograd unit's transform positions.
    weight_sets = 1

    def word_extra(self, nf: int, sf: int, pe: int) -> int:
        """A per-PE constant stored with the weights of fold ``(nf, sf)`` (none here)."""
        return 0

    def pe_term(self, extra: Value) -> Value | None:
        """What a PE's stored constant adds to its accumulator: the accumulator starts at
        it on the row's first fold (nothing here)."""
        return None

    def load_words_per_weight_word(self) -> int:
        """Input words that carry one weight memory word while the weights load."""
        return -(-self.word_bits // (self.simd * self.in_bits))

    def load_words(self) -> list[int]:
        """The input words that load the weights (``weight_memory`` ``"spram"``/``"ram"``),
        then zero words up to the end of the next whole input vector (``MW/SIMD`` words
        each): the vectors after them keep their alignment, and their first weight read
        comes at least a vector after the last write."""
        word_bits, per = self.simd * self.in_bits, self.load_words_per_weight_word()
        mask = (1 << word_bits) - 1
        words = [(w >> (k * word_bits)) & mask for w in self._weight_words() for k in range(per)]
        return words + [0] * (-len(words) % self.sf + self.sf)

    def weight_words(self) -> list[int]:
        """The weight memory's words, in address order (what a run-time load writes)."""
        return self._weight_words()

    def _weight_words(self) -> list[int]:
        """ROM contents: address ``nf*SF + sf`` holds PE x SIMD weight codes, PE-major,
        then (when :attr:`extra_bits`) one :meth:`word_extra` constant per PE."""
        codes = np.asarray(self.weight_codes(), dtype=np.int64)
        blocks = codes.reshape(self.nf, self.pe, self.sf, self.simd).transpose(0, 2, 1, 3)
        words = pack_codes(blocks.reshape(self.nf * self.sf, self.pe * self.simd),
                           DataType[f"UINT{self.code_bits}"])
        if self.extra_bits:
            base = self.pe * self.simd * self.code_bits
            for n in range(self.nf):
                for s in range(self.sf):
                    for p in range(self.pe):
                        words[n * self.sf + s] |= self.word_extra(n, s, n * self.pe + p) \
                            << (base + p * self.extra_bits)
        return words

    def _weight_read(self, m: Module, waddr: Signal, nf: Signal, sf: Signal, *, fire: Value,
                     sf_last: Value):
        """Weight word of address ``waddr`` (issue cycle ``t``; fold counters ``nf``, ``sf``,
        which step on ``fire``, ``nf`` when ``sf_last`` too) at ``t + 2``, from registers.

        The ROM is split into banks of at most :data:`BANK_BITS` bits (``2**k`` words, at
        least 512), one FPGA block RAM's worth, so a deep ROM becomes several memories
        whose outputs are each registered before the bank multiplexer (which the product
        logic absorbs): a block RAM's slow clock-to-output never shares a path with logic.
        """
        width = self.word_bits
        if self.weight_memory != "rom":
            m.submodules.weights = mem = RuntimeWeights(width=width, depth=self.nf * self.sf,
                                                        kind=self.weight_memory)
            m.d.comb += mem.r_addr.eq(waddr)
            self._load_into(m, mem)
            return delay(m, mem.r_data, 1, "weights_data", reset_less=True)
        words = self._weight_words()
        if len(words) == 1:
            return Const(words[0], width)
        bank_depth = weight_bank_depth(width)
        abits = (bank_depth - 1).bit_length()
        banks = []
        for b in range(0, len(words), bank_depth):
            name = "weights" if len(words) <= bank_depth else f"weights{b // bank_depth}"
            bank_words = words[b:b + bank_depth]
            rom = Memory(shape=width, depth=len(bank_words), init=bank_words,
                         attrs=ram_attrs(len(bank_words)))
            m.submodules[name] = rom
            rd = rom.read_port()
            m.d.comb += rd.addr.eq(waddr[:abits])
            if in_block_ram(len(bank_words)):
                banks.append(delay(m, rd.data, 1, f"{name}_data", reset_less=True))
            else:   # logic or LUT RAM: its repeated columns kept apart
                banks.append(rom_row_register(m, rd.data, bank_words, f"{name}_data"))
        if len(banks) == 1:
            return banks[0]
        bank = delay(m, waddr[abits:], 2, "w_bank")
        return Array(banks)[bank]

    def _load_into(self, m: Module, mem: RuntimeWeights) -> None:
        """While ``mem`` loads, gather each ROM word from the input words that carry it."""
        word_bits, per = len(self.i.payload), self.load_words_per_weight_word()
        taken = Signal(name="load_take")
        m.d.comb += taken.eq(self.i.valid & self.i.ready & mem.loading)
        if per == 1:
            m.d.comb += [mem.w_data.eq(self.i.payload), mem.w_en.eq(taken)]
            return
        gathered = Signal((per - 1) * word_bits, name="load_gathered", reset_less=True)
        part = Signal(range(per), name="load_part")
        m.d.comb += [mem.w_data.eq(Cat(gathered, self.i.payload)), mem.w_en.eq(taken & (part == per - 1))]
        with m.If(taken):
            m.d.sync += part.eq(Mux(part == per - 1, 0, part + 1))
            m.d.sync += gathered.eq(Cat(gathered[word_bits:], self.i.payload) if per > 2 else self.i.payload)

    def elaborate(self, platform):
        m = Module()
        nf_n, sf_n = self.nf, self.sf

        # --- issue stage: fold counters, input buffer, weight ROM address ---------------------
        # ``sf_last`` and ``nf_zero`` are registered copies of ``sf == SF-1`` and ``nf == 0``,
        # so ``i.ready`` and ``fire`` are one LUT of register outputs (no compare in the
        # ready chain that reaches the upstream FIFO).
        sf = Signal(range(sf_n), name="sf")
        nf = Signal(range(nf_n), name="nf")
        sf_last = Signal(init=int(sf_n == 1), name="sf_last")
        nf_zero = Signal(init=1, name="nf_zero")
        waddr = Signal(range(self.weight_sets * nf_n * sf_n), name="waddr")
        credit_ok, take, w_en, w_data = add_output_queue(m, self.o, depth=self.out_fifo_depth,
                                                            registered_return=True)
        can_go = ~sf_last | credit_ok
        fire = Signal()
        m.d.comb += [
            self.i.ready.eq(nf_zero & can_go),
            fire.eq(can_go & (~nf_zero | self.i.valid)),
            take.eq(fire & sf_last),
        ]
        with m.If(fire):
            m.d.sync += [sf.eq(Mux(sf_last, 0, sf + 1)),
                         sf_last.eq(next_is_last(sf, sf_n)),
                         waddr.eq(next_mod(waddr, self.weight_sets * nf_n * sf_n))]
            with m.If(sf_last):
                m.d.sync += [nf.eq(next_mod(nf, nf_n)),
                             nf_zero.eq(nf == nf_n - 1)]

        # x_reg is read only the cycle after the transfer, except when it is the whole
        # buffer (one synapse fold, several neuron folds): only then does it need an
        # enable (a large fan-out of the issue logic)
        x_reg = Signal(self.simd * self.in_bits, name="x_reg", reset_less=True)
        if sf_n == 1 and nf_n > 1:
            with m.If(fire & nf_zero):
                m.d.sync += x_reg.eq(self.i.payload)
        else:
            m.d.sync += x_reg.eq(self.i.payload)
        if nf_n > 1 and sf_n > 1:
            # the write comes from x_reg one cycle late (the stream payload may itself come
            # from a block RAM); address ``a`` is re-read no earlier than SF >= 2 cycles
            # after its transfer, so the read still sees it, and a read never meets the
            # write (the cycle after a transfer at ``a`` the read address is ``a + 1``)
            m.submodules.in_buf = in_buf = Memory(shape=len(x_reg), depth=sf_n, init=[],
                                                  attrs=ram_attrs(sf_n, collisions_unused=True))
            wr, rd = in_buf.write_port(), in_buf.read_port()
            m.d.sync += [wr.addr.eq(sf), wr.en.eq(fire & nf_zero)]
            m.d.comb += [wr.data.eq(x_reg), rd.addr.eq(sf)]
            if self.choice_before_operand:
                # the input/buffer choice is made before the operand register, so a
                # popcount counter's six inputs are three lanes' operands and a
                # shift-and-add lane's LUTs see one copy of its input bits (the choice
                # made once per input bit, not per PE, and the word every PE reads comes
                # from flip-flops, not from a LUT shared across the device); a block-RAM
                # buffer's read data is registered first (buffer_read_stage), the input
                # word with it, and the weight read starts a cycle later to match
                # (and with the weight word registered once more, weight_read_stage, both
                # sides of the choice a cycle later)
                later = int(self.buffer_stage) + int(self.weight_stage)
                x_words = replicas(m, Mux(delay(m, nf_zero, 1 + later, "from_input"),
                                          delay(m, x_reg, later, "x_in", reset_less=True),
                                          delay(m, rd.data, later, "x_buf", reset_less=True)),
                                   self.input_copies, "x_word")
            else:
                # both sides registered, then chosen: XNOR lanes into an adder tree
                # absorb the choice into their one LUT (an iCE40 LUT4: weight, input,
                # buffer, choice); multiplier lanes register the choice as their operand
                # (the DSP block's input register)
                x_buf = delay(m, rd.data, 1, "x_buf", reset_less=True)
                x_word = Signal(len(x_reg), name="x_word")
                m.d.comb += x_word.eq(Mux(delay(m, nf_zero, 2, "from_input"),
                                          delay(m, x_reg, 1, "x_in", reset_less=True), x_buf))
        elif self.choice_before_operand:                       # the register is the buffer
            x_words = replicas(m, delay(m, x_reg, int(self.weight_stage), "x_lag", reset_less=True),
                               self.input_copies, "x_in")
        else:
            x_word = delay(m, x_reg, 1, "x_in", reset_less=True)
        if self.choice_before_operand:
            x_word = x_words[0]

        # memory read data reaches the products through a register, never directly; after a
        # registered buffer read the weight read is the same pipeline a cycle later
        read = int(self.buffer_stage)
        w_word = self._weight_read(m, delay(m, waddr, read, "w_addr"), delay(m, nf, read, "w_nf"),
                                   delay(m, sf, read, "w_sf"), fire=delay(m, fire, read, "w_fire"),
                                   sf_last=delay(m, sf_last, read, "w_sf_last"))
        if not isinstance(w_word, (Signal, Const)):
            # named, so every lane's slice of it is a slice of a signal, not of the choice
            w_sig = Signal(len(w_word), name="w_word")
            m.d.comb += w_sig.eq(w_word)
            w_word = w_sig
        # a register on the way from a block RAM to lanes spread over the fabric
        # (weight_read_stage); the input word was delayed to match, above
        lag = int(self.weight_stage)
        w_word = delay(m, w_word, lag, "w_stage", reset_less=True)

        # multiplier lanes: plain registers (no enable, no reset) on both operands and after
        # the product register, which Yosys packs into the DSP blocks' input and output
        # registers on Xilinx and iCE40, the ECP5 flow into the MULT18X18D's
        # (boards/flows/ecp5_dsp_regs.py); the second product register stays by the tree
        product_stage = int(self.multiplier_lanes)
        operand_stage = multiplier_stages(self.multiplier_lanes, nf_n > 1 and sf_n > 1) - product_stage
        if operand_stage == 2:
            # the input/buffer choice (a LUT, above) into a register of its own before the
            # operand registers, the weights one register later to match
            x_word = delay(m, x_word, 1, "x_choice", reset_less=True)
            w_word = delay(m, w_word, 1, "w_choice", reset_less=True)
        if self.multiplier_lanes:
            x_word = delay(m, x_word, 1, "x_operand", reset_less=True)
            w_word = delay(m, w_word, 1, "w_operand", reset_less=True)
        valid = delay(m, fire, 2 + read + lag + operand_stage, "valid")
        first = delay(m, sf == 0, 2 + read + lag + operand_stage, "first")
        last = delay(m, sf_last, 2 + read + lag + operand_stage, "last")
        fold = delay(m, nf, 2 + read + lag + operand_stage, "fold")

        # --- products (registered), adder tree, accumulator ----------------------------------
        x_codes = elements(x_word, self.simd, self.in_bits)
        if self.choice_before_operand:       # each PE reads its share's copy
            copy_codes = [elements(x, self.simd, self.in_bits) for x in x_words]
        w_codes = elements(w_word, self.pe * self.simd, self.code_bits)
        sums, starts = [], []
        for p in range(self.pe):
            if self.compressor_popcount:
                # the XNORs feed a counter tree of the same latency as products + adder tree
                w_bits = [w_word[p * self.simd + s] for s in range(self.simd)]
                x_bits = [x_word[s] for s in range(self.simd)]
                sums.append(xnor_popcount(m, w_bits, x_bits, stages=1 + self.tree_latency,
                                          name=f"popcount{p}"))
                continue
            prods = []
            base = self.pe * self.simd * self.code_bits
            if self.extra_bits:
                # the PE's constant goes to its accumulator's start (accumulate_and_emit), a
                # register beside the products and the tree: no adder in a lane
                extra = self.pe_term(w_word[base + p * self.extra_bits:base + (p + 1) * self.extra_bits])
                starts.append(delay(m, extra, 1 + product_stage + self.tree_latency, f"start{p}",
                                    reset_less=True))
            x_pe = copy_codes[p * len(copy_codes) // self.pe] if self.choice_before_operand else x_codes
            for s in range(self.simd):
                prod = self.lane_product(w_codes[p * self.simd + s], x_pe[s])
                reg = Signal(prod.shape(), name=f"prod{p}_{s}", reset_less=True)
                m.d.sync += reg.eq(prod)
                prods.append(delay(m, reg, product_stage, f"prod{p}_{s}", reset_less=True))
            total, lat = pipelined_sum(m, prods, name=f"tree{p}", width=self.acc_bits,
                                       levels_per_stage=tree_levels_per_stage(self.multiplier_lanes),
                                       paired_levels=tree_paired_levels(self.multiplier_lanes,
                                                                        self.xnor))
            assert lat == self.tree_latency
            sums.append(total)
        stage = 1 + product_stage + self.tree_latency  # cycles since the (last) operand registers
        valid, last, fold = (delay(m, v, stage, n) for v, n in
                             ((valid, "valid"), (last, "last"), (fold, "fold")))
        # the flag's last register in copies, each for its share of the PEs
        firsts = replicas(m, delay(m, first, stage - 1, "first"), first_copies(self.pe), "first_pe")
        accumulate_and_emit(m, sums=sums, valid=valid, firsts=firsts, last=last, fold=fold,
                            acc_dtype=self.acc_dtype, thresholds=self.thresholds,
                            out_bits=self.out_bits, w_en=w_en, w_data=w_data,
                            starts=starts or None)
        return m
