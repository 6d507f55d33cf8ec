"""Reading ``X.npy``, host-pre to hardware integers, and writing ``Y.npy``.

A batch must match the model's declared input frame exactly (``graph.host_pre[0]``, an
:class:`~generator.ir.host.InputFrame`): ``(N, *frame)``, or one ``frame`` without the
batch axis. It is never reshaped to fit: a batch in another layout (NCHW for a native
NHWC model, NHWC for an ONNX NCHW model, flattened frames) is refused with the transpose
or reshape that would fix it. Values that become integers are converted exactly
(:func:`~generator.ir.integers.to_int64`) and checked against the input datatype.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InputDataError
from .ir import Graph
from .ir.host import InputFrame, IntegerInput, Reshape, ToNHWC, Transpose, run_stages
from .ir.integers import check_fits, to_int64
from .limits import MAX_INPUT_ELEMENTS
from .safeio import load_npy as _load_npy
from .safeio import save_npy as _save_npy

LAYOUT_STAGES = (InputFrame, ToNHWC, Reshape, Transpose, IntegerInput)
"""Host stages that move values without changing them: inputs of a graph whose host-pre
has only these are checked as the user gave them (indices in the user's layout)."""


def load_npy(path: str | Path, what: str = "") -> np.ndarray:
    """A batch of numbers (booleans, integers, floats) from ``path``, header checked first."""
    x = _load_npy(path, what, error=InputDataError, max_elements=MAX_INPUT_ELEMENTS)
    label = f"{what} {path}".strip()
    if x.ndim == 0 or x.shape[0] == 0:
        raise InputDataError(f"{label}: needs at least one frame (batch first), got shape {x.shape}")
    return x


def input_frame(graph: Graph) -> InputFrame:
    """The declared input frame of ``graph`` (for designs without one: its NHWC shape)."""
    if graph.host_pre and isinstance(graph.host_pre[0], InputFrame):
        return graph.host_pre[0]
    h, w, c = graph.in_shape
    return InputFrame(shape=(c,) if (h, w) == (1, 1) else (h, w, c), layout="C" if (h, w) == (1, 1) else "NHWC")


def _layout_hint(got: tuple, want: tuple) -> str:
    if len(got) == len(want) == 3:
        if (got[1], got[2], got[0]) == want:
            return "; it looks like channels first (NCHW): x.transpose(0, 2, 3, 1) gives NHWC"
        if (got[2], got[0], got[1]) == want:
            return "; it looks like channels last (NHWC): x.transpose(0, 3, 1, 2) gives NCHW"
    if len(got) != len(want) and int(np.prod(got, dtype=object)) == int(np.prod(want, dtype=object)):
        return f"; x.reshape(-1, {', '.join(map(str, want))}) gives that shape if the values are in that order"
    return ""


def model_frames(graph: Graph, x: np.ndarray, source: str) -> np.ndarray:
    """``x`` as a batch of the model's own frames, ``(N, *frame)``: checked, never reshaped."""
    frame = input_frame(graph)
    want = tuple(int(d) for d in frame.shape)
    x = np.asarray(x)
    if x.shape == want:
        return x[None]
    if x.shape[1:] != want:
        layout = f"{frame.layout}, " if frame.layout else ""
        raise InputDataError(f"{source}: frames of shape {x.shape[1:]}, the model takes {want} "
                             f"({layout}batch first){_layout_hint(x.shape[1:], want)}")
    return x


def hardware_input(graph: Graph, x: np.ndarray, source: str) -> np.ndarray:
    """Model input -> the integer frames ``(N, H, W, C)`` the hardware consumes (host-pre)."""
    x = model_frames(graph, x, source)
    unchanged = all(isinstance(stage, LAYOUT_STAGES) for stage in graph.host_pre)
    if unchanged:      # the values reach the hardware as given: check them where the user sees them
        x = to_int64(x, f"{source}: batch", error=InputDataError)
        check_fits(x, graph.in_dtype, f"{source}: batch", error=InputDataError)
    elif x.dtype.kind == "f" and not np.all(finite := np.isfinite(x)):
        idx = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise InputDataError(f"{source}: batch[{', '.join(map(str, idx))}] is {float(x[idx])!r}, which is not "
                             f"a finite number")
    try:
        xi = run_stages(graph.host_pre, x)
    except (ValueError, TypeError) as exc:
        raise InputDataError(f"{source}: {exc}") from None
    xi = np.asarray(xi)
    if xi.shape[1:] != tuple(graph.in_shape):
        raise InputDataError(f"{source}: host-pre gives frames of shape {xi.shape[1:]}, the hardware "
                             f"takes {tuple(graph.in_shape)}")
    what = f"{source}: batch after host-pre"
    xi = to_int64(xi, what, error=InputDataError)
    check_fits(xi, graph.in_dtype, what, error=InputDataError)
    return xi


def save_npy(path: str | Path, y: np.ndarray, protect=()) -> None:
    """Write ``Y.npy`` safely (see :func:`bitsmith.generator.safeio.output_file`)."""
    _save_npy(path, y, "--output", protect=protect)
