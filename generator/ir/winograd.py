"""Winograd minimal filtering F(2x2, 3x3) for 3x3 stride-1 convolutions (Lavin & Gray,
arXiv 1509.09308), in integers.

The layer is cut into output tiles of 2x2 pixels; tile ``(th, tw)`` reads the 4x4 input
patch ``d`` at rows ``2*th - pad_top ..`` and columns ``2*tw - pad_left ..`` of the
zero-padded input (stride 2 over the padded map). With the integer matrices

* ``B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]]`` (input transform, additions only),
* ``G2 = 2*G = [[2,0,0],[1,1,1],[1,-1,1],[0,0,2]]`` (weight transform, build time),
* ``A^T = [[1,1,1,0],[0,1,-1,-1]]`` (output transform, additions only),

per output channel ``o``: ``U[o, c] = G2 g[o, c] G2^T`` (``= 4*G g G^T``, integers),
``V[c] = B^T d[c] B``, ``M[o] = sum_c U[o, c] * V[c]`` elementwise (16 products per tile
and channel pair instead of the direct form's 36), and ``Y[o] = A^T M[o] A`` is exactly 4x
the direct 2x2 result, so the arithmetic shift ``Y >> 2`` is the direct accumulator
(the golden model checks the two low bits are zero). Thresholds then apply as usual.

Transform position ``t = 4*i + j`` is entry ``(i, j)`` of the 4x4 transform domain.

Odd output sizes: the tiles cover ``2*ceil(OH/2)`` x ``2*ceil(OW/2)`` outputs; one more
row (column) of zero padding feeds the extra tile half, whose outputs are dropped.

Modular arithmetic: the output transform only adds and subtracts, so it may run modulo
``2**k`` for any ``k`` that holds ``Y`` (4x the direct accumulator): the hardware computes
it in :attr:`WinogradConv.y_dtype` bits and wrap-around of intermediate sums cannot change
the result.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
from qonnx.core.datatype import DataType

from ..errors import FoldingError, ModelError
from .conv import Conv
from .core import register, smallest_dtype
from .dense import _check_fold, accumulator_range, MAX_INPUT_BITS, MultiThreshold

BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.int64)
"""Input transform ``B^T`` (4x4, entries 0/±1)."""

G2 = np.array([[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]], dtype=np.int64)
"""Weight transform ``2*G`` (4x3): ``G2 g G2^T = 4 G g G^T`` is an integer matrix."""

AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.int64)
"""Output transform ``A^T`` (2x4, entries 0/±1)."""

POSITIONS = 16
"""Transform positions per tile (4x4)."""

MAX_U_BITS = 12
"""Widest transformed weight: weights of at most 8 bits (the matrix layers' limit) give
``|U| <= 9 * 128``; the Winograd matrix unit takes up to 16."""

SCALE_SHIFT = 2
"""``Y = 4 * direct``: the exact rescale is an arithmetic shift right by 2."""

INPUT_TRANSFORM = np.kron(BT, BT)
"""``(16, 16)``: ``V.flat[t] = INPUT_TRANSFORM[t] @ d.flat`` (rows t = 4i+j, columns 4r+c)."""

OUTPUT_TRANSFORM = np.kron(AT, AT)
"""``(4, 16)``: ``Y.flat[q] = OUTPUT_TRANSFORM[q] @ M.flat`` (q = 2a+b)."""


def transform_weights(weights: np.ndarray) -> np.ndarray:
    """``(16, OC, IC)`` transformed weights ``U[t] = (G2 g G2^T)[i, j]`` of ``(OC, 3, 3, IC)``
    conv weights (window order of :mod:`bitsmith.generator.ir.conv`), ``t = 4i + j``."""
    g = np.asarray(weights, dtype=np.int64)
    u = np.einsum("ia,jb,oabc->ijoc", G2, G2, g)
    return u.reshape(POSITIONS, g.shape[0], g.shape[3])


def transformed_range(transform: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``transform`` (entries 0/±1), the exact ``(min, max)`` of ``transform @ d``
    over independent ``d`` in ``[lo, hi]``."""
    pos, neg = (transform > 0).sum(axis=1), (transform < 0).sum(axis=1)
    return pos * lo - neg * hi, pos * hi - neg * lo


def winograd_refusal(node: Conv) -> str | None:
    """Why ``node`` cannot run as Winograd F(2x2, 3x3) (one phrase), or None if it can."""
    if node.depthwise:
        return "a depthwise convolution has no channel sum to share"
    if tuple(node.kernel) != (3, 3):
        return f"the kernel must be 3x3, not {node.kernel[0]}x{node.kernel[1]}"
    if tuple(node.stride) != (1, 1):
        return f"the stride must be 1, not {tuple(node.stride)}"
    for what, dt in (("weights", node.weight_dtype), ("inputs", node.in_dtype)):
        if dt.bitwidth() < 2:
            return (f"{what} of 1 bit ({dt.name}) run on XNOR/AND gates, which a transform "
                    f"with products of several bits would not save")
    v_dt = _v_dtype(node.in_dtype)
    if v_dt.bitwidth() > MAX_INPUT_BITS:
        return (f"the transformed inputs B^T d B need {v_dt.name}, wider than the "
                f"{MAX_INPUT_BITS} bits a matrix unit multiplies")
    return None


def _u_dtype(weights: np.ndarray) -> DataType:
    u = transform_weights(weights)
    return smallest_dtype(min(int(u.min()), -1), int(u.max()))


def _v_dtype(in_dtype: DataType) -> DataType:
    lo, hi = transformed_range(INPUT_TRANSFORM, int(in_dtype.min()), int(in_dtype.max()))
    return smallest_dtype(int(lo.min()), int(hi.max()))


@register
@dataclass(frozen=True, eq=False)
class WinogradConv(Conv):
    """A 3x3, stride-1 :class:`Conv` computed by Winograd F(2x2, 3x3) (module docstring):
    same fields, same integers out, a different engine.

    Folding: ``PE | OC`` output channels and ``SIMD | IC`` input channels per word, over
    each of the 16 transform positions of a tile: ``16 * (OC/PE) * (IC/SIMD)`` cycles per
    2x2 output tile, against ``4 * 9 * (OC/PE) * (IC/SIMD)`` for the direct unit at the
    same PE and SIMD.

    Refused (:func:`winograd_refusal`, one line): depthwise, a kernel other than 3x3, a
    stride other than 1, 1-bit weights or inputs (XNOR/AND units), transformed inputs wider
    than 16 bits (inputs of 15 bits or more).
    """

    kind = "winograd_conv"

    @property
    def tiles(self) -> tuple[int, int]:
        """Output tiles ``(TH, TW)``, 2x2 outputs each: ``ceil(OH/2), ceil(OW/2)``."""
        oh, ow = self.out_hw
        return -(-oh // 2), -(-ow // 2)

    @property
    def tile_padding(self) -> tuple[int, int, int, int]:
        """Padding of the 4x4, stride-2 patch walk: the layer's, plus one bottom row (right
        column) when OH (OW) is odd."""
        pt, pl, pb, pr = self.padding
        oh, ow = self.out_hw
        return pt, pl, pb + oh % 2, pr + ow % 2

    def tile_window(self) -> SimpleNamespace:
        """The 4x4, stride-2 patch walk as a window layer (``name``, ``in_shape``,
        ``in_dtype``, ``kernel``, ``stride``, ``padding``): what the sliding-window unit,
        its estimate and its schedule model take."""
        return SimpleNamespace(name=self.name, in_shape=tuple(self.in_shape), in_dtype=self.in_dtype,
                               kernel=(4, 4), stride=(2, 2), padding=self.tile_padding)

    def thresholds_node(self) -> MultiThreshold | None:
        """The layer's thresholds as the stand-alone activation after the output
        transform (``<name>_thr``), or None."""
        if self.thresholds is None:
            return None
        return MultiThreshold(name=f"{self.name}_thr", in_shape=self.out_shape, in_dtype=self.acc_dtype,
                              thresholds=self.thresholds, pe=self.pe)

    def transformed_weights(self) -> np.ndarray:
        """``(16, OC, IC)`` integer ``U = 4 G g G^T`` (:func:`transform_weights`)."""
        return transform_weights(self.weights)

    @property
    def u_dtype(self) -> DataType:
        """Narrowest datatype of the transformed weights (signed: the transform negates)."""
        return _u_dtype(self.weights)

    @property
    def v_dtype(self) -> DataType:
        """Datatype of the transformed inputs ``B^T d B`` (exact range over the inputs)."""
        return _v_dtype(self.in_dtype)

    def v_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """Per transform position, the exact ``(min, max)`` of ``V[t]``."""
        return transformed_range(INPUT_TRANSFORM, int(self.in_dtype.min()), int(self.in_dtype.max()))

    @property
    def m_dtype(self) -> DataType:
        """Accumulator of the elementwise products summed over input channels: the matrix
        unit's rule (:func:`~.dense.accumulator_range`) for the transformed weights over
        inputs of :attr:`v_dtype`."""
        u = self.transformed_weights().reshape(-1, self.in_channels)
        return smallest_dtype(*accumulator_range(u, self.u_dtype, self.v_dtype))

    @property
    def y_dtype(self) -> DataType:
        """Width of the output transform: holds ``4 *`` the direct accumulator range."""
        lo, hi = accumulator_range(self.matrix(), self.weight_dtype, self.in_dtype)
        return smallest_dtype(min(4 * lo, -1), 4 * hi)

    def check(self) -> None:
        super().check()
        reason = winograd_refusal(self)
        if reason is not None:
            raise ModelError(f"layer {self.name!r}: no Winograd F(2x2,3x3): {reason}")
        if self.in_channels % self.simd:
            raise FoldingError(f"layer {self.name!r}: SIMD={self.simd} does not divide "
                               f"in_channels={self.in_channels} (a Winograd layer folds SIMD "
                               f"over input channels)")
        _check_fold(self.name, "PE", self.pe, self.out_channels, "out_channels")

    def cycles_per_tile(self) -> int:
        """Matrix-unit cycles per 2x2 output tile: ``16 * (OC/PE) * (IC/SIMD)``."""
        return POSITIONS * (self.out_channels // self.pe) * (self.in_channels // self.simd)

    def cycles_per_frame(self) -> int:
        """Matrix-unit cycles per frame: tiles times :meth:`cycles_per_tile`."""
        th, tw = self.tiles
        return th * tw * self.cycles_per_tile()

    @classmethod
    def from_conv(cls, node: Conv) -> "WinogradConv":
        """The Winograd layer computing what ``node`` computes (same fields)."""
        return cls(**{f.name: getattr(node, f.name) for f in dataclasses.fields(node)})
