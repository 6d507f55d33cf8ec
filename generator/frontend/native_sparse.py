"""The ``sparse_dense`` op of the native description (EIE engine, DESIGN.md §6).

```yaml
- {name: fc1, op: sparse_dense, weights: fc1_w,      # (out_features, in_features) integers
   sparsity: 0.9,          # optional: magnitude-prune to this fraction of zeros first
   codebook_bits: 4,       # 2..8: 2**b shared values, index 0 = zero (k-means, linear init)
   thresholds: fc1_t, out_dtype: UINT2,               # optional, as for 'dense'
   n_pe: 16, queue_depth: 8, simd: 64}               # optional hardware parameters
```

Without ``sparsity`` the matrix is taken as already pruned. If it has at most
``2**b - 1`` distinct non-zero values the codebook holds them exactly; otherwise they are
shared by k-means and the layer computes with the shared values.
"""

from __future__ import annotations

from ..errors import ModelError
from ..ir import Node, dtype
from ..ir.sparse import MAX_PE, MAX_QUEUE_DEPTH
from ..sparse import compress
from ..sparse.node import DEFAULT_PE, DEFAULT_QUEUE_DEPTH, largest_divisor, lossless_layer, sparse_node
from ..sparse.node import sparsify_graph
from ..sparse.share import MAX_BITS, MIN_BITS
from .native import WEIGHTS, matrix_weights, parse_thresholds, threshold_keys
from .native_schema import FRACTION, INT_LIMIT, Key, int_range, native_op

__all__ = ["parse_sparse", "sparsify_graph"]


def _int_option(spec: dict, key: str, lo: int, hi: int, default, where: str) -> int:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ModelError(f"{where}: {key} must be an integer in {lo}..{hi}, not {value!r}")
    return value


@native_op("sparse_dense", "A fully connected layer on the EIE sparse engine (DESIGN.md section 6): "
           "weights pruned and shared through a codebook; zero activations skipped.",
           WEIGHTS,
           Key("sparsity", FRACTION, "magnitude-prune to this fraction of zeros first",
               default_doc="none: the matrix is taken as already pruned"),
           Key("codebook_bits", int_range(MIN_BITS, MAX_BITS), "2**b shared values, index 0 = zero",
               default=4),
           *threshold_keys(),
           Key("n_pe", int_range(1, MAX_PE), "processing elements (each owns rows r = k mod n_pe; "
               "must divide out_features)", default_doc=f"the largest divisor of out_features up to {DEFAULT_PE}"),
           Key("queue_depth", int_range(1, MAX_QUEUE_DEPTH), "activation queue entries per PE",
               default=DEFAULT_QUEUE_DEPTH),
           Key("simd", int_range(1, INT_LIMIT), "input elements per stream word (must divide in_features)",
               default_doc="all of them"))
def parse_sparse(spec: dict, in_shape, in_dtype, arrays, where: str) -> Node:
    """Build a :class:`~generator.ir.sparse.SparseMatrixVector` from a native layer spec."""
    in_dtype = dtype(in_dtype)
    if in_dtype.name == "BIPOLAR":
        raise ModelError(f"{where}: sparse_dense needs activations with a zero (INTn, UINTn, BINARY, "
                         f"TERNARY), not BIPOLAR")
    w = matrix_weights(spec, in_shape, arrays, where)
    sparsity = spec.get("sparsity")
    if sparsity is not None and (isinstance(sparsity, bool) or not isinstance(sparsity, (int, float))
                                 or not 0 <= sparsity < 1):
        raise ModelError(f"{where}: sparsity must be a number in [0, 1), not {sparsity!r}")
    bits = _int_option(spec, "codebook_bits", MIN_BITS, MAX_BITS, 4, where)
    out_features = w.shape[0]
    n_pe = _int_option(spec, "n_pe", 1, MAX_PE, largest_divisor(out_features, DEFAULT_PE), where)
    if out_features % n_pe:
        raise ModelError(f"{where}: n_pe={n_pe} does not divide out_features={out_features}")
    depth = _int_option(spec, "queue_depth", 1, MAX_QUEUE_DEPTH, DEFAULT_QUEUE_DEPTH, where)
    simd = spec.get("simd")
    if simd is not None and (isinstance(simd, bool) or not isinstance(simd, int) or simd < 1
                             or in_shape[2] % simd):
        raise ModelError(f"{where}: simd must be a positive divisor of in_features={in_shape[2]}, "
                         f"not {simd!r}")
    th = parse_thresholds(spec, arrays, out_features, where)
    layer = lossless_layer(w, n_pe, bits) if sparsity is None else None
    source = w if layer is not None else None       # lossless: must decode to w itself
    if layer is None:
        layer = compress(w, n_pe=n_pe, sparsity=sparsity, bits=bits)
    return sparse_node(spec["name"], in_shape, in_dtype, layer, thresholds=th, queue_depth=depth,
                       simd=simd, source=source)
