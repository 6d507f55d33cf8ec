"""Formal harness pieces: environment assumptions and the stream contract as assertions.

A harness is an Amaranth module around one component under test. Its inputs are free
(the solver picks them every cycle) and constrained only by *assumptions*: the reset is
high in the first cycle and never again; a source holds ``valid`` and ``payload`` while
stalled (``valid & ~ready``). The stream contract of DESIGN.md §3 is checked by
*assertions*, each a named signal ``check_<name>`` so a counterexample says which one
failed:

``<port>_valid_held``
    a valid word stays valid until it is taken;
``<port>_payload_stable``
    its payload does not change meanwhile;
``order`` / ``no_spurious`` / ``bounded`` (:class:`Scoreboard`)
    no element lost, duplicated or reordered, none emitted before it entered, and at
    most ``capacity`` inside;
``latency`` (:func:`check_latency`)
    a tracked word leaves within ``bound`` cycles of a sink that stays ready.

That ``valid`` never depends combinationally on ``ready`` is structural, not a
property of a run: :func:`~bitsmith.sim.formal.sby.valid_depends_on_ready` checks it on
the netlist.

The scoreboard tracks one element that the solver chooses freely (the "tracked word"
argument): it records the element's value and how many elements are ahead of it, counts
that number down at each output transfer and checks the element where the count says
it must be. Since the choice is free, the proof covers every element of every stream.

Components that are proven by k-induction also need *invariants* that tie their
internal registers to the harness's counters (a state the harness can not tell from a
reachable one otherwise defeats the induction). :class:`Internals` finds those
registers by name in the elaborated component, without changing it.
"""

from __future__ import annotations

from amaranth.hdl import Array, Assert, Assume, Const, Elaboratable, Fragment, Module, Mux, \
    ResetSignal, Signal, Value
from amaranth.hdl._mem import MemoryInstance

__all__ = ["implies", "Properties", "Internals", "Scoreboard", "drive_source", "check_sink",
           "check_latency", "occupancy_invariants", "stream_harness"]


def implies(premise: Value, conclusion: Value) -> Value:
    """``premise -> conclusion`` (both one bit)."""
    return ~premise | conclusion


class Properties:
    """The named assertions, assumptions and free inputs of one harness module ``m``.

    Creates the reset assumption: ``rst`` is high in the first cycle only. Checks hold
    from the cycle after it on (:attr:`active`).

    Parameters
    ----------
    m : Module
        The harness module.
    only : collection of str, optional
        Assert only the checks whose name ends with one of these (the others are still
        computed and appear in traces). A mutation test enables just the property the
        mutation is meant to break.
    """

    def __init__(self, m: Module, *, only=None):
        self.m = m
        self.only = None if only is None else tuple(only)
        self.ports: list[Signal] = []
        self.names: list[str] = []
        started = Signal(name="started", reset_less=True)
        m.d.sync += started.eq(1)
        m.d.comb += Assume(ResetSignal() == ~started)
        self.active = started

    def free(self, shape, name: str) -> Signal:
        """A free input of the harness, chosen by the solver every cycle."""
        sig = Signal(shape, name=name)
        self.ports.append(sig)
        return sig

    def assume(self, cond: Value) -> None:
        self.m.d.comb += Assume(~self.active | cond)

    def check(self, name: str, cond: Value) -> Signal:
        """Assert ``cond`` in every active cycle as ``check_<name>``."""
        if name in self.names:
            raise ValueError(f"check {name!r} defined twice")
        self.names.append(name)
        sig = Signal(name=f"check_{name}")
        self.m.d.comb += sig.eq(~self.active | cond)
        if self.only is None or any(name.endswith(k) for k in self.only):
            self.m.d.comb += Assert(sig)
        return sig

    def past(self, value: Value, name: str, *, reset_less: bool = False) -> Signal:
        """``value`` one cycle ago (reset value 0)."""
        reg = Signal(Value.cast(value).shape(), name=name, reset_less=reset_less)
        self.m.d.sync += reg.eq(value)
        return reg


def drive_source(props: Properties, port, name: str) -> Value:
    """Drive the input stream ``port`` of the component from free inputs.

    Assumes the AXI rule for the source: once ``valid`` is offered, ``valid`` and
    ``payload`` hold until the transfer. Returns the transfer (``valid & ready``).
    """
    m = props.m
    valid = props.free(1, f"{name}_valid")
    payload = props.free(len(port.payload), f"{name}_payload")
    m.d.comb += [port.valid.eq(valid), port.payload.eq(payload)]
    stalled = props.past(port.valid & ~port.ready, f"{name}_was_stalled")
    held = props.past(port.payload, f"{name}_held", reset_less=True)
    props.assume(implies(stalled, port.valid & (port.payload == held)))
    return port.valid & port.ready


