"""Fixtures of the RTL-runner tests: one Verilator cache and one Verilog file per DUT variant."""

from __future__ import annotations

from pathlib import Path

import pytest

from frame_dut import emit


@pytest.fixture(scope="session")
def sim_cache() -> Path | None:
    """The Verilator cache root of the tests: the product's default (``None``).

    That is ``$BITSMITH_CACHE/verilator`` or ``~/.cache/bitsmith/verilator``, which CI
    keeps between runs; builds are keyed by content, so a warm run compiles nothing and
    parallel workers that race for the same key keep one result.
    """
    return None


@pytest.fixture(scope="session")
def dut_verilog(tmp_path_factory):
    """``dut_verilog(in_bits, out_bits, bug=None) -> Path``, each variant emitted once."""
    directory = tmp_path_factory.mktemp("rtl")
    emitted: dict[tuple, Path] = {}

    def get(in_bits: int, out_bits: int, bug: str | None = None) -> Path:
        key = (in_bits, out_bits, bug)
        if key not in emitted:
            emitted[key] = emit(directory, in_bits=in_bits, out_bits=out_bits, bug=bug)
        return emitted[key]

    return get
