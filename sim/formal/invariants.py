"""Induction invariants of the plumbing components, from their registers by name.

Each function states, as ``inv_*`` checks, how a component's internal registers relate
to the harness's :class:`~bitsmith.sim.formal.harness.Scoreboard`: how many words it
holds and where the tracked word sits. They are proven together with the contract
(an invariant is itself asserted, so a wrong one fails the proof rather than weakening
it); they only let k-induction rule out unreachable states. The names are those of
the components' signals (``hw/plumbing``, ``hw/streams.py``).
"""

from __future__ import annotations

from amaranth.hdl import Mux, Value

from .harness import Internals, Properties, Scoreboard, implies, occupancy_invariants

__all__ = ["register_slice", "stream_fifo", "width_converter"]


def _wrap(value: Value, modulus: int) -> Value:
    """``value mod modulus`` for ``0 <= value < 2*modulus``."""
    return Mux(value >= modulus, value - modulus, value)


def register_slice(props: Properties, parts: Internals, board: Scoreboard, *, entries: int,
                   prefix: str = "", words: Value | None = None, position: Value | None = None
                   ) -> Value:
    """A :class:`~bitsmith.hw.plumbing.register_slice.RegisterSlice` of ``entries`` words
    under ``prefix`` (``"slice."`` inside a FIFO).

    The ring pointers are ``level`` apart; the tracked word, ``position`` words from the
    slice's head (default: the scoreboard's ``ahead``), is in its word register when the
    position is below the level. ``words`` is the slice's level as the harness sees it
    (default: the scoreboard's level). Returns the slice's level.
    """
    name = prefix.replace(".", "_")
    level = parts[f"{prefix}slice_level"]
    occupancy_invariants(props, parts, f"{prefix}slice", entries,
                         board.level if words is None else words)
    rd, wr = parts[f"{prefix}rd_sel"], parts[f"{prefix}wr_sel"]
    regs = parts.words(f"{prefix}word{k}" for k in range(entries))
    props.check(f"inv_{name}pointers", (rd < entries) & (wr < entries)
                & (wr == _wrap(rd + level, entries)))
    if position is None:
        position = board.ahead
    held = board.armed & (position >= 0) & (position < level)
    props.check(f"inv_{name}tracked", implies(held, regs[_wrap(rd + position, entries)]
                                                  == board.value))
    return level


def stream_fifo(props: Properties, parts: Internals, board: Scoreboard, *, depth: int,
                read_stages: int) -> None:
    """A memory-backed :class:`~bitsmith.hw.plumbing.fifo.StreamFifo` (``depth > 4``).

    The words inside are, oldest first: the slice's, those read from the memory and in
    flight (``read_stages`` delay registers of the issue flag; the oldest in the last
    one), then the memory's from ``rp`` on. Each count is tied to its counter
    (``storage``, ``claimed``) and the tracked word to its place in that order: a slice
    register, the read data of its flight stage, or the memory word at
    ``rp + offset``, read through an extra asynchronous read port.
    """
    size = depth - 2 - read_stages
    entries = 2 + read_stages
    flights = [parts[f"in_flight_d{k}"] for k in range(1, read_stages + 1)]
    in_flight = sum(flights)
    storage = parts["storage_level"]
    slice_level = parts["slice.slice_level"]
    occupancy_invariants(props, parts, "storage", size)
    occupancy_invariants(props, parts, "claimed", entries, slice_level + in_flight)
    register_slice(props, parts, board, entries=entries, prefix="slice.",
                   words=board.level - storage - in_flight)
    rp, wp = parts["rp"], parts["wp"]
    props.check("inv_pointers", (rp < size) & (wp < size) & (wp == _wrap(rp + storage, size)))

    # in flight: the read issued k cycles ago has its data in stage k's data register
    # (stage 1: the memory's read port, stage 2: read_data_d1); oldest = highest stage
    position = board.ahead - slice_level
    index = 0
    for k in reversed(range(read_stages)):
        here = board.armed & flights[k] & (position == index)
        stage_data = parts[f"read_data_d{k}"] if k else _read_data(parts)
        props.check(f"inv_flight{k + 1}", implies(here, stage_data == board.value))
        index = index + flights[k]
    offset = position - in_flight
    in_memory = board.armed & (board.ahead >= slice_level + in_flight)
    addr = _wrap(rp + offset[:len(rp) + 1], size)
    word = parts.read("storage", addr, "formal_storage_word")
    props.check("inv_stored", implies(in_memory, word == board.value))


def _read_data(parts: Internals) -> Value:
    """The data signal of the FIFO storage's synchronous read port."""
    instance = parts._memories["storage"]
    return instance._read_ports[0]._data


def width_converter(props: Properties, parts: Internals, board: Scoreboard, *, in_elems: int,
                    out_elems: int, elem_bits: int) -> None:
    """A :class:`~bitsmith.hw.plumbing.width_converter.WidthConverter` (``in_elems !=
    out_elems``), in elements.

    The scatter stage (absent when the block is ``out_elems``) holds the oldest
    elements, ``left`` words from the bottom of its register; the gather stage (absent
    when the block is ``in_elems``) a full block, or ``count`` words shifted in from the
    top. The tracked element is at its element index in one of the two registers.
    """
    block = in_elems * out_elems // _gcd(in_elems, out_elems)
    scattered = 0
    if block != out_elems:
        left, valid = parts["scatter_left"], parts["scatter_valid"]
        scattered = left * out_elems
        props.check("inv_scatter", (left <= block // out_elems) & (valid == (left != 0))
                    & (parts["scatter_last"] == (left == 1)))
        here = board.armed & (board.ahead < scattered)
        got = parts["scatter_block"].word_select(board.ahead[:_bits(block)], elem_bits)
        props.check("inv_scatter_tracked", implies(here, got == board.value))
    gathered = 0
    if block != in_elems:
        words = block // in_elems
        count, full = parts["gather_count"], parts["gather_full"]
        gathered = Mux(full, block, count * in_elems)
        props.check("inv_gather", (count < words) & implies(full, count == 0))
        first = Mux(full, 0, (words - count) * in_elems)
        index = first + board.ahead - scattered
        here = board.armed & (board.ahead >= scattered)
        got = parts["gather_block"].word_select(index[:_bits(block)], elem_bits)
        props.check("inv_gather_tracked", implies(here, got == board.value))
    props.check("inv_elements", board.level == scattered + gathered)


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _bits(count: int) -> int:
    return max(1, (count - 1).bit_length())
