"""Hypothesis strategies over bitsmith IR layers: one registered strategy per layer kind.

A layer kind is registered with :func:`layer_kind`::

    @layer_kind("maxpool", accepts=spatial)
    def maxpool(draw, name, in_shape, in_dtype) -> Node: ...

``build`` draws every parameter of one node that takes ``in_shape``/``in_dtype`` (sizes,
datatypes, folding, thresholds, weights) and returns it checked; ``accepts(in_shape,
in_dtype)`` says which inputs the kind can take (top-K only a vector, the sparse engine
no BIPOLAR...); ``last`` kinds (top-K) only end a network. :func:`networks` chains
registered kinds, :func:`frames` draws input data for a graph. A new layer kind (average
pooling, resize, joins...) is one more ``@layer_kind`` function here; every property test
picks it up from :data:`KINDS`.

Sizes are small on purpose: every generated case runs in the Amaranth simulator.
Datatypes are the qonnx names of DESIGN.md §2 up to 8 bits; data and thresholds lean on
the extremes of their ranges (hypothesis's integer strategies do), thresholds come
per channel or shared, with duplicates and values far outside the compared range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from qonnx.core.datatype import DataType

from bitsmith.generator.ir import Graph, Node, Thresholds, smallest_dtype
from bitsmith.generator.ir.conv import Conv, GlobalAccPool, MaxPool
from bitsmith.generator.ir.dense import LabelSelect, MatrixVector, MultiThreshold, accumulator_range
from bitsmith.generator.sparse.node import lossless_layer, sparse_node

DT = DataType
Shape3 = tuple[int, int, int]

# Simplest first: hypothesis shrinks a sampled_from towards its first element.
DTYPE_NAMES = (["BINARY", "UINT2", "INT2", "BIPOLAR", "TERNARY"]
               + [f"UINT{b}" for b in (1, 3, 4, 5, 6, 7, 8)] + [f"INT{b}" for b in range(3, 9)])
MAX_STREAM_BITS = 32


@dataclass(frozen=True)
class LayerKind:
    """A registered layer strategy (see the module docstring)."""

    name: str
    build: Callable
    accepts: Callable[[Shape3, DataType], bool]
    last: bool = False


KINDS: dict[str, LayerKind] = {}


def layer_kind(name: str, *, accepts: Callable[[Shape3, DataType], bool] = lambda s, d: True,
               last: bool = False):
    """Register ``build(draw, name, in_shape, in_dtype) -> Node`` as the strategy of ``name``."""
    def register(build):
        if name in KINDS:
            raise ValueError(f"layer kind {name!r} is registered twice")
        KINDS[name] = LayerKind(name, build, accepts, last)
        return build
    return register


# --------------------------------------------------------------------------- building blocks

def dtypes(*, bipolar: bool = True) -> st.SearchStrategy[DataType]:
    names = [n for n in DTYPE_NAMES if bipolar or n != "BIPOLAR"]
    return st.sampled_from(names).map(lambda n: DT[n])


def values(dt: DataType, shape) -> st.SearchStrategy[np.ndarray]:
    """Arrays of values of ``dt`` (BIPOLAR as -1/+1)."""
    if dt.name == "BIPOLAR":
        elements = st.sampled_from([-1, 1])
    else:
        elements = st.integers(int(dt.min()), int(dt.max()))
    return hnp.arrays(np.int64, shape, elements=elements)


def divisor(draw, n: int) -> int:
    return draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))


def is_xnor(weight_dtype: DataType, in_dtype: DataType) -> bool:
    return weight_dtype.name == "BIPOLAR" and in_dtype.name == "BIPOLAR"


def accumulator(draw, lo: int, hi: int) -> DataType:
    """The narrowest datatype holding ``[lo, hi]``, or one a few bits wider."""
    narrow = smallest_dtype(lo, hi)
    extra = draw(st.integers(0, 2))
    if extra == 0:
        return narrow
    bits = min(MAX_STREAM_BITS, narrow.bitwidth() + extra)
    return DT[f"INT{bits}"] if narrow.signed() or draw(st.booleans()) else DT[f"UINT{bits}"]


@st.composite
def thresholds(draw, channels: int, lo: int, hi: int) -> Thresholds:
    """A MultiThreshold table over compared values in ``[lo, hi]``.

    Per channel ``(C, B)`` or shared ``(1, B)``; values near and beyond the range ends
    (clipping), duplicates (sorting a few drawn values makes them), or a BIPOLAR output.
    """
    shared = draw(st.booleans())
    rows = 1 if shared else channels
    edge = st.sampled_from([lo, hi, hi + 1, lo - 1, lo - 1000, hi + 1000])
    element = st.one_of(st.integers(lo - 2, hi + 2), edge)
    if draw(st.booleans()):
        t = draw(hnp.arrays(np.int64, (rows, 1), elements=element))
        if draw(st.booleans()):
            return Thresholds(values=t, out_dtype=DT["BIPOLAR"], out_scale=2, out_bias=-1)
        steps = 1
    else:
        steps = draw(st.integers(1, 7))
        t = np.sort(draw(hnp.arrays(np.int64, (rows, steps), elements=element)), axis=1)
    scale = draw(st.sampled_from([1, 2, -1]))
    bias = draw(st.integers(-3, 3))
    out_lo, out_hi = sorted((bias, scale * steps + bias))
    return Thresholds(values=t, out_dtype=accumulator(draw, out_lo, out_hi), out_scale=scale,
                      out_bias=bias)


def optional_thresholds(draw, channels: int, lo: int, hi: int) -> Thresholds | None:
    return draw(st.one_of(st.none(), thresholds(channels, lo, hi)))


def weights_and_acc(draw, shape, in_dtype: DataType, *, bipolar: bool = True):
    """Weights of a drawn datatype and their accumulator range (MVAU rule, DESIGN.md §2)."""
    wdt = draw(dtypes(bipolar=bipolar))
    w = draw(values(wdt, shape))
    lo, hi = accumulator_range(w.reshape(shape[0], -1), wdt, in_dtype)
    return w, wdt, lo, hi


# --------------------------------------------------------------------------- accept rules

def vector(shape: Shape3, dt: DataType) -> bool:
    return tuple(shape[:2]) == (1, 1)


def has_zero(shape: Shape3, dt: DataType) -> bool:
    return dt.name != "BIPOLAR"


def narrow(shape: Shape3, dt: DataType) -> bool:
    """Weight layers take inputs of at most 8 bits (MVAU/VVAU/sparse engine)."""
    return dt.bitwidth() <= 8


# --------------------------------------------------------------------------- the kinds

@layer_kind("mvau", accepts=narrow)
def mvau(draw, name: str, in_shape: Shape3, in_dtype: DataType) -> Node:
    """Dense MVAU (XNOR when weights and inputs are BIPOLAR), applied per pixel."""
    mw = in_shape[2]
    mh = draw(st.integers(1, 8))
    w, wdt, lo, hi = weights_and_acc(draw, (mh, mw), in_dtype)
    node = MatrixVector(name=name, in_shape=in_shape, in_dtype=in_dtype, weights=w, weight_dtype=wdt,
                        acc_dtype=accumulator(draw, lo, hi),
                        thresholds=optional_thresholds(draw, mh, lo, hi),
                        pe=divisor(draw, mh), simd=divisor(draw, mw))
    node.check()
    return node


@layer_kind("xnor", accepts=lambda s, d: d.name == "BIPOLAR")
def xnor(draw, name: str, in_shape: Shape3, in_dtype: DataType) -> Node:
    """XNOR-popcount MVAU: BIPOLAR weights on BIPOLAR inputs, thresholds in [0, MW]."""
    mw = in_shape[2]
    mh = draw(st.integers(1, 8))
    w = draw(values(DT["BIPOLAR"], (mh, mw)))
    node = MatrixVector(name=name, in_shape=in_shape, in_dtype=in_dtype, weights=w,
                        weight_dtype=DT["BIPOLAR"], acc_dtype=accumulator(draw, 0, mw),
                        thresholds=optional_thresholds(draw, mh, 0, mw),
                        pe=divisor(draw, mh), simd=divisor(draw, mw))
    node.check()
    return node


@layer_kind("thresholds")
def multi_threshold(draw, name: str, in_shape: Shape3, in_dtype: DataType) -> Node:
    """Stand-alone MultiThreshold over the input's own range."""
    c = in_shape[2]
    node = MultiThreshold(name=name, in_shape=in_shape, in_dtype=in_dtype,
                          thresholds=draw(thresholds(c, int(in_dtype.min()), int(in_dtype.max()))),
                          pe=divisor(draw, c))
    node.check()
    return node


