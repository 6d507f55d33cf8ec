"""Refit a family's LUT model on Yosys's module-by-module counts (for maintainers).

``python -m bitsmith.generator.fit.calibrate OUT [--family ice40] [--designs a,b] [--keep k]``
(from a source checkout: the designs read ``tests/models`` and the digits example) builds
each design of :data:`DESIGNS` into ``OUT/<name>`` (the iCE40 ones as the iCEBreaker builds
them, the ``bench-*`` ones as ``bitsmith bench`` does), synthesises it with
``synth_<family> -noflatten`` (cached by :func:`bitsmith.boards.tools.synthesised_stat`),
and prints the non-negative least-squares coefficients (relative error) of the layer
features (:func:`~.estimate.logic_features`) over the layer modules, the plumbing
coefficient over the modules outside the layers (``--keep``: coefficients held at the
family's values, ``plumbing`` among them), and each design's total against the current
model and the refitted one. SPRAM designs are skipped off the iCE40. It
changes nothing: the coefficients go into :mod:`.family` by hand, with the figures in
docs/FIT.md. The fifteenth session's iCE40 refit is ``--family ice40 --keep threshold``
(about 25 minutes of Yosys on two cores when nothing is cached)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .family import Family, family_of, map_memory

ROOT = Path(__file__).resolve().parents[2]
_TFC1, _TFC2 = ROOT / "tests" / "models" / "TFC_1W1A.onnx", ROOT / "tests" / "models" / "TFC_2W2A.onnx"
_DIGITS = ROOT / "generator" / "examples" / "digits" / "digits.yaml"
_UINT8 = dict(input_dtype="UINT8", input_scale=1 / 255)
#: name -> (model, build options): the iCEBreaker's own foldings, other foldings of the
#: same networks built for it, and tests/generator/fit/test_family_vs_yosys.py's designs.
DESIGNS = {
    "tfc1-board": (_TFC1, dict(board="icebreaker")),
    "tfc2-board": (_TFC2, dict(board="icebreaker")),
    "tfc2-uint8-board": (_TFC2, dict(_UINT8, board="icebreaker")),
    "digits-board": (_DIGITS, dict(board="icebreaker")),
    **{f"tfc1-{n}": (_TFC1, dict(board="icebreaker", target_cycles=n)) for n in (64, 196, 1024, 4096)},
    **{f"tfc2-{n}": (_TFC2, dict(board="icebreaker", target_cycles=n)) for n in (1024, 4096)},
    **{f"digits-{n}": (_DIGITS, dict(board="icebreaker", target_cycles=n)) for n in (16, 64, 1024)},
    "test-digits-256": (_DIGITS, dict(topk=1, target_cycles=256)),
    "test-tfc1-512": (_TFC1, dict(_UINT8, topk=1, target_cycles=512)),
    "test-tfc2-1024": (_TFC2, dict(_UINT8, topk=1, target_cycles=1024)),
    # ``bitsmith bench``'s graphs at the bench's foldings (the counter popcount, 64-cycle
    # TFC layers of 784 lanes): what its estimate-beside-synthesis figures are of
    **{f"bench-{n}": (None, dict(bench=n)) for n in ("digits", "tfc-w1a1", "tfc-w2a2")},
}
#: The layer features fitted (the family's other coefficients are kept).
KEYS = ("xnor", "xnor_counters", "intmul", "compare", "control", "layer", "bankmux", "skid",
        "threshold", "other")


@dataclass
class Measured:
    """One design: its layer modules ``(name, LUTs less the memories in logic, features)``,
    the LUTs of the modules outside the layers less theirs, the analytical plumbing, the
    memories' LUTs and Yosys's total."""

    name: str
    graph: object
    layers: list
    plumbing_luts: float
    plumbing_model: float
    memory_luts: float
    total: float


def build(name: str, out: Path) -> Path:
    """``OUT/<name>``: the bundle of design ``name`` (built once)."""
    from ..build import BuildOptions, load_model, prepare_for, write_bundle
    folder = out / name
    if not (folder / "design.json").exists():
        model, kw = DESIGNS[name]
        if model is None:
            from ..bench import NETWORKS
            net = NETWORKS[kw["bench"]]
            graph, fit = net.generate(net.make()), None
        else:
            opts = BuildOptions(**kw)
            graph, fit = prepare_for(load_model(model, opts), opts)
        write_bundle(graph, folder, fit=fit)
    return folder


def synthesise(folder: Path, family: str) -> Path:
    """Yosys's per-module ``stat -json`` of the bundle's Verilog (kept by Verilog hash)."""
    from bitsmith.boards.tools import synthesised_stat
    return synthesised_stat(next((folder / "rtl").glob("*.v")), family, flatten=False)


def measure(name: str, folder: Path, stat: Path, fam: Family) -> Measured:
    """Split Yosys's module counts into the layers' and the plumbing's."""
    from bitsmith.boards.flows.counts import resources
    from ..build import read_bundle, sized
    from .estimate import logic_features, lowered_stages, plumbing_resources
    from .memories import stage_memories
    graph, _ = read_bundle(folder)
    graph = sized(graph)
    stages = lowered_stages(graph)
    names = {n.name for n in graph.nodes}
    memory: dict[str, float] = {}
    for mem in stage_memories(stages, graph.fifos):
        owner = mem.owner.split(" ")[0]
        key = owner if owner in names else ""
        memory[key] = memory.get(key, 0) + map_memory(mem, fam).luts
    per_layer = dict.fromkeys(names, 0.0)
    plumbing = 0.0
    for module, info in json.loads(stat.read_text())["modules"].items():
        cells = info.get("cells", info.get("num_cells_by_type", {}))
        luts = resources(fam.name, cells)["luts"]
        parts = module.lstrip("\\").split(".")
        if len(parts) >= 3 and parts[1] == "dataflow" and parts[2] in names:
            per_layer[parts[2]] += luts
        else:
            plumbing += luts
    layers = [(n.name, per_layer[n.name] - memory.get(n.name, 0), logic_features(n)) for n in graph.nodes]
    return Measured(name, graph, layers, plumbing - memory.get("", 0),
                    plumbing_resources(graph, stages).luts, sum(memory.values()),
                    sum(per_layer.values()) + plumbing)


