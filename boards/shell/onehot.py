"""A state machine with one flip-flop per state, for the shell's byte-level controllers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from amaranth import Module, Signal


class OneHotFSM:
    """States held one-hot: a flip-flop per state, set while the machine is in it.

    Written like an Amaranth ``m.FSM()``: ``with fsm.state("NAME"):`` opens the logic that
    runs in that state and ``fsm.goto("NEXT")`` inside it moves there at the next clock
    edge (``goto`` of the current state stays). Amaranth encodes an FSM's state in binary,
    and Yosys leaves a state register with an initial value as it is (its FSM recoding
    skips those), so each transition decoded the whole state first: the UART shell's
    request receiver and response sender on the iCE40 UP5K, 5-6 LUT levels (20-21 ns)
    from the state register through the decode and the handshake into the state
    register's enable. One-hot, a state's next value is a LUT or two of its predecessors'
    flags and their conditions.

    Parameters
    ----------
    m : Module
        The module the flip-flops and transitions go into (its ``sync`` domain).
    states : iterable of str
        State names; flip-flops ``<name>_<state>`` (lower case).
    init : str
        The state after reset.
    name : str
        Prefix of the flip-flops' names.
    on_goto : callable, optional
        Called with the target state's name at every ``goto``, inside the transition's
        conditions: for registers that follow the state (a ready that is a register).
    """

    def __init__(self, m: Module, states: Iterable[str], *, init: str, name: str,
                 on_goto: Callable[[str], None] | None = None):
        self._m = m
        self.flags = {s: Signal(init=int(s == init), name=f"{name}_{s.lower()}") for s in states}
        if init not in self.flags:
            raise ValueError(f"initial state {init!r} is not one of {sorted(self.flags)}")
        self._current: str | None = None
        self._on_goto = on_goto

    @contextmanager
    def state(self, name: str) -> Iterator[None]:
        """The logic of state ``name`` (runs while its flip-flop is set)."""
        if self._current is not None:
            raise RuntimeError(f"state {name!r} opened inside state {self._current!r}")
        self._current = name
        try:
            with self._m.If(self.flags[name]):
                yield
        finally:
            self._current = None

    def goto(self, name: str) -> None:
        """Move from the open state to ``name`` at the next clock edge."""
        if self._current is None:
            raise RuntimeError(f"goto({name!r}) outside a state")
        if name not in self.flags:
            raise ValueError(f"goto({name!r}): not one of {sorted(self.flags)}")
        if name != self._current:
            self._m.d.sync += [self.flags[self._current].eq(0), self.flags[name].eq(1)]
        if self._on_goto is not None:
            self._on_goto(name)

    @property
    def current(self) -> str | None:
        """The state whose block is open (``None`` outside)."""
        return self._current

    def ongoing(self, name: str) -> Signal:
        """The flip-flop of state ``name``."""
        return self.flags[name]
