"""The ``hashed_dense`` op of the native description: a HashedNets layer (arXiv 1504.04788).

```yaml
- {name: fc1, op: hashed_dense, weights: fc1_v,   # (K,) integer bucket values
   buckets: 256,            # K, a power of two (checked against the array)
   seed: 7,                 # the hash seed
   out_features: 32, weight_dtype: INT6,          # INT6 must hold every value and its negation
   thresholds: fc1_t, out_dtype: UINT2, pe: 4, simd: 8}   # as for 'dense'
```

The virtual matrix is ``W[i, j] = xi(i, j) * values[h(i, j)]`` with ``h``/``xi`` from
:func:`bitsmith.hw.compute.hashed_mvau.hash_indices` (the training script uses the same
function, so a trained layer is exported as its K values and seed).
"""

from __future__ import annotations

from bitsmith.hw.compute.hashed_mvau import MAX_BUCKET_BITS

from ..errors import ModelError
from ..ir import dtype
from ..ir.hashed import HashedMatrixVector
from .native import PE, SIMD, WEIGHT_DTYPE, fold_value, integer_array, parse_thresholds, threshold_keys
from .native_schema import ARRAY, INT_LIMIT, Key, int_range, native_op


@native_op("hashed_dense", "A HashedNets fully connected layer: the virtual weight W[i, j] = xi(i, j) * "
           "w[h(i, j)] is drawn from K stored values by a hash of the indices computed in hardware from "
           "the loop counters; weight storage is the K values.",
           Key("weights", ARRAY, "the K bucket values, (K,) integers", required=True),
           Key("buckets", int_range(2, 1 << MAX_BUCKET_BITS), "K, a power of two: the length of weights",
               required=True),
           Key("seed", int_range(0, (1 << 32) - 1), "hash seed", default=0),
           Key("out_features", int_range(1, INT_LIMIT), "outputs of the layer", required=True),
           WEIGHT_DTYPE, *threshold_keys(), PE, SIMD)
def parse_hashed_dense(spec, in_shape, in_dtype, arrays, where: str):
    """Build a :class:`~generator.ir.hashed.HashedMatrixVector` from a native layer spec."""
    v = integer_array(arrays.get(spec.get("weights"), where), "weights", where)
    k = spec["buckets"]
    if v.ndim != 1 or v.size != k:
        raise ModelError(f"{where}: weights must be the {k} bucket values (shape ({k},)), not shape {v.shape}")
    th = parse_thresholds(spec, arrays, spec["out_features"], where)
    return HashedMatrixVector(name=spec["name"], in_shape=tuple(in_shape), in_dtype=in_dtype, values=v,
                              weight_dtype=dtype(spec["weight_dtype"]), out_features=spec["out_features"],
                              seed=spec["seed"], acc_dtype=None, thresholds=th,
                              pe=fold_value(spec, "pe", where), simd=fold_value(spec, "simd", where))
