"""When the board's tools refuse the folding the estimate chose.

The folding search (:mod:`.search`) picks the fastest folding whose *estimate* fits the
board; the iCE40 cell estimate is a few per cent off nextpnr's count, and whether
nextpnr can legalise a placement near the device's limit is a cliff. So the commands that
build for a board and synthesise (``build --board``, ``bench --board``) go through
:func:`synthesise_to_fit`: on the flow's ``DoesNotFit`` for a folding the board chose,
they build and synthesise the next slower folding the estimate fits, up to
:data:`REFOLD_ATTEMPTS` times, and the fit summary's ``refused`` names each refused
folding and why. A folding the user chose is never changed: its refusal stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import OptionError

#: How many slower foldings are tried after the board's tools refused its choice.
REFOLD_ATTEMPTS = 3


@dataclass
class Fitted:
    """What :func:`synthesise_to_fit` ended with.

    Members
    -------
    graph, fit
        The folding last built and its fit summary (``None``: not the board's choice).
    built
        What ``write`` returned for it.
    synth
        What ``synthesise`` returned, ``None`` when the tools refused it.
    refusal : Exception or None
        The flow's ``DoesNotFit`` for the last folding, when nothing it tried fitted.
    """

    graph: Any
    fit: dict | None
    built: Any
    synth: Any = None
    refusal: Exception | None = None


def synthesise_to_fit(graph, fit: dict | None, *, write: Callable, synthesise: Callable,
                      refold: Callable, progress: Callable[[str], None] | None = None) -> Fitted:
    """Build and synthesise ``graph``; when the board chose its folding (``fit`` is not
    ``None``) and the tools refuse it, take the next slower one.

    Parameters
    ----------
    write : callable
        ``write(graph, fit) -> built``: writes the build (the report carries ``fit``).
    synthesise : callable
        ``synthesise(built) -> figures``; raises the flow's ``DoesNotFit`` when the design
        does not fit the device.
    refold : callable
        ``refold(slower_than) -> (graph, fit)``: the board's next choice, taking more than
        ``slower_than`` cycles per frame (:func:`~bitsmith.generator.build.fit_to_board`);
        raises :class:`OptionError` when there is none.
    """
    from bitsmith.boards.flows.open_fpga import DoesNotFit
    from ..estimate import graph_cycles
    refused: list[dict] = []
    while True:
        built = write(graph, fit)
        try:
            return Fitted(graph, fit, built, synthesise(built))
        except DoesNotFit as exc:
            if fit is None or len(refused) == REFOLD_ATTEMPTS:
                return Fitted(graph, fit, built, refusal=exc)
            cycles = graph_cycles(graph)
            refused.append({"cycles": cycles, "reason": str(exc).splitlines()[0].rstrip(":")})
            if progress is not None:
                progress(f"{cycles} cycles/frame: {refused[-1]['reason']}; trying a slower folding")
            try:
                graph, fit = refold(cycles)
            except OptionError:
                return Fitted(graph, fit, built, refusal=exc)
            fit = {**fit, "refused": list(refused)}
