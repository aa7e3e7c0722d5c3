"""Numba housekeeping shared by every kernel module: variants, the on-disk cache, threads.

* :func:`variant` -- one plain-Python kernel compiled more than once (serial and
  ``parallel=True``, or with another helper bound to one of its names), each
  copy under its own name so that numba's on-disk cache keeps them apart
  (numba keys its cache files by the function's qualified name: two
  dispatchers of one function would overwrite each other's entries).
* :func:`kernels_cached` -- whether calling some kernels will load them from
  numba's on-disk cache or compile them first (seconds): the CLI says so on
  one line before a first run compiles.
* :func:`set_threads` / :func:`threads` -- the one thread policy for numba's
  and torch's pools (see there).
* :func:`guard_cache` -- numba checks a cached kernel against its own source
  file only, but a kernel inlines helpers from other kernel modules: edit one
  and the cached kernels of the others run stale code (seen here as a
  segfault after an edit). Every kernel module of the toolkit calls this at
  import: the cache of each of its kernels is then also stamped with a hash
  of every kernel module, so changing any of them recompiles them all.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import types
from pathlib import Path

#: The modules holding numba kernels (and this one, whose variant() builds some): their sources stamp every cache.
KERNEL_MODULES = ("rendering/_kernels.py", "rendering/jit.py", "solvers/_greedy_kernels.py",
                  "solvers/_guide_kernels.py", "solvers/_ga_kernels.py")
_ROOT = Path(__file__).resolve().parents[1]
_guarded = False


def kernels_stamp() -> str:
    """A hash of the source of every kernel module (:data:`KERNEL_MODULES`)."""
    h = hashlib.sha1()
    for rel in KERNEL_MODULES:
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
        ours = tuple(str(_ROOT / rel.split("/")[0]) + os.sep for rel in KERNEL_MODULES)

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

        impl._locator_classes = [ToolkitLocator] + others
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
#: What ``STRINGART_THREADS`` overrides: the threads a process gives numba's and torch's pools.
THREADS_ENV = "STRINGART_THREADS"


def default_threads() -> int:
    """The threads a process uses: ``$STRINGART_THREADS`` when set, else the CPUs this process may run on."""
    env = os.environ.get(THREADS_ENV)
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def set_threads(n: int | None = None) -> int:
    """Give numba's parallel kernels ``n`` threads and torch one (``n`` default: :func:`default_threads`).

    The policy: numba's kernels are where this toolkit's parallel work is, and
    torch's pool (for the small networks of the learned solvers) runs on one
    thread. Two pools of busy-waiting threads on the same cores fight: with
    one other busy process on a 2-core machine, a learned solver ran 10-80x
    slower than idle when both pools had 2 threads
    (``benchmarks/startup.py`` measures it). numba's pool is capped at the
    threads it was started with. Returns the numba thread count set.
    """
    n = default_threads() if n is None else max(1, int(n))
    if "numba" in sys.modules or n > 0:
        import numba

        n = min(n, numba.config.NUMBA_NUM_THREADS)
        numba.set_num_threads(n)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    return n


@contextlib.contextmanager
def threads(n: int):
    """Run a block with numba's pool at ``n`` threads (restored afterwards)."""
    import numba

    old = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(old)
