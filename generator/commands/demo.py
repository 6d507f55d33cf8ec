"""``bitsmith demo``: a bundled example network, end to end.

An example is a module ``bitsmith.generator.examples.<name>.train`` that exposes

* ``MODEL``: the path of its native description (``.yaml`` next to its ``.npz``);
* ``load_split()``: ``(x_train, x_test, y_train, y_test)``, the inputs already integers of
  the network's input datatype, each frame reshapeable to the model's input shape.

The demo builds ``MODEL`` with a hardware argmax (``--topk 1``), runs the test split
through the golden model and through Verilator, and prints both accuracies, measured and
ideal cycles per frame and the resource estimate.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from types import ModuleType

from ._common import estimate_text, positive_int, progress

# The menu: example name -> what it is (for --help). The first is the default.
EXAMPLES = {
    "digits": "a binarized MLP, 64 -> 128 -> 128 -> 10, XNOR-popcount everywhere",
    "digits_cnn": "a conv net, 8x8x1 UINT2 -> conv3x3 16 -> maxpool -> conv3x3 32 -> maxpool "
                  "-> dense 10, TERNARY weights, UINT2 activations",
}
DEFAULT_EXAMPLE = "digits"
DEFAULT_OUT = "bitsmith-demo"


def example_module(name: str) -> ModuleType:
    """The ``train`` module of bundled example ``name`` (one of :data:`EXAMPLES`)."""
    if name not in EXAMPLES:
        raise ValueError(f"example must be one of {', '.join(EXAMPLES)}, not {name!r}")
    return importlib.import_module(f"{__package__.rpartition('.')[0]}.examples.{name}.train")


def default_out(example: str) -> str:
    """Where the demo of ``example`` keeps its build unless ``-o`` says otherwise."""
    return DEFAULT_OUT if example == DEFAULT_EXAMPLE else f"{DEFAULT_OUT}-{example}"


def register(sub) -> None:
    menu = "; ".join(f"{name}: {summary}" for name, summary in EXAMPLES.items())
    p = sub.add_parser("demo", help="build a bundled digits network and run its test split in Verilator",
                       description="Builds a network trained on scikit-learn's digits "
                                   "(generator/examples/<example>), runs every test image through the "
                                   "golden model and through Verilator, and prints both accuracies, "
                                   f"measured vs ideal cycles per frame and the resource estimate. {menu}.")
    p.add_argument("--example", choices=tuple(EXAMPLES), default=DEFAULT_EXAMPLE,
                   help=f"which bundled network (default: {DEFAULT_EXAMPLE})")
    p.add_argument("-o", "--out", metavar="OUT",
                   help=f"where to keep the build (default: ./{DEFAULT_OUT} for {DEFAULT_EXAMPLE}, "
                        f"./{DEFAULT_OUT}-<example> for the others)")
    p.add_argument("--target-cycles", type=positive_int, metavar="N",
                   help="refold for at most N cycles per frame (default: the example's folding)")
    p.set_defaults(func=run)


def _shape_text(shape) -> str:
    return "x".join(str(d) for d in shape)


def layer_line(row: dict) -> str:
    """One report row: features (dense) or tensor shapes (spatial layers), folding, cycles."""
    if "mw" in row:
        dims = f"{row['mw']}->{row['mh']}"
    elif list(row["in_shape"][:2]) != [1, 1]:
        dims = f"{_shape_text(row['in_shape'])}->{_shape_text(row['out_shape'])}"
    else:
        dims = "->"
    return f"  {row['name']}: {dims} PE={row['pe']} SIMD={row.get('simd', '-')} cycles={row['cycles']}"


def run(args) -> int:
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from bitsmith import api
    from ..dataio import input_frame

    console = Console()
    example = example_module(args.example)
    model = Path(example.MODEL)
    out_text = args.out if args.out is not None else default_out(args.example)
    out = Path(out_text)
    start = time.perf_counter()
    with progress(args) as step:
        step("loading the digits test split")
        _, x_test, _, y_test = example.load_split()
        design = api.fold(model, topk=1, target_cycles=args.target_cycles, progress=step)
        graph = design.graph
        built = api.build(design, out, progress=step)
        x = np.asarray(x_test).reshape((len(x_test),) + tuple(input_frame(graph).shape))
        golden = api.golden(design, x, progress=step).core_outputs[:, 0, 0, 0]
        step(f"Verilator: compiling and running {len(x_test)} test images "
             f"(first run compiles, ~1 min)")
        rtl = api.simulate(built, x)
        labels = rtl.core_outputs[:, 0, 0, 0]
    elapsed = time.perf_counter() - start
    sw_acc = float(np.mean(golden == y_test))
    hw_acc = float(np.mean(labels == y_test))
    identical = bool(np.array_equal(golden, labels))
    est = built.report["estimate"]
    table = Table(title=f"bitsmith demo: {graph.name} ({len(x_test)} test images)", show_header=False)
    table.add_row("accuracy, software (golden model)", f"{sw_acc:.2%}")
    table.add_row("accuracy, RTL (Verilator)", f"{hw_acc:.2%}")
    table.add_row("RTL labels == golden labels", "[green]yes, every frame" if identical else "[red]NO")
    table.add_row("cycles/frame measured (steady state)", f"{rtl.cycles_per_frame:g}")
    table.add_row("cycles/frame ideal (folding bound)", str(built.report["ideal_cycles_per_frame"]))
    table.add_row("estimated resources", estimate_text(est))
    table.add_row("build folder", f"{out_text} (report.html and report.md: per-layer table and figures)")
    table.add_row("wall time", f"{elapsed:.1f} s")
    console.print(table)
    for row in built.report["layers"]:
        if "pe" in row:
            console.print(layer_line(row))
    return 0 if identical and rtl.protocol_errors == 0 else 1
