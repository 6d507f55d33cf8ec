"""``bitsmith compress`` on a native description: every chosen ``dense``, ``conv`` or
``conv1d`` layer becomes two layers (see :mod:`.factor`).

* layer ``L`` (``dense``): ``L_lr`` (``dense``, R outputs, no thresholds: its raw
  accumulator) then ``L`` (``dense``, the original outputs and thresholds, rescaled);
* layer ``L`` (``conv``/``conv1d``, KxK, C_out filters): ``L_lr`` (the same op, kernel,
  stride and padding, R filters, no thresholds) then ``L`` (``dense`` applied per pixel: a
  1x1 convolution from R to C_out channels, with the rescaled thresholds).

The second layer keeps the original name, so every layer that read ``L`` reads the
factorised pair. A layer folded explicitly (``pe`` and ``simd`` given) passes its cycles
per output pixel on: each factor gets the folding with the fewest lanes (PE*SIMD; ties:
more SIMD) that is no slower, so the network's throughput stays; a layer at ``auto``
leaves both factors at ``auto`` for the fold pass. A layer without thresholds is factorised only
where its output is the network's output or feeds only ``topk`` layers: its values are
scaled by ``1/beta`` (labels unchanged), which any other reader would see.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from ..errors import OptionError
from ..frontend.description import read_description
from ..frontend.native import load_arrays, native_graph
from ..ir import LabelSelect, MatrixVector
from ..ir.conv import Conv
from .factor import DEFAULT_ENERGY, Factors, energy_rank, factorise, pays, singular_values

MATRIX_OPS = ("dense", "conv", "conv1d")
"""The native ops ``compress --low-rank`` factorises."""

SUFFIX = "_lr"
"""Appended to a factorised layer's name for its first factor."""

MARKER_ARRAY = "bitsmith_compress"
"""An array in every ``.npz`` compress writes, so a later run may replace it."""

HEADER = "# written by bitsmith compress"
"""The first line of every description compress writes (a later run may replace it)."""


@dataclass(frozen=True)
class LayerResult:
    """What happened to one matrix layer (a row of the summary)."""

    name: str
    op: str
    shape: tuple[int, int]
    rank: int | None
    energy: float | None
    bits: int | None
    mid_dtype: str | None
    macs_before: int
    macs_after: int
    note: str = ""


def _walk(layers: list):
    """Yield every layer mapping of ``layers``, residual bodies included (pre-order)."""
    for spec in layers:
        if isinstance(spec, dict):
            yield spec
            if isinstance(spec.get("body"), list):
                yield from _walk(spec["body"])


def _matrix(node) -> np.ndarray:
    return node.matrix() if isinstance(node, Conv) else node.weights


def _pixels(node) -> int:
    h, w, _ = node.out_shape
    return int(h) * int(w)


def _readers(graph, name: str) -> list:
    return [n for n in graph.nodes if name in n.inputs]


def _factorisable(graph, node) -> str | None:
    """Why ``node`` may not be factorised, or None."""
    if node.thresholds is None:
        readers = _readers(graph, node.name)
        if any(not isinstance(r, LabelSelect) for r in readers):
            return (f"it has no thresholds and feeds {readers[0].name!r}: the factorised layer's "
                    f"accumulator is rescaled, which only the network output or a topk may see")
    return None


def compress_native(path: Path, *, rank: int | str, energy: float = DEFAULT_ENERGY, bits: int | None = None,
                    layers: tuple[str, ...] | None = None) -> tuple[dict, dict[str, np.ndarray], list[LayerResult]]:
    """The factorised description (plain data), its arrays and a per-layer summary.

    Parameters
    ----------
    path :
        The native description (``.yaml``/``.yml``/``.json``).
    rank :
        R for every chosen layer, or ``"auto"`` (per layer, :func:`.factor.energy_rank`).
    energy :
        The share of squared singular values ``auto`` keeps.
    bits :
        Factor weight bits, or None (the widest whose intermediate fits 16 bits).
    layers :
        The layers to factorise (names of dense/conv/conv1d layers), or None: every one
        that may be (see the module docstring).
    """
    data = read_description(path)
    graph = native_graph(data, path)            # every check of the front end first
    arrays = dict(load_arrays(path, data).data)
    nodes = {n.name: n for n in graph.nodes if isinstance(n, (MatrixVector, Conv))}
    specs = {spec.get("name"): spec for spec in _walk(data["layers"])}
    candidates = [name for name, spec in specs.items() if spec.get("op") in MATRIX_OPS and name in nodes]
    if layers is not None:
        for name in layers:
            if name not in specs:
                raise OptionError(f"--layers: {path.name} has no layer {name!r} (its matrix layers: "
                                  f"{', '.join(candidates) or 'none'})")
            if name not in candidates:
                raise OptionError(f"--layers: layer {name!r} is a {specs[name].get('op')!r} layer; "
                                  f"compress factorises {', '.join(MATRIX_OPS)} layers")
            why = _factorisable(graph, nodes[name])
            if why:
                raise OptionError(f"--layers: layer {name!r} cannot be factorised: {why}")
        chosen = list(layers)
    else:
        chosen = [name for name in candidates if _factorisable(graph, nodes[name]) is None]
    taken = set(specs) | set(arrays)
    replacements, results = {}, []
    for name in candidates:
        node, spec = nodes[name], specs[name]
        matrix = _matrix(node)
        rows, cols = matrix.shape
        macs = rows * cols * _pixels(node)
        if name not in chosen:
            continue
        where = f"{path.name}: layer {name!r}"
        r = rank
        if rank == "auto":
            r = energy_rank(singular_values(matrix), energy)
            if not pays(r, rows, cols):
                results.append(LayerResult(name, spec["op"], (rows, cols), None, None, None, None, macs, macs,
                                           f"kept: rank {r} for {energy:.4g} of the energy saves nothing"))
                continue
        f = factorise(matrix, node.weight_dtype, node.in_dtype, node.thresholds, rank=r, bits=bits, where=where)
        first, second, new_arrays = _specs(spec, node, f, taken)
        taken |= {first["name"], *new_arrays}
        arrays.update(new_arrays)
        replacements[name] = (first, second)
        results.append(LayerResult(name, spec["op"], (rows, cols), f.rank, f.energy, f.weight_dtype.bitwidth(),
                                   f.mid_dtype.name, macs, f.rank * (rows + cols) * _pixels(node)))
    new = dict(data)
    new["layers"] = _replace(data["layers"], replacements)
    _drop_unused(new, arrays, replaced=[specs[n] for n in replacements])
    return new, arrays, results


