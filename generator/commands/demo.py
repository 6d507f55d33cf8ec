"""``bitsmith demo``: the bundled binarized digits MLP, end to end."""

from __future__ import annotations

import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def register(sub) -> None:
    p = sub.add_parser("demo", help="build the bundled digits network and run its test split in Verilator",
                       description="Builds the binarized MLP trained on scikit-learn's digits "
                                   "(generator/examples/digits), runs every test image through the "
                                   "golden model and through Verilator, and prints both accuracies, "
                                   "measured vs ideal cycles per frame and the resource estimate.")
    p.add_argument("-o", "--out", default="bitsmith-demo", metavar="OUT",
                   help="where to keep the build (default: ./bitsmith-demo)")
    p.add_argument("--target-cycles", type=int, metavar="N",
                   help="refold for at most N cycles per frame (default: the example's folding)")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from sim.golden import run_graph
    from ..build import BuildOptions, load_model, prepare, write_bundle
    from ..examples.digits.train import load_split
    from ..execute import run_verilator

    console = Console()
    model = EXAMPLES / "digits" / "digits.yaml"
    opts = BuildOptions(topk=1, target_cycles=args.target_cycles)
    start = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as prog:
        task = prog.add_task("loading the digits test split")
        _, x_test, _, y_test = load_split()
        prog.update(task, description=f"building {model.name}")
        graph = prepare(load_model(model, opts), opts)
        built = write_bundle(graph, Path(args.out),
                             progress=lambda m: prog.update(task, description=m))
        prog.update(task, description=f"golden model on {len(x_test)} test images")
        xi = x_test.reshape(len(x_test), 1, 1, -1)
        golden = run_graph(graph, xi)[:, 0, 0, 0]
        prog.update(task, description=f"Verilator: compiling and running {len(x_test)} test images "
                                      f"(first run compiles, ~1 min)")
        rtl = run_verilator(Path(args.out), built.io, xi)
        labels = rtl.outputs[:, 0, 0, 0]
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
    table.add_row("estimated resources", f"{est['luts']} LUT, {est['ffs']} FF, {est['brams']} BRAM18, "
                                         f"{est['dsps']} DSP")
    table.add_row("build folder", f"{args.out} (report.md has the per-layer table)")
    table.add_row("wall time", f"{elapsed:.1f} s")
    console.print(table)
    for row in built.report["layers"]:
        if "pe" in row:
            console.print(f"  {row['name']}: {row.get('mw', '')}->{row.get('mh', '')} "
                          f"PE={row['pe']} SIMD={row.get('simd', '-')} cycles={row['cycles']}")
    return 0 if identical and rtl.protocol_errors == 0 else 1
