"""Board definitions, the UART shell and the synthesis flows (DESIGN.md §5, issue 6).

* :data:`BOARDS` / :func:`get_board`: iCEBreaker, ULX3S 85F, Arty A7-35T, PYNQ-Z2, asic.
* :func:`synth`: ``OUT/board/<NAME>/`` with bitstream or project and ``synth.json``.
* :mod:`bitsmith.boards.shell`: the UART bridge around a core; :mod:`bitsmith.boards.protocol` its framing;
  :mod:`bitsmith.boards.host` the host driver behind ``bitsmith run``.
"""

from .registry import BOARDS, Board, Resources, get_board
from .synth import synth

__all__ = ["BOARDS", "Board", "Resources", "get_board", "synth"]
