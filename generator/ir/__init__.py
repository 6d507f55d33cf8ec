"""The integer IR (see :mod:`bitsmith.generator.ir.core`)."""

from .core import FifoEdge, Graph, Node, Thresholds, NODE_KINDS, register, dtype, smallest_dtype, values_fit
from .branch import Add, Concat, Fork
from .dense import LabelSelect, MatrixVector, MultiThreshold, Reshape, accumulator_range, xnor_mode
from . import host

__all__ = ["Add", "Concat", "FifoEdge", "Fork", "Graph", "Node", "Thresholds", "NODE_KINDS", "register", "dtype", "smallest_dtype",
           "values_fit", "LabelSelect", "MatrixVector", "MultiThreshold", "Reshape",
           "accumulator_range", "xnor_mode", "host"]

# Import every module of this package so all node kinds register themselves.
import importlib as _importlib
import pkgutil as _pkgutil

for _mod in _pkgutil.iter_modules(__path__):
    _importlib.import_module(f"{__name__}.{_mod.name}")
