"""bitsmith.hw.streams.add_output_queue: credits bound the queue, order is kept, no word is
lost; register copies (replicas) survive conversion and synthesis."""

from __future__ import annotations

import pytest
from amaranth.hdl import Const, Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from bitsmith.hw.streams import (REPLICA_ATTR, add_output_queue, delay, keep_replicas, replicas,
                                  rom_row_register)
from tests.hw.util import PATTERNS, accepted_while_blocked, run_stream

MATRIX = [(i, b) for i in PATTERNS for b in PATTERNS]


class _Pipeline(wiring.Component):
    """Takes an input word whenever it holds a credit and writes it into the output queue
    ``latency`` cycles later, never stalling in between (as the MVAU does)."""

    def __init__(self, *, depth, latency, registered_return):
        self.depth, self.latency, self.registered_return = depth, latency, registered_return
        super().__init__({"i": In(stream.Signature(8)), "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        credit_ok, take, w_en, w_data = add_output_queue(
            m, self.o, depth=self.depth, registered_return=self.registered_return)
        m.d.comb += [self.i.ready.eq(credit_ok), take.eq(self.i.valid & credit_ok),
                     w_en.eq(delay(m, take, self.latency, "w_en")),
                     w_data.eq(delay(m, self.i.payload, self.latency, "w_data"))]
        return m


@pytest.mark.parametrize("registered_return", [False, True])
@pytest.mark.parametrize("idle,backpressure", MATRIX, ids=[f"{i}-{b}" for i, b in MATRIX])
@pytest.mark.parametrize("depth,latency", [(2, 1), (3, 4), (5, 2)])
def test_output_queue_keeps_every_word_in_order(depth, latency, registered_return, idle,
                                                backpressure):
    words = [(k * 97) % 256 for k in range(60)]
    dut = _Pipeline(depth=depth, latency=latency, registered_return=registered_return)
    _, cap = run_stream(dut, words, len(words), idle=idle, backpressure=backpressure,
                        seed=depth + latency)
    assert cap.words == words


@pytest.mark.parametrize("registered_return", [False, True])
@pytest.mark.parametrize("depth", [1, 2, 4, 7])
def test_blocked_output_takes_exactly_depth_words(depth, registered_return):
    """With the consumer never ready the pipeline starts ``depth`` words, no more (the
    queue holds ``depth``) and no fewer (every credit is usable)."""
    dut = _Pipeline(depth=depth, latency=3, registered_return=registered_return)
    assert accepted_while_blocked(dut, depth + 10) == depth


class _Copies(wiring.Component):
    """One registered choice in three marked copies, each read by its own logic, and a
    plain register of the same choice beside them."""

    def __init__(self):
        super().__init__({"a": In(4), "s": In(1), "y": Out(16)})

    def elaborate(self, platform):
        from amaranth.hdl import Cat, Mux, Signal
        m = Module()
        choice = Mux(self.s, self.a, ~self.a)
        copies = replicas(m, choice, 3, "r")
        plain = Signal(4, name="plain")
        m.d.sync += plain.eq(choice)
        m.d.comb += self.y.eq(Cat(copies[0] ^ self.a, copies[1] & self.a, copies[2] | self.a,
                                  plain + self.a))
        return m


def _dff_cells(rtlil_text: str) -> dict[str, bool]:
    """``{Q wire: has keep}`` of the flip-flop cells of RTLIL text."""
    cells, attrs, current = {}, [], None
    for line in rtlil_text.splitlines():
        text = line.strip()
        if text.startswith("cell "):
            current = ("dff" in text.split()[1], "attribute \\keep 1" in attrs)
        elif current is not None and text.startswith("connect \\Q "):
            if current[0]:
                cells[text.split()[2]] = current[1]
        elif text == "end":
            current = None
        attrs = attrs + [text] if text.startswith("attribute ") else []
    return cells


def test_replicas_are_marked_and_kept_apart():
    from amaranth.back import rtlil
    text = rtlil.convert(_Copies(), name="copies", emit_src=False)
    assert _dff_cells(text) == {"\\r0": False, "\\r1": False, "\\r2": False, "\\plain": False}
    assert _dff_cells(keep_replicas(text)) == {"\\r0": True, "\\r1": True, "\\r2": True, "\\plain": False}
    assert keep_replicas(keep_replicas(text)) == keep_replicas(text)


def test_one_replica_is_a_plain_register():
    m = Module()
    (reg,) = replicas(m, Const(3, 4), 1, "word")
    assert reg.name == "word" and REPLICA_ATTR not in reg.attrs


def _ecp5_flip_flops(component, name: str, tmp_path) -> int:
    """Flip-flops of ``component`` after :func:`emit_verilog` and Yosys ``synth_ecp5``."""
    import json
    import subprocess

    from bitsmith.boards.tools import tool_path
    from bitsmith.generator.build import emit_verilog
    (tmp_path / f"{name}.v").write_text(emit_verilog(component, name))
    subprocess.run([tool_path("yosys"), "-q", "-p",
                    f"read_verilog {name}.v; synth_ecp5 -top {name}; write_json {name}.json"],
                   cwd=tmp_path, check=True)
    cells = json.loads((tmp_path / f"{name}.json").read_text())["modules"][name]["cells"].values()
    return sum(c["type"] == "TRELLIS_FF" for c in cells)


@pytest.mark.board
def test_yosys_keeps_the_copies_of_the_emitted_verilog(tmp_path):
    # the copies survive synthesis only through the keep on their cells: without it
    # opt_merge folds identical registers into one (4 flip-flops for all four)
    assert _ecp5_flip_flops(_Copies(), "copies", tmp_path) >= 3 * 4


# A small ROM's row register: bit columns 0-3 constant (0, 1, 0, 1), columns 4-7 one
# pattern over the words, 8-11 another; the two patterns repeat, each four times.
ROM_WORDS = [0b000000001010, 0b111111111010, 0b000011111010, 0b111100001010,
             0b111111111010, 0b000000001010, 0b000011111010, 0b111100001010]


class _SmallRom(wiring.Component):
    def __init__(self):
        super().__init__({"addr": In(3), "y": Out(12)})

    def elaborate(self, platform):
        from amaranth.lib.memory import Memory
        m = Module()
        m.submodules.rom = rom = Memory(shape=12, depth=8, init=ROM_WORDS)
        rd = rom.read_port()
        m.d.comb += [rd.addr.eq(self.addr), self.y.eq(rom_row_register(m, rd.data, ROM_WORDS, "row"))]
        return m


def test_rom_row_register_is_the_word_a_cycle_after_its_read_data():
    from amaranth.sim import Simulator
    dut = _SmallRom()
    seen = []

    async def bench(ctx):
        for a in [3, 0, 7, 1, 1, 6, 2, 5, 4]:
            ctx.set(dut.addr, a)
            await ctx.tick()
            seen.append(ctx.get(dut.y))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    # set before clock edge k: the read data takes the word at edge k, the row at k+1
    addrs = [3, 0, 7, 1, 1, 6, 2, 5, 4]
    assert seen[1:] == [ROM_WORDS[a] for a in addrs[:-1]]


def test_rom_row_register_keeps_only_the_varying_columns_and_keeps_them_apart():
    from amaranth.back import rtlil
    text = keep_replicas(rtlil.convert(_SmallRom(), name="rom", emit_src=False))
    row = [line for line in text.splitlines() if line.strip().startswith("wire width") and line.endswith("\\row")]
    assert row == ["  wire width 8 \\row"]            # the 4 constant columns are constants
    assert _dff_cells(text)["\\row"] is True


@pytest.mark.board
def test_yosys_keeps_a_small_roms_repeated_columns_apart(tmp_path):
    # without the keep, the 8 row flip-flops would be 2 (one per distinct column)
    assert _ecp5_flip_flops(_SmallRom(), "rom", tmp_path) >= 8


def test_occupancy_offered_names_rejected():
    from amaranth.hdl import Fragment, Module, Signal

    from bitsmith.hw.streams import occupancy
    m = Module()
    with pytest.raises(ValueError, match=r"offered flags are 'nonempty' and 'not_full', not \['full'\]"):
        occupancy(m, size=4, inc=Signal(), dec=Signal(), name="q", offered=("full",))
    Fragment.get(m, None)


def test_register_slice_flags_and_their_offered_copies_are_kept():
    """The slice's flags and the copies it offers as ``i.ready`` / ``o.valid`` are four
    flip-flops: the copies drive ports (Amaranth writes the port as the flip-flop's ``Q``
    and connects the marked wire to it), and each is kept, else Yosys merges the twins."""
    from amaranth.back import rtlil

    from bitsmith.hw.plumbing.register_slice import RegisterSlice
    cells = _dff_cells(keep_replicas(rtlil.convert(RegisterSlice(width=4), name="s", emit_src=False)))
    assert {q: cells[q] for q in ("\\i__ready", "\\o__valid", "\\slice_not_full", "\\slice_nonempty")} \
        == dict.fromkeys(("\\i__ready", "\\o__valid", "\\slice_not_full", "\\slice_nonempty"), True)
    assert not cells["\\wr_sel"]


def test_pipelined_sum_keeps_unregistered_levels_of_four_bits_or_more():
    """Level 1 of a two-levels-per-stage tree is not registered: its sums are kept wires
    when 4 bits or wider (so Yosys cannot merge the two levels into one multi-operand add),
    plain expressions when narrower (popcounts of compare bits)."""
    from amaranth.back import rtlil

    from bitsmith.hw.streams import pipelined_sum

    class Tree(wiring.Component):
        def __init__(self, bits):
            self.bits = bits
            super().__init__({"x": In(4 * bits), "y": Out(bits + 2)})

        def elaborate(self, platform):
            m = Module()
            terms = [self.x[k * self.bits:(k + 1) * self.bits] for k in range(4)]
            total, latency = pipelined_sum(m, terms, name="t", levels_per_stage=2)
            assert latency == 1
            m.d.comb += self.y.eq(total)
            return m

    wide = rtlil.convert(Tree(6), name="tree", emit_src=False)
    narrow = rtlil.convert(Tree(1), name="tree", emit_src=False)
    assert "attribute \\keep 1\n  wire width 7 \\t_s1_0" in wide
    assert "attribute \\keep 1\n  wire width 7 \\t_s1_1" in wide
    assert "t_s1_" not in narrow
