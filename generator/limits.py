"""Resource budgets: what bitsmith refuses at once instead of running out of memory or time.

Every budget is checked before the work it guards (file headers before reading, shapes
before allocating, the folded graph's estimate before elaboration), so an absurd input
is refused in well under a second with the sizes named. The figures sit far above any
network an FPGA or an ASIC of today can hold, so no real model meets them:

==========================  ==================  ==============================================
budget                      value               why
==========================  ==================  ==============================================
description file            16 MiB              a YAML/JSON description holds names, not data
ONNX file                   1 GiB               protobuf's own limit is 2 GiB
YAML/JSON nesting           32 levels           a description is 4 levels deep
YAML nodes (aliases         200,000             thousands of layers; an alias bomb expands to
expanded)                                       billions
arrays per ``.npz``         10,000
elements per array          2**26 (67 M)        weights beyond any FPGA's memory
bytes of all arrays         1 GiB               decompressed, the sum over the ``.npz``
input batch (``X.npy``)     2**26 elements      60,000 MNIST frames are 47 M
elements of one tensor      2**24 (16.7 M)      an activation between two layers (H*W*C)
layers                      1,024
estimated LUTs              2,000,000           more than the largest FPGAs; the Verilog
                                                alone would take an hour to emit
estimated BRAM18 blocks     20,000              360 Mbit, more than any FPGA has
==========================  ==================  ==============================================
"""

from __future__ import annotations

from .errors import ModelError

MIB = 1 << 20

MAX_DESCRIPTION_BYTES = 16 * MIB
MAX_ONNX_BYTES = 1024 * MIB
MAX_NESTING = 32
MAX_YAML_NODES = 200_000
MAX_NPZ_ARRAYS = 10_000
MAX_ARRAY_ELEMENTS = 1 << 26
MAX_NPZ_BYTES = 1024 * MIB
MAX_INPUT_ELEMENTS = 1 << 26
MAX_TENSOR_ELEMENTS = 1 << 24
MAX_LAYERS = 1024
MAX_LUTS = 2_000_000
MAX_BRAMS = 20_000


class TooLarge(ModelError):
    """An input exceeds one of the budgets above."""


def _elements(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def check_tensor(shape, where: str) -> None:
    """Refuse a tensor (one frame, any rank) of more than :data:`MAX_TENSOR_ELEMENTS`."""
    n = _elements(shape)
    if n > MAX_TENSOR_ELEMENTS:
        raise TooLarge(f"{where}: a tensor of shape {tuple(int(d) for d in shape)} has {n:,} elements; "
                       f"bitsmith's budget is {MAX_TENSOR_ELEMENTS:,} per tensor")


def check_graph(graph) -> None:
    """Layer count and every layer's input and output tensor against the budgets."""
    if len(graph.nodes) > MAX_LAYERS:
        raise TooLarge(f"network {graph.name!r} has {len(graph.nodes):,} layers; bitsmith's budget "
                       f"is {MAX_LAYERS:,}")
    check_tensor(graph.in_shape, f"network {graph.name!r} input")
    for node in graph.nodes:
        check_tensor(node.out_shape, f"layer {node.name!r} output")


def check_hardware(graph) -> None:
    """The folded graph's estimated LUTs and BRAMs against the budgets (before elaboration):
    its layers and, once sized, the FIFOs of its netlist (``graph.fifos``)."""
    from .estimate import fifo_resources, node_resources
    luts = brams = 0
    parts = [node_resources(node) for node in graph.nodes]
    parts += [fifo_resources(f.depth, f.elems * f.elem_bits) for f in graph.fifos]
    for res in parts:
        luts += int(res.luts)
        brams += float(res.brams)
    if luts > MAX_LUTS or brams > MAX_BRAMS:
        raise TooLarge(f"network {graph.name!r}: the folded design needs an estimated {luts:,} LUTs and "
                       f"{brams:,.0f} BRAM18; bitsmith's budget is {MAX_LUTS:,} LUTs and {MAX_BRAMS:,} "
                       f"BRAM18 (fold more: --target-cycles, or smaller pe/simd)")