def _fresh(base: str, taken: set) -> str:
    name, k = base, 2
    while name in taken:
        name, k = f"{base}{k}", k + 1
    return name


def cheapest_folding(rows: int, cols: int, cycles: int) -> dict[str, int]:
    """The ``pe | rows``, ``simd | cols`` with ``(rows/pe)*(cols/simd) <= cycles`` and the
    fewest lanes ``pe*simd`` (ties: more SIMD)."""
    from ..passes.fold import divisors
    best = None
    for pe in divisors(rows):
        for simd in divisors(cols):
            if (rows // pe) * (cols // simd) <= cycles:
                key = (pe * simd, -simd)
                if best is None or key < best[0]:
                    best = (key, pe, simd)
    return {"pe": best[1], "simd": best[2]}


def _pixel_cycles(spec: dict, rows: int, cols: int) -> int | None:
    """Cycles per output pixel of an explicitly folded layer (None when either is auto)."""
    pe, simd = spec.get("pe", "auto"), spec.get("simd", "auto")
    if not (isinstance(pe, int) and isinstance(simd, int)):
        return None
    return (rows // pe) * (cols // simd)


def _specs(spec: dict, node, f: Factors, taken: set) -> tuple[dict, dict, dict]:
    name = spec["name"]
    first_name = _fresh(name + SUFFIX, taken)
    a_name, b_name = _fresh(first_name + "_a", taken), _fresh(first_name + "_b", taken)
    arrays = {b_name: f.second.astype(np.int8)}
    wdt = f.weight_dtype.name
    first = {"name": first_name, "op": spec["op"]}
    if "input" in spec:
        first["input"] = spec["input"]
    if isinstance(node, Conv):
        kh, kw = node.kernel
        ic = node.in_channels
        a = f.first.reshape(f.rank, kh, kw, ic).astype(np.int8)
        if spec["op"] == "conv1d":
            a = a[:, :, 0, :]                   # OWI
        arrays[a_name] = a
        first.update({"weights": a_name, "weight_dtype": wdt})
        for key in ("kernel", "stride", "pad"):
            if key in spec:
                first[key] = spec[key]
    else:
        arrays[a_name] = f.first.astype(np.int8)
        first.update({"weights": a_name, "weight_dtype": wdt})
    second = {"name": name, "op": "dense", "weights": b_name, "weight_dtype": wdt}
    if f.thresholds is not None:
        t_name = _fresh(first_name + "_t", taken | set(arrays))
        arrays[t_name] = f.thresholds.values.astype(np.int64)
        second.update({"thresholds": t_name, "out_dtype": f.thresholds.out_dtype.name,
                        "out_scale": int(f.thresholds.out_scale), "out_bias": int(f.thresholds.out_bias)})
    rows, cols = _matrix(node).shape
    cycles = _pixel_cycles(spec, rows, cols)
    if cycles is not None:
        first.update(cheapest_folding(f.rank, cols, cycles))
        second.update(cheapest_folding(rows, f.rank, cycles))
    return first, second, arrays


def _replace(layers: list, replacements: dict) -> list:
    out = []
    for spec in layers:
        if isinstance(spec, dict) and spec.get("name") in replacements:
            out.extend(replacements[spec["name"]])
            continue
        if isinstance(spec, dict) and isinstance(spec.get("body"), list):
            spec = {**spec, "body": _replace(spec["body"], replacements)}
        out.append(spec)
    return out


def _drop_unused(data: dict, arrays: dict, replaced: list[dict]) -> None:
    """Remove the arrays only the replaced layers named."""
    still = {v for spec in _walk(data["layers"]) for v in spec.values() if isinstance(v, str)}
    for spec in replaced:
        for key in ("weights", "thresholds"):
            ref = spec.get(key)
            if isinstance(ref, str) and ref not in still:
                arrays.pop(ref, None)


def is_compress_description(path: Path) -> bool:
    """An existing file compress may replace: a description it wrote (its first line)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline().startswith(HEADER)
    except (OSError, UnicodeDecodeError):
        return False


def is_compress_arrays(path: Path) -> bool:
    """An existing file compress may replace: an ``.npz`` it wrote (its marker array)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return MARKER_ARRAY in z.files
    except (OSError, ValueError, EOFError):
        return False


def description_text(data: dict, source: Path, command: str) -> str:
    """The description as YAML, headed by :data:`HEADER`."""
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=120)
    return f"{HEADER}: {command}\n# from {source}\n{body}"


def marker_array() -> np.ndarray:
    return np.frombuffer(b"bitsmith compress", dtype=np.uint8).copy()
