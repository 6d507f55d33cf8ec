"""Signals: SIGTERM and SIGHUP unwind like Ctrl-C, so every temporary folder is removed.

Python turns SIGINT into :class:`KeyboardInterrupt`; a SIGTERM (what ``kill``, systemd,
CI runners and ``timeout`` send) or SIGHUP (the terminal closed) would otherwise end the
process at once and leave its temporary folders behind. :func:`handle_signals` makes all
three raise :class:`Interrupted` (a ``KeyboardInterrupt``), so ``finally`` blocks and
``TemporaryDirectory`` contexts run, and ``subprocess.run`` kills the tool it waits for.
Once the first signal arrived, further ones are ignored: the cleanup is not cut short.
The command line exits with ``128 + signal number`` (130 for Ctrl-C, 143 for SIGTERM),
as shells do.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A signal asked bitsmith to stop; ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name


def _raise(signum, frame):
    for s in SIGNALS:                  # the cleanup that follows must not be interrupted
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signum)


@contextlib.contextmanager
def handle_signals():
    """Within the block, SIGINT/SIGTERM/SIGHUP raise :class:`Interrupted` (main thread only;
    elsewhere the block runs unchanged). The previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def install_in_worker() -> None:
    """``initializer`` of worker processes: a SIGTERM from the parent (see
    :func:`stop_workers`) unwinds the worker's task, removing its temporary folders."""
    signal.signal(signal.SIGTERM, _raise)
    signal.signal(signal.SIGINT, _raise)


def stop_workers() -> None:
    """Send SIGTERM to every worker process this process started (and still runs)."""
    for child in multiprocessing.active_children():
        with contextlib.suppress(OSError):
            child.terminate()


@contextlib.contextmanager
def deferred():
    """Within the block, SIGINT/SIGTERM/SIGHUP wait until it ends (for a few renames that
    must happen together: the old build out of the way, the new one in)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