def check_sink(props: Properties, port, name: str, *, ready: Value | None = None) -> Value:
    """Drive ``port.ready`` of the output stream ``port`` (free unless ``ready`` is given)
    and check ``<name>_valid_held`` and ``<name>_payload_stable``. Returns the transfer."""
    m = props.m
    if ready is None:
        ready = props.free(1, f"{name}_ready")
    m.d.comb += port.ready.eq(ready)
    stalled = props.past(port.valid & ~port.ready, f"{name}_was_stalled")
    held = props.past(port.payload, f"{name}_held", reset_less=True)
    props.check(f"{name}_valid_held", implies(stalled, port.valid))
    props.check(f"{name}_payload_stable", implies(stalled, port.payload == held))
    return port.valid & port.ready


class Scoreboard:
    """Elements in equal elements out, in order: the tracked-element argument.

    The input carries ``in_elems`` elements of ``elem_bits`` bits per transfer, the
    output ``out_elems`` (element 0 in the low bits, DESIGN.md §3). Elements that enter
    in a cycle count as entered before the elements that leave in that cycle (so a
    combinational path passes too). Checks:

    ``no_spurious``
        an output transfer takes only elements that have entered;
    ``bounded``
        at most ``capacity`` elements are inside;
    ``order``
        the tracked element leaves at the position the elements ahead of it give,
        with its value;
    ``tracked_inside``
        while tracked, the element is counted inside (an invariant for induction).

    Attributes
    ----------
    level : Signal
        Elements inside.
    armed : Signal
        An element is tracked.
    ahead : Signal
        Elements ahead of the tracked one, inside.
    value : Signal
        The tracked element's value.
    start, here : Value
        The tracked element enters / leaves in this cycle.
    """

    def __init__(self, props: Properties, *, accept: Value, deliver: Value, in_payload: Value,
                 out_payload: Value, elem_bits: int, in_elems: int = 1, out_elems: int = 1,
                 capacity: int, name: str = "track"):
        m = props.m
        self.capacity = capacity
        bound = capacity + in_elems + out_elems + 1
        self.level = level = Signal(range(bound), name=f"{name}_level")
        self.armed = armed = Signal(name=f"{name}_armed")
        self.ahead = ahead = Signal(range(bound), name=f"{name}_ahead")
        self.value = value = Signal(elem_bits, name=f"{name}_value", reset_less=True)
        self.track = track = props.free(1, f"{name}_start")
        if in_elems > 1:
            elem = props.free(range(in_elems), f"{name}_elem")
            if in_elems & (in_elems - 1):
                props.assume(elem < in_elems)
            entered = in_payload.word_select(elem, elem_bits)
        else:
            elem, entered = Const(0, 1), in_payload
        entering = Mux(accept, in_elems, 0)
        leaving = Mux(deliver, out_elems, 0)
        available = level + entering
        props.check(f"{name}_no_spurious", available >= leaving)
        props.check(f"{name}_bounded", level <= capacity)
        props.check(f"{name}_tracked_inside", implies(armed, ahead < level))
        m.d.sync += level.eq(available - leaving)

        self.start = start = accept & ~armed & track
        # position of the tracked element among the elements inside after entering
        position = Mux(start, level + elem, ahead)
        self.here = here = (start | armed) & deliver & (position < out_elems)
        got = out_payload.word_select(position[:max(1, (out_elems - 1).bit_length())], elem_bits) \
            if out_elems > 1 else out_payload
        tracked_value = Mux(start, entered, value)
        props.check(f"{name}_order", implies(here, got == tracked_value))
        with m.If(start):
            m.d.sync += [armed.eq(1), value.eq(tracked_value)]
        with m.If(start | armed):
            m.d.sync += ahead.eq(position - leaving)
            with m.If(here):
                m.d.sync += armed.eq(0)


def check_latency(props: Properties, board: Scoreboard, *, bound: int, ready: Value,
                  valid: Value | None = None, name: str = "latency") -> Signal:
    """Bounded liveness: the tracked element leaves within ``bound`` cycles of ``ready``.

    Counts the consecutive cycles after the tracked element entered in which the sink
    was ``ready`` (and, for a component that needs more input to emit, ``valid`` held
    the source valid too); the count restarts at a cycle without them. Checks
    ``<name>``: the element is still inside only while fewer than ``bound`` such cycles
    have passed, i.e. it leaves at the latest in the ``bound``-th cycle of a run of ready
    cycles that started after it entered. Returns the counter.
    """
    m = props.m
    streak = Signal(range(bound + 2), name=f"{name}_streak")
    go = ready if valid is None else ready & valid
    with m.If(board.armed & go):
        m.d.sync += streak.eq(Mux(streak > bound, streak, streak + 1))
    with m.Else():
        m.d.sync += streak.eq(0)
    props.check(name, implies(board.armed, streak < bound))
    return streak


