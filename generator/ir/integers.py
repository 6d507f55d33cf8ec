"""Exact conversion of arrays to integers: nothing wraps, rounds or saturates silently.

numpy's ``astype(np.int64)`` turns the uint64 ``2**64 - 1`` into ``-1`` (a valid BIPOLAR
value), a float ``1e19`` into ``-2**63`` and ``2.5`` into ``2``. :func:`to_int64` refuses
all of these, naming the array and the first offending index; :func:`check_fits` then
refuses values outside a datatype the same way. Booleans are 0 and 1.
"""

from __future__ import annotations

import numpy as np

from ..errors import BitsmithError, ModelError

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def _index(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _at(what: str, idx: tuple[int, ...]) -> str:
    return f"{what}[{', '.join(map(str, idx))}]" if idx else what


def to_int64(values, what: str, *, error: type[BitsmithError] = ModelError) -> np.ndarray:
    """``values`` as int64, exactly, or ``error`` naming ``what`` and the first bad element.

    Accepted: booleans, integers of any width whose values fit int64, floats that are
    finite, integral and within int64. Anything else (complex, strings, objects) is refused.
    """
    a = np.asarray(values)
    kind = a.dtype.kind
    if kind in "bi":
        return a.astype(np.int64)
    if kind == "u":
        if a.dtype.itemsize < 8:
            return a.astype(np.int64)
        bad = a > np.uint64(INT64_MAX)
        if np.any(bad):
            idx = _index(bad)
            raise error(f"{_at(what, idx)} is {int(a[idx])}, which does not fit a 64-bit signed integer")
        return a.astype(np.int64)
    if kind == "f":
        with np.errstate(invalid="ignore"):
            finite = np.isfinite(a)
            integral = finite & (a == np.floor(np.where(finite, a, 0)))
            inside = integral & (a >= -(2.0 ** 63)) & (a < 2.0 ** 63)
        if not np.all(inside):
            idx = _index(~inside)
            v = float(a[idx])
            why = ("is not a finite number" if not finite[idx] else "is not an integer" if not integral[idx]
                   else "does not fit a 64-bit signed integer")
            raise error(f"{_at(what, idx)} is {v!r}, which {why}")
        return a.astype(np.int64)
    raise error(f"{what} must hold integers, not {a.dtype} values")


def outside(values: np.ndarray, dt) -> np.ndarray:
    """Mask of the elements of integer ``values`` that ``dt`` (a qonnx DataType) cannot hold."""
    values = np.asarray(values)
    if dt.name == "BIPOLAR":
        return (values != 1) & (values != -1)
    return (values < int(dt.min())) | (values > int(dt.max()))


def check_fits(values: np.ndarray, dt, what: str, *, error: type[BitsmithError] = ModelError) -> None:
    """Refuse integer ``values`` outside ``dt``, naming the first offending element."""
    bad = outside(values, dt)
    if np.any(bad):
        idx = _index(bad)
        lo, hi = (-1, 1) if dt.name == "BIPOLAR" else (int(dt.min()), int(dt.max()))
        allowed = "-1 or +1" if dt.name == "BIPOLAR" else f"{lo}..{hi}"
        raise error(f"{_at(what, idx)} is {int(np.asarray(values)[idx])}, outside {dt.name} ({allowed})")


def ascending(values: np.ndarray) -> np.ndarray:
    """Per row of a 2-D integer array: True where it never decreases (no subtraction, so
    values near the int64 limits cannot overflow)."""
    v = np.asarray(values)
    if v.shape[1] < 2:
        return np.ones(v.shape[0], dtype=bool)
    return np.all(v[:, 1:] >= v[:, :-1], axis=1)
