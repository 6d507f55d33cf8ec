"""Stand-in cores with the generator's exact top-level ports, written as fake build bundles.

``SumMaxCore``: each input word of ``elems`` UINT``bits`` elements gives one output word
holding two UINT elements, the sum and the maximum of the word (a 2-stage pipeline with
back-pressure, ``tlast`` on the last word of a frame). ``RomCore``: each input word (an
address) gives ``rom[address]``, ``rom`` a fixed hash table, for memory-heavy designs.
``DelayCore``: a deep register pipeline, for designs too big for a small FPGA.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from amaranth import Const, Module, Mux, Signal
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from bitsmith.sim.packing import tdata_bits as padded


def _ports(in_bits: int, out_bits: int) -> dict:
    return {"s_axis_tdata": In(in_bits), "s_axis_tvalid": In(1), "s_axis_tready": Out(1),
            "m_axis_tdata": Out(out_bits), "m_axis_tvalid": Out(1), "m_axis_tready": In(1),
            "m_axis_tlast": Out(1)}


class SumMaxCore(wiring.Component):
    def __init__(self, *, bits: int, elems: int, words: int):
        self.bits, self.elems, self.words = bits, elems, words
        self.out_bits = (elems * ((1 << bits) - 1)).bit_length()
        super().__init__(_ports(padded(bits * elems), padded(2 * self.out_bits)))

    def elaborate(self, platform):
        m = Module()
        # stage 1: register the input word
        v1, d1 = Signal(), Signal(self.bits * self.elems)
        # stage 2: sum and max
        v2, d2 = Signal(), Signal(2 * self.out_bits)
        count = Signal(range(self.words))
        ready2 = ~v2 | self.m_axis_tready
        ready1 = ~v1 | ready2
        m.d.comb += self.s_axis_tready.eq(ready1)
        with m.If(ready1):
            m.d.sync += [v1.eq(self.s_axis_tvalid), d1.eq(self.s_axis_tdata)]
        elems = [d1[i * self.bits:(i + 1) * self.bits] for i in range(self.elems)]
        total, biggest = Const(0, self.out_bits), elems[0]
        for e in elems:
            total = total + e
            biggest = Mux(e > biggest, e, biggest)
        with m.If(ready2):
            m.d.sync += [v2.eq(v1), d2.eq(total[:self.out_bits] | (biggest << self.out_bits))]
        with m.If(self.m_axis_tvalid & self.m_axis_tready):
            m.d.sync += count.eq(Mux(count == self.words - 1, 0, count + 1))
        m.d.comb += [self.m_axis_tvalid.eq(v2), self.m_axis_tdata.eq(d2),
                     self.m_axis_tlast.eq(count == self.words - 1)]
        return m

    def io(self) -> dict:
        return {"in": {"dtype": f"UINT{self.bits}", "shape": [1, 1, self.elems * self.words],
                       "elems_per_word": self.elems, "tdata_bits": len(self.s_axis_tdata),
                       "words_per_frame": self.words},
                "out": {"dtype": f"UINT{self.out_bits}", "shape": [1, 1, 2 * self.words],
                        "elems_per_word": 2, "tdata_bits": len(self.m_axis_tdata),
                        "words_per_frame": self.words}}

    def reference(self, x: np.ndarray) -> np.ndarray:
        return sum_max_reference(x, elems=self.elems, words=self.words)


def sum_max_reference(x: np.ndarray, *, elems: int, words: int) -> np.ndarray:
    """numpy model of SumMaxCore: (N, 1, 1, elems*words) -> (N, 1, 1, 2*words),
    per input word [sum, max]."""
    grouped = x.reshape(x.shape[0], words, elems).astype(np.int64)
    y = np.stack([grouped.sum(axis=2), grouped.max(axis=2)], axis=2)
    return y.reshape(x.shape[0], 1, 1, 2 * words)


class RomCore(wiring.Component):
    def __init__(self, *, addr_bits: int, data_bits: int):
        self.addr_bits, self.data_bits = addr_bits, data_bits
        self.table = (np.arange(1 << addr_bits, dtype=np.int64) * 2654435761 >> 7) \
            % (1 << data_bits)
        super().__init__(_ports(padded(addr_bits), padded(data_bits)))

    def elaborate(self, platform):
        m = Module()
        m.submodules.rom = rom = Memory(shape=self.data_bits, depth=len(self.table),
                                        init=self.table.tolist())
        rd = rom.read_port()
        valid = Signal()
        ready = ~valid | self.m_axis_tready
        m.d.comb += [self.s_axis_tready.eq(ready), rd.en.eq(ready),
                     rd.addr.eq(self.s_axis_tdata[:self.addr_bits])]
        with m.If(ready):
            m.d.sync += valid.eq(self.s_axis_tvalid)
        m.d.comb += [self.m_axis_tvalid.eq(valid), self.m_axis_tdata.eq(rd.data),
                     self.m_axis_tlast.eq(1)]
        return m

    def io(self) -> dict:
        return {"in": {"dtype": f"UINT{self.addr_bits}", "shape": [1, 1, 1], "elems_per_word": 1,
                       "tdata_bits": len(self.s_axis_tdata), "words_per_frame": 1},
                "out": {"dtype": f"UINT{self.data_bits}", "shape": [1, 1, 1], "elems_per_word": 1,
                        "tdata_bits": len(self.m_axis_tdata), "words_per_frame": 1}}


class DelayCore(wiring.Component):
    """``depth`` register stages of ``bits``-bit words (identity, for flip-flop-heavy tests).

    All stages advance together when the last one is empty or taken.
    """

    def __init__(self, *, bits: int, depth: int):
        self.bits, self.depth = bits, depth
        super().__init__(_ports(bits, bits))

    def elaborate(self, platform):
        m = Module()
        data = [Signal(self.bits, name=f"d{i}") for i in range(self.depth)]
        valid = [Signal(name=f"v{i}") for i in range(self.depth)]
        advance = ~valid[-1] | self.m_axis_tready
        m.d.comb += self.s_axis_tready.eq(advance)
        with m.If(advance):
            m.d.sync += [data[0].eq(self.s_axis_tdata), valid[0].eq(self.s_axis_tvalid)]
            for i in range(1, self.depth):
                m.d.sync += [data[i].eq(data[i - 1]), valid[i].eq(valid[i - 1])]
        m.d.comb += [self.m_axis_tvalid.eq(valid[-1]), self.m_axis_tdata.eq(data[-1]),
                     self.m_axis_tlast.eq(1)]
        return m

    def io(self) -> dict:
        side = {"dtype": f"UINT{self.bits}", "shape": [1, 1, 1], "elems_per_word": 1,
                "tdata_bits": self.bits, "words_per_frame": 1}
        return {"in": dict(side), "out": dict(side)}


def write_bundle(core, out_dir: Path, name: str = "fixture_top") -> Path:
    """A fake ``bitsmith build`` output: ``design.json`` (io section) and ``rtl/<name>.v``."""
    out_dir = Path(out_dir)
    (out_dir / "rtl").mkdir(parents=True, exist_ok=True)
    (out_dir / "rtl" / f"{name}.v").write_text(verilog.convert(core, name=name))
    io = {"top": name, "verilog": f"rtl/{name}.v", **core.io()}
    (out_dir / "design.json").write_text(json.dumps({"format": "bitsmith-design/1", "io": io},
                                                    indent=1))
    return out_dir
