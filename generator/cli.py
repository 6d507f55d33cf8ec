"""The ``bitsmith`` command line (DESIGN.md §5).

Each sub-command lives in ``generator/commands/<name>.py`` and exposes
``register(subparsers)`` which adds its parser and sets ``func`` (``args -> int``).

Exit codes: 0 success; 1 a verification mismatch or failed check; 2 bad input or usage
(a :class:`~generator.errors.BitsmithError`, or the environment refusing a file: one line
on stderr); 3 an internal error, i.e. a bug (one line; ``--debug`` shows the traceback);
128+N stopped by signal N (130 Ctrl-C, 143 SIGTERM), after removing temporary files.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback

from .errors import BitsmithError
from .interrupt import Interrupted, handle_signals

COMMANDS = ("build", "golden", "sim", "verify", "synth", "bench", "sweep", "boards", "run", "demo",
            "compress")

EXIT_CODES = """exit codes:
  0    success
  1    a verification mismatch or failed check
  2    bad input or usage: one line on stderr naming the file, layer or option
  3    internal error (a bug in bitsmith): one line; rerun with --debug for the traceback
  128+N  stopped by signal N (130 Ctrl-C, 143 SIGTERM); temporary files are removed"""

MAX_MESSAGE = 2000
"""Longest error line printed (characters); longer ones are cut with '...'."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, as for every other bad input
        sys.stderr.write(f"bitsmith: error: {one_line(message)}\n")
        sys.exit(2)


def _version() -> str:
    from bitsmith import __version__
    return __version__


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bitsmith", description="Bit-exact streaming accelerators for quantized "
                     "and binarized neural networks.", epilog=EXIT_CODES,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"bitsmith {_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="show no progress on stderr (results and errors still print)")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of any failure (for bug reports)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.commands.{name}":
                raise
            continue
        module.register(sub)
    for command in sub.choices.values():   # --debug may also follow the command
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show the traceback of any failure (for bug reports)")
    return parser


def one_line(text: str) -> str:
    """``text`` as one printable line: control characters (newlines in a file name, say)
    escaped, at most :data:`MAX_MESSAGE` characters."""
    out = "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in str(text))
    return out if len(out) <= MAX_MESSAGE else out[:MAX_MESSAGE - 3] + "..."


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (``sys.exit(main())``)."""
    try:
        args = make_parser().parse_args(argv)
    except SystemExit as exc:          # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    debug = getattr(args, "debug", False)
    try:
        with handle_signals():
            code = args.func(args)
    except BitsmithError as exc:
        if debug:
            traceback.print_exc()
        if exc.exit_code == 2:
            sys.stderr.write(f"bitsmith: error: {one_line(exc)}\n")
        else:                          # a failed check: its report may span lines
            sys.stderr.write(f"bitsmith: {exc}\n")
        return exc.exit_code
    except Interrupted as exc:
        sys.stderr.write(f"bitsmith: stopped by {exc.signal_name}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("bitsmith: stopped by SIGINT\n")
        return 130
    except OSError as exc:            # the file system refused (permissions, disk full, ...)
        if debug:
            traceback.print_exc()
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"bitsmith: error: {one_line(where + (exc.strerror or str(exc)))}\n")
        return 2
    except Exception as exc:          # anything else is a bug in bitsmith
        if debug:
            traceback.print_exc()
        detail = _first_line(exc)
        sys.stderr.write(f"bitsmith: internal error: {one_line(type(exc).__name__ + (': ' + detail if detail else ''))}"
                         f" (a bug; rerun with --debug for the traceback)\n")
        return 3
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
