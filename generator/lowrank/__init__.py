"""Low-rank factorisation of matrix layers: ``bitsmith compress --low-rank R|auto``.

:mod:`.factor` factors one integer matrix layer into two; :mod:`.native` rewrites a
native description; :func:`compress` checks the output path and writes the new model.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from ..errors import OptionError
from ..frontend.description import read_description
from ..safeio import check_output_file, output_file
from .factor import DEFAULT_ENERGY, Factors, energy_rank, factorise, pays
from .native import (MARKER_ARRAY, LayerResult, compress_native, description_text, is_compress_arrays,
                     is_compress_description, marker_array)

__all__ = ["DEFAULT_ENERGY", "Factors", "LayerResult", "compress", "energy_rank", "factorise", "pays"]

NATIVE_SUFFIXES = (".yaml", ".yml", ".json")
NATIVE_OUT = (".yaml", ".yml")


def _native_outputs(model: Path, out: Path) -> tuple[Path, Path]:
    if out.suffix not in NATIVE_OUT:
        raise OptionError(f"-o {out}: a native model compresses to a native description: give a "
                          f"name ending in .yaml or .yml (its arrays go to the .npz of the same name)")
    return out, out.with_suffix(".npz")


def _compress_onnx(model: Path, out: Path, **kw) -> list[LayerResult]:
    from .onnx import compress_onnx, is_compress_onnx
    if out.suffix != ".onnx":
        raise OptionError(f"-o {out}: an ONNX model compresses to a QONNX model: give a name ending in .onnx")
    protect = (model, model.with_name(model.name + ".data"))
    check_output_file(out, "-o", suffix_ok=is_compress_onnx, protect=protect)
    new, results = compress_onnx(model, out, **kw)
    _check_factorised(model, results, kw["energy"])
    with output_file(out, "-o", suffix_ok=is_compress_onnx, protect=protect) as tmp:
        new.save(str(tmp))
    return results


def _check_factorised(model: Path, results: list[LayerResult], energy: float) -> None:
    if not any(r.rank for r in results):
        raise OptionError(f"{model}: no layer was factorised (every rank kept {energy:.4g} of the energy "
                          f"only without saving weights); give a rank, or a lower --energy")


def _arrays_file(model: Path) -> Path | None:
    """The ``.npz`` a native description names (None without one)."""
    ref = read_description(model).get("arrays") if model.is_file() else None
    if not isinstance(ref, str):
        return None
    return Path(ref) if Path(ref).is_absolute() else model.parent / ref


def compress(model: str | Path, out: str | Path, *, rank: int | str, energy: float = DEFAULT_ENERGY,
             bits: int | None = None, layers: tuple[str, ...] | None = None,
             command: str = "bitsmith compress", options=None) -> list[LayerResult]:
    """Factorise ``model``'s matrix layers and write the new model to ``out``.

    A native description (``.yaml``/``.yml``/``.json``) gives a YAML description ``out``
    plus its arrays in ``out`` with the suffix ``.npz``. Existing files are replaced only
    when compress wrote them (its header line, its marker array) and never when they are
    the model's own files. An ONNX model gives a QONNX model ``out`` (``.onnx``); ``options``
    (a :class:`~bitsmith.generator.build.BuildOptions`, for ``input_dtype``/``input_scale``)
    is how its front end reads it to prove the intermediate widths. Returns one
    :class:`LayerResult` per matrix layer considered.
    """
    model, out = Path(model), Path(out)
    if model.suffix == ".onnx":
        return _compress_onnx(model, out, rank=rank, energy=energy, bits=bits, layers=layers, command=command,
                              options=options)
    if model.suffix not in NATIVE_SUFFIXES:
        raise OptionError(f"{model}: compress reads ONNX models (.onnx) and native descriptions (.yaml, .yml, "
                          f".json), not {model.suffix or 'a file without a suffix'}")
    desc, npz = _native_outputs(model, out)
    protect = (model, _arrays_file(model))
    check_output_file(desc, "-o", suffix_ok=is_compress_description, protect=protect)
    check_output_file(npz, "-o (arrays)", suffix_ok=is_compress_arrays, protect=protect)
    data, arrays, results = compress_native(model, rank=rank, energy=energy, bits=bits, layers=layers)
    _check_factorised(model, results, energy)
    data["arrays"] = npz.name
    arrays[MARKER_ARRAY] = marker_array()
    with contextlib.ExitStack() as stack:
        tmp_npz = stack.enter_context(output_file(npz, "-o (arrays)", suffix_ok=is_compress_arrays,
                                                  protect=protect))
        tmp_desc = stack.enter_context(output_file(desc, "-o", suffix_ok=is_compress_description,
                                                   protect=protect))
        with open(tmp_npz, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        tmp_desc.write_text(description_text(data, model, command), encoding="utf-8")
    return results