def nnls_relative(rows: np.ndarray, targets: np.ndarray,
                  relative_to: np.ndarray | None = None) -> np.ndarray:
    """Non-negative ``c`` minimising the relative error of ``rows @ c`` against
    ``targets`` (each row weighted by ``1 / relative_to``, by default the targets)."""
    from scipy.optimize import nnls
    weights = 1 / np.maximum(targets if relative_to is None else relative_to, 1)
    coef, _ = nnls(rows * weights[:, None], targets * weights)
    return coef


def fit(measured: list[Measured], keys=KEYS, fixed: dict | None = None) -> tuple[dict, float]:
    """The layer coefficients over every layer module, and the plumbing coefficient;
    ``fixed`` coefficients are held at their values (their LUTs come off the targets)."""
    fixed = fixed or {}
    free = [k for k in keys if k not in fixed]
    layers = [(luts, feats) for m in measured for _, luts, feats in m.layers]
    rows = np.array([[feats.get(k, 0) for k in free] for _, feats in layers], float)
    luts = np.array([luts for luts, _ in layers], float)
    held = np.array([sum(v * feats.get(k, 0) for k, v in fixed.items()) for _, feats in layers], float)
    coef = nnls_relative(rows, luts - held, relative_to=luts)
    plumbing = nnls_relative(np.array([[m.plumbing_model] for m in measured], float),
                             np.array([m.plumbing_luts for m in measured], float))[0]
    return {**dict(zip(free, coef.tolist())), **fixed}, float(plumbing)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bitsmith.generator.fit.calibrate",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the builds and Yosys's counts")
    parser.add_argument("--family", default="ice40", choices=("ice40", "ecp5", "xc7"))
    parser.add_argument("--designs", default=",".join(DESIGNS),
                        help=f"comma-separated subset of: {', '.join(DESIGNS)}")
    parser.add_argument("--keep", default="",
                        help="comma-separated layer coefficients held at the family's values "
                             "(the fifteenth session's iCE40 refit kept 'threshold')")
    args = parser.parse_args(argv)
    from .estimate import estimate_design
    fam = family_of(args.family)
    names = [n.strip() for n in args.designs.split(",") if n.strip()]
    unknown = [n for n in names if n not in DESIGNS]
    if unknown:
        parser.error(f"unknown design(s): {', '.join(unknown)}")
    keep = [k.strip() for k in args.keep.split(",") if k.strip()]
    if any(k not in (*KEYS, "plumbing") for k in keep):
        parser.error(f"--keep takes layer coefficients of: {', '.join(KEYS)} (and plumbing)")
    args.out.mkdir(parents=True, exist_ok=True)
    measured = []
    for name in names:
        folder = build(name, args.out)
        if not fam.spram and "SB_SPRAM256KA" in next((folder / "rtl").glob("*.v")).read_text():
            print(f"{name}: skipped (its weights are in the UltraPlus SPRAM; {fam.name} has none)")
            continue
        measured.append(measure(name, folder, synthesise(folder, fam.name), fam))
        print(f"{name}: {measured[-1].total:g} {fam.units['luts']}", flush=True)
    coef, plumbing = fit(measured, fixed={k: fam.lut_model.get(k, 0.0) for k in keep if k != "plumbing"})
    if "plumbing" in keep:
        plumbing = fam.lut_model.get("plumbing", 0.0)
    print("layer coefficients:", {k: round(v, 3) for k, v in coef.items()})
    print(f"plumbing: {plumbing:.3f} x the analytical figure")
    refitted = replace(fam, lut_model={**fam.lut_model, **coef, "plumbing": plumbing})
    for m in measured:
        now, then = (estimate_design(m.graph, f).luts for f in (fam, refitted))
        print(f"{m.name:18s} Yosys {m.total:7g}  current model {now:7d} ({100 * (now / m.total - 1):+5.1f} %)"
              f"  refitted {then:7d} ({100 * (then / m.total - 1):+5.1f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
