"""Pending float steps between a hardware integer tensor and the ONNX tensor it stands for.

While the front end walks the ONNX graph, the current ONNX tensor is represented as
``chain(q)``: ``q`` is an integer tensor the hardware (or host-pre) produces and ``chain``
is a list of monotone elementwise float steps (affine maps and ReLUs). Constants keep the
ONNX broadcasting shape of the tensor, so layout operations (reshape, transpose) can be
applied to them. A quantizer then turns ``quantize(chain(q))`` into integer thresholds on
``q``; a matrix multiplication pulls a per-tensor scale out of the chain; whatever is left
at the end becomes host-post.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True, eq=False)
class AffineStep:
    """``x * mul + add`` (float64 constants, broadcastable to the tensor)."""

    mul: np.ndarray
    add: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        return x * self.mul + self.add

    def remap(self, fn: Callable[[np.ndarray], np.ndarray]) -> "AffineStep":
        return AffineStep(fn(self.mul), fn(self.add))


@dataclass(frozen=True, eq=False)
class ReluStep:
    """``max(x, 0)``."""

    def apply(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0.0)

    def remap(self, fn) -> "ReluStep":
        return self


def affine(mul, add=0.0) -> AffineStep:
    return AffineStep(np.asarray(mul, dtype=np.float64), np.asarray(add, dtype=np.float64))


def append(chain: list, step) -> list:
    """``chain`` followed by ``step``; consecutive affine maps are composed."""
    if isinstance(step, AffineStep) and chain and isinstance(chain[-1], AffineStep):
        last = chain[-1]
        return chain[:-1] + [AffineStep(last.mul * step.mul, last.add * step.mul + step.add)]
    return chain + [step]


def evaluate(chain: list, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    for step in chain:
        x = step.apply(x)
    return x


def is_affine(chain: list) -> bool:
    return all(isinstance(s, AffineStep) for s in chain)


def as_affine(chain: list) -> tuple[np.ndarray, np.ndarray]:
    """(mul, add) of a purely affine chain."""
    mul, add = np.float64(1.0), np.float64(0.0)
    for step in chain:
        mul, add = mul * step.mul, add * step.mul + step.add
    return np.asarray(mul), np.asarray(add)


def slope_sign(chain: list) -> np.ndarray:
    """Sign of the slope of the (monotone) chain: +1, -1 or 0 per element."""
    sign = np.float64(1.0)
    for step in chain:
        if isinstance(step, AffineStep):
            sign = sign * np.sign(step.mul)
    return np.sign(np.asarray(sign))


def remap(chain: list, fn: Callable[[np.ndarray], np.ndarray]) -> list:
    """Apply ``fn`` (a relayout or a per-channel reduction) to every constant of the chain."""
    return [step.remap(fn) for step in chain]
