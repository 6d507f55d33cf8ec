"""Memory placement per family: the counts Yosys gave for the same shapes.

Each expected count was read from ``synth_ice40`` / ``synth_ecp5`` / ``synth_xilinx``
on a one-memory design (a ROM, or a RAM with one write and one synchronous read port)
with the attributes bitsmith's hardware uses (``bitsmith.hw.streams.ram_attrs``).
"""

import pytest

from bitsmith.generator.fit.family import FAMILIES, family_of, map_memory
from bitsmith.generator.fit.memories import MemoryShape


def place(family, width, depth, kind="rom", block=None):
    block = depth >= 32 if block is None else block
    return map_memory(MemoryShape(width, depth, kind, block), FAMILIES[family])


@pytest.mark.parametrize("family, width, depth, brams", [
    ("ice40", 784, 64, 49), ("ice40", 32, 32, 2), ("ice40", 64, 512, 8), ("ice40", 8, 1024, 2),
    ("ice40", 2, 6272, 4), ("ice40", 1, 4096, 1), ("ice40", 7, 2048, 4),
    ("ecp5", 784, 64, 22), ("ecp5", 32, 32, 1), ("ecp5", 64, 512, 2), ("ecp5", 8, 1024, 1),
    ("ecp5", 2, 6272, 1), ("ecp5", 36, 512, 1), ("ecp5", 40, 600, 3),
    ("xc7", 784, 64, 11), ("xc7", 32, 32, 0.5), ("xc7", 64, 512, 1), ("xc7", 8, 1024, 0.5),
    ("xc7", 2, 6272, 0.5), ("xc7", 36, 512, 0.5), ("xc7", 40, 600, 1.5), ("xc7", 72, 512, 1),
])
def test_block_memories_take_what_yosys_takes(family, width, depth, brams):
    cost = place(family, width, depth)
    assert (cost.where, cost.brams) == ("block", brams)


@pytest.mark.parametrize("family, width, depth, kind, where", [
    ("ice40", 16, 16, "rom", "logic"), ("ice40", 128, 8, "rom", "logic"),
    ("ice40", 49, 16, "ram", "block"), ("ice40", 16, 24, "ram", "block"),
    ("ice40", 8, 7, "ram", "logic"), ("ice40", 8, 8, "ram", "logic"), ("ice40", 64, 2, "ram", "logic"),
    ("ice40", 8, 9, "async", "logic"), ("ice40", 8, 12, "async", "block"),
    # output queues Yosys placed (synth_ice40 of the calibration designs, the bench's
    # TFC-w2a2 and Winograd layer): 8 x 10 in logic, 28 x 6 and 88 x 6 in block RAM
    ("ice40", 8, 10, "async", "logic"), ("ice40", 28, 6, "async", "block"), ("ice40", 88, 6, "async", "block"),
    ("ecp5", 49, 16, "ram", "lutram"), ("ecp5", 16, 16, "rom", "logic"),
    ("xc7", 49, 16, "ram", "lutram"), ("xc7", 128, 8, "rom", "logic"),
])
def test_unmarked_memories_go_where_yosys_puts_them(family, width, depth, kind, where):
    assert place(family, width, depth, kind, block=False).where == where


def test_distributed_ram_luts():
    assert place("ecp5", 49, 16, "ram", block=False).luts == 52          # 13 TRELLIS_DPR16X4
    assert place("xc7", 49, 16, "ram", block=False).luts == 36           # 9 RAM32M


def test_spram_primitives():
    assert place("ice40", 64, 1568, "spram", block=False).spram == 4
    assert place("ice40", 16, 16385, "spram", block=False).spram == 2
    with pytest.raises(ValueError, match=r"^ecp5 has no SPRAM \(\)$"):
        place("ecp5", 64, 1568, "spram", block=False)


def test_zynq_counts_as_7_series():
    assert family_of("zynq7") is FAMILIES["xc7"]
    with pytest.raises(ValueError, match=r"^family must be one of ice40, ecp5, xc7 or zynq7, not 'asic'$"):
        family_of("asic")
