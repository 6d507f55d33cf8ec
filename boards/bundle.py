"""What a board flow needs from a build bundle: ``OUT/design.json["io"]`` and the Verilog.

Boards never import the generator's internals; this is the whole interface
(docs/ARCHITECTURE.md, "The build bundle").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from qonnx.core.datatype import DataType

from bitsmith.generator.errors import ModelError, OptionError
from bitsmith.generator.ir.names import identifier_problem


@dataclass(frozen=True)
class StreamIO:
    """One side of the core: element datatype, frame shape and word packing."""

    dtype: DataType
    shape: tuple[int, ...]
    elems_per_word: int
    tdata_bits: int
    words_per_frame: int

    @property
    def frame_bytes(self) -> int:
        return self.words_per_frame * self.tdata_bits // 8

    @property
    def frame_elems(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class CoreIO:
    """The core's top module, its Verilog file and both stream sides."""

    top: str
    verilog: Path
    inp: StreamIO
    out: StreamIO
    #: Layers whose weights are in iCE40 UltraPlus SPRAM (a build folded for such a board).
    spram_layers: tuple[str, ...] = ()

    def verilog_text(self) -> str:
        return self.verilog.read_text()


def _stream(where: str, raw) -> StreamIO:
    if not isinstance(raw, dict):
        raise ModelError(f"{where} must be an object, not {raw!r:.80}")
    missing = [k for k in ("dtype", "shape", "elems_per_word", "tdata_bits", "words_per_frame")
               if k not in raw]
    if missing:
        raise ModelError(f"{where} lacks {', '.join(missing)}")
    try:
        dtype = DataType[raw["dtype"]]
        valid = dtype.is_integer() and dtype.bitwidth() >= 1
    except Exception:  # qonnx raises KeyError, ValueError, TypeError or a bare Exception
        valid = False
    if not valid:
        raise ModelError(f"{where}.dtype {raw['dtype']!r:.80} is not a qonnx integer datatype")
    for key in ("elems_per_word", "tdata_bits", "words_per_frame"):
        if not isinstance(raw[key], int) or isinstance(raw[key], bool) or raw[key] < 1:
            raise ModelError(f"{where}.{key} must be a positive integer, not {raw[key]!r:.80}")
    shape = raw["shape"]
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0
                                              for d in shape):
        raise ModelError(f"{where}.shape must be a list of positive integers, not {shape!r:.80}")
    if raw["tdata_bits"] % 8:
        raise ModelError(f"{where}.tdata_bits must be a multiple of 8, not {raw['tdata_bits']!r}")
    io = StreamIO(dtype, tuple(int(d) for d in raw["shape"]), raw["elems_per_word"],
                  raw["tdata_bits"], raw["words_per_frame"])
    if io.elems_per_word * dtype.bitwidth() > io.tdata_bits:
        raise ModelError(f"{where}: {io.elems_per_word} x {dtype.name} do not fit "
                         f"{io.tdata_bits} tdata bits")
    if io.frame_elems != io.elems_per_word * io.words_per_frame:
        raise ModelError(f"{where}: shape {list(io.shape)} is not {io.words_per_frame} words "
                         f"of {io.elems_per_word} elements")
    return io


def read_core_io(out_dir: Path) -> CoreIO:
    """Read and check ``out_dir/design.json["io"]``; the Verilog file must exist."""
    out_dir = Path(out_dir)
    path = out_dir / "design.json"
    if not path.is_file():
        raise OptionError(f"{out_dir}: not a build output (no design.json)")
    try:
        design = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as exc:   # JSON or UTF-8 errors, absurd nesting
        raise ModelError(f"{path}: not JSON ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    io = design.get("io") if isinstance(design, dict) else None
    if not isinstance(io, dict):
        raise ModelError(f"{path}: no \"io\" section")
    for key in ("top", "verilog", "in", "out"):
        if key not in io:
            raise ModelError(f"{path}: io lacks {key!r}")
    problem = identifier_problem(io["top"])
    if problem:
        raise ModelError(f"{path}: io.top {problem}")
    rel = io["verilog"]
    if not isinstance(rel, str) or Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise ModelError(f"{path}: io.verilog must be a path inside the build, not {rel!r:.80}")
    verilog = out_dir / rel
    if not verilog.is_file():
        raise ModelError(f"{path}: io.verilog {io['verilog']!r} does not exist")
    graph = design.get("graph") if isinstance(design.get("graph"), dict) else {}
    nodes = graph.get("nodes") if isinstance(graph.get("nodes"), list) else []
    spram = tuple(str(n.get("name")) for n in nodes
                  if isinstance(n, dict) and n.get("weight_memory") == "spram")
    return CoreIO(io["top"], verilog, _stream(f"{path}: io.in", io["in"]),
                  _stream(f"{path}: io.out", io["out"]), spram)
