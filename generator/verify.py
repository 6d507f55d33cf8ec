"""``verify``: build, then check RTL == golden (== qonnx for ONNX models) == expected labels."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .build import BuildOptions, load_model, model_inputs, prepare_for, write_bundle
from .errors import InputDataError
from .execute import compare, run_verilator
from .ir import Graph, LabelSelect
from .ir.host import run_stages
from .outdir import check_out_dir


@dataclass(frozen=True, repr=False)
class VerifyResult:
    """The outcome of :func:`verify` (the fields of ``bitsmith verify --json``).

    ``passed`` is True when the RTL equals the golden model on every frame, the golden
    model equals qonnx on an ONNX model, ``expected`` matched and the stream protocol held.
    ``cycles_per_frame`` is measured (median, steady state), ``ideal_cycles_per_frame``
    the folding bound; ``details`` lists the first mismatches; ``report`` is the build's.
    """

    frames: int
    mismatches: int
    cycles_per_frame: float | None
    ideal_cycles_per_frame: int
    passed: bool
    labels: list | None = None
    reference_mismatches: int | None = None
    expected_mismatches: int | None = None
    protocol_errors: int = 0
    mean_cycles_per_frame: float | None = None
    longest_frame_gap: int | None = None
    details: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    report: dict | None = None

    def __repr__(self) -> str:
        from .results import short_repr
        return short_repr("VerifyResult", passed=self.passed, frames=self.frames, mismatches=self.mismatches,
                          reference_mismatches=self.reference_mismatches,
                          expected_mismatches=self.expected_mismatches, cycles_per_frame=self.cycles_per_frame,
                          ideal_cycles_per_frame=self.ideal_cycles_per_frame)

    def as_json(self) -> dict:
        out = {"frames": self.frames, "mismatches": self.mismatches,
               "cycles_per_frame": self.cycles_per_frame,
               "mean_cycles_per_frame": self.mean_cycles_per_frame,
               "longest_frame_gap": self.longest_frame_gap,
               "ideal_cycles_per_frame": self.ideal_cycles_per_frame, "passed": self.passed,
               "reference_mismatches": self.reference_mismatches,
               "expected_mismatches": self.expected_mismatches,
               "protocol_errors": self.protocol_errors, "details": self.details[:20],
               "seconds": {k: round(v, 3) for k, v in self.timings.items()}}
        if self.labels is not None:
            out["labels"] = self.labels
        return out


def verify(model: str | Path, x: np.ndarray, opts: BuildOptions, *, x_source: str = "input",
           expected: np.ndarray | None = None, out_dir: Path | None = None,
           idle: str = "none", backpressure: str = "none", progress=None) -> VerifyResult:
    """Load and fold the model file ``model``, then :func:`verify_graph` it (an ONNX model
    is also checked against qonnx's execution of the file)."""
    step = progress or (lambda msg: None)
    t0 = time.perf_counter()
    protect = model_inputs(model, opts) + (Path(x_source),)
    if out_dir is not None:
        check_out_dir(out_dir, protect)
    step(f"reading {Path(model).name}")
    graph, _ = prepare_for(load_model(model, opts), opts, progress=step)
    return verify_graph(graph, x, x_source=x_source, expected=expected, out_dir=out_dir, idle=idle,
                        backpressure=backpressure, progress=progress, protect=protect,
                        reference=Path(model) if Path(model).suffix == ".onnx" else None, start=t0)


def verify_graph(graph: Graph, x: np.ndarray, *, x_source: str = "input", expected: np.ndarray | None = None,
                 out_dir: Path | None = None, idle: str = "none", backpressure: str = "none", progress=None,
                 protect=(), reference: Path | None = None, start: float | None = None) -> VerifyResult:
    """Build the folded ``graph`` and check RTL (Verilator) == golden on every frame of ``x``
    (the model's own input), golden == qonnx execution of the ONNX file ``reference`` when
    given, and the final outputs == ``expected`` when given. The build goes to ``out_dir``
    (kept) or a temporary folder; ``protect``: paths the build must never replace."""
    from bitsmith.sim.golden import run_graph
    from .dataio import hardware_input, model_frames
    step = progress or (lambda msg: None)
    t = {}
    t0 = time.perf_counter() if start is None else start
    if out_dir is not None:
        check_out_dir(out_dir, protect)
    x = model_frames(graph, x, x_source)
    xi = hardware_input(graph, x, x_source)
    step(f"golden model on {len(xi)} frames")
    t1 = time.perf_counter()
    golden = run_graph(graph, xi)
    t["golden"] = time.perf_counter() - t1
    details: list[str] = []

    reference_mismatches = None
    if reference is not None:
        step("qonnx reference execution of the original model")
        from .frontend.qonnx import compare_with_reference
        ref_details = compare_with_reference(graph, Path(reference), x, golden)
        reference_mismatches = len(ref_details)
        details += [f"golden != qonnx: {d}" for d in ref_details]

    if expected is not None:             # a wrong --expected is refused before the long RTL run
        expected_view(expected, run_stages(graph.host_post, golden))
    with tempfile.TemporaryDirectory(prefix="bitsmith-verify-") as tmp:
        target = out_dir or Path(tmp) / graph.name
        t1 = time.perf_counter()
        built = write_bundle(graph, target, progress=step, protect=protect)
        t["build"] = time.perf_counter() - t1
        step(f"Verilator: building and running {len(xi)} frames")
        t1 = time.perf_counter()
        rtl = run_verilator(target, built.io, xi, idle=idle, backpressure=backpressure)
        t["rtl"] = time.perf_counter() - t1
    rtl_details = compare(golden, rtl.outputs)
    details += [f"RTL != golden: {d}" for d in rtl_details]

    final = run_stages(graph.host_post, golden)
    labels = None
    if isinstance(graph.output_node, LabelSelect):
        labels = golden.reshape(len(golden), -1)[:, 0].tolist() if graph.output_node.k == 1 \
            else golden.reshape(len(golden), -1).tolist()
    expected_mismatches = None
    if expected is not None:
        exp, got = expected_view(expected, final)
        bad = np.nonzero(exp != got)[0]
        expected_mismatches = len(np.unique(bad))
        details += [f"expected != model: frame {i}" for i in np.unique(bad)[:20]]
    t["total"] = time.perf_counter() - t0
    passed = (not rtl_details and not reference_mismatches and not expected_mismatches
              and rtl.protocol_errors == 0)
    return VerifyResult(frames=len(xi), mismatches=len(rtl_details), cycles_per_frame=rtl.cycles_per_frame,
                        ideal_cycles_per_frame=built.report["ideal_cycles_per_frame"], passed=passed,
                        labels=labels, reference_mismatches=reference_mismatches,
                        expected_mismatches=expected_mismatches, protocol_errors=rtl.protocol_errors,
                        mean_cycles_per_frame=rtl.mean_cycles_per_frame,
                        longest_frame_gap=rtl.longest_frame_gap,
                        details=details, timings=t, report=built.report)


def expected_view(expected: np.ndarray, final: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(expected, model output)`` as ``(frames, values)`` arrays to compare; expected labels
    against a model giving scores compare with the scores' argmax."""
    exp, got = np.asarray(expected), np.asarray(final)
    if exp.size == len(got) and got.reshape(len(got), -1).shape[1] != 1:
        got = got.reshape(len(got), -1).argmax(axis=1)   # expected labels, model gives scores
    if exp.reshape(-1).size != got.reshape(-1).size:
        raise InputDataError(f"--expected holds {exp.size} values for {len(got)} frames "
                             f"of {got.reshape(len(got), -1).shape[1]} outputs")
    return exp.reshape(len(got), -1), got.reshape(len(got), -1)