def window(draw, size: int, pads: bool) -> tuple[int, int, int]:
    """(kernel, pad_lo, pad_hi) along one axis of ``size`` pixels, kernel <= 3."""
    k = draw(st.integers(1, 3))
    lo = draw(st.integers(0, k - 1)) if pads else 0
    hi = draw(st.integers(0, k - 1)) if pads else 0
    return min(k, size + lo + hi), lo, hi


@layer_kind("conv", accepts=narrow)
def conv(draw, name: str, in_shape: Shape3, in_dtype: DataType) -> Node:
    """2-D convolution, standard or depthwise, with zero padding where the input has a zero."""
    h, w, c = in_shape
    pads = in_dtype.name != "BIPOLAR" and draw(st.booleans())
    kh, pt, pb = window(draw, h, pads)
    kw, pl, pr = window(draw, w, pads)
    depthwise = draw(st.booleans())
    oc = c if depthwise else draw(st.integers(1, 4))
    shape = (c, kh, kw, 1) if depthwise else (oc, kh, kw, c)
    weights, wdt, lo, hi = weights_and_acc(draw, shape, in_dtype)
    node = Conv(name=name, in_shape=in_shape, in_dtype=in_dtype, weights=weights, weight_dtype=wdt,
                kernel=(kh, kw), stride=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
                pad=(pt, pl, pb, pr), acc_dtype=accumulator(draw, lo, hi),
                thresholds=optional_thresholds(draw, oc, lo, hi),
                pe=divisor(draw, oc), simd=1 if depthwise else divisor(draw, c), depthwise=depthwise)
    node.check()
    return node


