"""``bitsmith compress MODEL --low-rank R|auto -o NEW``: factorise matrix layers."""

from __future__ import annotations

import argparse
import math
import shlex
import sys



def _rank(text: str):
    if text == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer or 'auto', not {text!r}")
    return value


def _energy(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1 (exclusive), not {text!r}")
    return value


def _bits(text: str) -> int:
    if text not in {str(b) for b in range(2, 9)}:
        raise argparse.ArgumentTypeError(f"must be an integer in 2..8, not {text!r}")
    return int(text)


def _layers(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"must be layer names separated by commas, not {text!r}")
    return names


def register(sub) -> None:
    p = sub.add_parser("compress", help="factorise dense and conv layers into two low-rank layers",
                       description="Factorise each dense/conv/conv1d layer of MODEL (a native description) "
                                   "into a rank-R layer (its raw accumulator) and a 1x1 layer (SVD), quantize "
                                   "the factors and write the new description NEW (.yaml) with its arrays "
                                   "(NEW's .npz).")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--low-rank", required=True, type=_rank, metavar="R|auto",
                   help="rank of every factorised layer, or 'auto': per layer the smallest rank keeping "
                        "--energy of the squared singular values (layers where that saves nothing stay)")
    p.add_argument("-o", "--out", required=True, metavar="NEW", help="the new model (replaced only if "
                   "bitsmith compress wrote it)")
    p.add_argument("--energy", type=_energy, default=0.99, metavar="F",
                   help="with --low-rank auto: the share of spectral energy kept (default 0.99)")
    p.add_argument("--bits", type=_bits, metavar="B",
                   help="factor weights INTB (2..8; default: the widest whose intermediate fits 16 bits)")
    p.add_argument("--layers", type=_layers, metavar="A,B,...",
                   help="factorise only these layers (default: every dense/conv layer that may be)")
    p.add_argument("--input-dtype", metavar="DT", help="ONNX models with a float input: the input is integers of "
                   "this datatype (as for build), so the intermediate widths can be proven")
    p.add_argument("--input-scale", metavar="S", help="with --input-dtype: the real input is X*S")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..build import BuildOptions
    from ..errors import ModelError, OptionError
    from ..ir import dtype
    from ..lowrank import compress
    from ._common import parse_scale
    if args.input_scale is not None and args.input_dtype is None:
        raise OptionError("--input-scale needs --input-dtype")
    if args.input_dtype is not None:
        try:
            dtype(args.input_dtype)
        except ModelError as exc:
            raise OptionError(f"--input-dtype: {exc}") from None
    options = BuildOptions(input_dtype=args.input_dtype,
                           input_scale=None if args.input_scale is None else parse_scale(args.input_scale))
    command = "bitsmith compress " + shlex.join(sys.argv[2:] if sys.argv[1:2] == ["compress"] else [args.model])
    results = compress(args.model, args.out, rank=args.low_rank, energy=args.energy, bits=args.bits,
                       layers=args.layers, command=command, options=options)
    for r in results:
        if r.rank is None:
            print(f"{r.name}: {r.op} {r.shape[0]}x{r.shape[1]} {r.note}")
        else:
            print(f"{r.name}: {r.op} {r.shape[0]}x{r.shape[1]} -> rank {r.rank} ({100 * r.energy:.2f} % of the "
                  f"energy), INT{r.bits} factors, intermediate {r.mid_dtype or 'unproven'}, MACs/frame "
                  f"{r.macs_before:,} -> {r.macs_after:,}")
    before = sum(r.macs_before for r in results)
    after = sum(r.macs_after for r in results)
    print(f"wrote {args.out}: factorised layers {before:,} -> {after:,} MACs/frame")
    return 0
