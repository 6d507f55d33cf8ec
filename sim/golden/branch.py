"""Golden functions of the branching node kinds (fork, add, concat)."""

from __future__ import annotations

import numpy as np

from bitsmith.generator.ir.branch import Add, Concat, Fork

from . import golden


@golden(Fork)
def fork(node: Fork, x: np.ndarray) -> np.ndarray:
    return x


@golden(Add)
def add(node: Add, xs: tuple) -> np.ndarray:
    a, b = (np.asarray(v, dtype=np.int64) for v in xs)
    return node.scale_a * a + node.scale_b * b


@golden(Concat)
def concat(node: Concat, xs: tuple) -> np.ndarray:
    return np.concatenate([np.asarray(v, dtype=np.int64) for v in xs], axis=-1)
