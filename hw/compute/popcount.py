"""XNOR popcount as a counter tree (a bit heap), pipelined to a given number of stages.

A binarized lane is one XNOR bit, and a PE's result is the count of its SIMD lanes' ones.
Summing the bits with a tree of adders spends a carry chain on every node (about three
LUTs per lane all told, and one flip-flop per lane for the product register). Counting
them with counters costs far less on 6-input LUTs, the shape of Xilinx's logic:

* the first level counts the XNOR bits of three lanes (six inputs) into a 2-bit number
  (a 3:2 counter, two LUTs per three lanes, so the XNORs cost nothing of their own);
* every further level applies 6:3 counters (six bits of one column in, their 3-bit
  count out to that column and the two above it: one 6-input LUT per output bit) to
  every column more than two bits high, and a full adder (3:2) to the three to five bits
  left of one, until no column is more than three bits high;
* one carry-chain adder of about log2(SIMD) bits sums the two or three rows left (the
  levels the heap would need to get from three rows to two cost more than the adder).

Counters are table lookups (a constant indexed by their inputs), one cell each, so the
synthesiser maps each output bit to one 6-input LUT (ABC9 duplicates some cones: a
784-lane tree is 1,406 LUT6 by ``synth_xilinx`` against 1,071 counter outputs). On
4-input LUTs a counter output takes three or four LUTs: the iCE40 keeps the adder tree
(``popcount="adders"`` of :class:`~bitsmith.hw.compute.mvau.MVAU`); on the ECP5, whose
slices combine LUTs into wider functions, the tree still saves about one LUT4 per lane.

:func:`plan` is the structure without hardware (the resource estimate counts its
registers); :func:`xnor_popcount` builds it. Registers sit after whole levels, at most
:data:`LEVELS_PER_STAGE` levels apart, the lane triples alone in the first stage when the
stages allow, otherwise where the heap holds the fewest bits; the last register is after
the final adder and stages left over delay the sum, so the latency is exactly ``stages``
cycles.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Signal, Value

__all__ = ["POPCOUNTS", "Plan", "plan", "xnor_popcount"]

POPCOUNTS = ("counters", "adders")
"""How an XNOR matrix unit counts (``MVAU(popcount=...)``): this module's counter tree,
or registered XNOR bits summed by an adder tree (:func:`bitsmith.hw.streams.pipelined_sum`)."""


@dataclass(frozen=True)
class Plan:
    """Counter tree over ``lanes`` XNOR lanes in ``stages`` register stages."""

    lanes: int
    stages: int
    #: heap column heights after each combinational level (the last: the sum's bits)
    heights: tuple[tuple[int, ...], ...]
    #: levels after which a register stage sits, one entry per stage (ascending; an
    #: index repeated means a plain delay register)
    cuts: tuple[int, ...]
    #: counters of the tree: (3:2 counters over lane triples, 6:3 counters, full adders)
    counters: tuple[int, int, int]
    #: rows the final carry-chain adder sums (two or three; one: the heap had one bit per
    #: column already and there is no adder)
    rows: int

    @property
    def sum_bits(self) -> int:
        return self.lanes.bit_length()

    @property
    def flip_flops(self) -> int:
        """Register bits of the tree (the heap's bits at every cut)."""
        return sum(sum(self.heights[c]) for c in self.cuts)

    @property
    def lut6(self) -> int:
        """6-input LUTs: one per counter output bit, one per bit of the final adder."""
        first, six, full = self.counters
        return 2 * first + 3 * six + 2 * full + self.sum_bits * (self.rows - 1)

    @property
    def adder(self) -> bool:
        return self.rows > 1


def _placeholder(bits: list) -> list:
    return [None] * (2 if len(bits) == 3 else 3)


def _first_level(xnor: list, count) -> list[list]:
    """Lane triples into 2-bit counts; the one or two lanes left over pass as bits."""
    triples = len(xnor) // 3
    cols: list[list] = [[], []]
    for t in range(triples):
        s, c = count(xnor[3 * t:3 * t + 3])
        cols[0].append(s)
        cols[1].append(c)
    cols[0].extend(xnor[3 * triples:])
    return [c for c in cols if c]


def _next_level(cols: list[list], count) -> tuple[list[list], int, int]:
    """6:3 counters on every column over two bits high, a full adder on the three to
    five bits left of one; returns the next heap and the two counters' numbers."""
    nxt: list[list] = [[] for _ in range(len(cols) + 2)]
    six = full = 0
    for col, bits in enumerate(cols):
        bits = list(bits)
        if len(bits) > 2:
            while len(bits) >= 6:
                for k, out in enumerate(count(bits[:6])):
                    nxt[col + k].append(out)
                bits, six = bits[6:], six + 1
            if len(bits) >= 3:
                for k, out in enumerate(count(bits[:3])):
                    nxt[col + k].append(out)
                bits, full = bits[3:], full + 1
        nxt[col].extend(bits)
    while not nxt[-1]:
        nxt.pop()
    return nxt, six, full


LEVELS_PER_STAGE = 2
"""Counter levels (one 6-input LUT each; the final adder counts as one) between registers."""


def _cuts(bits: list[int], stages: int) -> tuple[int, ...]:
    """Levels after which the ``stages`` registers sit: the last after the last level, no
    more than :data:`LEVELS_PER_STAGE` levels apart, the first after the lane triples
    when the stages allow it, and otherwise where the heap holds the fewest bits (it
    halves at every level, so late in each span; registers left over delay the sum).
    ``bits[i]`` are the heap's bits after level ``i``. With too few stages for that,
    they are spread evenly.

    The first level alone in the first stage: its operands come from registers that fan
    out to every PE (the input word), and on 4-input LUTs (ECP5, iCE40) a counter of six
    inputs is two or three LUTs deep, so two counter levels after that fan-out limited
    the digits demo to 148 MHz on the ECP5 (median of three seeds) where the adder tree
    reached 161."""
    for first in (1, LEVELS_PER_STAGE):
        cuts = _fewest_bits(bits, stages, first)
        if cuts is not None:
            return cuts
    return tuple(min(len(bits), -(-(i * len(bits)) // stages)) - 1 for i in range(1, stages + 1))


def _fewest_bits(bits: list[int], stages: int, first: int) -> tuple[int, ...] | None:
    """Cuts as :func:`_cuts` with at most ``first`` levels before the first register
    (``None`` when ``stages`` cannot cover the levels so)."""
    last = len(bits) - 1
    # best[i][k]: fewest register bits with a cut after level i and k cuts up to it
    inf = float("inf")
    best = [[inf] * (stages + 1) for _ in bits]
    back: dict[tuple[int, int], int] = {}
    for i in range(min(first, len(bits))):
        best[i][1] = bits[i]
    for i in range(len(bits)):
        for k in range(1, stages):
            if best[i][k] == inf:
                continue
            for j in range(i + 1, min(i + LEVELS_PER_STAGE, last) + 1):
                if best[i][k] + bits[j] < best[j][k + 1]:
                    best[j][k + 1] = best[i][k] + bits[j]
                    back[(j, k + 1)] = i
    used = min(range(1, stages + 1), key=lambda k: best[last][k] + (stages - k) * bits[last])
    if best[last][used] == inf:
        return None
    cuts, i, k = [], last, used
    while k > 1:
        cuts.append(i)
        i, k = back[(i, k)], k - 1
    cuts.append(i)
    return tuple(reversed(cuts)) + (last,) * (stages - used)


def plan(lanes: int, stages: int) -> Plan:
    """The tree over ``lanes`` lanes pipelined to ``stages`` (>= 1) register stages."""
    if lanes < 1 or stages < 1:
        raise ValueError(f"a popcount needs lanes >= 1 and stages >= 1, not {lanes} and {stages}")
    cols = _first_level([None] * lanes, _placeholder)
    heights, six, full = [tuple(map(len, cols))], 0, 0
    while max(heights[-1]) > 3:
        cols, n6, n3 = _next_level(cols, _placeholder)
        heights.append(tuple(map(len, cols)))
        six, full = six + n6, full + n3
    rows = max(heights[-1])
    if rows > 1:
        heights.append((1,) * lanes.bit_length())
    return Plan(lanes, stages, tuple(heights), _cuts([sum(h) for h in heights], stages),
                (lanes // 3, six, full), rows)


@functools.cache
def _count_table(inputs: int) -> Const:
    """The counts of every value of ``inputs`` bits, one ``outputs``-bit word per value."""
    outputs = inputs.bit_length()
    return Const(sum(bin(v).count("1") << (v * outputs) for v in range(1 << inputs)),
                 outputs << inputs)


def _count_bits(bits: list[Value]) -> Value:
    """The count of three or six bits as a lookup of their value in a constant table:
    one cell for the synthesiser to map (each output bit a function of the inputs alone,
    so one 6-input LUT), and no shared subexpressions for the simulator to copy."""
    return _count_table(len(bits)).word_select(Cat(*bits), len(bits).bit_length())


def xnor_popcount(m: Module, a: list[Value], b: list[Value], *, stages: int, name: str) -> Value:
    """The number of lanes ``i`` with ``a[i] == b[i]`` (the popcount of the 1-bit values'
    XNOR) as an unsigned value of ``len(a).bit_length()`` bits, ``stages`` cycles after
    ``a`` and ``b`` (see :func:`plan` for the structure and where the registers sit).
    The operands are lists of bits rather than words: a bit of a concatenation would
    carry the whole concatenation into every lane's expression."""
    lanes = len(a)
    if len(b) != lanes:
        raise ValueError(f"operands of {lanes} and {len(b)} bits")
    p = plan(lanes, stages)
    stage = 0

    def register(level: int, heap):
        nonlocal stage
        for _ in range(p.cuts.count(level)):
            if isinstance(heap, Value):
                reg = Signal(p.sum_bits, name=f"{name}_s{stage}", reset_less=True)
                m.d.sync += reg.eq(heap)
                heap = reg
            else:
                regs = []
                for col, bits in enumerate(heap):
                    regs.append([])
                    for k, bit in enumerate(bits):
                        reg = Signal(name=f"{name}_s{stage}_c{col}_{k}", reset_less=True)
                        m.d.sync += reg.eq(bit)
                        regs[-1].append(reg)
                heap = regs
            stage += 1
        return heap

    counters = 0

    def count(bits: list[Value]) -> list[Value]:
        # a signal per counter: the next level reads it by name
        nonlocal counters
        sig = Signal(len(bits).bit_length(), name=f"{name}_n{counters}")
        m.d.comb += sig.eq(_count_bits(bits))
        counters += 1
        return list(sig)

    heap = register(0, _first_level([~(a[i] ^ b[i]) for i in range(lanes)], count))
    for level in range(1, len(p.heights)):
        if p.adder and level == len(p.heights) - 1:
            heap = _sum(heap, p.sum_bits)
        else:
            heap, _, _ = _next_level(heap, count)
        heap = register(level, heap)
    if not p.adder:                                       # one bit per column: the count
        heap = _row(heap, 0, p.sum_bits)
    assert stage == stages
    return heap


def _row(heap: list[list[Value]], r: int, bits: int) -> Value:
    """Row ``r`` of the heap as a number (a column without an ``r``-th bit gives 0)."""
    return Cat(*(col[r] if len(col) > r else Const(0, 1) for col in heap),
               Const(0, max(0, bits - len(heap))))[:bits]


def _sum(heap: list[list[Value]], bits: int) -> Value:
    rows = [_row(heap, r, bits) for r in range(max(map(len, heap)))]
    return sum(rows[1:], rows[0])[:bits]
