"""Follow nextpnr's log while it runs: its phases and its current timing estimate.

nextpnr (iCE40 and ECP5 alike) writes ``Info:`` lines as it goes; a few of them mark
where it is::

    Info: Packing constants..                                  -> packing
    Info: Creating initial analytic placement for 741 cells... -> placing (analytic)
    Info: Running simulated annealing placer for refinement.   -> placing (annealing)
    Info: Max frequency for clock 'core_clk': 41.47 MHz (PASS at 30.02 MHz)
                                                               -> the timing estimate
    Info: Routing..   /  Info: Running router2...              -> routing
    Info: Program finished normally.

The ``Max frequency`` block comes once after placement (an estimate from placed
positions) and once after routing (the figure ``synth.json`` reports). :class:`NextpnrLog`
turns each line into at most one short message, when the phase or the estimate changes,
so a plain log gets a handful of lines per run.
"""

from __future__ import annotations

import re
from typing import Callable

_PHASES = (
    (re.compile(r"^Info: Packing "), "packing"),
    (re.compile(r"^Info: (Creating initial analytic placement|Running main analytical placer)"),
     "placing (analytic placer)"),
    (re.compile(r"^Info: Running simulated annealing placer"), "placing (annealing refinement)"),
    (re.compile(r"^Info: (Routing\.\.|Running router2)"), "routing"),
)
_FMAX = re.compile(r"^Info: Max frequency for clock\s+'(?P<clock>[^']+)':\s+(?P<mhz>[\d.]+) MHz"
                   r"\s+\((?P<verdict>PASS|FAIL) at (?P<goal>[\d.]+) MHz\)")


class NextpnrLog:
    """Feed nextpnr's log lines in; ``report(message)`` is called on each change.

    Parameters
    ----------
    report : callable
        Gets ``"nextpnr: placing (annealing refinement)"``, ``"nextpnr: estimate after
        placement: core_clk 41.5 MHz (goal 30.0)"`` and the like.
    label : str
        Prefix of the messages (``"nextpnr"``; a seed sweep adds the seed).
    """

    def __init__(self, report: Callable[[str], None], label: str = "nextpnr"):
        self.report = report
        self.label = label
        self.phase: str | None = None
        self.fmax: dict[str, tuple[float, float]] = {}
        self._block: dict[str, tuple[float, float]] = {}

    def __call__(self, line: str) -> None:
        match = _FMAX.match(line)
        if match:
            self._block[_clock_name(match["clock"])] = (float(match["mhz"]), float(match["goal"]))
            return
        self.finish()                       # the first line after a block of clocks
        for pattern, phase in _PHASES:
            if pattern.match(line) and phase != self.phase:
                self.phase = phase
                text = f"{self.label}: {phase}"
                if self.fmax:
                    text += f" (last estimate {self.estimate_text()})"
                self.report(text)
                return

    def finish(self) -> None:
        """Report a block of clock figures that is still open (call at the end of the log)."""
        if self._block:
            self.fmax, self._block = self._block, {}
            stage = "after routing" if self.phase == "routing" else "after placement"
            self.report(f"{self.label}: estimate {stage}: {self.estimate_text()}")

    def estimate_text(self) -> str:
        """``"core_clk 41.5 MHz (goal 30.0), clk 51.3 MHz (goal 12.0)"``, core clock first."""
        clocks = sorted(self.fmax, key=lambda c: ("core_clk" not in c, c))
        return ", ".join(f"{c} {self.fmax[c][0]:.1f} MHz (goal {self.fmax[c][1]:.1f})" for c in clocks)


def _clock_name(net: str) -> str:
    """nextpnr's net name without its ``$glbnet$`` prefix (ECP5 global nets)."""
    return net.removeprefix("$glbnet$")
