"""Reading the user's files and writing the command's own, safely.

Reading: every file argument must be a regular file (a named pipe would block forever, a
device never end) within its size budget (:mod:`bitsmith.generator.limits`); text must be
UTF-8; ``.npy`` and ``.npz`` headers are read and checked (numeric dtype, shape within
budget, data as long as the header promises) before a byte of data is allocated, and
pickled objects are never loaded.

Writing: :func:`output_file` replaces an existing file only when it is a regular file of
the kind being written (an earlier result) and not one of the command's inputs; the new
content goes to a temporary file in the same folder that is renamed into place at the end
and removed on any failure or signal.
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from .errors import BitsmithError, InputDataError, ModelError, OptionError
from .limits import MAX_ARRAY_ELEMENTS, MAX_NPZ_ARRAYS, MAX_NPZ_BYTES, TooLarge

NUMERIC_KINDS = "biuf"   # bool, signed, unsigned, float


def regular_file(path: str | Path, what: str = "", *, error: type[BitsmithError] = ModelError,
                 max_bytes: int | None = None) -> os.stat_result:
    """Check that ``path`` names a regular file (links followed) of at most ``max_bytes``."""
    label = f"{what} {path}".strip()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{label}: no such file") from None
    except NotADirectoryError:
        raise error(f"{label}: no such file (a part of the path is not a folder)") from None
    except OSError as exc:
        raise error(f"{label}: cannot read it ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{label}: is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{label}: is not a regular file (a pipe, device or socket); give a file")
    if max_bytes is not None and st.st_size > max_bytes:
        raise TooLarge(f"{label}: {st.st_size:,} bytes; bitsmith reads at most {max_bytes:,} bytes here")
    return st


def read_bytes(path: str | Path, what: str = "", *, error: type[BitsmithError] = ModelError,
               max_bytes: int | None = None) -> bytes:
    regular_file(path, what, error=error, max_bytes=max_bytes)
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise error(f"{what} {path}: cannot read it ({exc.strerror})".strip()) from None


def read_text(path: str | Path, what: str = "", *, error: type[BitsmithError] = ModelError,
              max_bytes: int | None = None) -> str:
    """The file as text; it must be UTF-8 (a byte-order mark is allowed)."""
    data = read_bytes(path, what, error=error, max_bytes=max_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{what} {path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                    f"{exc.start})".strip()) from None


# --------------------------------------------------------------------------- .npy / .npz

def _header(fp, label: str, error) -> tuple[tuple, bool, np.dtype]:
    """Read an .npy header from ``fp``: ``(shape, fortran_order, dtype)``, all checked."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dt = fmt.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dt = fmt.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    except (ValueError, EOFError, SyntaxError, TypeError, struct.error) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise error(f"{label}: not a numpy .npy array ({reason})") from None
    if any(d < 0 for d in shape):
        raise error(f"{label}: not a numpy .npy array (negative dimension in shape {tuple(shape)})")
    if dt.kind not in NUMERIC_KINDS or dt.fields is not None or dt.subdtype is not None:
        raise error(f"{label}: holds {dt.str!r} values; bitsmith reads numbers only "
                    f"(booleans, integers, floats)")
    return tuple(int(d) for d in shape), bool(fortran), dt


def _count(shape, label: str, limit: int) -> int:
    n = 1
    for d in shape:
        n *= d
    if n > limit:
        raise TooLarge(f"{label}: shape {shape} is {n:,} elements; bitsmith's budget is {limit:,}")
    return n


def _array(data: bytes, shape: tuple, fortran: bool, dt: np.dtype) -> np.ndarray:
    arr = np.frombuffer(bytearray(data), dtype=dt)
    return arr.reshape(shape, order="F" if fortran else "C")


def load_npy(path: str | Path, what: str = "", *, error: type[BitsmithError] = InputDataError,
             max_elements: int = MAX_ARRAY_ELEMENTS) -> np.ndarray:
    """A numeric ``.npy`` array, its header checked before the data is read."""
    label = f"{what} {path}".strip()
    st = regular_file(path, what, error=error)
    if st.st_size == 0:
        raise error(f"{label}: empty file, not a numpy .npy array")
    try:
        with open(path, "rb") as f:
            shape, fortran, dt = _header(f, label, error)
            n = _count(shape, label, max_elements)
            have = st.st_size - f.tell()
            if have != n * dt.itemsize:
                raise error(f"{label}: corrupt .npy (the header promises {n * dt.itemsize:,} bytes of "
                            f"data, the file has {have:,})")
            return _array(f.read(n * dt.itemsize), shape, fortran, dt)
    except OSError as exc:
        raise error(f"{label}: cannot read it ({exc.strerror})") from None


