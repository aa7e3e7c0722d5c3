"""Data derived from a chord table, built once per table and kept while it lives.

Every solver, loss and device backend reads the chord table in some other
shape: transposed to pixel-major order (greedy's incremental scores, the
training renderer's forward pass), summed over blocks (the viewing-scale
greedy and the refiner), as per-pass brightness factors (the GA's fitness, the
GPU's batched error), or with its pixels renumbered in Morton tiles (the GA).
Those transforms live here, and each result is kept in the table's one memo,
:meth:`rendering.ChordTable.derived` (thread-safe; the torch tensors of
:mod:`rendering.torch_render` and the GPU copy of :mod:`rendering.device` use
the same memo), so no other package keeps a cache of its own.

Examples
--------
>>> from rendering import PinLayout, get_chord_table
>>> t = get_chord_table(PinLayout(n_pins=16, canvas=32), 2, 0.5, disk_cache=False)
>>> pt = pixel_table(t)
>>> pt is pixel_table(t), pt.chord.size == t.nnz
(True, True)
>>> bt = block_table(t, 4)
>>> bool(np.allclose(bt.coverage.sum(), t.coverage.sum(dtype=np.float64), rtol=1e-5))
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from . import cache
from .chords import ChordTable
from .errors import check_float, check_int


# ---------------------------------------------------------------------------- pixel-major table
@dataclass(frozen=True, eq=False)
class PixelTable:
    """The chord table transposed: for every pixel, the chords through it (sorted by id).

    Attributes
    ----------
    indptr : (n_pixels + 1,) int32 (int64 past 2**31 entries)
    chord : (nnz,) uint16 (int32 when there are more than 65535 chords), chord ids
    coverage : (nnz,) float32, the same coverage as the chord table
    """

    indptr: np.ndarray
    chord: np.ndarray
    coverage: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.indptr.nbytes + self.chord.nbytes + self.coverage.nbytes)


#: Read greedy's pixel-major copy from the disk cache into the process's own memory (not memory-mapped): greedy
#: reads it at random, and it runs ~20 % faster on process memory (huge pages; 0.25 s vs 0.30 s at 288 pins,
#: 4000 lines, 512 px), for ~0.25 s more loading in a fresh process. A process that solves once (``bench
#: solve``) maps it instead: :func:`map_pixel_tables`, or ``$STRINGART_MMAP_PIXEL_TABLE=1``.
RESIDENT_PIXEL_TABLE = os.environ.get("STRINGART_MMAP_PIXEL_TABLE") != "1"


def map_pixel_tables(mapped: bool = True) -> None:
    """Memory-map greedy's pixel-major copies from the disk cache from now on (``mapped``), or read them in."""
    global RESIDENT_PIXEL_TABLE
    RESIDENT_PIXEL_TABLE = not mapped


def pixel_table(table: ChordTable) -> PixelTable:
    """The :class:`PixelTable` of ``table``, built once and kept as long as the table lives.

    Costs as much memory as the chord table less its ``int32`` pixel column
    plus a ``uint16`` chord column (6 bytes per entry).
    """
    return table.derived(("pixel-major",), _build_pixel_table)


def _build_pixel_table(table: ChordTable) -> PixelTable:
    """Load the pixel-major table from the table's disk-cache entry, else build it (and store it there)."""
    names = ("pixel_major_indptr", "pixel_major_chord", "pixel_major_coverage")
    if table.cache_key is not None:
        got = cache.load(table.cache_key, names, resident=RESIDENT_PIXEL_TABLE)
        if got is not None and got[names[1]].size == table.nnz:
            return PixelTable(*(got[n] for n in names))
    pt = _invert_table(table)
    if table.cache_key is not None:
        cache.add(table.cache_key, dict(zip(names, (pt.indptr, pt.chord, pt.coverage))))
    return pt


