"""Numba housekeeping shared by every kernel module: variants, the on-disk cache, threads.

* :func:`variant` -- one plain-Python kernel compiled more than once (serial and
  ``parallel=True``, or with another helper bound to one of its names), each
  copy under its own name so that numba's on-disk cache keeps them apart
  (numba keys its cache files by the function's qualified name: two
  dispatchers of one function would overwrite each other's entries).
* :func:`kernels_cached` -- whether calling some kernels will load them from
  numba's on-disk cache or compile them first (seconds): the CLI says so on
  one line before a first run compiles.
* :func:`set_threads` -- the one thread policy for numba's and torch's pools
  (see there).
* :func:`guard_cache` -- numba checks a cached kernel against its own source
  file only, but a kernel inlines helpers from other kernel modules: edit one
  and the cached kernels of the others run stale code (seen here as a
  segfault after an edit). Every kernel module of the toolkit calls this at
  import, before its first kernel: that call is how a module registers itself
  (:func:`kernel_modules` finds every module that makes it), and the cache of
  each of its kernels is then stamped with a hash of every kernel module, so
  changing any of them recompiles them all. No list to keep: a new kernel
  module that calls it is stamped, and ``tests/test_architecture.py`` checks
  that every module defining numba kernels does.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import types
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
#: the packages whose modules may hold numba kernels
_PACKAGES = ("rendering", "solvers", "learned", "kit", "bench")
#: the registration: a kernel module calls :func:`guard_cache` at import, on a line of its own
_MARK = "\nguard_cache()"
_guarded = False


def package_files() -> list[tuple[str, Path]]:
    """Every Python file of the toolkit's packages, as ``(path relative to the repository, path)``, sorted
    within each package (the kernel modules are among them; :mod:`bench.warm` stamps them all)."""
    return [(str(path.relative_to(_ROOT)), path) for pkg in _PACKAGES for path in sorted((_ROOT / pkg).rglob("*.py"))]


def kernel_modules() -> list[str]:
    """Every module of the toolkit that registers itself as a kernel module (it calls :func:`guard_cache` at
    import), and this one (whose :func:`variant` builds kernels): paths relative to the repository, sorted."""
    out = ["rendering/jit.py"]
    for rel, path in package_files():
        try:
            if _MARK in path.read_text():
                out.append(rel)
        except (OSError, UnicodeDecodeError):
            continue
    return sorted(set(out))


def kernels_stamp() -> str:
    """A hash of the source of every kernel module (:func:`kernel_modules`)."""
    h = hashlib.sha1()
    for rel in kernel_modules():
        try:
            h.update((_ROOT / rel).read_bytes())
        except OSError:
            h.update(rel.encode())
    return h.hexdigest()


def guard_cache() -> None:
    """Stamp the numba caches of this toolkit's kernels with :func:`kernels_stamp` (idempotent).

    Installs a cache locator in front of numba's own, for files of this
    toolkit only: it keeps numba's choice of where the cache lives
    (``__pycache__``, or ``$NUMBA_CACHE_DIR``) and adds the stamp to the source
    stamp numba compares. Does nothing if numba's internals are not as expected.
    """
    global _guarded
    if _guarded:
        return
    _guarded = True
    try:
        from numba.core import caching

        impl = caching.CacheImpl
        others = [c for c in impl._locator_classes]
        stamp = kernels_stamp()
        ours = tuple(str(_ROOT / pkg) + os.sep for pkg in _PACKAGES)

        class ToolkitLocator(caching._CacheLocator):
            def __init__(self, inner):
                self._inner = inner

            def ensure_cache_path(self):
                return self._inner.ensure_cache_path()

            def get_cache_path(self):
                return self._inner.get_cache_path()

            def get_source_stamp(self):
                return (self._inner.get_source_stamp(), stamp)

            def get_disambiguator(self):
                return self._inner.get_disambiguator()

            @classmethod
            def from_function(cls, py_func, py_file):
                if not os.path.abspath(py_file).startswith(ours):
                    return None
                for other in others:
                    inner = other.from_function(py_func, py_file)
                    if inner is not None:
                        return cls(inner)
                return None

        # numba's list is typed by its first contents (list[type[object]]): ours is a locator class too
        impl._locator_classes = [ToolkitLocator] + others  # type: ignore[assignment]

        index_file = caching.IndexDataCacheFile
        stamp_ours = stamp
        load_index = index_file._load_index

        def _load_index(self):
            """numba's index of a kernel's compiled variants, or none (a cache miss: the kernel compiles and the
            index is rewritten) where one of our indexes names a type that is gone: numba unpickles an index
            before it compares stamps, so renaming or removing a kernel's named tuple would otherwise make
            every process with the old cache on disk fail."""
            try:
                return load_index(self)
            except (AttributeError, ImportError, pickle.UnpicklingError):
                stamp = self._source_stamp
                if isinstance(stamp, tuple) and len(stamp) == 2 and stamp[1] == stamp_ours:
                    return {}
                raise

        index_file._load_index = _load_index  # type: ignore[method-assign]
    except Exception:  # noqa: BLE001  (another numba: its own per-file check stays)
        pass


def variant(fn, name: str, **bind):
    """A copy of the plain function ``fn`` named ``name``, with the globals in ``bind`` replaced.

    Compile the result with ``njit``; the copy shares ``fn``'s code, so the two
    behave alike but for what ``bind`` changes (e.g. ``_draw=_draw_parallel``).
    Call it after every global the kernel uses is defined (the copy takes a
    snapshot of the module's globals).

    >>> def f(x):
    ...     return g(x)
    >>> g = abs
    >>> h = variant(f, "h", g=lambda x: -x)
    >>> f(-2), h(-2), h.__name__
    (2, 2, 'h')
    """
    scope = dict(fn.__globals__)
    scope.update(bind)
    out = types.FunctionType(fn.__code__, scope, name, fn.__defaults__, fn.__closure__)
    out.__qualname__ = name
    out.__doc__ = fn.__doc__
    out.__module__ = fn.__module__
    return out


def kernels_cached(*dispatchers) -> bool:
    """True when every numba dispatcher given will load from the on-disk cache (or is compiled already).

    A kernel whose cache is missing or stale (its source changed) compiles on
    its first call. Unknown numba internals count as cached (no false alarm).
    """
    for d in dispatchers:
        if getattr(d, "signatures", None):
            continue  # compiled or loaded in this process
        try:
            if not d._cache._cache_file._load_index():  # numba's own check of the source stamp
                return False
        except Exception:  # noqa: BLE001  (another numba version: do not guess)
            continue
    return True


# ---------------------------------------------------------------------------- threads
def set_threads(numba_threads: int | None = None) -> None:
    """The one thread policy for numba's and torch's pools, applied before a solve.

    * numba's pool runs the toolkit's parallel kernels: ``numba_threads`` sets it
      (the harness gives each of its worker processes its share of the cores); None
      leaves it as the process has it (all cores by default, or ``NUMBA_NUM_THREADS``).
    * torch's pool, when torch is loaded, gets one thread: the learned solvers'
      networks are small, and two pools of busy threads on the same cores fight. With
      one competing busy process on 2 cores, ``ae-chords`` took 0.094 s with both pools
      at 2 threads and 0.061 s with torch at 1 (idle: 0.043 s and 0.047 s); with torch
      at 2 and numba at 1, 0.18 s (``benchmarks/startup.py`` measures it). Training
      sets its own torch threads (``bench train --threads``).
    """
    if numba_threads is not None:
        import numba

        # numba.config sets its names at import time, out of mypy's sight
        numba.set_num_threads(max(1, min(int(numba_threads), numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)
