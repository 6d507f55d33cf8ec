"""bitsmith: bit-exact streaming accelerators for quantized and binarized neural networks.

The public API (``bitsmith.api``, re-exported here)::

    import bitsmith
    model = bitsmith.load("net.onnx", input_dtype="UINT8", input_scale=1/255)  # or a dict, a Network,
                                                  # an onnx ModelProto, a qonnx ModelWrapper, a torch module
    design = bitsmith.fold(model, target_cycles=256)   # PE/SIMD, accumulators, FIFO depths
    built = bitsmith.build(design, "out/net")          # Verilog, design.json, sim/, reports
    y = bitsmith.golden(design, x).outputs             # the numpy golden model
    rtl = bitsmith.simulate(built, x)                  # Verilator or the Amaranth simulator
    result = bitsmith.verify(design, x)                # RTL == golden (== qonnx), bit for bit
    figures = bitsmith.synthesise(built, "icebreaker") # Yosys / nextpnr (or Vivado scripts)

Options are :class:`BuildOptions` fields, given as an object or as keyword arguments;
results are frozen with a one-line ``repr``; user errors are
:class:`~bitsmith.generator.errors.BitsmithError` subclasses (``bitsmith.errors``).

The subpackages are ``bitsmith.generator`` (front ends, IR, passes, lowering, flows,
CLI), ``bitsmith.hw`` (Amaranth components), ``bitsmith.sim`` (golden model and
simulators) and ``bitsmith.boards`` (boards and their build flows). The API is imported
on first use, so ``import bitsmith.hw`` stays light.
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("bitsmith")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["BuildOptions", "BuildResult", "Design", "GoldenResult", "Model", "Network", "SimResult",
           "SynthResult", "VerifyResult", "BitsmithError", "build", "fold", "golden", "load", "open_build",
           "simulate", "synthesise", "verify", "run_on_board", "BoardRun", "__version__"]


def __getattr__(name: str):
    if name == "BitsmithError":
        from .generator.errors import BitsmithError
        return BitsmithError
    if name == "errors":
        from .generator import errors
        return errors
    if name in __all__:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'bitsmith' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__) | {"errors"})
