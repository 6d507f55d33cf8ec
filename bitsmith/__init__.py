"""bitsmith: bit-exact streaming accelerators for quantized and binarized neural networks.

The subpackages are :mod:`bitsmith.generator` (front ends, IR, passes, lowering, flows,
CLI), :mod:`bitsmith.hw` (Amaranth components), :mod:`bitsmith.sim` (golden model and
simulators) and :mod:`bitsmith.boards` (boards and their build flows).
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("bitsmith")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
