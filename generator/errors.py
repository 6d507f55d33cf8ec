"""User-facing errors.

Everything a user can cause (a bad model file, a bad option, a folding that does not
divide) raises a subclass of :class:`BitsmithError`. The CLI turns these into one line
on stderr and exit code 2. Internal bugs are *not* ``BitsmithError`` and stay loud
tracebacks.
"""

from __future__ import annotations


class BitsmithError(Exception):
    """Base class of every error the user can fix; the CLI exits 2 on it."""

    exit_code = 2


class ModelError(BitsmithError):
    """The network description or ONNX graph is malformed or unsupported."""


class FoldingError(BitsmithError):
    """A requested PE/SIMD folding is impossible for the layer."""


class OptionError(BitsmithError):
    """A command-line option has a bad value."""


class InputDataError(BitsmithError):
    """An input ``.npy`` does not match the model's input."""


class ToolError(BitsmithError):
    """An external tool (Verilator, Yosys, nextpnr) failed; the log path is in the message."""


class CheckFailed(BitsmithError):
    """A verification or fit check failed; the CLI exits 1."""

    exit_code = 1
