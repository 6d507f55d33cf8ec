"""Host stages: the float glue the hardware does not run (DESIGN.md §4).

A host stage is a frozen dataclass with ``run(x: np.ndarray) -> np.ndarray`` working on
the whole batch. ``Graph.host_pre`` maps the model's own input to the integer values
the hardware consumes (shape ``(N, H, W, C)``); ``Graph.host_post`` maps the hardware's
integer output ``(N, H, W, C)`` to the model's output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOST_KINDS: dict[str, type] = {}


def host_stage(cls):
    """Decorator: register a host stage class for (de)serialisation."""
    HOST_KINDS[cls.__name__] = cls
    return cls


@host_stage
@dataclass(frozen=True, eq=False)
class ToNHWC:
    """Reshape a batch to ``(N, H, W, C)``; ``layout`` is ``"NHWC"`` or ``"NCHW"`` (transposed)."""

    shape: tuple  # (H, W, C)
    layout: str = "NHWC"

    def run(self, x: np.ndarray) -> np.ndarray:
        h, w, c = self.shape
        n = x.shape[0]
        if self.layout == "NCHW":
            return np.asarray(x).reshape(n, c, h, w).transpose(0, 2, 3, 1)
        return np.asarray(x).reshape(n, h, w, c)


@host_stage
@dataclass(frozen=True, eq=False)
class Flatten:
    """Reshape ``(N, H, W, C)`` to ``(N, H*W*C)``."""

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x).reshape(x.shape[0], -1)


def run_stages(stages, x: np.ndarray) -> np.ndarray:
    for stage in stages:
        x = stage.run(x)
    return x
