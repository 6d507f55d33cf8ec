"""Shared helpers of the ``hw`` components: argument checks, element codes, pipelines.

Stream convention (DESIGN.md §3): a word of ``n`` elements of ``w`` bits carries element
``i`` at bits ``[i*w, (i+1)*w)``. Element codes: BIPOLAR one bit (1 <-> +1, 0 <-> -1),
INTn/TERNARY two's complement, UINTn/BINARY the value itself.

Nothing here is a component; these are the small building blocks the components in
``hw/compute`` and ``hw/plumbing`` share.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib.memory import Memory
from qonnx.core.datatype import BaseDataType

__all__ = [
    "check_int", "check_dtype", "check_int_array", "is_bipolar", "elements", "element_value",
    "encode_int", "pack_codes", "dtype_shape", "next_mod", "delay", "pipelined_sum", "occupancy",
    "late_choice",
    "add_output_queue", "in_block_ram", "ram_attrs", "replicas", "kept_register", "rom_row_register", "keep_replicas",
    "tree_level_registered",
    "REPLICA_ATTR",
]


def check_int(name: str, value, *, minimum: int = 1) -> int:
    """``value`` as an ``int`` >= ``minimum``; ``TypeError``/``ValueError`` naming ``name``."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {what}, not {value!r}")
    return int(value)


def check_dtype(name: str, value, *, max_bits: int = 32) -> BaseDataType:
    """``value`` must be an integer qonnx DataType of at most ``max_bits`` bits."""
    if not isinstance(value, BaseDataType):
        raise TypeError(f"{name} must be a qonnx DataType, not {value!r}")
    if not value.is_integer() or value.bitwidth() > max_bits:
        raise ValueError(f"{name} must be an integer DataType of 1..{max_bits} bits, not {value.name}")
    return value