@layer_kind("maxpool", accepts=lambda s, d: s[0] * s[1] > 1)
def maxpool(draw, name: str, in_shape: Shape3, in_dtype: DataType) -> Node:
    h, w, c = in_shape
    kernel = (draw(st.integers(1, min(3, h))), draw(st.integers(1, min(3, w))))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    if kernel == stride == (1, 1):      # the identity lowers to no hardware
        kernel = (2, 1) if h > 1 else (1, 2)
    node = MaxPool(name=name, in_shape=in_shape, in_dtype=in_dtype, kernel=kernel, stride=stride,
                   pe=divisor(draw, c))
    node.check()
    return node


@layer_kind("global_pool", accepts=lambda s, d: d.bitwidth() <= 16)
def global_pool(draw, name: str, in_shape: Shape3, in_dtype: DataType) -> Node:
    node = GlobalAccPool(name=name, in_shape=in_shape, in_dtype=in_dtype, pe=divisor(draw, in_shape[2]))
    node.check()
    return node


@layer_kind("topk", accepts=vector, last=True)
def topk(draw, name: str, in_shape: Shape3, in_dtype: DataType) -> Node:
    """Top-K (LabelSelect); small value ranges make ties, which go to the lower index."""
    c = in_shape[2]
    node = LabelSelect(name=name, in_shape=in_shape, in_dtype=in_dtype, k=draw(st.integers(1, c)),
                       pe=divisor(draw, c))
    node.check()
    return node


@layer_kind("sparse", accepts=lambda s, d: has_zero(s, d) and narrow(s, d))
def sparse(draw, name: str, in_shape: Shape3, in_dtype: DataType) -> Node:
    """EIE-style sparse layer: a mostly-zero integer matrix, lossless codebook, any n_pe."""
    mw = in_shape[2]
    mh = draw(st.integers(1, 8))
    wdt = draw(dtypes(bipolar=False))
    nonzero = st.integers(int(wdt.min()), int(wdt.max()))
    w = draw(hnp.arrays(np.int64, (mh, mw), elements=st.one_of(st.just(0), st.just(0), nonzero)))
    layer = lossless_layer(w, divisor(draw, mh))
    lo, hi = accumulator_range(w, wdt, in_dtype)
    return sparse_node(name, in_shape, in_dtype, layer, thresholds=optional_thresholds(draw, mh, lo, hi),
                       queue_depth=draw(st.integers(1, 8)), simd=divisor(draw, mw))


# --------------------------------------------------------------------------- graphs and data

@st.composite
def input_specs(draw, kind: str | None = None) -> tuple[Shape3, DataType]:
    """An input shape and datatype that ``kind`` (or any kind) accepts."""
    accepts = KINDS[kind].accepts if kind else (lambda s, d: True)
    spatial = draw(st.booleans())
    c = draw(st.integers(1, 4)) if spatial else draw(st.integers(1, 12))
    shapes = [(draw(st.integers(1, 5)), draw(st.integers(1, 5)), c)] if spatial else []
    for shape in shapes + [(1, 1, c), (2, 2, c)]:
        fits = [n for n in DTYPE_NAMES if accepts(shape, DT[n])]
        if fits:
            return shape, DT[draw(st.sampled_from(fits))]
    raise AssertionError(f"layer kind {kind!r} accepts none of the input shapes tried")


@st.composite
def networks(draw, first: str | None = None, max_layers: int = 1) -> Graph:
    """A checked graph of 1..``max_layers`` layers, the first of kind ``first`` if given."""
    shape, dt = draw(input_specs(first))
    in_shape, in_dtype = shape, dt
    nodes = []
    count = draw(st.integers(1, max_layers))
    for k in range(count):
        if k == 0 and first is not None:
            kind = KINDS[first]
        else:
            fits = [KINDS[n] for n in sorted(KINDS) if KINDS[n].accepts(shape, dt)
                    and (not KINDS[n].last or k == count - 1)
                    and dt.bitwidth() <= MAX_STREAM_BITS]
            if not fits:
                break
            kind = draw(st.sampled_from(fits))
        node = kind.build(draw, f"l{k}_{kind.name}", shape, dt)
        nodes.append(node)
        shape, dt = tuple(node.out_shape), node.out_dtype
        if kind.last or dt.bitwidth() > MAX_STREAM_BITS:
            break
    graph = Graph(name="prop", in_shape=in_shape, in_dtype=in_dtype, nodes=tuple(nodes))
    graph.check()
    return graph


def frames(graph: Graph, max_frames: int = 3) -> st.SearchStrategy[np.ndarray]:
    """Input data for ``graph``: 1..``max_frames`` frames of ``graph.in_dtype`` values."""
    return st.integers(1, max_frames).flatmap(
        lambda n: values(graph.in_dtype, (n,) + tuple(graph.in_shape)))
