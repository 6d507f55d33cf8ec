"""Run a bitsmith top in Verilator: the bulk C++ harness and the cocotb testbench.

Every top has the ports of DESIGN.md §3 and is described by a :class:`StreamIO`.

* :func:`build` / :func:`run`: the fast path (``bitsmith verify``/``sim``/``demo``).
* :func:`run_cocotb`: the same stimulus through the cocotb testbench of
  :mod:`bitsmith.sim.cocotb_tb` (slower; the protocol tier of the tests).
* :func:`write_sim_bundle`: stand-alone copies of both for ``OUT/sim/``.
"""

from .bundle import write_sim_bundle
from .cocotb_run import run_cocotb
from .harness import build, run
from .stream import (PATTERNS, FrameTiming, ResetAt, RunResult, StreamIO, frame_timing,
                     steady_state_cycles_per_frame)

__all__ = ["PATTERNS", "FrameTiming", "ResetAt", "RunResult", "StreamIO", "build", "frame_timing",
           "run", "run_cocotb",
           "steady_state_cycles_per_frame", "write_sim_bundle"]
