"""Cutting a VCD down (sim/vcd.py): named signals only, a window of clock edges."""

from __future__ import annotations

import io

import pytest
from vcd.reader import TokenKind, tokenize
from vcd.writer import VCDWriter

from bitsmith.sim.vcd import filter_vcd, is_named


def write_vcd(path, cycles: int = 8) -> None:
    """A clock, a counter that steps on every rising edge, and a made-up ``$3`` temporary."""
    with open(path, "w") as f, VCDWriter(f, timescale="1 ns", date="today") as writer:
        clk = writer.register_var("top", "clk", "wire", size=1, init=0)
        count = writer.register_var("top", "count", "wire", size=8, init=0)
        temp = writer.register_var("top.sub", "$3", "wire", size=8, init=0)
        for c in range(cycles):
            writer.change(clk, 10 * c + 5, 1)
            writer.change(count, 10 * c + 5, c + 1)
            writer.change(temp, 10 * c + 5, 2 * c + 2)
            writer.change(clk, 10 * c + 10, 0)


def read(path) -> tuple[list[str], list[tuple[int, str, int]]]:
    """Variable names and (time, name, value) changes, through pyvcd's own reader."""
    names, codes, changes, time = [], {}, [], 0
    with open(path, "rb") as f:
        for token in tokenize(f):
            if token.kind is TokenKind.VAR:
                names.append(token.data.reference)
                codes[token.data.id_code] = token.data.reference
            elif token.kind is TokenKind.CHANGE_TIME:
                time = token.data
            elif token.kind in (TokenKind.CHANGE_SCALAR, TokenKind.CHANGE_VECTOR):
                value = token.data.value
                changes.append((time, codes[token.data.id_code], int(value) if not isinstance(value, int)
                                else value))
    return names, changes


@pytest.mark.parametrize("name, named", [("count", True), ("i__payload$15", True), ("$1", False),
                                         ("$signature__en", False), ("\\$7", False)])
def test_is_named(name, named):
    assert is_named(name) is named


def test_named_signals_only(tmp_path):
    write_vcd(tmp_path / "all.vcd")
    counts = filter_vcd(tmp_path / "all.vcd", tmp_path / "named.vcd")
    assert counts == {"vars": 2, "vars_before": 3}
    names, changes = read(tmp_path / "named.vcd")   # ($3 itself is not valid for pyvcd's reader)
    assert names == ["clk", "count"]
    expected = [(0, "clk", 0), (0, "count", 0)]
    for c in range(8):
        expected += [(10 * c + 5, "clk", 1), (10 * c + 5, "count", c + 1), (10 * c + 10, "clk", 0)]
    assert changes == expected
    assert "$scope module sub" not in (tmp_path / "named.vcd").read_text()   # emptied scope


def test_keep_none_copies_every_signal(tmp_path):
    write_vcd(tmp_path / "all.vcd")
    filter_vcd(tmp_path / "all.vcd", tmp_path / "copy.vcd", keep=None)
    assert (tmp_path / "copy.vcd").read_text() == (tmp_path / "all.vcd").read_text()


def test_window_of_edges_opens_with_every_value(tmp_path):
    write_vcd(tmp_path / "all.vcd", cycles=8)
    filter_vcd(tmp_path / "all.vcd", tmp_path / "win.vcd", edges=(3, 5))
    _, changes = read(tmp_path / "win.vcd")
    # rising edge k is at 10k+5: the window opens at edge 3 (t=35) with the values of
    # t=25..35 dumped, and ends before edge 6 (t=65)
    times = sorted({t for t, _, _ in changes})
    assert times[0] == 35 and times[-1] == 60
    opening = {name: value for t, name, value in changes if t == 35}
    assert opening == {"clk": 1, "count": 4}
    assert [v for t, name, v in changes if name == "count"] == [3, 4, 5, 6]


def test_window_needs_the_clock(tmp_path):
    write_vcd(tmp_path / "all.vcd")
    with pytest.raises(ValueError, match=r"^.*all\.vcd: no variable named 'clock' to count cycles on$"):
        filter_vcd(tmp_path / "all.vcd", tmp_path / "x.vcd", edges=(1, 2), clock="clock")