def _zip_entries(path: Path, label: str, error) -> None:
    """Refuse archives listing more than :data:`MAX_NPZ_ARRAYS` members, from the end record
    alone (before ``zipfile`` reads the central directory)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - (1 << 16) - 22))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        raise error(f"{label}: not an .npz archive (numpy.savez writes one)")
    total = struct.unpack("<H", tail[at + 10:at + 12])[0]
    if total > MAX_NPZ_ARRAYS:
        raise TooLarge(f"{label}: {total:,} members; bitsmith's budget is {MAX_NPZ_ARRAYS:,} arrays")


def load_npz(path: str | Path, what: str = "", *, error: type[BitsmithError] = ModelError) -> dict[str, np.ndarray]:
    """The numeric arrays of an ``.npz`` archive, each header checked before its data is read."""
    path = Path(path)
    label = f"{what} {path}".strip()
    regular_file(path, what, error=error, max_bytes=MAX_NPZ_BYTES)
    _zip_entries(path, label, error)
    arrays: dict[str, np.ndarray] = {}
    total = 0
    member = None
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                member = info.filename
                if not member.endswith(".npy") or info.is_dir():
                    raise error(f"{label}: member {member!r} is not a .npy array")
                key = member[:-4]
                if key in arrays:
                    raise error(f"{label}: array {key!r} is stored twice")
                with zf.open(info) as f:
                    shape, fortran, dt = _header(f, f"{label}: array {key!r}", error)
                    n = _count(shape, f"{label}: array {key!r}", MAX_ARRAY_ELEMENTS)
                    nbytes = n * dt.itemsize
                    total += nbytes
                    if total > MAX_NPZ_BYTES:
                        raise TooLarge(f"{label}: the arrays hold more than {MAX_NPZ_BYTES:,} bytes "
                                       f"(bitsmith's budget)")
                    if info.file_size != f.tell() + nbytes:
                        raise error(f"{label}: array {key!r} is corrupt (the header promises "
                                    f"{nbytes:,} bytes of data, the archive {info.file_size - f.tell():,})")
                    arrays[key] = _array(f.read(nbytes), shape, fortran, dt)
    except BitsmithError:
        raise
    except Exception as exc:   # zipfile/zlib raise many kinds for a damaged archive: all mean corrupt
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = f" (array {member.removesuffix('.npy')!r})" if member else ""
        raise error(f"{label}: corrupt .npz archive{where}: {reason}") from None
    return arrays


# --------------------------------------------------------------------------- writing

def umask() -> int:
    """The process's file-creation mask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output_file(path: str | Path, what: str, *, suffix_ok: Callable[[Path], bool],
                      protect: Iterable[str | Path | None] = ()) -> Path:
    """Check that ``path`` may be written: its folder exists; it is not one of the inputs in
    ``protect``; if it exists it is a regular file for which ``suffix_ok`` says it is of the
    kind written (an earlier result)."""
    path = Path(path)
    label = f"{what} {path}"
    for p in protect:
        if p is not None and (_same_file(path, Path(p)) or os.path.realpath(path) == os.path.realpath(p)):
            raise OptionError(f"{label} is also an input of this command; refusing to overwrite it")
    parent = path.parent
    if not parent.is_dir():
        raise OptionError(f"{label}: folder {parent} does not exist")
    if path.is_symlink() or path.exists():
        try:
            st = os.stat(path)
        except OSError:
            raise OptionError(f"{label} is a broken link; refusing to replace it") from None
        if stat.S_ISDIR(st.st_mode):
            raise OptionError(f"{label} is a folder; give a file name")
        if not stat.S_ISREG(st.st_mode):
            raise OptionError(f"{label} is not a regular file (a pipe, device or socket); give a file name")
        if path.is_symlink():
            raise OptionError(f"{label} is a symbolic link; refusing to replace it")
        if not suffix_ok(path):
            raise OptionError(f"{label} exists and does not hold an earlier result of this kind; "
                              f"refusing to overwrite it")
    return path


def is_npy(path: Path) -> bool:
    """An existing file bitsmith may overwrite with an array: itself an ``.npy`` array."""
    try:
        with open(path, "rb") as f:
            np.lib.format.read_magic(f)
        return True
    except (OSError, ValueError, EOFError):
        return False


def is_vcd(path: Path) -> bool:
    """An existing file bitsmith may overwrite with a waveform: itself a VCD file."""
    try:
        with open(path, "rb") as f:
            return f.read(64).lstrip().startswith(b"$")
    except OSError:
        return False


@contextlib.contextmanager
def output_file(path: str | Path, what: str, *, suffix_ok: Callable[[Path], bool],
                protect: Iterable[str | Path | None] = ()):
    """Yield a temporary path next to ``path``; on success it replaces ``path``, on any
    failure or signal it is removed. ``path`` is checked first (:func:`check_output_file`)."""
    path = check_output_file(path, what, suffix_ok=suffix_ok, protect=protect)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial" + path.suffix, dir=path.parent)
    except OSError as exc:
        raise OptionError(f"{what} {path}: cannot write there ({exc.strerror})") from None
    os.close(fd)
    tmp = Path(tmp)
    tmp.chmod(0o666 & ~umask())          # mkstemp makes it private; the result is not
    try:
        yield tmp
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def save_npy(path: str | Path, array: np.ndarray, what: str = "--output",
             protect: Iterable[str | Path | None] = ()) -> None:
    """Write ``array`` to ``path`` as ``.npy`` (see :func:`output_file`)."""
    with output_file(path, what, suffix_ok=is_npy, protect=protect) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)
