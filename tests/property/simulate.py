"""Run a generated graph in the Amaranth simulator, at the AXI4-Stream top, against the golden model."""

from __future__ import annotations

import numpy as np

from bitsmith.generator.build import elaborate
from bitsmith.generator.estimate import graph_cycles
from bitsmith.generator.execute import frames_to_words, words_to_frames
from bitsmith.sim.golden import run_graph
from tests.hw.util import port, run_streams


def first_mismatch(want: np.ndarray, got: np.ndarray) -> str | None:
    """'frame f, index (h, w, c): expected e, got a' for the first difference, else None."""
    bad = np.argwhere(got != want)
    if not bad.size:
        return None
    where = tuple(int(i) for i in bad[0])
    return f"frame {where[0]}, index {where[1:]}: expected {want[where]}, got {got[where]}"


def check_graph_in_amaranth(graph, x: np.ndarray, *, idle: str = "none",
                            backpressure: str = "none", seed: int = 0) -> None:
    """Elaborate ``graph`` as the generated top, stream ``x`` through it and assert that
    every output element equals the golden model and ``tlast`` marks each frame's end."""
    want = run_graph(graph, x)
    elab = elaborate(graph)
    top, io = elab.top, elab.io
    words = [w for frame in frames_to_words(x, io) for w in frame]
    per_frame = io["out"]["words_per_frame"]
    s = port(top.s_axis_tvalid, top.s_axis_tready, top.s_axis_tdata)
    m = port(top.m_axis_tvalid, top.m_axis_tready, top.m_axis_tdata)
    # patterns pause at most 3 cycles in 4: budget 4x the folding bound per frame, plus fill
    budget = 20 * (len(words) + len(x) * per_frame) + 4 * (len(x) + 2) * graph_cycles(graph) + 500
    _, (cap,) = run_streams(top, [(s, words)], [(m, len(x) * per_frame)], idle=idle,
                            backpressure=backpressure, seed=seed, extras=[top.m_axis_tlast],
                            max_cycles=budget)
    got = words_to_frames([cap.words[i:i + per_frame] for i in range(0, len(cap.words), per_frame)],
                          io)
    problem = first_mismatch(want, got)
    assert problem is None, problem
    assert [e[0] for e in cap.extras] == ([0] * (per_frame - 1) + [1]) * len(x), "tlast"
