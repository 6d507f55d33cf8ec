"""Nearest-neighbour upsampling by integer factors (ONNX ``Resize``/``Upsample``, mode nearest).

``out[y, x, c] = in[y // FH, x // FW, c]``. For integer factors every ONNX coordinate
transformation and nearest mode in common use (``asymmetric`` + ``floor``, and the
default ``half_pixel`` + ``round_prefer_floor``) gives exactly this: with
``x = F*i + r``, ``0 <= r < F``, the source coordinate ``(x + 0.5)/F - 0.5`` lies strictly
within half a pixel of ``i``. Fractional or downscaling factors are not this node.
"""

from __future__ import annotations

from dataclasses import dataclass

from .conv import _pair
from .core import Node, Shape3, register
from .dense import _check_fold


@register
@dataclass(frozen=True, eq=False)
class Upsample(Node):
    """Repeat every pixel ``scale[1]`` times along a row and every row ``scale[0]`` times.

    ``scale`` is ``(FH, FW)``, integers >= 1; ``pe`` channels per stream word. The
    output datatype is the input's.
    """

    scale: tuple[int, int] = (2, 2)
    pe: int = 1

    kind = "upsample"

    @property
    def out_shape(self) -> Shape3:
        h, w, c = self.in_shape
        fh, fw = self.scale
        return (h * int(fh), w * int(fw), c)

    @property
    def is_identity(self) -> bool:
        return tuple(self.scale) == (1, 1)

    def check(self) -> None:
        super().check()
        _pair(self.name, "scale", self.scale, 1)
        _check_fold(self.name, "PE", self.pe, self.in_shape[2], "channels")
