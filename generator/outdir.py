"""Output folders: bitsmith replaces only what it wrote itself (DESIGN.md §5).

Every build folder carries a marker, ``OUT/.bitsmith-build.json``::

    {"format": "bitsmith-build/1", "bitsmith": "0.1.0",
     "files": {"design.json": {"bytes": 5120, "sha256": "9f2c..."},
               "rtl/digits_bnn.v": {...}, "sim/harness.cpp": {...}, ...}}

listing every file bitsmith wrote there, with its size and SHA-256 (``synth`` adds its
``board/NAME/`` files). An existing ``OUT`` is replaced only when it is an empty folder,
or when it holds exactly the files its marker lists, unchanged, and nothing else (no other
file, folder or link). It is never replaced when it is, or contains, the model's folder,
another input of the command or the current folder, whatever it holds. Otherwise the
command stops before any work with one line saying why (exit 2).

The new build is written next to ``OUT`` in a temporary folder and moved into place at the
end; signals are held back during the two renames, so ``OUT`` is always either the old
build or the new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import OptionError
from .interrupt import deferred
from .safeio import umask

MARKER = ".bitsmith-build.json"
FORMAT = "bitsmith-build/1"
MAX_MARKER_BYTES = 4 << 20


def _version() -> str:
    from bitsmith import __version__
    return __version__


def _digest(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _entry(path: Path) -> dict:
    return {"bytes": path.stat().st_size, "sha256": _digest(path)}


def _walk(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every entry below ``root`` (not following links): ``(relative posix path, lstat)``."""
    stack = [root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            st = e.stat(follow_symlinks=False)
            rel = Path(e.path).relative_to(root).as_posix()
            yield rel, st
            if stat.S_ISDIR(st.st_mode):
                stack.append(Path(e.path))


def write_marker(folder: Path, files: Iterable[str] | None = None) -> None:
    """Write the marker of ``folder`` listing ``files`` (default: every file in it)."""
    folder = Path(folder)
    if files is None:
        files = [rel for rel, st in _walk(folder) if stat.S_ISREG(st.st_mode) and rel != MARKER]
    _write_marker(folder, {rel: _entry(folder / rel) for rel in files})


def _write_marker(folder: Path, entries: dict[str, dict]) -> None:
    text = json.dumps({"format": FORMAT, "bitsmith": _version(), "files": dict(sorted(entries.items()))},
                      indent=1)
    tmp = folder / f"{MARKER}.tmp"
    tmp.write_text(text + "\n")
    tmp.replace(folder / MARKER)


def read_marker(folder: Path) -> dict[str, dict] | None:
    """The files the marker of ``folder`` lists, or None when there is no valid marker."""
    path = Path(folder) / MARKER
    try:
        st = path.lstat()
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_MARKER_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("files"), dict):
        return None
    files = {}
    for rel, entry in data["files"].items():
        parts = rel.split("/")
        if (not isinstance(entry, dict) or not isinstance(entry.get("bytes"), int)
                or not isinstance(entry.get("sha256"), str) or rel.startswith("/")
                or any(p in ("", ".", "..") for p in parts) or rel == MARKER):
            return None
        files[rel] = entry
    return files


def foreign_entry(folder: Path, under: str | None = None) -> str | None:
    """Why ``folder`` (or its part ``under``) is not purely bitsmith's, or None if it is.

    Every file must be listed in the marker with the same size and hash; every folder must
    lead to a listed file (or be empty below ``under``'s own files); links and special
    files are foreign.
    """
    folder = Path(folder)
    files = read_marker(folder)
    if files is None:
        names = sorted(p.name for p in folder.iterdir())
        if "design.json" in names:
            return (f"it has no {MARKER} marker, so it is not known to hold only bitsmith's files "
                    f"(a build by an older bitsmith? remove it yourself)")
        return f"it holds {names[0]!r}, which bitsmith did not write"
    root = folder if under is None else folder / under
    if not root.exists() and not root.is_symlink():
        return None
    prefix = "" if under is None else under.rstrip("/") + "/"
    if under is not None and not stat.S_ISDIR(root.lstat().st_mode):
        return f"{under} is not a folder bitsmith made"
    dirs = {"/".join(rel.split("/")[:i]) for rel in files for i in range(1, rel.count("/") + 1)}
    for rel, st in _walk(root):
        rel = prefix + rel
        if rel == MARKER:
            continue
        if stat.S_ISDIR(st.st_mode):
            if rel not in dirs:
                return f"it holds the folder {rel!r}, which bitsmith did not make"
        elif not stat.S_ISREG(st.st_mode):
            return f"it holds {rel!r}, a link or special file bitsmith did not make"
        elif rel not in files:
            return f"it holds {rel!r}, which bitsmith did not write"
        elif files[rel]["bytes"] != st.st_size or files[rel]["sha256"] != _digest(folder / rel):
            return f"{rel!r} was changed after bitsmith wrote it"
    return None


def _inside(path: Path, folder: Path) -> bool:
    """``path`` is ``folder`` or lies below it (links resolved)."""
    return Path(os.path.realpath(path)).is_relative_to(Path(os.path.realpath(folder)))


