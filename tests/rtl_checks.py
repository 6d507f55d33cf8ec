"""Checks of bulk-harness results against the golden model, shared by the RTL tests."""

from __future__ import annotations

import numpy as np

from bitsmith.generator.execute import words_to_frames
from bitsmith.sim.golden import run_graph


def check_outputs(graph, io: dict, x: np.ndarray, result) -> int:
    """The run respected the stream protocol and every output frame equals the golden model
    of the input frame it belongs to (``result.frame_ids``); returns the frames checked."""
    result.check()
    ids = np.arange(len(result.out_frames)) if result.frame_ids is None else np.array(result.frame_ids)
    got = words_to_frames(result.out_frames, io)
    want = run_graph(graph, x[ids])
    bad = np.argwhere(got != want)
    assert bad.size == 0, (f"output frame {bad[0][0]} (input frame {ids[bad[0][0]]}), index "
                           f"{tuple(bad[0][1:])}: expected {want[tuple(bad[0])]}, got {got[tuple(bad[0])]}")
    return len(ids)


def check_resets(graph, io: dict, x: np.ndarray, result, events) -> None:
    """After each reset the frames sent after it come out complete, in order, exactly once:
    the output frames split into runs of consecutive input frames, each starting at frame 0
    or where a reset resumed, the last one running to the end; and each equals the golden."""
    assert len(result.resets) == len(events), result.resets
    starts = [0] + [r["resumed_frame"] for r in result.resets]
    runs, current = [], []
    for i in result.frame_ids:
        if current and i != current[-1] + 1:
            runs.append(current)
            current = []
        current.append(i)
    runs.append(current)
    assert runs[-1] == list(range(starts[-1], len(x))), "frames after the last reset"
    for part in runs[:-1]:
        assert part[0] in starts, part
    check_outputs(graph, io, x, result)


def check_bundle_at_ideal_rate(graph, out_dir, x: np.ndarray) -> None:
    """Build ``graph`` into ``out_dir``; Verilator equals the golden model on ``x`` with
    the measured steady-state cycles per frame == the folding bound (source always valid,
    sink always ready), and again under random idle and backpressure."""
    from bitsmith.generator.build import write_bundle
    from bitsmith.generator.estimate import graph_cycles
    from bitsmith.generator.execute import run_verilator
    built = write_bundle(graph, out_dir)
    golden = run_graph(graph, x)
    rtl = run_verilator(out_dir, built.io, x, idle="none", backpressure="none")
    assert rtl.protocol_errors == 0
    bad = np.argwhere(rtl.outputs != golden)
    assert bad.size == 0, (f"frame {bad[0][0]}, index {tuple(bad[0][1:])}: expected "
                           f"{golden[tuple(bad[0])]}, got {rtl.outputs[tuple(bad[0])]}")
    assert rtl.cycles_per_frame == graph_cycles(graph)
    again = run_verilator(out_dir, built.io, x, idle="random", backpressure="random", seed=3)
    np.testing.assert_array_equal(again.outputs, golden)
