"""The results the public API returns (:mod:`bitsmith`): frozen, with a one-line ``repr``.

A result holds arrays and whole reports, but its ``repr`` shows only what fits a line —
shapes and dtypes of arrays, counts, cycle figures — so printing one in a notebook never
dumps a weight or an output array. The build and verify results live next to their flows
(:class:`~bitsmith.generator.build.BuildResult`,
:class:`~bitsmith.generator.verify.VerifyResult`) and use the same helpers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import numpy as np


def array_text(a) -> str:
    """``int64[10, 1, 1, 1]``: an array's dtype and shape, never its values."""
    a = np.asarray(a)
    return f"{a.dtype}[{', '.join(str(d) for d in a.shape)}]"


def short_repr(kind: str, *parts: str, **fields) -> str:
    """``Kind(part, ..., key=value, ...)``; fields that are None are left out, arrays are
    shown as :func:`array_text`."""
    shown = list(parts)
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, np.ndarray):
            shown.append(f"{key}={array_text(value)}")
        elif isinstance(value, float):
            shown.append(f"{key}={value:g}")
        else:
            shown.append(f"{key}={value!r}")
    return f"{kind}({', '.join(shown)})"


def frozen_mapping(data: Mapping | None) -> Mapping:
    """A read-only view of ``data`` (a result's report stays as produced)."""
    return MappingProxyType(dict(data or {}))


@dataclass(frozen=True, repr=False)
class GoldenResult:
    """What :func:`bitsmith.golden` computed.

    Members
    -------
    outputs : numpy.ndarray
        The model's outputs, batch first, after host-post (class indices with top-K).
    core_outputs : numpy.ndarray
        The integer core's outputs ``(N, H, W, C)``, before host-post: what the hardware emits.
    """

    outputs: np.ndarray
    core_outputs: np.ndarray

    @property
    def frames(self) -> int:
        return len(self.core_outputs)

    def __repr__(self) -> str:
        return short_repr("GoldenResult", frames=self.frames, outputs=self.outputs,
                          core_outputs=self.core_outputs)


@dataclass(frozen=True, repr=False)
class SimResult:
    """What :func:`bitsmith.simulate` measured.

    Members
    -------
    outputs, core_outputs : numpy.ndarray
        As in :class:`GoldenResult`, from the simulated RTL.
    simulator : str
        ``"verilator"`` or ``"amaranth"``.
    cycles_per_frame : float or None
        Median cycles between output frames in the steady state (None below 3 frames).
    mean_cycles_per_frame : float or None
        The mean over the same frames.
    longest_frame_gap : int or None
        The longest gap between two output frames in the steady state.
    total_cycles : int
        Cycles from the first input word to the last output word.
    protocol_errors : int
        Stream protocol violations seen by the harness (0 for a correct design).
    """

    outputs: np.ndarray
    core_outputs: np.ndarray
    simulator: str
    cycles_per_frame: float | None
    total_cycles: int
    protocol_errors: int = 0
    mean_cycles_per_frame: float | None = None
    longest_frame_gap: int | None = None

    @property
    def frames(self) -> int:
        return len(self.core_outputs)

    def __repr__(self) -> str:
        return short_repr("SimResult", repr(self.simulator), frames=self.frames, outputs=self.outputs,
                          cycles_per_frame=self.cycles_per_frame, total_cycles=self.total_cycles,
                          protocol_errors=self.protocol_errors)


SYNTH_FIGURES = ("luts", "ffs", "brams", "dsps", "fmax_mhz", "fits")


@dataclass(frozen=True, repr=False)
class SynthResult:
    """What :func:`bitsmith.synthesise` measured with the board's flow.

    Members
    -------
    out_dir : Path
        The build folder; the flow's files are in ``out_dir/board/<board>/``.
    board : str
        The board name.
    figures : Mapping
        The whole ``synth.json`` (read-only): ``luts``, ``ffs``, ``brams``, ``dsps``,
        ``fmax_mhz``, ``device``, ``fits`` and the flow's other figures.
    """

    out_dir: Path
    board: str
    figures: Mapping = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "figures", frozen_mapping(self.figures))

    def __getattr__(self, name: str):
        if name in SYNTH_FIGURES:
            return self.figures.get(name)
        raise AttributeError(name)

    def __repr__(self) -> str:
        return short_repr("SynthResult", repr(self.board), device=self.figures.get("device"),
                          **{k: self.figures.get(k) for k in SYNTH_FIGURES})