def _invert_table(table: ChordTable) -> PixelTable:
    counts = np.bincount(table.pixel, minlength=table.n_pixels)
    # int32 offsets when they fit: greedy's update loop reads two per pixel, and half the bytes is ~5% faster
    indptr = np.zeros(table.n_pixels + 1, dtype=np.int32 if table.nnz < 2**31 else np.int64)
    np.cumsum(counts, out=indptr[1:])
    chord = np.empty(table.nnz, dtype=np.uint16 if table.n_chords <= 65535 else np.int32)
    cov = np.empty(table.nnz, dtype=np.float32)
    from . import _kernels  # numba: loaded on first use

    _kernels._invert(table.indptr, table.pixel, table.coverage, indptr, chord, cov)
    for arr in (indptr, chord, cov):
        arr.setflags(write=False)
    return PixelTable(indptr, chord, cov)


# ---------------------------------------------------------------------------- blocks (the viewing scale)
def block_index(canvas: int, scale: int) -> tuple[np.ndarray, int]:
    """The ``scale x scale`` block of every pixel of a square canvas (blocks row-major, the last ones partial).

    Returns
    -------
    blk : (canvas * canvas,) int64, block id of each row-major pixel
    n_blocks : int, ``ceil(canvas / scale) ** 2``

    >>> blk, n = block_index(4, 2)
    >>> blk.reshape(4, 4).tolist(), n
    ([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]], 4)
    """
    canvas = check_int("canvas", canvas, low=1)
    scale = check_int("scale", scale, low=1, hint="use 1 (pixels) or the viewing scale, e.g. 4")
    nbx = -(-canvas // scale)
    rows, cols = np.divmod(np.arange(canvas * canvas), canvas)
    return ((rows // scale) * nbx + cols // scale).astype(np.int64), nbx * nbx


@dataclass(frozen=True, eq=False)
class BlockTable:
    """Each chord's coverage summed over ``scale x scale`` blocks (CSR by chord).

    Attributes
    ----------
    indptr : (n_chords + 1,) int64
    block : (nnz,) uint16 (int32 past 65535 blocks), block ids (see :func:`block_index`): the refiners and the
        viewing-scale greedy stream this column for every candidate, and 2 bytes instead of 8 is ~1.5x faster
    coverage : (nnz,) float32, the chord's summed coverage in that block
    """

    indptr: np.ndarray
    block: np.ndarray
    coverage: np.ndarray


def block_table(table: ChordTable, scale: int) -> BlockTable:
    """The :class:`BlockTable` of ``table`` at ``scale`` (kept per table and scale; ~scale x smaller)."""
    scale = check_int("scale", scale, low=1, hint="use 1 (pixels) or the viewing scale, e.g. 4")
    return table.derived(("blocks", scale), lambda t: _build_block_table(t, scale))


def _build_block_table(table: ChordTable, scale: int) -> BlockTable:
    blk, nblocks = block_index(table.layout.canvas, scale)
    indptr = np.zeros(table.n_chords + 1, dtype=np.int64)
    dummy_b, dummy_c = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    from . import _kernels  # numba: loaded on first use

    nnz = _kernels._block_table(table.indptr, table.pixel, table.coverage, blk, nblocks, indptr, dummy_b, dummy_c,
                                False)
    block = np.empty(nnz, dtype=np.uint16 if nblocks <= 65535 else np.int32)
    cov = np.empty(nnz, dtype=np.float32)
    _kernels._block_table(table.indptr, table.pixel, table.coverage, blk, nblocks, indptr, block, cov, True)
    return BlockTable(indptr, block, cov)


def block_major(table: ChordTable, scale: int) -> PixelTable:
    """The :class:`BlockTable` transposed: for every ``scale x scale`` block, the chords through it and their
    summed coverage there (the viewing-scale greedy's incremental scores). Kept per table and scale."""
    scale = check_int("scale", scale, low=1, hint="use 1 (pixels) or the viewing scale, e.g. 4")

    def build(t: ChordTable) -> PixelTable:
        bt = block_table(t, scale)
        _, nblocks = block_index(t.layout.canvas, scale)
        counts = np.bincount(bt.block, minlength=nblocks)
        indptr = np.zeros(nblocks + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        chord = np.empty(bt.block.size, dtype=np.uint16 if t.n_chords <= 65535 else np.int32)
        cov = np.empty(bt.block.size, dtype=np.float32)
        from . import _kernels  # numba: loaded on first use

        _kernels._invert(bt.indptr, bt.block, bt.coverage, indptr, chord, cov)
        for arr in (indptr, chord, cov):
            arr.setflags(write=False)
        return PixelTable(indptr, chord, cov)

    return table.derived(("block-major", scale), build)


# ---------------------------------------------------------------------------- pass factors
def pass_factors(table: ChordTable, opacity: float = 1.0, *, floor: float = 0.0) -> np.ndarray:
    """The brightness factor ``1 - opacity * coverage`` of every table entry (kept per opacity and floor).

    Computed in float32 as :func:`rendering.render` does, then floored at
    ``floor`` (a positive floor lets a pass be divided out again).

    Returns
    -------
    (nnz,) float32 in [floor, 1], aligned with ``table.pixel``; read-only
    """
    o = np.float32(check_float("opacity", opacity, low=0.0, high=1.0, low_open=True))
    f = np.float32(check_float("floor", floor, low=0.0, high=1.0))

    def build(t: ChordTable) -> np.ndarray:
        fac = np.maximum(np.float32(1.0) - o * t.coverage, f).astype(np.float32)
        fac.setflags(write=False)
        return fac

    return table.derived(("pass-factors", float(o), float(f)), build)


# ---------------------------------------------------------------------------- Morton tiles
#: side of the square tiles of :func:`tiled_order` (a power of two)
TILE = 32


def tiled_order(canvas: int, tile: int = TILE) -> tuple[np.ndarray, int]:
    """Where each row-major pixel goes in a cache-friendly pixel order (Morton-ordered tiles).

    The canvas is cut into ``tile x tile`` squares stored one after another, each in
    Morton (Z) order, so the pixels along a chord of any direction share cache
    lines and memory pages (a row-major image spends one cache line per pixel on a
    steep chord), and ``k x k`` blocks (``k`` a power of two up to ``tile``) are runs
    of consecutive pixels. The canvas is padded to whole tiles.

    Returns
    -------
    perm : (canvas * canvas,) int32, new index of row-major pixel ``row * canvas + col``
    size : int, number of pixels in the padded order

    >>> perm, size = tiled_order(4, 2)
    >>> perm.reshape(4, 4).tolist(), size
    ([[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]], 16)
    """
    nt = -(-canvas // tile)
    r, c = np.divmod(np.arange(canvas * canvas, dtype=np.int64), canvas)
    within = np.zeros_like(r)
    for bit in range(int(tile).bit_length() - 1):
        within |= ((c >> bit) & 1) << (2 * bit)
        within |= ((r >> bit) & 1) << (2 * bit + 1)
    tile_id = (r // tile) * nt + (c // tile)
    return (tile_id * tile * tile + within).astype(np.int32), int(nt * nt * tile * tile)


@dataclass(frozen=True, eq=False)
class TiledPixels:
    """A table's pixel column renumbered in :func:`tiled_order`.

    Attributes
    ----------
    pixel : (nnz,) int32, ``perm[table.pixel]``
    perm : (canvas * canvas,) int32, the order itself
    size : int, pixels in the padded order
    """

    pixel: np.ndarray
    perm: np.ndarray
    size: int


def tiled_pixels(table: ChordTable, tile: int = TILE) -> TiledPixels:
    """The table's pixels in :func:`tiled_order` (kept per table and tile)."""

    def build(t: ChordTable) -> TiledPixels:
        perm, size = tiled_order(t.layout.canvas, tile)
        return TiledPixels(perm[t.pixel], perm, size)

    return table.derived(("tiled", int(tile)), build)
