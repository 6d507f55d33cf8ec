"""Exports of the zoo networks (:mod:`.zoo`), cached on disk across runs.

The cache folder is ``$XDG_CACHE_HOME/bitsmith/zoo/<digest>`` (default ``~/.cache``), the
digest a hash of :mod:`.zoo`'s source and the torch, brevitas and onnx versions, so an
edit of a network or a new exporter exports again. The issue-12 acceptance tests
(``tests/generator/test_zoo_acceptance.py``) keep their exports in the same folders.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from pathlib import Path

from . import zoo


def cache_dir() -> Path:
    """The cache folder of the current zoo source and library versions (made if missing)."""
    versions = []
    for module in ("torch", "brevitas", "onnx"):
        try:
            versions.append(__import__(module).__version__)
        except ImportError:
            versions.append("-")
    digest = hashlib.sha256((inspect.getsource(zoo) + "|".join(versions)).encode()).hexdigest()[:16]
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "bitsmith" / "zoo" / digest
    root.mkdir(parents=True, exist_ok=True)
    return root


def export_path(name: str, *, dynamo: bool = False) -> Path:
    """Where the cache keeps network ``name`` (whether or not it is there yet)."""
    return cache_dir() / f"{name}{'_dynamo' if dynamo else ''}.onnx"


def cached_export(name: str, *, dynamo: bool = False) -> Path:
    """The exported network ``name`` (exported now if the cache lacks it; Brevitas networks
    need the ``train`` extra). The export is written aside and moved in, so a concurrent
    reader never sees half a file."""
    path = export_path(name, dynamo=dynamo)
    root = path.parent
    if not path.exists():
        tmp = root / f".{path.name}.{os.getpid()}"
        tmp.mkdir(exist_ok=True)
        out = zoo.export(name, tmp / path.name, dynamo=dynamo)
        for f in tmp.iterdir():
            if f.name.startswith(out.name):          # the model and its .onnx.data
                os.replace(f, root / f.name.replace(out.name, path.name, 1))
        tmp.rmdir()
    return path