def check_out_dir(out_dir: Path, protect: Iterable[Path | str | None] = (), *, what: str = "OUT") -> None:
    """Raise :class:`OptionError` unless ``out_dir`` may be (re)placed by a new build.

    ``protect`` lists the command's input files (the model, its arrays, --fold, --input):
    an ``out_dir`` that is or contains one of them, or their folders, is refused.
    """
    out_dir = Path(out_dir)
    label = f"{what} {out_dir}"
    refuse = f"refusing to overwrite {label}"
    for p in protect:
        if p is None:
            continue
        p = Path(p)
        for guarded, role in ((p, "the input"), (p.parent, "the folder of the input")):
            if _inside(guarded, out_dir):
                raise OptionError(f"{refuse}: it is or contains {role} {p} (choose a new folder)")
    if _inside(Path.cwd(), out_dir):
        raise OptionError(f"{refuse}: it is or contains the current folder")
    if out_dir.is_symlink():
        raise OptionError(f"{refuse}: it is a symbolic link (give the folder itself)")
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise OptionError(f"{refuse}: it is not a folder")
    try:
        empty = next(out_dir.iterdir(), None) is None
    except OSError as exc:
        raise OptionError(f"{label}: cannot read it ({exc.strerror})") from None
    if empty:
        return
    reason = foreign_entry(out_dir)
    if reason is not None:
        raise OptionError(f"{refuse}: {reason}")


@contextlib.contextmanager
def staging(out_dir: Path, protect: Iterable[Path | str | None] = (), *, what: str = "OUT"):
    """Yield an empty temporary folder next to ``out_dir``; on success it becomes ``out_dir``
    (with a marker listing everything in it), on any failure or signal it is removed, with
    any parent folders made for it."""
    out_dir = Path(out_dir)
    protect = tuple(protect)
    check_out_dir(out_dir, protect, what=what)
    made = _make_parents(out_dir.parent, what, out_dir)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
        tmp.chmod(0o777 & ~umask())       # mkdtemp makes it private; a build folder is not
    except OSError as exc:
        _remove_parents(made)
        raise OptionError(f"{what} {out_dir}: cannot write there ({exc.strerror})") from None
    try:
        yield tmp
        write_marker(tmp)
        with deferred():
            check_out_dir(out_dir, protect, what=what)     # it may have changed meanwhile
            _swap(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_parents(made)
        raise


def _make_parents(parent: Path, what: str, out_dir: Path) -> list[Path]:
    made = []
    for p in reversed([parent, *parent.parents]):
        if not p.exists():
            try:
                p.mkdir()
            except OSError as exc:
                _remove_parents(made)
                raise OptionError(f"{what} {out_dir}: cannot make the folder {p} ({exc.strerror})") from None
            made.append(p)
    return made


def _remove_parents(made: list[Path]) -> None:
    for p in reversed(made):
        with contextlib.suppress(OSError):
            p.rmdir()


def _swap(tmp: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        tmp.rename(out_dir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
    out_dir.rename(old)          # onto the empty folder just made
    try:
        tmp.rename(out_dir)
    except BaseException:
        old.rename(out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def record_in_marker(folder: Path, parts: Iterable[str]) -> None:
    """Record ``parts`` (files or folders, relative to ``folder``) as they are now in
    ``folder``'s marker, replacing what it listed for them: a folder's files are all its
    files now, a part that is gone is dropped. Nothing happens in a folder without a
    marker. For what is written into a build after the build (synthesis, the report
    written again)."""
    folder = Path(folder)
    listed = read_marker(folder)
    if listed is None:
        return
    for part in parts:
        prefix = part.rstrip("/") + "/"
        listed = {rel: e for rel, e in listed.items() if rel != part and not rel.startswith(prefix)}
        path = folder / part
        if path.is_dir() and not path.is_symlink():
            listed.update({prefix + rel: _entry(path / rel) for rel, st in _walk(path)
                           if stat.S_ISREG(st.st_mode)})
        elif path.is_file() and not path.is_symlink():
            listed[part] = _entry(path)
    _write_marker(folder, listed)


def check_owned(folder: Path, under: str, what: str) -> None:
    """Refuse unless ``folder/under`` is absent or holds only files bitsmith wrote there (by
    ``folder``'s marker; in a folder without a marker only an empty ``under`` passes)."""
    path = Path(folder) / under
    if not path.exists() and not path.is_symlink():
        return
    if read_marker(folder) is None:
        reason = None if path.is_dir() and not path.is_symlink() and not any(path.iterdir()) \
            else f"{folder} has no {MARKER} marker saying bitsmith wrote it"
    else:
        reason = foreign_entry(folder, under)
    if reason is not None:
        raise OptionError(f"{what} {path}: refusing to replace it ({reason})")


@contextlib.contextmanager
def board_folder(out_dir: Path, board: str):
    """Around ``bitsmith.boards.synth(out_dir, board)``: refuse first when ``board/NAME``
    (or its ``.partial``/``.failed`` siblings) holds anything bitsmith did not write there;
    afterwards, success or not, record the files synth left in the build's marker."""
    parts = [f"board/{board}{suffix}" for suffix in ("", ".partial", ".failed")]
    for part in parts:
        check_owned(out_dir, part, "synth:")
    try:
        yield
    finally:
        record_in_marker(out_dir, parts)
