"""Progress of a command on stderr: the one place where the CLI shows steps as they run.

The flows below the CLI take a ``progress(message)`` callable and call it when a step
starts (STYLE.md rule 11: they log, only the CLI talks to the person). The CLI passes a
:class:`Progress`, which shows the steps one of three ways:

* ``rich``, when stderr is a terminal: a live line with a spinner, the step, its elapsed
  time and the command's, and a bar when the command counts items (bench networks,
  sweep points); it disappears when the command ends, leaving the summary;
* ``plain``, when stderr is not a terminal (a log file, CI): one line per step when it
  ends, ``[  12.3 s] emitting Verilog (2.1 s)`` -- time since the command started, then
  the step's own time. A step is written when the next one starts or the command
  succeeds; the step that fails is not, so a bad input still gives the one error line
  of DESIGN.md section 5 and nothing else;
* ``quiet`` (``bitsmith --quiet``): nothing.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, ProgressColumn, SpinnerColumn, TextColumn,
                           TimeElapsedColumn)
from rich.progress import Progress as RichProgress
from rich.text import Text

MODES = ("rich", "plain", "quiet")


def choose_mode(quiet: bool, stream: TextIO | None = None) -> str:
    """``quiet`` if asked, else ``rich`` on a terminal and ``plain`` otherwise."""
    if quiet:
        return "quiet"
    stream = sys.stderr if stream is None else stream
    return "rich" if stream.isatty() else "plain"


class Progress:
    """Shows the steps of one command on ``stream`` (default stderr).

    Call the object with a message to start a step (it ends the previous one);
    :meth:`advance` counts one of ``total`` items; use it as a context manager, which
    ends the display and, on success, writes the last step.

    Parameters
    ----------
    mode : {"rich", "plain", "quiet"}
        See the module docstring; :func:`choose_mode` picks it from ``--quiet`` and stderr.
    total : int or None
        Items the command will :meth:`advance` through (shown as a bar and a count).
    unit : str
        What the items are, for the count (``"networks"``).
    """

    def __init__(self, mode: str, *, total: int | None = None, unit: str = "",
                 stream: TextIO | None = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if total is not None and (not isinstance(total, int) or total < 0):
            raise ValueError(f"total must be a non-negative integer or None, not {total!r}")
        self.mode = mode
        self.total = total
        self.unit = unit
        self.stream = sys.stderr if stream is None else stream
        self.done = 0
        self._start = time.monotonic()
        self._step: tuple[str, float] | None = None
        self._live = None
        self._task = None

    # ------------------------------------------------------------------ use

    def __call__(self, message: str) -> None:
        """Start the step ``message`` (the previous one ends now)."""
        now = time.monotonic()
        self._end_step(now)
        self._step = (message, now)
        if self._live is not None:
            self._live.reset(self._task, description=message, total=self.total,
                             completed=self.done)

    def advance(self, count: int = 1) -> None:
        """One more (or ``count`` more) of the ``total`` items is done."""
        self.done += count
        if self._live is not None:
            self._live.update(self._task, completed=self.done)

    def __enter__(self) -> "Progress":
        if self.mode == "rich":
            self._live = self._rich_display()
            self._live.start()
            self._task = self._live.add_task("starting", total=self.total)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        if exc_type is None:
            self._end_step(time.monotonic())
        self._step = None

    # ------------------------------------------------------------------ output

    def _end_step(self, now: float) -> None:
        if self._step is None or self.mode != "plain":
            return
        message, started = self._step
        count = f" [{self.done}/{self.total} {self.unit}]".rstrip() if self.total else ""
        self.stream.write(f"[{now - self._start:7.1f} s] {message} ({now - started:.1f} s)"
                          f"{count}\n")
        self.stream.flush()

    def _rich_display(self) -> RichProgress:
        columns = [SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()]
        if self.total:
            columns += [BarColumn(bar_width=20), MofNCompleteColumn(), TextColumn(self.unit)]
        columns.append(_TotalElapsed(self._start))
        return RichProgress(*columns, console=Console(file=self.stream), transient=True)


class _TotalElapsed(ProgressColumn):
    """The command's own elapsed time (the task's column restarts with every step)."""

    def __init__(self, start: float):
        super().__init__()
        self.start = start

    def render(self, task) -> Text:
        return Text(f"(total {time.monotonic() - self.start:.0f} s)", style="dim")


def command_progress(args, *, total: int | None = None, unit: str = "") -> Progress:
    """The :class:`Progress` of a command run with ``args`` (``--quiet`` is global)."""
    return Progress(choose_mode(getattr(args, "quiet", False)), total=total, unit=unit)
