"""Reading ``X.npy``, host-pre to hardware integers, and writing ``Y.npy``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InputDataError, OptionError
from .ir import Graph
from .ir.core import values_fit
from .ir.host import run_stages


def load_npy(path: str | Path) -> np.ndarray:
    path = Path(path)
    try:
        x = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputDataError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise InputDataError(f"{path}: not a numpy .npy array ({exc})") from None
    if x.ndim == 0 or x.shape[0] == 0:
        raise InputDataError(f"{path}: needs at least one frame (batch first), got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)
            or x.dtype == np.bool_):
        raise InputDataError(f"{path}: must hold numbers, not {x.dtype}")
    return x


def hardware_input(graph: Graph, x: np.ndarray, source: str) -> np.ndarray:
    """Model input -> the integer frames ``(N, H, W, C)`` the hardware consumes (host-pre)."""
    expected = int(np.prod(graph.in_shape))
    try:
        if x.ndim == 1 and graph.host_pre and type(graph.host_pre[0]).__name__ == "ToNHWC" \
                and x.size == expected:
            x = x.reshape(1, -1)   # a single frame without the batch axis
        per_frame = int(np.prod(x.shape[1:]))
        if per_frame != expected and graph.host_pre and type(graph.host_pre[0]).__name__ == "ToNHWC":
            raise ValueError(f"frames of {per_frame} values, the model takes {expected} "
                             f"(shape {tuple(graph.in_shape)} HWC)")
        xi = run_stages(graph.host_pre, x)
    except (ValueError, TypeError) as exc:
        raise InputDataError(f"{source}: {exc}") from None
    xi = np.asarray(xi)
    if xi.shape[1:] != tuple(graph.in_shape):
        raise InputDataError(f"{source}: host-pre gives frames of shape {xi.shape[1:]}, the hardware "
                             f"takes {tuple(graph.in_shape)}")
    if not np.all(np.isfinite(xi)) or not np.all(xi == np.round(xi)):
        raise InputDataError(f"{source}: inputs must be integers of {graph.in_dtype.name} "
                             f"(use --input-dtype/--input-scale for scaled integer inputs)")
    xi = xi.astype(np.int64)
    if not values_fit(xi, graph.in_dtype):
        bad = np.argwhere(~_fits_mask(xi, graph.in_dtype))[0]
        raise InputDataError(f"{source}: frame {bad[0]} holds {int(xi[tuple(bad)])}, outside "
                             f"{graph.in_dtype.name}")
    return xi


def _fits_mask(x, dt):
    if dt.name == "BIPOLAR":
        return np.abs(x) == 1
    return (x >= dt.min()) & (x <= dt.max())


def save_npy(path: str | Path, y: np.ndarray) -> None:
    path = Path(path)
    if not path.parent.exists():
        raise OptionError(f"--output {path}: folder {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.tmp.npy")
    np.save(tmp, y)
    tmp.replace(path)
