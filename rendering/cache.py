"""The disk cache of chord tables: where it is, what it holds, how big it may grow.

Each table is a folder ``<cache_dir>/<key>/`` of plain ``.npy`` arrays
(``indptr``, ``pixel``, ``coverage``; later also arrays derived from the table,
such as greedy's pixel-major copy) and an ``info.json`` of the parameters. The
arrays are memory-mapped when loaded: a cached table is ready in milliseconds
and its pages come from the operating system's file cache.

* Writes are atomic: a table is written into a temporary folder renamed into
  place (two processes building one table both end with a valid folder), and a
  derived array into a temporary file renamed into place.
* The cache keeps at most :func:`max_bytes` (``$STRINGART_CACHE_MAX_GB``,
  default 8 GB): after each write the least recently used tables are removed.
  A table that would not fit in the free disk space is not cached (a cache we
  cannot write is only slower, never wrong).
* :func:`entries` lists what is there (``bench cache``), :func:`clear`
  empties it (``bench cache --clear``).

Sizes: 288 pins at 512 px with a 0.2 mm thread on a 600 mm frame is 19 M
entries, 145 MiB for the table and 109 MiB more once greedy has stored its
pixel-major copy; size scales with the canvas side and the number of chords.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

#: Bumped whenever the stored layout or the kernels' output changes, so stale caches are not reused.
CACHE_VERSION = 2
_INFO = "info.json"


def cache_dir() -> Path:
    """Where chord tables are cached: ``$STRINGART_CACHE_DIR`` or the user cache dir."""
    env = os.environ.get("STRINGART_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("stringart")) / "chord-tables"


def max_bytes() -> int:
    """The most the cache may hold: ``$STRINGART_CACHE_MAX_GB`` (GB, 0 = do not cache), default 8 GB."""
    env = os.environ.get("STRINGART_CACHE_MAX_GB")
    try:
        return int(float(env) * 1e9) if env else int(8e9)
    except ValueError:
        return int(8e9)


def load(key: str, names: tuple[str, ...], *, resident: bool = False) -> dict[str, np.ndarray] | None:
    """The arrays ``names`` of entry ``key``, read-only, or None when any is missing or unreadable.

    Memory-mapped (ready at once, pages read as they are touched), or with
    ``resident`` read into the process's own memory: slower to load in a fresh
    process (~0.2 s per 100 MB, the kernel backs the arrays with huge pages),
    but random access into them is then ~20 % faster (fewer TLB misses), which
    greedy's pixel-major copy wants.
    """
    folder = cache_dir() / key
    out = {}
    try:
        for name in names:
            arr = np.load(folder / f"{name}.npy", mmap_mode=None if resident else "r")
            arr = np.asarray(arr)
            arr.setflags(write=False)
            out[name] = arr
        os.utime(folder / _INFO)  # most recently used
    except (OSError, ValueError):
        return None
    return out


def save(key: str, arrays: dict[str, np.ndarray], info: dict) -> bool:
    """Store a new entry atomically; False when it was not stored (no room, read-only disk, or over the cap)."""
    size = sum(int(a.nbytes) for a in arrays.values())
    root = cache_dir()
    if size > max_bytes():
        return False
    try:
        root.mkdir(parents=True, exist_ok=True)
        if shutil.disk_usage(root).free < size + 2**30:  # leave a GiB free
            return False
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
        try:
            for name, arr in arrays.items():
                np.save(tmp / f"{name}.npy", arr)
            (tmp / _INFO).write_text(json.dumps({**info, "version": CACHE_VERSION}, sort_keys=True))
            os.rename(tmp, root / key)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            return (root / key / _INFO).is_file()  # another process stored it first: fine
    except OSError:
        return False
    trim()
    return True


def add(key: str, arrays: dict[str, np.ndarray]) -> bool:
    """Add arrays to an existing entry (each written to a temporary file, then renamed); False when not stored."""
    folder = cache_dir() / key
    if not (folder / _INFO).is_file():
        return False
    size = sum(int(a.nbytes) for a in arrays.values())
    try:
        if shutil.disk_usage(folder).free < size + 2**30 or _total() + size > max_bytes():
            return False
        for name, arr in arrays.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".npy.tmp", dir=folder)
            try:
                with os.fdopen(fd, "wb") as f:
                    np.save(f, arr)
                os.replace(tmp, folder / f"{name}.npy")
            except OSError:
                Path(tmp).unlink(missing_ok=True)
                raise
    except OSError:
        return False
    return True


def discard(key: str) -> None:
    """Remove entry ``key`` (a corrupt or stale one), if there."""
    _remove(cache_dir() / key)


def entries() -> list[dict]:
    """What the cache holds, most recently used first: ``path``, ``bytes``, ``last_used`` (epoch s) and ``info``."""
    root = cache_dir()
    out: list[dict] = []
    try:
        children = list(root.iterdir())
    except OSError:
        return out
    for child in children:
        if child.name.startswith("."):
            continue
        try:
            if child.is_dir():
                info_path = child / _INFO
                info = json.loads(info_path.read_text()) if info_path.is_file() else {}
                used = info_path.stat().st_mtime if info_path.is_file() else child.stat().st_mtime
                size = sum(f.stat().st_size for f in child.iterdir() if f.is_file())
            else:  # a file of an older cache format
                info, used, size = {"stale": True}, child.stat().st_mtime, child.stat().st_size
        except (OSError, ValueError):
            continue
        out.append(dict(path=child, bytes=size, last_used=used, info=info))
    return sorted(out, key=lambda e: -e["last_used"])


def _total() -> int:
    return sum(e["bytes"] for e in entries())


def trim(limit: int | None = None) -> int:
    """Remove the least recently used entries until the cache holds at most ``limit`` bytes; returns bytes freed."""
    limit = max_bytes() if limit is None else limit
    items = entries()
    total = sum(e["bytes"] for e in items)
    freed = 0
    for e in reversed(items):  # least recently used first
        if total - freed <= limit:
            break
        if _remove(e["path"]):
            freed += e["bytes"]
    return freed


def clear() -> tuple[int, int]:
    """Empty the cache; returns (entries removed, bytes freed)."""
    items = entries()
    removed = [e for e in items if _remove(e["path"])]
    for tmp in (cache_dir().glob(".*") if cache_dir().is_dir() else []):  # leftovers of interrupted writes
        if time.time() - tmp.stat().st_mtime > 3600:
            _remove(tmp)
    return len(removed), sum(e["bytes"] for e in removed)


def _remove(path: Path) -> bool:
    try:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        return True
    except OSError:
        return False
