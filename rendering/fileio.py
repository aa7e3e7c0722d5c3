"""Generic file IO, one home for every package: output-folder checks, atomic writes, PNG bytes, JSON values.

Every file the toolkit writes is made in memory first, then written to a temporary file and renamed into
place, so a failure never leaves a half-written file; a file that already holds the same bytes is left
alone. Output folders are checked before the work starts (:func:`check_out_dir`) and created only when
the files are written (:func:`prepare_out_dir`).
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import InputError

_UMASK = os.umask(0)
os.umask(_UMASK)


def check_out_dir(out_dir, *, option: str = "--out") -> Path:
    """Check that ``out_dir`` can be written, before any work, leaving nothing behind.

    The folder (and any missing parents) is created, a file written into it and removed, and what was
    created is removed again, so a folder that permissions or the file system refuse (``/proc/x``, a
    read-only mount, a path through a file) is caught here, not after a long solve. Raises
    :class:`InputError` (one line naming ``option``) otherwise.
    """
    out = Path(out_dir).expanduser()
    if out.exists():
        return prepare_out_dir(out, option=option)
    created = []
    parent = out
    while not parent.exists() and parent != parent.parent:
        created.append(parent)
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"output path '{out}' cannot be created: '{parent}' is not a folder; choose another {option}")
    try:
        prepare_out_dir(out, option=option)
    finally:
        for folder in created:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                break
    return out


def prepare_out_dir(out_dir, *, option: str = "--out") -> Path:
    """Create ``out_dir`` if needed and check that it can be written (before any work)."""
    out = Path(out_dir).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except FileExistsError:
        raise InputError(f"output path '{out}' exists and is not a folder; choose another {option}") from None
    except OSError as e:
        raise InputError(f"cannot write to output folder '{out}' ({e.strerror or e}); "
                         f"choose another {option}") from None
    return out


def write_files_atomically(out_dir: Path, files: dict[str, bytes]) -> dict[str, Path]:
    """Write ``{name: bytes}`` into ``out_dir``: all to temporary files first, then renamed.

    A file that already holds exactly these bytes is left alone (not rewritten, its
    modification time kept), so re-running a command that produces the same output
    changes nothing on disk.
    """
    out_dir = Path(out_dir)
    tmps: list[tuple[str, Path]] = []
    written = {}
    try:
        for name, data in files.items():
            if _same_bytes(out_dir / name, data):
                written[name] = out_dir / name
                continue
            fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp_name, 0o666 & ~_UMASK)
            tmps.append((name, Path(tmp_name)))
    except OSError as e:
        for _, tmp in tmps:
            tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write to output folder '{out_dir}' ({e.strerror or e}); "
                         f"free some space or choose another --out") from None
    for name, tmp in tmps:
        os.replace(tmp, out_dir / name)
        written[name] = out_dir / name
    return {name: written[name] for name in files}


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def png_bytes(image: np.ndarray) -> bytes:
    """(H, W) float in [0, 1] -> 8-bit grayscale PNG; (H, W, 3) -> 8-bit RGB PNG."""
    from PIL import Image

    buf = io.BytesIO()
    arr = np.clip(np.round(np.asarray(image) * 255.0), 0, 255).astype(np.uint8)
    Image.fromarray(arr, mode="RGB" if arr.ndim == 3 else "L").save(buf, "PNG")
    return buf.getvalue()


def atomic_write(path, data: bytes) -> Path:
    """Write one file atomically (its folder must exist): :func:`write_files_atomically` of one file."""
    path = Path(path)
    return write_files_atomically(path.parent, {path.name: data})[path.name]


def json_default(o):
    """``json.dumps(..., default=json_default)``: NumPy scalars and arrays as Python values, sets sorted,
    else ``str``."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    return str(o)