class _Fixed(Elaboratable):
    def __init__(self, fragment: Fragment):
        self.fragment = fragment

    def elaborate(self, platform):
        return self.fragment


class Internals:
    """The elaborated component, with its internal signals and memories by name.

    Elaborates ``component`` once; add :attr:`elaboratable` to the harness as the
    submodule (it is that same elaboration). Names are hierarchical: ``"slice.wr_sel"``
    is signal ``wr_sel`` of submodule ``slice``.
    """

    def __init__(self, component):
        self.fragment = Fragment.get(component, platform=None)
        self.elaboratable = _Fixed(self.fragment)
        self._signals: dict[str, Signal] = {}
        self._memories: dict[str, MemoryInstance] = {}
        self._walk(self.fragment, [])

    def _walk(self, fragment: Fragment, path: list[str]) -> None:
        prefix = "".join(f"{p}." for p in path)
        for statements in fragment.statements.values():
            for stmt in statements:
                for sig in (*stmt._lhs_signals(), *stmt._rhs_signals()):
                    self._signals.setdefault(prefix + sig.name, sig)
        for sub, name, _ in fragment.subfragments:
            name = name if isinstance(name, str) else f"U${name}"
            if isinstance(sub, MemoryInstance):
                self._memories[prefix + name] = sub
            self._walk(sub, [*path, name])

    def __getitem__(self, name: str) -> Signal:
        try:
            return self._signals[name]
        except KeyError:
            raise KeyError(f"no signal {name!r}; signals: {sorted(self._signals)}") from None

    def has(self, name: str) -> bool:
        return name in self._signals

    def words(self, names) -> Array:
        return Array(self[n] for n in names)

    def read(self, memory: str, addr: Value, name: str) -> Signal:
        """The word of ``memory`` at ``addr`` (an extra asynchronous read port, for
        assertions only)."""
        instance = self._memories[memory]
        data = Signal(instance._data.shape, name=name)
        bits = (instance._data.depth - 1).bit_length()
        port_addr = Signal(bits, name=f"{name}_addr")
        self.fragment.add_statements("comb", port_addr.eq(addr))
        instance.read_port(domain="comb", addr=port_addr, data=data, en=Const(1),
                           transparent_for=())
        return data


def occupancy_invariants(props: Properties, parts: Internals, prefix: str, size: int,
                         level: Value | None = None) -> None:
    """The flags of a :func:`~bitsmith.hw.streams.occupancy` counter agree with its level,
    which is at most ``size`` (and equals ``level`` if given); the flags' offered copies,
    where there are some, equal them."""
    q = parts[f"{prefix}_level"]
    name = prefix.replace(".", "_")
    cond = ((q <= size) & (parts[f"{prefix}_nonempty"] == (q != 0))
            & (parts[f"{prefix}_not_full"] == (q != size))
            & (parts[f"{prefix}_at_one"] == (q == 1)) & (parts[f"{prefix}_at_top"] == (q == size - 1)))
    for flag in ("nonempty", "not_full"):
        if parts.has(f"{prefix}_{flag}_offered"):
            cond &= parts[f"{prefix}_{flag}_offered"] == parts[f"{prefix}_{flag}"]
    if level is not None:
        cond &= q == level
    props.check(f"inv_{name}", cond)


def stream_harness(component, *, capacity: int, elem_bits: int | None = None, in_elems: int = 1,
                   out_elems: int = 1, latency: int | None = None, needs_source: bool = False,
                   invariants=None, only=None):
    """The harness of a component with one input stream ``i`` and one output stream ``o``.

    Drives ``i`` from a free source, checks ``o`` (held valid, stable payload), the
    :class:`Scoreboard` of ``capacity`` elements and, with ``latency``, the bounded
    liveness check (``needs_source``: the component emits only with more input, so the
    source must stay valid too). ``invariants(props, parts, board)`` adds the
    component's induction invariants. Returns ``(module, free inputs)``.
    """
    m = Module()
    props = Properties(m, only=only)
    parts = Internals(component)
    m.submodules.dut = parts.elaboratable
    if elem_bits is None:
        elem_bits = len(component.i.payload) // in_elems
    accept = drive_source(props, component.i, "i")
    deliver = check_sink(props, component.o, "o")
    board = Scoreboard(props, accept=accept, deliver=deliver, in_payload=component.i.payload,
                       out_payload=component.o.payload, elem_bits=elem_bits, in_elems=in_elems,
                       out_elems=out_elems, capacity=capacity)
    if latency is not None:
        check_latency(props, board, bound=latency, ready=component.o.ready,
                      valid=component.i.valid if needs_source else None)
    if invariants is not None:
        invariants(props, parts, board)
    return m, props.ports
