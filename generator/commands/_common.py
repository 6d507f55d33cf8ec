"""Options and helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
import math

from ..build import BuildOptions, parse_scale
from ..errors import ModelError, OptionError
from ._progress import command_progress as progress  # noqa: F401  (the commands' progress)


INT_LIMIT = (1 << 31) - 1    # larger counts and sizes are typing errors


def _int_at_least(minimum: int, words: str):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            v = None
        if v is None or not minimum <= v <= INT_LIMIT:
            raise argparse.ArgumentTypeError(f"must be {words}, not {text!r}")
        return v
    return parse


positive_int = _int_at_least(1, "a positive integer")
nonnegative_int = _int_at_least(0, "an integer >= 0")


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text!r}")
    return v


def add_build_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("build options")
    g.add_argument("--fold", default="auto", metavar="auto|FILE.json",
                   help="folding: 'auto' keeps the description's PE/SIMD and chooses the 'auto' ones; "
                        "a JSON file {layer: {pe: P, simd: S}} overrides layers (default: auto)")
    g.add_argument("--target-cycles", type=positive_int, metavar="N",
                   help="refold every layer for at most N cycles per frame")
    g.add_argument("--target-fps", type=positive_float, metavar="F", help="frames per second to reach (with --clock-mhz)")
    g.add_argument("--clock-mhz", type=positive_float, metavar="F", help="clock for --target-fps")
    g.add_argument("--input-dtype", metavar="DT", help="X.npy holds integers of this qonnx datatype (e.g. UINT8)")
    g.add_argument("--input-scale", metavar="S", help="the real input is X*S (e.g. 1/255)")
    g.add_argument("--topk", type=positive_int, metavar="K", help="select the top-K classes in hardware")
    g.add_argument("--board", metavar="NAME", help="board to build for (see `bitsmith boards`)")
    g.add_argument("--sparse", choices=("off", "auto"), default="off",
                   help="'auto' lowers layers with >= 50%% zero weights onto the sparse engine")
    g.add_argument("--shift", choices=("off", "auto"), default="off",
                   help="'auto' lowers dense layers whose weights are powers of two (or sums of two, "
                        "when wider than 4 bits) onto the shift unit: no multipliers")
    g.add_argument("--winograd", choices=("off", "auto"), default="off",
                   help="'auto' runs 3x3 stride-1 convolutions as Winograd F(2x2,3x3) (16 products per "
                        "2x2 outputs instead of 36) where the estimates say it is cheaper")
    g.add_argument("--prune", choices=("off", "constant"), default="off",
                   help="'constant' removes channels whose value never changes (all-zero filters, "
                        "thresholds no accumulator crosses), exactly, and refolds")


def output_path(path: str, what: str, protect=()) -> None:
    """Check, before any work, that ``path`` may receive the command's ``.npy`` output."""
    from ..safeio import check_output_file, is_npy
    check_output_file(path, what, suffix_ok=is_npy, protect=protect)


def build_options(args) -> BuildOptions:
    from ..ir import dtype
    if args.input_dtype is not None:
        try:
            dtype(args.input_dtype)
        except ModelError as exc:
            raise OptionError(f"--input-dtype: {exc}") from None
    scale = parse_scale(args.input_scale) if args.input_scale is not None else None
    if (scale is None) != (args.input_dtype is None) and args.input_scale is not None:
        raise OptionError("--input-scale needs --input-dtype")
    return BuildOptions(fold=args.fold, target_cycles=args.target_cycles, target_fps=args.target_fps,
                        clock_mhz=args.clock_mhz, input_dtype=args.input_dtype, input_scale=scale,
                        topk=args.topk, board=args.board, sparse=args.sparse,
                        shift=args.shift, winograd=getattr(args, "winograd", "off"),
                        prune=getattr(args, "prune", "off"))


def finish(res, as_json: bool, print_summary) -> int:
    """Print ``res`` as one JSON line or with ``print_summary``; exit code 0 if it passed,
    else 1 (the tail of ``verify``, ``sweep`` and ``bench``)."""
    if as_json:
        import json
        print(json.dumps(res.as_json()))
    else:
        print_summary(res)
    return 0 if res.passed else 1


def check_plot_path(text: str | None):
    """``--plot FILE.png`` -> Path (None if not given), checked before any work."""
    from pathlib import Path
    if text is None:
        return None
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise OptionError(f"--plot must name a .png file, not {text!r}")
    if not path.parent.is_dir():
        raise OptionError(f"--plot {text}: folder {str(path.parent)!r} does not exist")
    return path


def estimate_text(estimate: dict) -> str:
    """``"9705 LUT4, 8007 FF, 0 BRAM18, 0 DSP"``: a report's estimate with its units (and
    its SPRAM, when a family estimate has any)."""
    units = estimate["units"]
    keys = ("luts", "ffs", "brams", "dsps") + (("spram",) if estimate.get("spram") else ())
    return ", ".join(f"{estimate[k]:g} {units[k]}" for k in keys)


def board_estimate(report: dict, board: str | None) -> tuple[str, dict]:
    """What a build's summary line quotes: the estimate for the board's device family
    (``family_estimates``: EBR and SPRAM on an iCE40, DP16KD on an ECP5) when it was built
    for a board, else the generic analytical one; and the words naming it."""
    if board:
        from bitsmith.boards.registry import get_board
        from bitsmith.generator.fit.family import family_of
        try:
            family = family_of(get_board(board).family).name
        except ValueError:              # a board without a family estimate
            family = None
        found = (report.get("family_estimates") or {}).get(family)
        if found:
            return f"estimate for {board}", found
    return "estimate", report["estimate"]
