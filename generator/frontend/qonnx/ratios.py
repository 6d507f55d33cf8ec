"""Positive float scales as one rational unit times small integers (exactly)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np


def integer_ratios(values: np.ndarray, limit: int) -> tuple[Fraction, list[int]] | None:
    """``(unit, ks)`` with ``values[i] == unit * ks[i]`` exactly (floats are exact rationals),
    ``ks`` coprime positive integers up to ``limit``; None if there is no such pair (or a
    value is not positive)."""
    fractions = [Fraction(float(v)) for v in np.asarray(values).reshape(-1)]
    if not fractions or min(fractions) <= 0:
        return None
    ratios = [f / fractions[0] for f in fractions]
    lcm = 1
    for r in ratios:
        lcm = lcm * r.denominator // math.gcd(lcm, r.denominator)
        if lcm > limit:
            return None
    ks = [int(r * lcm) for r in ratios]
    common = 0
    for k in ks:
        common = math.gcd(common, k)
    ks = [k // common for k in ks]
    if max(ks) > limit:
        return None
    return fractions[0] / ks[0], ks