def check_int_array(name: str, value, ndim: int) -> np.ndarray:
    """``value`` as an ``int64`` numpy array of ``ndim`` dimensions."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, not {type(value).__name__}")
    if not np.issubdtype(value.dtype, np.integer):
        raise TypeError(f"{name} must be an integer array, not {value.dtype}")
    if value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, not shape {value.shape}")
    return value.astype(np.int64)


def is_bipolar(dtype: BaseDataType) -> bool:
    return dtype.name == "BIPOLAR"


def dtype_shape(dtype: BaseDataType):
    """The Amaranth shape of one element code (BIPOLAR is ``unsigned(1)``)."""
    if is_bipolar(dtype) or not dtype.signed():
        return unsigned(dtype.bitwidth())
    return signed(dtype.bitwidth())


def elements(word: Value, count: int, bits: int) -> list[Value]:
    """The ``count`` element codes of a flat ``word`` (element ``i`` at ``[i*bits, (i+1)*bits)``)."""
    return [word[i * bits:(i + 1) * bits] for i in range(count)]


def element_value(code: Value, dtype: BaseDataType) -> Value:
    """The true integer value of an element code (BIPOLAR -> -1/+1)."""
    if is_bipolar(dtype):
        return Mux(code[0], Const(1, signed(2)), Const(-1, signed(2)))
    return code.as_signed() if dtype.signed() else code.as_unsigned()


def encode_int(value: int, dtype: BaseDataType) -> int:
    """Element code of the integer ``value`` of ``dtype`` (numpy-side, for constants)."""
    value = int(value)
    if is_bipolar(dtype):
        return 1 if value > 0 else 0
    return value & ((1 << dtype.bitwidth()) - 1)


def pack_codes(values: np.ndarray, dtype: BaseDataType) -> list[int]:
    """Memory words from a ``(words, elements)`` array of integer values of ``dtype``:
    element ``e`` of a word at bits ``[e*w, (e+1)*w)`` (element 0 in the LSBs), each
    encoded as :func:`encode_int` does; vectorised (a ROM of a million bits takes
    milliseconds, not seconds)."""
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"values must be a 2-D (words, elements) array, not shape {values.shape}")
    bits = dtype.bitwidth()
    codes = (values > 0).astype(np.uint64) if is_bipolar(dtype) else \
        (values.astype(np.int64) & ((1 << bits) - 1)).astype(np.uint64)
    planes = (codes[:, :, None] >> np.arange(bits, dtype=np.uint64)) & 1      # (words, elems, bits)
    packed = np.packbits(planes.reshape(len(codes), -1).astype(np.uint8), axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def next_mod(counter: Value, modulus: int) -> Value:
    """``counter + 1``, wrapping to 0 after ``modulus - 1`` (ring pointers, fold counters)."""
    return Mux(counter == modulus - 1, 0, counter + 1)


def next_is_last(counter: Value, modulus: int) -> Value:
    """Whether ``next_mod(counter, modulus)`` is ``modulus - 1``: the next value of a
    registered "counter is at its last value" flag, kept beside the counter so that the
    flag is a flip-flop rather than a compare (``counter == modulus - 2``; at the last
    value the counter wraps to 0, which is the last only for a modulus of 1)."""
    return Const(1, 1) if modulus == 1 else counter == modulus - 2


def shift_add(value: Value, const: int, bits: int) -> Value:
    """``value * const`` modulo ``2**bits`` without a ``$mul``: the shifted copies of
    ``value`` for the constant's set bits, summed as a balanced tree (log2 of their count
    adders deep, not a chain)."""
    value = value[:bits]
    terms = [(value << k)[:bits] for k in range(bits) if const >> k & 1]
    if not terms:
        return value & 0
    while len(terms) > 1:
        terms = [(terms[k] + terms[k + 1])[:bits] if k + 1 < len(terms) else terms[k]
                 for k in range(0, len(terms), 2)]
    return terms[0]


CONST_TABLE_MAX = 64
"""Most values of a :func:`times_const` operand looked up in a table (more: shift-and-add)."""


def times_const(value: Value, factor: int, count: int) -> Value:
    """``value * factor`` for an unsigned ``value`` in ``0..count-1``, never a ``$mul``:
    Yosys maps a multiply by a constant onto a DSP block (ECP5 MULT18, with its slow
    combinational path into whatever address it feeds). A power of two is a shift; else a
    table of the ``count`` products (a few LUT levels) up to :data:`CONST_TABLE_MAX`
    values, :func:`shift_add` beyond."""
    if factor & (factor - 1) == 0:
        return value << (factor.bit_length() - 1) if factor else Const(0, 1)
    width = ((count - 1) * factor).bit_length()
    if count <= CONST_TABLE_MAX:
        return Array(Const(k * factor, width) for k in range(count))[value]
    return shift_add(value, factor, width)


def delay(m: Module, value: Value, cycles: int, name: str, *, reset_less: bool = False) -> Value:
    """``value`` delayed by ``cycles`` registers (no enable; ``reset_less`` for pure data,
    which needs no reset and packs more freely)."""
    for k in range(cycles):
        reg = Signal(value.shape(), name=f"{name}_d{k + 1}", reset_less=reset_less)
        m.d.sync += reg.eq(value)
        value = reg
    return value


REPLICA_ATTR = "bitsmith.replica"
"""Attribute of a register that copies another's (:func:`replicas`), for
:func:`keep_replicas`."""


def replicas(m: Module, value: Value, copies: int, name: str) -> list[Signal]:
    """``copies`` registers of ``value`` (no enable, no reset), each for its own share of
    a large fan-out: a register read by logic spread across the device (every PE of a
    wide MVAU) routes 4-5 ns to its far loads on the ECP5, and nextpnr does not copy
    registers. Synthesis would merge identical registers again (Yosys ``opt_merge``), so
    each is a :func:`kept_register`. One copy is a plain register."""
    if copies == 1:
        reg = Signal(value.shape(), name=name, reset_less=True)
        m.d.sync += reg.eq(value)
        return [reg]
    return [kept_register(m, value, f"{name}{c}") for c in range(copies)]


def kept_register(m: Module, value: Value, name: str) -> Signal:
    """A register of ``value`` (no enable, no reset) whose flip-flops synthesis keeps, one
    per bit, even where two hold the same value: Yosys ``opt_merge`` would make equal
    registers one flip-flop serving all their loads. It carries :data:`REPLICA_ATTR`,
    which :func:`keep_replicas` turns into a ``keep`` on the flip-flop cells when the
    design is converted (Yosys honours it there, not on the wire), and a ``keep`` on the
    signal (for Vivado, which reads it from the register's declaration; not run here)."""
    reg = Signal(value.shape(), name=name, reset_less=True, attrs={REPLICA_ATTR: 1, "keep": 1})
    m.d.sync += reg.eq(value)
    return reg


def rom_row_register(m: Module, data: Value, words: list[int], name: str) -> Value:
    """The read data ``data`` of a small ROM holding ``words`` (fewer than
    :data:`BLOCK_RAM_MIN_WORDS`: logic or LUT RAM, not a block RAM), registered: bits equal
    in every word are constants (synthesis specialises the logic they feed), the others a
    :func:`kept_register`. A few words make few distinct bit columns, and synthesis would
    otherwise merge each column's flip-flops into one fanning out to every place that reads
    any of them (TFC-w2a2's first threshold row: 302 varying bits over 16 PEs, 14 distinct
    columns; one routed 4.8 ns across the ECP5)."""
    width = len(data)
    ones = zeros = (1 << width) - 1
    for w in words:
        ones &= w
        zeros &= ~w
    varying = [k for k in range(width) if not (ones >> k) & 1 and not (zeros >> k) & 1]
    if not varying:
        return Const(words[0], width)
    reg = kept_register(m, Cat(data[k] for k in varying), name)
    where = {k: j for j, k in enumerate(varying)}
    return Cat(reg[where[k]] if k in where else Const((ones >> k) & 1, 1) for k in range(width))


def keep_replicas(rtlil_text: str) -> str:
    """Amaranth RTLIL with ``attribute \\keep 1`` on every flip-flop cell whose ``Q`` is a
    wire marked :data:`REPLICA_ATTR` (:func:`replicas`), or a wire the module connects to
    one (a marked register driving a port is written as the port's flip-flop): Yosys keeps
    such cells apart (also in the Verilog it writes: the attribute stays on the ``always``
    block). Amaranth puts a signal's attributes on its wire only."""
    marker = f"attribute \\{REPLICA_ATTR} 1"
    lines = rtlil_text.splitlines(keepends=True)

    def whole_wire(operand: str) -> str:
        return operand[:-len(" [0]")] if operand.endswith(" [0]") else operand

    # first pass: per module, the marked wires and the wires connected to them
    marked_in: list[set[str]] = []
    attrs: list[str] = []
    depth = 0                                      # inside a cell or process
    for line in lines:
        text = line.strip()
        if text.startswith("module "):
            marked_in.append(set())
            linked: dict[str, list[str]] = {}
        elif text.startswith(("cell ", "process ", "switch ")):
            depth += 1
        elif text == "end" and depth:
            depth -= 1
        elif text == "end":                        # the module's end: spread the marks
            todo = list(marked_in[-1])
            while todo:
                for other in linked.get(todo.pop(), ()):
                    if other not in marked_in[-1]:
                        marked_in[-1].add(other)
                        todo.append(other)
        elif text.startswith("connect ") and not depth:
            a, _, b = text[len("connect "):].partition(" \\")
            a, b = whole_wire(a), whole_wire("\\" + b)
            if b != "\\" and " " not in a and " " not in b:
                linked.setdefault(a, []).append(b)
                linked.setdefault(b, []).append(a)
        elif text.startswith("wire ") and marker in attrs:
            marked_in[-1].add(text.split()[-1])
        attrs = attrs + [text] if text.startswith("attribute ") else []

    out, attrs, modules, cell, q, kept = [], [], iter(marked_in), None, None, False
    marked: set[str] = set()
    for line in lines:
        text = line.strip()
        if cell is not None:                       # inside a cell: find its Q, then decide
            cell.append(line)
            if text.startswith("connect \\Q "):
                q = whole_wire(text.split(" ", 2)[2])
            if text == "end":
                if q in marked and "dff" in cell[0].split()[1] and not kept:
                    indent = cell[0][:len(cell[0]) - len(cell[0].lstrip())]
                    out.append(f"{indent}attribute \\keep 1\n")
                out.extend(cell)
                cell = None
            continue
        if text.startswith("module "):
            marked = next(modules)
        if text.startswith("cell "):
            cell, q, kept = [line], None, "attribute \\keep 1" in attrs
            attrs = []
            continue
        attrs = attrs + [text] if text.startswith("attribute ") else []
        out.append(line)
    return "".join(out)


def tree_level_registered(level: int, *, last: bool, levels_per_stage: int,
                          paired_levels: int | None = None) -> bool:
    """Whether level ``level`` (1 = the sums of the terms) of :func:`pipelined_sum` ends in
    a register: the last level always; every ``levels_per_stage``-th level; and with
    ``paired_levels``, level ``paired_levels`` and every level above it (the upper levels
    of a wide tree join sums from far apart, and one adder per stage leaves their routes
    a cycle of their own)."""
    if last or (paired_levels is not None and level >= paired_levels):
        return True
    return level % levels_per_stage == 0


def pipelined_sum(m: Module, terms: list[Value], *, name: str, width: int | None = None,
                  levels_per_stage: int = 2, paired_levels: int | None = None
                  ) -> tuple[Value, int]:
    """Balanced adder tree over ``terms`` with a register every ``levels_per_stage`` levels
    (:func:`tree_level_registered`; with ``paired_levels``, every level from that one up).

    The last level is always registered, so the latency is ``ceil(levels/levels_per_stage)``
    cycles for ``levels = ceil(log2(len(terms)))`` (without ``paired_levels``), and 0 for a
    single term (returned as is).
    With ``width``, every node wider than ``width`` is cut to ``width`` bits: the sum is then
    exact modulo ``2**width``, which is exact whenever the true total fits ``width`` bits
    (two's complement wrap-around cancels), and it keeps the tree at the accumulator width.
    The registers hold data only (a valid flag travels beside them), so they have no
    reset: less load on the reset net, and on iCE40 they pack with any flip-flop.

    Returns ``(sum, latency)``.
    """
    level, latency = 0, 0
    terms = list(terms)
    while len(terms) > 1:
        level += 1
        nxt = []
        for j in range(0, len(terms) - 1, 2):
            s = terms[j] + terms[j + 1]
            if width is not None and len(s) > width:
                s = s[:width].as_signed() if s.shape().signed else s[:width]
            nxt.append(s)
        if len(terms) % 2:
            nxt.append(terms[-1])
        # a registered level; else, for sums of 4 bits or more, kept wires: Yosys would
        # otherwise merge two levels into one multi-operand add (``alumacc``), mapped on
        # the ECP5 as LUT compressors in front of one carry chain -- deeper and larger
        # than two chains (TFC-w2a2 MVAU0, shift-int8: the merged levels 6.2-6.9 ns; four
        # 6-bit terms: 46 LUT4 + 4 CCU2C merged, 12 CCU2C kept apart)
        registered = tree_level_registered(level, last=len(nxt) == 1,
                                           levels_per_stage=levels_per_stage,
                                           paired_levels=paired_levels)
        if registered or len(nxt[0]) >= 4:
            nodes = []
            for j, s in enumerate(nxt):
                if registered:
                    node = Signal(s.shape(), name=f"{name}_l{level}_{j}", reset_less=True)
                    m.d.sync += node.eq(s)
                else:
                    node = Signal(s.shape(), name=f"{name}_s{level}_{j}", attrs={"keep": 1})
                    m.d.comb += node.eq(s)
                nodes.append(node)
            nxt = nodes
            latency += registered
        terms = nxt
    return terms[0], latency


def late_choice(m: Module, late: Value, if_late: Value, if_not: Value, name: str) -> Value:
    """``Mux(late, if_late, if_not)`` with both candidates kept wires (``<name>_if_late``,
    ``<name>_if_not``): for the next value of a register when ``late`` arrives late in
    the cycle (another unit's ready, a handshake). Everything else is computed beside it
    and ``late`` only chooses, one LUT before the register; without the keep, synthesis
    folds ``late`` back into the candidates' logic."""
    taken = Signal.like(if_late, name=f"{name}_if_late", attrs={"keep": 1})
    kept = Signal.like(if_not, name=f"{name}_if_not", attrs={"keep": 1})
    m.d.comb += [taken.eq(if_late), kept.eq(if_not)]
    return Mux(late, taken, kept)


def occupancy(m: Module, *, size: int, inc: Value, dec: Value | None, name: str,
              late: Value | None = None, offered: tuple[str, ...] = ()):
    """Word count of a queue of ``size`` words, with its flags as registers.

    ``inc`` / ``dec`` (comb) add or remove one word this cycle. Returns
    ``(nonempty, not_full)``, both registers (the level is kept internally). Nothing is computed after
    ``inc``/``dec`` but a choice: the flags are chosen among compares of the current
    level (not compares of the next level, an adder and a compare after them), and the
    next level among ``level``, ``level + 1`` and ``level - 1``.

    ``late``: a word is removed only when ``dec & late``. ``late`` is meant for a signal
    that arrives late in the cycle (a consumer's ready, computed in another unit): every
    next value is computed for both of its values into kept wires, and ``late`` only
    chooses between them, one LUT before the registers. ``dec=None`` stands for the
    returned ``nonempty`` (a queue whose consumer takes a word whenever it is ready).

    ``offered``: flag names (``"nonempty"``, ``"not_full"``) also returned as copies,
    after the two flags and in that order: registers with the same next values, kept
    apart (:func:`kept_register`'s attribute), to drive a stream's ``valid`` / ``ready``
    for the unit at the other end. Its handshake (``valid & ready``) is then a gate of its
    own: with one flip-flop, synthesis shares that gate between the two units and the
    placer puts it beside one of them, so the other's next state routes there and back
    (ECP5 TFC-w2a2: an MVAU's FIFO slice, 4.2 ns of such a round trip).
    """
    level = Signal(range(size + 1), name=f"{name}_level")
    nonempty = Signal(name=f"{name}_nonempty")
    not_full = Signal(init=1, name=f"{name}_not_full")
    at_one = Signal(name=f"{name}_at_one")                           # level == 1
    at_top = Signal(init=size == 1, name=f"{name}_at_top")            # level == size - 1
    regs = [level, nonempty, not_full, at_one, at_top]
    if dec is None:
        dec = nonempty
    # level + 1 and level - 1 come from the register alone (kept wires, so Yosys does not
    # fold them back into one adder after inc/dec): inc/dec only choose among them
    plus = Signal.like(level, name=f"{name}_level_plus", attrs={"keep": 1})
    minus = Signal.like(level, name=f"{name}_level_minus", attrs={"keep": 1})
    m.d.comb += [plus.eq(level + 1), minus.eq(level - 1)]

    def next_values(dec: Value) -> list[Value]:
        up, down = inc & ~dec, dec & ~inc

        def pick(same, after_up, after_down):
            return Mux(up, after_up, Mux(down, after_down, same))

        return [pick(level, plus, minus), pick(nonempty, 1, ~at_one),
                pick(not_full, ~at_top, 1), pick(at_one, level == 0, level == 2),
                pick(at_top, level == size - 2, level == size)]

    flags = [nonempty, not_full]
    unknown = set(offered) - {"nonempty", "not_full"}
    if unknown:
        raise ValueError(f"offered flags are 'nonempty' and 'not_full', not {sorted(unknown)}")
    copied = [k for k, flag in enumerate(("nonempty", "not_full")) if flag in offered]
    for k in copied:
        # both kept: synthesis would merge an unkept twin into the kept one
        flags[k].attrs.update({REPLICA_ATTR: 1, "keep": 1})
        copy = Signal(init=flags[k].init, name=f"{flags[k].name}_offered",
                      attrs={REPLICA_ATTR: 1, "keep": 1})
        regs.append(copy)
        flags.append(copy)

    if late is None:
        values = next_values(dec)
    else:
        values = [late_choice(m, late, taken, kept, reg.name)
                  for reg, taken, kept in zip(regs, next_values(dec), next_values(Const(0, 1)))]
    # a copy's next value is its flag's (with ``late``, the same kept candidates and a
    # choice of its own)
    m.d.sync += [reg.eq(value) for reg, value in zip(regs, values + [values[1 + k] for k in copied])]
    return tuple(flags)


def add_output_queue(m: Module, o, *, depth: int, name: str = "out_queue",
                     registered_return: bool = False):
    """Credit-controlled output queue between a free-running pipeline and stream ``o``.

    The pipeline never stalls: a producer may start work that will emit a word only while
    it holds a credit. Credits start at ``depth``, are taken when such work starts and
    given back when ``o`` transfers a word, so at most ``depth`` words are ever queued
    and ``o.ready`` drives nothing but the queue's output stage and the credit count (no
    combinational path from ``o.ready`` into the pipeline). ``o.valid`` is a register,
    ``o.payload`` a choice between two.

    The queue is ``depth`` words of storage written at ``produce`` whenever ``w_en`` is
    high (no full check: the credits make overflow impossible, which keeps the level
    compare out of the write-enable path), an output register loaded from ``consume``
    while the registered ``nonempty`` flag is set (Yosys merges it into the memory's read
    port: a block RAM where the family places one) and a skid register behind it. The
    skid register copies the output register every cycle it is empty and is kept when
    ``o`` stalls, so the output register is loaded whether or not ``o`` takes its word
    and ``o.ready`` drives only the skid flag, ``o.valid`` and the credit count: with a
    single register ``o.ready`` chose the load, the clock enable of the register's
    ``width`` bits, the read pointer and the level (ECP5 TFC-w2a2 and Winograd: the
    consumer's ready routed to them, 6.9-7.3 ns). A word is on ``o`` the cycle after it
    is loaded, as before.

    ``credit_ok`` is a register output. With ``registered_return`` a credit comes back
    one cycle after its transfer (a register between ``o.valid & o.ready`` and the credit
    count, which cuts the timing path from the consumer's FIFO into the producer's issue
    logic); a producer that emits every cycle then needs one more word of ``depth`` to
    keep its throughput. Without it the consumer's ready only chooses between the
    count's precomputed next states.

    Returns ``(credit_ok, take, w_en, w_data)``: drive ``take`` (comb) when starting work
    that emits a word, and ``w_en``/``w_data`` (comb) when the word is ready.
    """
    width = len(o.payload)
    storage = Memory(shape=width, depth=depth, init=[])
    m.submodules[name] = storage
    wr, rd = storage.write_port(), storage.read_port(domain="comb")
    produce = Signal(range(depth), name=f"{name}_produce")
    consume = Signal(range(depth), name=f"{name}_consume")
    out = Signal(width, name=f"{name}_out", reset_less=True)
    skid = Signal(width, name=f"{name}_skid", reset_less=True)
    # the flags, and kept copies of them for the data path (the output register's load,
    # the skid register's enable, the payload's multiplexer): the data registers sit
    # toward the consumer (or by the block RAM the output register merged into), the
    # level and the pointers by the producer, and with one load gate for both the placer
    # put it by one side and routed the other there and back (ECP5 Winograd: 2.0-2.5 ns
    # each way)
    kept = {REPLICA_ATTR: 1, "keep": 1}
    out_valid = Signal(name=f"{name}_out_valid", attrs=kept)
    skid_valid = Signal(name=f"{name}_skid_valid", attrs=kept)
    out_valid_data = Signal(name=f"{name}_out_valid_data", attrs=kept)
    skid_valid_data = Signal(name=f"{name}_skid_valid_data", attrs=kept)
    valid = Signal(name=f"{name}_valid")            # out_valid | skid_valid, a register
    take = Signal(name=f"{name}_take")
    w_en = Signal(name=f"{name}_w_en")
    w_data = Signal(width, name=f"{name}_w_data")
    load = Signal(name=f"{name}_load")
    load_data = Signal(name=f"{name}_load_data")
    nonempty, _, nonempty_data = occupancy(m, size=depth, inc=w_en, dec=load, name=name,
                                           offered=("nonempty",))
    # the output register takes a word unless both registers hold one; while the skid
    # register is empty it leaves (to ``o`` or to the skid register) whatever ``o.ready``
    out_next = Signal(name=f"{name}_out_valid_next")
    skid_next = Signal(name=f"{name}_skid_valid_next")
    m.d.comb += [
        wr.addr.eq(produce), wr.data.eq(w_data), wr.en.eq(w_en),
        rd.addr.eq(consume),
        o.valid.eq(valid), o.payload.eq(Mux(skid_valid_data, skid, out)),
        load.eq(nonempty & ~(out_valid & skid_valid)),
        load_data.eq(nonempty_data & ~(out_valid_data & skid_valid_data)),
        out_next.eq(load | (out_valid & skid_valid)),
        skid_next.eq(valid & ~o.ready),
    ]
    m.d.sync += [out_valid.eq(out_next), skid_valid.eq(skid_next),
                 out_valid_data.eq(out_next), skid_valid_data.eq(skid_next),
                 valid.eq(out_next | skid_next)]
    with m.If(~skid_valid_data):
        m.d.sync += skid.eq(out)
    with m.If(w_en):
        m.d.sync += produce.eq(next_mod(produce, depth))
    with m.If(load_data):
        m.d.sync += out.eq(rd.data)
    with m.If(load):
        m.d.sync += consume.eq(next_mod(consume, depth))

    # credits in use are counted as a queue of their own (``occupancy``), so
    # ``credit_ok`` ("credits left") is a register chosen among compares of the current
    # count, not a compare after the count's adder
    if registered_return:
        give = delay(m, o.valid & o.ready, 1, f"{name}_give")
        _, credit_ok = occupancy(m, size=depth, inc=take, dec=give, name=f"{name}_credits")
    else:
        _, credit_ok = occupancy(m, size=depth, inc=take, dec=valid, late=o.ready,
                                 name=f"{name}_credits")
    return credit_ok, take, w_en, w_data


BLOCK_RAM_MIN_WORDS = 32
"""Memories (FIFO storage, threshold ROMs) of at least this many words are marked
``ram_style = "block"``: left to itself Yosys builds narrow deep ones from flip-flops or
LUTs with wide read multiplexers (170 LUTs and 6 LUT levels for 64 words on iCE40, whose
block RAM holds 4 kbit), and a block RAM's read data goes straight into a register."""


def in_block_ram(depth: int) -> bool:
    """Whether a memory of ``depth`` words goes into block RAM (:data:`BLOCK_RAM_MIN_WORDS`
    words on: :func:`ram_attrs` marks it), rather than LUT RAM, logic or flip-flops."""
    return depth >= BLOCK_RAM_MIN_WORDS


def ram_attrs(depth: int, *, collisions_unused: bool = False, block: bool = True) -> dict | None:
    """Synthesis attributes for a memory of ``depth`` words read through a synchronous
    port: ``ram_style = "block"`` from :data:`BLOCK_RAM_MIN_WORDS` words on, unless
    ``block`` is false (Yosys rejects the attribute on an asynchronously read memory, so
    use it only on these).

    ``collisions_unused=True`` is the caller's promise that whenever a write and a read
    hit the same address in one cycle the read data is never used. It adds Yosys's
    ``no_rw_check``: without it, Yosys keeps Amaranth's read-old-data semantics across
    the ports of a block RAM by registering the write address and data and putting a
    bypass multiplexer after the RAM's output (on ECP5 that LUT followed the DP16KD's
    5.8 ns clock-to-output and held TFC-w1a1's core clock to 126 MHz). Yosys applies the
    attribute when it merges the read register into the port (``memory_dff``): so it
    works on a core read from its Verilog, as every flow reads one, but not on a
    synchronous port read straight from Amaranth's RTLIL (the board shell, which reads
    its memory asynchronously and registers the data itself for that reason).
    """
    attrs = {}
    if block and in_block_ram(depth):
        attrs["ram_style"] = "block"
    if collisions_unused:
        attrs["no_rw_check"] = 1
    return attrs or None


SHIFT_ADD_MAX_BITS = 4
"""Weights of at most this many bits multiply by shift-and-add in LUTs, not ``$mul``."""


def multiplies(weight_dtype: BaseDataType, in_dtype: BaseDataType) -> bool:
    """Whether :func:`product` of these datatypes is an integer multiply (a ``$mul``, which
    synthesis puts on a DSP block): no BIPOLAR operand and weights wider than
    :data:`SHIFT_ADD_MAX_BITS`."""
    return not (is_bipolar(weight_dtype) or is_bipolar(in_dtype)) \
        and weight_dtype.bitwidth() > SHIFT_ADD_MAX_BITS


def product(w_code: Value, x_code: Value, weight_dtype: BaseDataType, in_dtype: BaseDataType) -> Value:
    """One weight x input product from element codes, as MVAU and VVAU compute it.

    Both BIPOLAR: the XNOR bit (a popcount term). One BIPOLAR operand: a negation mux.
    Weights of at most :data:`SHIFT_ADD_MAX_BITS` bits: shift-and-add over the weight bits,
    because Yosys maps every ``$mul`` of 2 bits or more onto DSP blocks (ECP5, Xilinx),
    which a few-bit product wastes; the top bit of a signed weight weighs -2**(bits-1).
    Otherwise an integer multiply of the true values.
    """
    if is_bipolar(weight_dtype) and is_bipolar(in_dtype):
        return ~(w_code[0] ^ x_code[0])
    if is_bipolar(weight_dtype):
        x = element_value(x_code, in_dtype)
        return Mux(w_code[0], x, -x)
    if is_bipolar(in_dtype):
        wv = element_value(w_code, weight_dtype)
        return Mux(x_code[0], wv, -wv)
    x = element_value(x_code, in_dtype)
    w_bits = weight_dtype.bitwidth()
    if multiplies(weight_dtype, in_dtype):
        return element_value(w_code, weight_dtype) * x
    total = None
    for i in range(w_bits):
        shifted = x << i
        negative = weight_dtype.signed() and i == w_bits - 1
        term = Mux(w_code[i], -shifted if negative else shifted, 0)
        total = term if total is None else total + term
    return total


def accumulate_and_emit(m: Module, *, sums, valid, firsts, last, fold, acc_dtype, thresholds,
                        out_bits: int, w_en, w_data, starts=None) -> None:
    """Per-lane accumulators cleared on the first partial sum, then raw or thresholded
    output words.

    Shared tail of MVAU and VVAU: ``sums[p]`` is lane p's partial sum, valid with
    ``valid``; after the ``last`` partial sum of a fold the lane values (or their
    thresholds, one cycle per table stage) are written into the output queue.
    ``starts[p]`` (valid with the first partial sum), if given, is lane p's value before its first
    partial sum instead of 0: the same one LUT before the accumulator's adder.
    ``firsts``: copies of the "first partial sum" flag, valid with ``valid``, shared by the
    lanes in order (lane ``p`` reads copy ``p * len(firsts) // len(sums)``).
    """
    accs = []
    for p, part in enumerate(sums):
        first = firsts[p * len(firsts) // len(sums)]
        # data only (``valid``/``first`` qualify it): no reset, so the reset does not
        # join the enable logic of every accumulator bit
        acc = Signal(dtype_shape(acc_dtype), name=f"acc{p}", reset_less=True)
        start = 0 if starts is None else starts[p]
        with m.If(valid):
            m.d.sync += acc.eq(Mux(first, start, acc) + part)
        accs.append(acc)
    done = delay(m, valid & last, 1, "done")
    if thresholds is None:
        codes, out_valid = [a.as_unsigned() for a in accs], done
    else:
        codes, out_valid = thresholds.build(m, fold_early=fold, values=accs, valid=done)
    m.d.comb += [w_en.eq(out_valid), w_data.eq(Cat(c[:out_bits] for c in codes))]
