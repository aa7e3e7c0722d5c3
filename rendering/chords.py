"""Chords and the shared chord table.

A chord is an unordered pin pair ``(i, j)``, ``i < j``, whose circular index
distance is at least ``min_gap``. Chord ids are dense ``0..n_chords-1`` and map
to pins and back in O(1) through two lookup arrays.

The :class:`ChordTable` stores, for every allowed chord, the pixels it covers
and the anti-aliased coverage, CSR-style. It is built by a Numba kernel once per
parameter set, cached on disk (see :func:`cache_dir`) and in memory, and reused
by every solver, loss and metric.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import cache
from .errors import InputError, check_float, check_int
from .layout import PinLayout

#: Bumped whenever the kernel's output changes, so stale caches are not reused.
TABLE_VERSION = 1
#: Tables with more entries than this are built by the parallel kernels (see :mod:`rendering._kernels`).
PARALLEL_BUILD_ENTRIES = 50_000_000
_MEMORY_CACHE_SIZE = 4


@dataclass(frozen=True, eq=False)
class ChordSet:
    """The allowed chords of a layout and their ids.

    Attributes
    ----------
    pin_a, pin_b : (n_chords,) int32, ``pin_a < pin_b``
    id_of : (n_pins, n_pins) int32, chord id of ``(i, j)`` (symmetric), -1 if not allowed

    Examples
    --------
    >>> cs = ChordSet.build(PinLayout(n_pins=6, canvas=32), min_gap=2)
    >>> cs.n_chords, cs.pins(0), cs.chord_id(3, 0)
    (9, (0, 2), 1)
    """

    n_pins: int
    min_gap: int
    pin_a: np.ndarray
    pin_b: np.ndarray
    id_of: np.ndarray

    @classmethod
    def build(cls, layout: PinLayout, min_gap: int) -> "ChordSet":
        n = layout.n_pins
        check_min_gap(min_gap, n)
        i, j = np.triu_indices(n, k=1)
        allowed = layout.circular_distance(i, j) >= min_gap
        allowed &= ~layout.on_same_side()[i, j]
        pin_a = i[allowed].astype(np.int32)
        pin_b = j[allowed].astype(np.int32)
        if pin_a.size == 0:
            raise InputError(f"no chords are allowed for {n} pins with min_gap {min_gap} on a {layout.shape} "
                             f"frame; lower min_gap or add pins")
        id_of = np.full((n, n), -1, dtype=np.int32)
        ids = np.arange(pin_a.size, dtype=np.int32)
        id_of[pin_a, pin_b] = ids
        id_of[pin_b, pin_a] = ids
        for arr in (pin_a, pin_b, id_of):
            arr.setflags(write=False)
        return cls(n, int(min_gap), pin_a, pin_b, id_of)

    @property
    def n_chords(self) -> int:
        return int(self.pin_a.size)

    def chord_id(self, i: int, j: int) -> int:
        """Id of the chord between pins ``i`` and ``j`` (either order), -1 if not allowed."""
        return int(self.id_of[i, j])

    def pins(self, chord: int) -> tuple[int, int]:
        """The pins ``(i, j)``, ``i < j``, of a chord id."""
        return int(self.pin_a[chord]), int(self.pin_b[chord])

    def path_to_chords(self, path) -> np.ndarray:
        """Chord ids along a pin path; raises :class:`InputError` on a disallowed step."""
        path = np.asarray(path, dtype=np.int64)
        if path.ndim != 1 or path.size < 2:
            raise InputError(f"a pin path needs at least 2 pins, got shape {path.shape}")
        if path.min() < 0 or path.max() >= self.n_pins:
            raise InputError(f"pin indices must be in [0, {self.n_pins - 1}], got [{path.min()}, {path.max()}]")
        chords = self.id_of[path[:-1], path[1:]]
        bad = np.flatnonzero(chords < 0)
        if bad.size:
            k = int(bad[0])
            raise InputError(f"step {k} of the path joins pins {path[k]} and {path[k + 1]}, which is not an "
                             f"allowed chord (min_gap {self.min_gap}); fix the path")
        return chords.astype(np.int32)

    def pairs_to_chords(self, pairs) -> np.ndarray:
        """Chord ids of ``(n, 2)`` pin pairs (either order); raises :class:`InputError` on a disallowed pair.

        >>> cs = ChordSet.build(PinLayout(n_pins=6, canvas=32), min_gap=2)
        >>> cs.pairs_to_chords([[0, 2], [3, 0]]).tolist()
        [0, 1]
        """
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        if pairs.size and (pairs.min() < 0 or pairs.max() >= self.n_pins):
            raise InputError(f"pin indices must be in [0, {self.n_pins - 1}], got [{pairs.min()}, {pairs.max()}]; "
                             f"the pins come from a layout of another pin count")
        chords = self.id_of[pairs[:, 0], pairs[:, 1]]
        bad = np.flatnonzero(chords < 0)
        if bad.size:
            a, b = pairs[int(bad[0])]
            raise InputError(f"pins {a} and {b} (line {int(bad[0]) + 1}) are not an allowed chord (min_gap "
                             f"{self.min_gap}); the pins come from another layout or min_gap")
        return chords.astype(np.int32)


@lru_cache(maxsize=32)
def get_chord_set(layout: PinLayout, min_gap: int) -> ChordSet:
    """The :class:`ChordSet` of a layout and ``min_gap``, built once and shared (kept for the last 32).

    >>> get_chord_set(PinLayout(n_pins=6, canvas=32), 2) is get_chord_set(PinLayout(n_pins=6, canvas=32), 2)
    True
    """
    return ChordSet.build(layout, int(min_gap))


def check_min_gap(min_gap, n_pins: int) -> int:
    """Validate ``min_gap`` for ``n_pins``: 1 <= min_gap <= n_pins // 2."""
    return check_int("min_gap", min_gap, low=1, high=max(1, n_pins // 2),
                     hint=f"with {n_pins} pins use 1..{max(1, n_pins // 2)}, "
                          f"e.g. --min-gap {max(1, min(20, n_pins // 4))}")


@dataclass(frozen=True, eq=False)
class ChordTable:
    """Pixels and coverage of every allowed chord (CSR).

    Attributes
    ----------
    layout : PinLayout
    chords : ChordSet
    width_px : float, thread width in pixels
    indptr : (n_chords + 1,) int64
    pixel : (nnz,) int32, flat index ``row * canvas + col``, in drawing order
    coverage : (nnz,) float32 in (0, 1]
    """

    layout: PinLayout
    chords: ChordSet
    width_px: float
    indptr: np.ndarray
    pixel: np.ndarray
    coverage: np.ndarray
    #: the table's entry in the disk cache (:mod:`rendering.cache`), where derived arrays may be kept too
    cache_key: str | None = field(default=None, repr=False)
    _derived: dict = field(default_factory=dict, init=False, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.layout.canvas, self.layout.canvas)

    @property
    def n_pixels(self) -> int:
        return self.layout.canvas * self.layout.canvas

    @property
    def n_chords(self) -> int:
        return self.chords.n_chords

    @property
    def nnz(self) -> int:
        return int(self.pixel.size)

    @property
    def nbytes(self) -> int:
        return int(self.indptr.nbytes + self.pixel.nbytes + self.coverage.nbytes)

    def chord_pixels(self, chord: int) -> tuple[np.ndarray, np.ndarray]:
        """``(pixel, coverage)`` views of one chord."""
        s, e = self.indptr[chord], self.indptr[chord + 1]
        return self.pixel[s:e], self.coverage[s:e]

    def coverage_sums(self) -> np.ndarray:
        """(n_chords,) float64: summed coverage of each chord (``~ width_px * length``)."""
        owner = np.repeat(np.arange(self.n_chords), np.diff(self.indptr))
        return np.bincount(owner, weights=self.coverage, minlength=self.n_chords)

    def lengths_px(self) -> np.ndarray:
        """(n_chords,) float64: chord lengths in pixels."""
        pos = self.layout.positions
        return np.hypot(*(pos[self.chords.pin_a] - pos[self.chords.pin_b]).T)

    def derived(self, key, build):
        """Data derived from this table: ``build(table)`` the first time ``key`` is asked for, then the same object.

        The one memo for everything computed from a table (its pixel-major copy,
        block sums, pass factors, torch tensors, GPU copies; see
        :mod:`rendering.derived`): kept as long as the table lives, built once
        even when several threads ask at the same time. ``key`` is any hashable,
        by convention a tuple whose first item names the transform.

        Examples
        --------
        >>> t = build_chord_table(PinLayout(n_pins=8, canvas=16), 2, 1.0)
        >>> a = t.derived(("lengths",), lambda tab: tab.lengths_px())
        >>> a is t.derived(("lengths",), lambda tab: None)
        True
        """
        hit = self._derived.get(key, _MISSING)
        if hit is not _MISSING:
            return hit
        with self._lock:  # re-entrant: a build may ask for other derived data of the same table
            hit = self._derived.get(key, _MISSING)
            if hit is _MISSING:
                hit = self._derived[key] = build(self)
            return hit

    def forget_derived(self) -> None:
        """Drop everything :meth:`derived` holds for this table (it is rebuilt on demand)."""
        with self._lock:
            self._derived.clear()

    def to_torch(self, dtype=None, device=None):
        """The table as a ``torch.sparse_csr_tensor`` of shape (n_pixels, n_chords).

        Entry ``[p, c]`` is the coverage of pixel ``p`` by chord ``c``. Built once
        per (dtype, device) and kept (:meth:`derived`).
        """
        import torch

        dtype = dtype or torch.float32
        return self.derived(("torch-csr", str(dtype), str(device)),
                            lambda table: _sparse_csr_tensor(table, dtype, device))


_MISSING = object()


def _sparse_csr_tensor(table: ChordTable, dtype, device):
    """The (n_pixels, n_chords) coverage matrix as a torch sparse CSR tensor."""
    import scipy.sparse as sp
    import torch

    # the table is chord-major (CSC of the pixels x chords matrix); transpose to CSR
    csc = sp.csc_matrix((table.coverage, table.pixel, table.indptr), shape=(table.n_pixels, table.n_chords))
    csr = csc.tocsr()
    csr.sort_indices()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        t = torch.sparse_csr_tensor(
            torch.from_numpy(csr.indptr.astype(np.int64)),
            torch.from_numpy(csr.indices.astype(np.int64)),
            torch.from_numpy(csr.data.astype(np.float64)).to(dtype),
            size=(table.n_pixels, table.n_chords), check_invariants=False,
        )
    return t.to(device) if device is not None else t


# ---------------------------------------------------------------------- build & cache
def build_chord_table(layout: PinLayout, min_gap: int, width_px: float) -> ChordTable:
    """Build a :class:`ChordTable` with the Numba kernel (no caching).

    Parameters
    ----------
    layout : PinLayout
    min_gap : int, 1 <= min_gap <= n_pins // 2
    width_px : float > 0, thread width in pixels (sub-pixel widths are fine)
    """
    width_px = check_float("thread width", width_px, low=0.0, low_open=True,
                           hint="use a positive thread width, e.g. --thread-mm 0.2")
    from . import _kernels  # numba: imported when a table is built, not when this module is

    chords = get_chord_set(layout, min_gap)
    pos = np.ascontiguousarray(layout.positions, dtype=np.float64)
    W = H = layout.canvas
    big = table_size(layout, min_gap, width_px)["entries"] > PARALLEL_BUILD_ENTRIES
    count = _kernels._count_chord_pixels_par if big else _kernels._count_chord_pixels
    fill = _kernels._fill_chord_pixels_par if big else _kernels._fill_chord_pixels
    counts = count(pos, chords.pin_a, chords.pin_b, width_px, W, H)
    indptr = np.zeros(chords.n_chords + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    pixel = np.empty(indptr[-1], dtype=np.int32)
    coverage = np.empty(indptr[-1], dtype=np.float32)
    fill(pos, chords.pin_a, chords.pin_b, width_px, W, H, indptr, pixel, coverage)
    for arr in (indptr, pixel, coverage):
        arr.setflags(write=False)
    return ChordTable(layout, chords, float(width_px), indptr, pixel, coverage)


def _cache_key(layout: PinLayout, min_gap: int, width_px: float) -> str:
    params = _params(layout, min_gap, width_px)
    blob = json.dumps(params, sort_keys=True).encode()
    return f"n{layout.n_pins}-c{layout.canvas}-g{min_gap}-" + hashlib.sha256(blob).hexdigest()[:16]


def _params(layout: PinLayout, min_gap: int, width_px: float) -> dict:
    return dict(version=TABLE_VERSION, n_pins=layout.n_pins, canvas=layout.canvas, shape=layout.shape,
                margin=float(layout.margin), jitter=float(layout.jitter), seed=int(layout.seed),
                min_gap=int(min_gap), width_px=float(width_px))


# ---------------------------------------------------------------------- size
#: bytes per table entry: the table (int32 pixel + float32 coverage) and greedy's pixel-major copy
#: (uint16 chord + float32 coverage), which a solve builds beside it
TABLE_ENTRY_BYTES = 8
PIXEL_MAJOR_ENTRY_BYTES = 6
#: bytes per canvas pixel a solve holds besides the table: target, state, weights, greedy's per-pixel terms,
#: the preview and the metrics' float64 copies (measured peak at 512 px: about 60)
PIXEL_BYTES = 64
#: the share of the available memory a solve may plan to take
MEMORY_SHARE = 0.7


def table_size(layout: PinLayout, min_gap: int, width_px: float) -> dict:
    """An estimate of a chord table's size, in O(chords) without building it.

    A chord of length ``L`` and direction ``(dx, dy)`` touches about
    ``|dx| + |dy| + width * L`` pixels (within 5 % of the built tables from
    32 to 1024 px, 0.01 to 3.4 px threads; the estimate adds 6 %).

    Returns
    -------
    dict: ``entries``, ``table_bytes`` (the table itself, also its size on disk) and
    ``solve_bytes`` (what a solve holds: the table, greedy's pixel-major copy and
    :data:`PIXEL_BYTES` per canvas pixel)

    >>> size = table_size(PinLayout(n_pins=288, canvas=512), 20, 0.17)
    >>> round(size["table_bytes"] / 2**20)  # the built table: 145 MiB
    154
    """
    chords = get_chord_set(layout, min_gap)
    pos = layout.positions
    d = pos[chords.pin_a] - pos[chords.pin_b]
    entries = float((np.abs(d[:, 0]) + np.abs(d[:, 1]) + width_px * np.hypot(d[:, 0], d[:, 1])).sum())
    entries = int(entries * 1.06) + chords.n_chords
    table = entries * TABLE_ENTRY_BYTES + 8 * (chords.n_chords + 1)
    solve = table + entries * PIXEL_MAJOR_ENTRY_BYTES + PIXEL_BYTES * layout.canvas ** 2
    return dict(entries=entries, table_bytes=table, solve_bytes=solve)


def available_memory() -> int:
    """Bytes of memory this process may use: ``$STRINGART_MAX_MEMORY_GB`` when set, else what the system
    reports available (``MemAvailable``), else the physical memory."""
    env = os.environ.get("STRINGART_MAX_MEMORY_GB")
    if env:
        try:
            return int(float(env) * 1e9)
        except ValueError:
            pass
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:  # a container's own limit (cgroup v2), less what it already uses
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            found.append(int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text()))
    except (OSError, ValueError):
        pass
    if not found:
        try:
            found.append(int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")))
        except (ValueError, OSError, AttributeError):
            return 2**62
    return max(0, min(found))


def check_table_fits(layout: PinLayout, min_gap: int, width_px: float) -> dict:
    """Raise :class:`InputError` (one line) when a solve of this table would not fit in memory; else its size.

    The limit is :data:`MEMORY_SHARE` of :func:`available_memory`, for what a
    solve holds (``table_size(...)["solve_bytes"]``).
    """
    size = table_size(layout, min_gap, width_px)
    budget = int(MEMORY_SHARE * available_memory())
    if size["solve_bytes"] > budget:
        fits = max(16, int(0.8 * layout.canvas * budget / size["solve_bytes"]) // 256 * 256)  # with a margin
        raise InputError(f"a chord table for {layout.n_pins} pins at {layout.canvas} px would take about "
                         f"{_gb(size['table_bytes'])}, and a solve on it about {_gb(size['solve_bytes'])}, more than "
                         f"the {_gb(budget)} of memory this machine can give it; lower --canvas (about {fits} px "
                         f"fits) or --pins")
    return size


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


# ---------------------------------------------------------------------- memory and disk caches
_memory: "OrderedDict[str, ChordTable]" = OrderedDict()
_lock = threading.Lock()


def get_chord_table(layout: PinLayout, min_gap: int, width_px: float, *, disk_cache: bool = True) -> ChordTable:
    """The chord table for these parameters, from memory, the disk cache, or built.

    A table that would not fit in memory is refused first (:func:`check_table_fits`,
    one line, before anything is built or written). The disk cache is
    :mod:`rendering.cache` (memory-mapped ``.npy`` arrays, atomic writes, a size
    cap); failing to write it (read-only or full disk) is not an error.
    """
    width_px = check_float("thread width", width_px, low=0.0, low_open=True,
                           hint="use a positive thread width, e.g. --thread-mm 0.2")
    check_min_gap(min_gap, layout.n_pins)
    key = _cache_key(layout, min_gap, width_px)
    with _lock:
        if key in _memory:
            _memory.move_to_end(key)
            return _memory[key]
    check_table_fits(layout, min_gap, width_px)
    table = _load(key, layout, min_gap, width_px) if disk_cache else None
    if table is None:
        table = build_chord_table(layout, min_gap, width_px)
        if disk_cache and cache.save(key, dict(indptr=table.indptr, pixel=table.pixel, coverage=table.coverage),
                                     _params(layout, min_gap, width_px)):
            table = dataclasses.replace(table, cache_key=key)
    with _lock:
        _memory[key] = table
        while len(_memory) > _MEMORY_CACHE_SIZE:
            _memory.popitem(last=False)
    return table


def specimen_table(layout: PinLayout, min_gap: int, width_px: float) -> ChordTable:
    """A stand-in chord table with the array types of a real one, built without numba, kept in memory.

    Each chord covers just the pixels under its two pins. It lets a process
    compile the kernels that read tables (a solver's
    :meth:`~solvers.Solver.precompile`) without first compiling the kernels that
    build them: a first run compiles both at once, in two processes. Not for
    pictures. :func:`get_chord_table` returns it for these parameters while it is
    in the memory cache; nothing is written to the disk cache.
    """
    width_px = check_float("thread width", width_px, low=0.0, low_open=True)
    chords = get_chord_set(layout, min_gap)
    pos = np.clip(np.floor(layout.positions).astype(np.int64), 0, layout.canvas - 1)
    pix = pos[:, 1] * layout.canvas + pos[:, 0]
    pixel = np.stack([pix[chords.pin_a], pix[chords.pin_b]], axis=1).astype(np.int32)
    pixel.sort(axis=1)
    same = pixel[:, 0] == pixel[:, 1]
    pixel[same, 1] = (pixel[same, 1] + 1) % layout.canvas ** 2
    pixel = np.sort(pixel, axis=1).ravel()
    indptr = np.arange(0, 2 * chords.n_chords + 1, 2, dtype=np.int64)
    coverage = np.full(pixel.size, 0.5, dtype=np.float32)
    for arr in (indptr, pixel, coverage):
        arr.setflags(write=False)
    table = ChordTable(layout, chords, float(width_px), indptr, pixel, coverage)
    with _lock:
        _memory[_cache_key(layout, min_gap, float(width_px))] = table
    return table


def clear_memory_cache() -> None:
    """Forget the chord tables kept in memory (the disk cache stays)."""
    with _lock:
        _memory.clear()


def is_cached(layout: PinLayout, min_gap: int, width_px: float) -> bool:
    """Whether the table for these parameters is in memory or in the disk cache (loading it is then quick)."""
    key = _cache_key(layout, int(min_gap), float(width_px))
    with _lock:
        if key in _memory:
            return True
    return (cache.cache_dir() / key / "info.json").is_file()


def _load(key: str, layout: PinLayout, min_gap: int, width_px: float) -> ChordTable | None:
    if not (cache.cache_dir() / key).exists():
        return None
    arrays = cache.load(key, ("indptr", "pixel", "coverage"))
    chords = get_chord_set(layout, min_gap)
    if arrays is not None:
        indptr, pixel, coverage = arrays["indptr"], arrays["pixel"], arrays["coverage"]
    if (arrays is None or indptr.shape != (chords.n_chords + 1,) or pixel.shape != coverage.shape
            or indptr[-1] != pixel.size or indptr.dtype != np.int64 or pixel.dtype != np.int32
            or coverage.dtype != np.float32):
        cache.discard(key)  # corrupt or from another version: rebuilt, not trusted
        return None
    return ChordTable(layout, chords, float(width_px), indptr, pixel, coverage, cache_key=key)
