"""Weight sharing by k-means into a fixed-point codebook (Deep Compression, step 2).

The non-zero weights are clustered into ``2**bits - 1`` centroids with scikit-learn's
:class:`~sklearn.cluster.KMeans`, initialised *linearly* over ``[min, max]`` of the
non-zero weights (the initialisation Deep Compression found best, because it keeps the
rare large weights). Index 0 of the codebook is reserved for zero (and the padding
entries of the encoding). The centroids are then quantized to integers: a fixed-point
format with ``frac_bits`` fractional bits, ``code = round(centroid * 2**frac_bits)``.
Integer weights keep ``frac_bits = 0``, so the shared layer stays in the integer domain
of the network. A non-zero weight whose centroid rounds to 0 becomes a zero (index 0).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

MIN_BITS, MAX_BITS = 2, 8


@dataclass(frozen=True, eq=False)
class SharedWeights:
    """A codebook-shared matrix.

    Members
    -------
    codebook : numpy.ndarray
        ``(2**bits,)`` int64 fixed-point values, ``codebook[0] == 0``.
    index : numpy.ndarray
        Codebook index of every weight (same shape as the weights), uint8; 0 where zero.
    frac_bits : int
        The real value of code ``c`` is ``codebook[c] * 2**-frac_bits``.
    """

    codebook: np.ndarray
    index: np.ndarray
    frac_bits: int

    @property
    def bits(self) -> int:
        return int(self.codebook.size).bit_length() - 1

    def values(self) -> np.ndarray:
        """The shared integer matrix ``codebook[index]``."""
        return self.codebook[self.index.astype(np.int64)]


def check_bits(bits) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise TypeError(f"codebook bits must be an integer, not {bits!r}")
    if not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"codebook bits must be {MIN_BITS}..{MAX_BITS}, not {bits!r}")
    return int(bits)


def cluster(values: np.ndarray, clusters: int) -> np.ndarray:
    """1-D k-means centroids of ``values`` with linear initialisation over [min, max]."""
    distinct = np.unique(values)
    if distinct.size <= clusters:
        return distinct.astype(np.float64)     # lossless: one centroid per distinct value
    from sklearn.cluster import KMeans
    init = np.linspace(values.min(), values.max(), clusters).reshape(-1, 1)
    km = KMeans(n_clusters=clusters, init=init, n_init=1, max_iter=300, tol=0.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # duplicate points -> fewer distinct clusters
        km.fit(values.reshape(-1, 1).astype(np.float64))
    return km.cluster_centers_.reshape(-1)


def default_frac_bits(weights: np.ndarray, value_bits: int) -> int:
    """0 for integer weights; else the most fractional bits with max|w| in ``value_bits`` signed."""
    if np.issubdtype(weights.dtype, np.integer):
        return 0
    peak = float(np.max(np.abs(weights))) if weights.size else 0.0
    if peak == 0.0:
        return 0
    limit = (1 << (value_bits - 1)) - 1
    frac = 0
    while round(peak * 2.0 ** (frac + 1)) <= limit and frac < 30:
        frac += 1
    while round(peak * 2.0 ** frac) > limit and frac > -30:
        frac -= 1
    return frac


def share_weights(weights: np.ndarray, bits: int = 4, *, frac_bits: int | None = None,
                  value_bits: int = 8) -> SharedWeights:
    """Cluster the non-zero ``weights`` into a ``2**bits`` codebook of fixed-point integers.

    Parameters
    ----------
    weights : numpy.ndarray
        Pruned weights (zeros stay zero), integer or float.
    bits : int
        Codebook index bits, 2..8 (``2**bits - 1`` non-zero centroids).
    frac_bits : int, optional
        Fractional bits of the codebook values; default 0 for integer weights, else
        the most that keep ``max|w|`` within a signed ``value_bits``-bit integer.
    value_bits : int
        Width used to choose the default ``frac_bits`` of float weights.
    """
    if not isinstance(weights, np.ndarray):
        raise TypeError(f"weights must be a numpy array, not {type(weights).__name__}")
    bits = check_bits(bits)
    if frac_bits is None:
        frac_bits = default_frac_bits(weights, value_bits)
    nonzero = weights[weights != 0].astype(np.float64)
    codebook = np.zeros(1 << bits, dtype=np.int64)
    index = np.zeros(weights.shape, dtype=np.uint8)
    if nonzero.size == 0:
        return SharedWeights(codebook, index, frac_bits)
    centroids = cluster(nonzero, (1 << bits) - 1)
    fixed = np.round(centroids * 2.0 ** frac_bits).astype(np.int64)
    # Merge centroids that quantize to the same value; drop those that quantize to 0.
    levels = np.unique(fixed[fixed != 0])
    codebook[1:1 + levels.size] = levels
    # Each non-zero weight takes its nearest centroid (1-D: split at the midpoints of the
    # sorted centroids), then that centroid's quantized level.
    order = np.argsort(centroids, kind="stable")
    ordered, fixed = centroids[order], fixed[order]
    nearest = np.searchsorted((ordered[1:] + ordered[:-1]) / 2, nonzero, side="left")
    level = fixed[nearest]
    code = np.where(level != 0, np.searchsorted(levels, level) + 1, 0)
    index[weights != 0] = code
    return SharedWeights(codebook, index, frac_bits)
