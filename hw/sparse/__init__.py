"""The EIE-style sparse matrix-vector engine (DESIGN.md §6).

* :class:`NonZeroScan` (``scan.py``) — leading-non-zero detection over input words;
* :class:`ColumnPointers` (``pointers.py``) — even/odd pointer banks, both pointers per cycle;
* :class:`SparsePE` (``pe.py``) — activation queue, sparse-matrix memory, codebook, MAC,
  double-banked accumulators of the PE's rows;
* :class:`SparseEngine` (``engine.py``) — scan, broadcast, N PEs, drain through thresholds.
"""

from .engine import SparseEngine
from .pe import SparsePE
from .pointers import ColumnPointers
from .scan import NonZeroScan, token_layout

__all__ = ["SparseEngine", "SparsePE", "ColumnPointers", "NonZeroScan", "token_layout"]
