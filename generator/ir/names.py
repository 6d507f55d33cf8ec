"""Names that end up in Verilog: the network (the top module) and its layers.

A name must be a plain identifier — a letter or ``_`` first, then letters, digits and
``_``, at most :data:`MAX_LENGTH` characters — and not a Verilog or SystemVerilog keyword
(Verilator reads ``.v`` files as SystemVerilog). Native descriptions are checked up front
(:func:`identifier_problem`); a name derived from a file name (an ONNX model's) is made
safe instead (:func:`safe_name`).
"""

from __future__ import annotations

import re

MAX_LENGTH = 64
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# IEEE 1800-2017 Annex B (a superset of the Verilog-2005 keywords).
KEYWORDS = frozenset("""
accept_on alias always always_comb always_ff always_latch and assert assign assume automatic
before begin bind bins binsof bit break buf bufif0 bufif1 byte case casex casez cell chandle
checker class clocking cmos config const constraint context continue cover covergroup
coverpoint cross deassign default defparam design disable dist do edge else end endcase
endchecker endclass endclocking endconfig endfunction endgenerate endgroup endinterface
endmodule endpackage endprimitive endprogram endproperty endspecify endsequence endtable
endtask enum event eventually expect export extends extern final first_match for force
foreach forever fork forkjoin function generate genvar global highz0 highz1 if iff ifnone
ignore_bins illegal_bins implements implies import incdir include initial inout input inside
instance int integer interconnect interface intersect join join_any join_none large let
liblist library local localparam logic longint macromodule matches medium modport module nand
negedge nettype new nexttime nmos nor noshowcancelled not notif0 notif1 null or output package
packed parameter pmos posedge primitive priority program property protected pull0 pull1
pulldown pullup pulsestyle_ondetect pulsestyle_onevent pure rand randc randcase randsequence
rcmos real realtime ref reg reject_on release repeat restrict return rnmos rpmos rtran
rtranif0 rtranif1 s_always s_eventually s_nexttime s_until s_until_with scalared sequence
shortint shortreal showcancelled signed small soft solve specify specparam static string
strong strong0 strong1 struct super supply0 supply1 sync_accept_on sync_reject_on table tagged
task this throughout time timeprecision timeunit tran tranif0 tranif1 tri tri0 tri1 triand
trior trireg type typedef union unique unique0 unsigned until until_with untyped use uwire var
vectored virtual void wait wait_order wand weak weak0 weak1 while wildcard wire with within
wor xnor xor
""".split())


def identifier_problem(name) -> str | None:
    """Why ``name`` cannot name a module or layer, or None when it can."""
    if not isinstance(name, str):
        return f"must be a string, not {type(name).__name__}"
    if not IDENTIFIER.fullmatch(name):
        return "must be an identifier: a letter or _ first, then letters, digits and _"
    if len(name) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters, not {len(name)}"
    if name in KEYWORDS:
        return "is a Verilog keyword"
    return None


def safe_name(text: str, default: str = "model") -> str:
    """An identifier made from ``text`` (a file name's stem): every other character becomes
    ``_``, a leading digit gets ``m_`` before it, a keyword gets ``_net`` after it."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)[:MAX_LENGTH] or default
    if name[0].isdigit():
        name = f"m_{name}"[:MAX_LENGTH]
    if name in KEYWORDS:
        name = f"{name}_net"
    return name
