"""The ``shift_dense`` op of the native description: power-of-two weights run by shifts.

```yaml
- {name: fc1, op: shift_dense, weights: fc1_w,   # (out_features, in_features) integers
   weight_dtype: POW2,       # 0 or ±2**e (INQ / logarithmic); POW2x2..POW2x4: sums of N such
                             # terms (ShiftCNN's N-term form)
   exponents: [0, 6],        # optional: the exponent range every term must lie in
   thresholds: fc1_t, out_dtype: UINT2, pe: 4, simd: 16}   # as for 'dense'
```

The integer datatype the layer reports is the narrowest holding its weights (at most 8
bits, as for every matrix layer).
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelError
from ..ir import smallest_dtype
from ..ir.shift import MAX_TERMS, ShiftMatrixVector, naf_terms
from .native import PE, SIMD, WEIGHTS, fold_value, matrix_weights, parse_thresholds, threshold_keys
from .native_schema import Key, Kind, native_op, one_of

MAX_EXPONENT = 7
"""Largest term exponent: 2**7 = 128, the top of the 8-bit weight range (UINT8)."""

SHIFT_DTYPES = ("POW2",) + tuple(f"POW2x{n}" for n in range(2, MAX_TERMS + 1))
"""Native shift datatypes: ``POW2`` one signed power of two (or 0) per weight, ``POW2xN`` a
sum of N of them."""


def terms_of(name: str) -> int:
    """Terms per weight of a native shift datatype name."""
    return 1 if name == "POW2" else int(name[len("POW2x"):])


EXPONENTS = Kind(f"[lo, hi] integers in 0..{MAX_EXPONENT}, lo <= hi",
                 {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": MAX_EXPONENT},
                  "minItems": 2, "maxItems": 2})


@native_op("shift_dense", "A fully connected layer whose weights are signed powers of two (or sums of "
           "N of them): every product is a shift and a sign change, never a multiplier.",
           WEIGHTS,
           Key("weight_dtype", one_of(*SHIFT_DTYPES), "POW2: each weight 0 or ±2**e; POW2xN: a sum of "
               "N such terms", required=True),
           Key("exponents", EXPONENTS, "the exponent range every term must lie in",
               default_doc="any (the weights' own range)"),
           *threshold_keys(), PE, SIMD)
def parse_shift_dense(spec, in_shape, in_dtype, arrays, where: str):
    """Build a :class:`~generator.ir.shift.ShiftMatrixVector` from a native layer spec."""
    w = matrix_weights(spec, in_shape, arrays, where)
    n = terms_of(spec["weight_dtype"])
    terms = naf_terms(w)
    counts = np.count_nonzero(terms, axis=-1)
    if counts.max() > n:
        r, c = (int(i) for i in np.argwhere(counts > n)[0])
        raise ModelError(f"{where}: weight {int(w[r, c])} at ({r}, {c}) is not a sum of {n} signed "
                         f"power(s) of two ({spec['weight_dtype']})")
    if "exponents" in spec:
        lo, hi = spec["exponents"]
        if lo > hi:
            raise ModelError(f"{where}: exponents must be [lo, hi] with lo <= hi, not {[lo, hi]}")
        mags = np.abs(terms[terms != 0])
        exps = np.log2(mags).astype(np.int64) if mags.size else mags
        if exps.size and (exps.min() < lo or exps.max() > hi):
            bad = int(exps[(exps < lo) | (exps > hi)][0])
            raise ModelError(f"{where}: a weight uses the term 2**{bad}, outside exponents [{lo}, {hi}]")
    wdt = smallest_dtype(min(0, int(w.min(initial=0))), max(0, int(w.max(initial=0))))
    th = parse_thresholds(spec, arrays, w.shape[0], where)
    return ShiftMatrixVector(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype, weights=w,
                             weight_dtype=wdt, acc_dtype=None, thresholds=th, terms=n,
                             pe=fold_value(spec, "pe", where), simd=fold_value(spec, "simd", where))
