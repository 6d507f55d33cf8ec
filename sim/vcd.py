"""Cut a VCD file down: named signals only, and a window of clock cycles.

The Verilator harness leaves out Yosys's temporaries and limits its window while it
simulates (:mod:`bitsmith.sim.rtl.harness`); the Amaranth simulator writes every signal
of the whole run, so its VCD goes through :func:`filter_vcd` afterwards. The filter
streams: memory use does not grow with the file.

A signal is *unnamed* when its name starts with ``$`` (``$1``, ``$signature__en``): the
names the toolchain makes up, as opposed to the ones in the design's source.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, TextIO

_VAR = re.compile(r"^\s*\$var\s+(\S+)\s+(\d+)\s+(\S+)\s+(\S+)(.*)\$end\s*$")


def is_named(name: str) -> bool:
    """False for the made-up names (``$...``, also as an escaped ``\\$...``)."""
    return not name.lstrip("\\").startswith("$")


def filter_vcd(src: Path, dst: Path, *, keep: Callable[[str], bool] | None = is_named,
               edges: tuple[int, int | None] | None = None, clock: str = "clk") -> dict:
    """Copy the VCD ``src`` to ``dst`` with fewer signals and a shorter time span.

    Parameters
    ----------
    keep : callable or None
        ``keep(name)`` decides for each variable (default: :func:`is_named`); None keeps all.
    edges : (int, int or None) or None
        Keep the span from rising edge ``a`` of ``clock`` to rising edge ``b`` (counting
        from 0; ``b`` None: to the end). The values at the start are written as a
        ``$dumpvars`` block, so the window opens with every signal known.
    clock : str
        Name of the clock variable whose rising edges ``edges`` counts (the first one).

    Returns
    -------
    dict
        ``{"vars": kept, "vars_before": all}`` counts of ``$var`` lines.
    """
    with open(src) as reader, open(dst, "w") as writer:
        codes, counts, clock_code = _header(reader, writer, keep, clock)
        if edges is not None and clock_code is None:
            raise ValueError(f"{src}: no variable named {clock!r} to count cycles on")
        _body(reader, writer, codes, edges, clock_code)
    return counts


def _header(reader: TextIO, writer: TextIO, keep, clock: str):
    kept_codes: set[str] = set()
    counts = {"vars": 0, "vars_before": 0}
    clock_code = None
    pending_scopes: list[str] = []
    for line in reader:
        match = _VAR.match(line)
        if match:
            counts["vars_before"] += 1
            name, code = match.group(4), match.group(3)
            if clock_code is None and name == clock:
                clock_code = code
            if keep is None or keep(name):
                writer.writelines(pending_scopes)
                pending_scopes.clear()
                writer.write(line)
                kept_codes.add(code)
                counts["vars"] += 1
            continue
        stripped = line.strip()
        if stripped.startswith("$scope"):
            pending_scopes.append(line)      # written only if a variable below is kept
            continue
        if stripped.startswith("$upscope"):
            if pending_scopes:
                pending_scopes.pop()
            else:
                writer.write(line)
            continue
        writer.write(line)
        if stripped.startswith("$enddefinitions"):
            break
    return kept_codes, counts, clock_code


def _code_of(token: str) -> tuple[str, str]:
    """``"b1010 !"`` / ``"r1.5 !"`` / ``"sIDLE !"`` / ``"1!"`` -> (code, the change as written)."""
    if token[0] in "bBrRsS":
        return token.split()[1], token
    return token[1:], token


def _body(reader: TextIO, writer: TextIO, codes: set[str], edges, clock_code) -> None:
    first, last = (0, None) if edges is None else edges
    state: dict[str, str] = {}
    rising = -1
    clock_value = None
    opened = edges is None or first == 0
    pending_time = None
    for line in reader:
        token = line.strip()
        if not token or token in ("$dumpvars", "$end", "$dumpall", "$dumpon", "$dumpoff"):
            if opened and token:
                writer.write(line)
            continue
        if token[0] == "#":
            pending_time = token
            if opened:
                writer.write(line)
            continue
        if token.startswith("$"):            # $comment ... $end and the like
            if opened:
                writer.write(line)
            continue
        code, change = _code_of(token)
        if code == clock_code and edges is not None:
            value = change[0] if change[0] not in "bB" else change.split()[0][-1]
            if value == "1" and clock_value != "1":
                rising += 1
                if not opened and rising >= first:
                    writer.write(f"{pending_time}\n$dumpvars\n")
                    writer.writelines(f"{v}\n" for v in state.values())
                    writer.write("$end\n")
                    opened = True
                if last is not None and rising > last:
                    return
            clock_value = value
        if code not in codes:
            continue
        if opened:
            writer.write(f"{change}\n")
        else:
            state[code] = change
