"""The ``bitsmith`` command line (DESIGN.md §5).

Each sub-command lives in ``generator/commands/<name>.py`` and exposes
``register(subparsers)`` which adds its parser and sets ``func`` (``args -> int``).
User errors (:class:`~generator.errors.BitsmithError`) become one line on stderr and
the error's exit code (2 for bad input, 1 for failed checks); anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .errors import BitsmithError

COMMANDS = ("build", "golden", "sim", "verify", "synth", "bench", "sweep", "boards", "run", "demo")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, as for every other bad input
        sys.stderr.write(f"bitsmith: error: {message}\n")
        sys.exit(2)


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bitsmith", description="Bit-exact streaming accelerators for quantized "
                     "and binarized neural networks.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="show no progress on stderr (results and errors still print)")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        code = args.func(args)
    except BitsmithError as exc:
        sys.stderr.write(f"bitsmith: error: {exc}\n" if exc.exit_code == 2 else f"bitsmith: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("bitsmith: interrupted\n")
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
