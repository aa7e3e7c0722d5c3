"""Render chords into a preview image with the shared chord table (``rendering.render`` and friends)."""

from __future__ import annotations

import sys

import numpy as np

from .chords import ChordTable, get_chord_table
from .errors import InputError, check_int
from .thread import MODELS, ThreadModel

#: Renders of at most this many table entries in a process without numba use NumPy (see :func:`render`).
NUMPY_RENDER_ENTRIES = 1_000_000

#: The viewing scale: string art is seen from a distance, so pictures are compared box-averaged this many times
#: down (512 px seen as 128 px, as the eye averages threads from a metre or two). The benchmark's headline
#: metrics (:mod:`bench.metrics`), ``greedy-view`` and the refiner all use it.
VIEW_SCALE = 4


def _as_chord_ids(chords, n_chords: int) -> np.ndarray:
    chords = np.asarray(chords)
    if chords.ndim != 1:
        raise InputError(f"chords must be a 1-D array of chord ids, got shape {chords.shape}")
    if chords.size and not np.issubdtype(chords.dtype, np.integer):
        raise InputError(f"chords must be integer chord ids, got dtype {chords.dtype}")
    chords = np.ascontiguousarray(chords, dtype=np.int64)
    if chords.size and (chords.min() < 0 or chords.max() >= n_chords):
        raise InputError(f"chord ids must be in [0, {n_chords - 1}], got [{chords.min()}, {chords.max()}]")
    return chords


def render(table: ChordTable, chords, *, opacity: float = 1.0) -> np.ndarray:
    """Render chords with the multiplicative thread model (Numba, CPU).

    Parameters
    ----------
    table : ChordTable
    chords : (n,) int, chord ids; a chord listed twice is drawn twice
    opacity : float in (0, 1]

    Returns
    -------
    image : (canvas, canvas) float32 in [0, 1], 1 = white

    Examples
    --------
    >>> from rendering import PinLayout, get_chord_table
    >>> t = get_chord_table(PinLayout(n_pins=8, canvas=16), 2, 1.0, disk_cache=False)
    >>> img = render(t, [0, 3])
    >>> img.shape, float(img.min()) < 1.0, float(img.max())
    ((16, 16), True, 1.0)
    """
    chords = _as_chord_ids(chords, table.n_chords)
    out = np.ones(table.n_pixels, dtype=np.float32)
    _draw_passes(table, chords, np.float32(opacity), out, _use_numpy(table, chords))
    return out.reshape(table.shape)


def _use_numpy(table: ChordTable, chords: np.ndarray) -> bool:
    """Whether a render of ``chords`` is done with NumPy: a small one in a process that has not loaded numba
    (loading the JIT costs ~0.45 s)."""
    if "numba" in sys.modules:
        return False
    entries = int((table.indptr[chords + 1] - table.indptr[chords]).sum()) if chords.size else 0
    return entries <= NUMPY_RENDER_ENTRIES


def _draw_passes(table: ChordTable, chords: np.ndarray, opacity: np.float32, out: np.ndarray, numpy: bool) -> None:
    """Multiply the flat float32 ``out`` by ``1 - opacity * coverage`` for each pass of ``chords``, in order, with
    the kernel or (``numpy``) with NumPy: the same arithmetic bit for bit (each pass in float64, rounded to
    float32)."""
    if numpy:
        starts, lens = table.indptr[chords], table.indptr[chords + 1] - table.indptr[chords]
        total = int(lens.sum())
        if total:
            idx = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(total)
            factor = 1.0 - (opacity * table.coverage[idx]).astype(np.float64)
            np.multiply.at(out, table.pixel[idx], factor)
        return
    from . import _kernels  # numba: loaded on first use

    _kernels._render_multiplicative(table.indptr, table.pixel, table.coverage, chords, opacity, out)


def coverage_sum(table: ChordTable, chords) -> np.ndarray:
    """(canvas, canvas) float32: summed coverage of the chords at each pixel."""
    chords = _as_chord_ids(chords, table.n_chords)
    out = np.zeros(table.n_pixels, dtype=np.float32)
    from . import _kernels  # numba: loaded on first use

    _kernels._accumulate_coverage(table.indptr, table.pixel, table.coverage, chords, out)
    return out.reshape(table.shape)


def chord_means(table: ChordTable, image) -> np.ndarray:
    """(n_chords,) float64: the coverage-weighted mean of ``image`` along every chord (its projection).

    Parameters
    ----------
    table : ChordTable
    image : (canvas, canvas) array on the table's canvas

    Examples
    --------
    >>> from rendering import PinLayout, get_chord_table
    >>> t = get_chord_table(PinLayout(n_pins=16, canvas=32), 2, 0.5)
    >>> bool(np.allclose(chord_means(t, np.full((32, 32), 0.25)), 0.25))
    True
    """
    img = np.asarray(image, dtype=np.float64)
    if img.shape != table.shape:
        raise InputError(f"image is {img.shape} but the chord table's canvas is {table.shape}; "
                         f"resize the image to the table's canvas")
    out = np.empty(table.n_chords, dtype=np.float64)
    from . import _kernels  # numba: loaded on first use

    _kernels._chord_means(table.indptr, table.pixel, table.coverage, np.ascontiguousarray(img.ravel()), out)
    return out


def render_opaque(table: ChordTable, chords, *, supersample: int = 4, disk_cache: bool = True) -> np.ndarray:
    """Render with the opaque, supersampled model (Birsak et al. 2018).

    Draws the chords at ``supersample`` times the resolution, clamps the summed
    coverage of each fine pixel at 1 (black), and box-averages down to the
    table's canvas.

    Returns
    -------
    image : (canvas, canvas) float32 in [0, 1], 1 = white
    """
    from skimage.transform import downscale_local_mean

    k = check_int("supersample", supersample, low=1, hint="use e.g. --supersample 4")
    chords = _as_chord_ids(chords, table.n_chords)
    fine = table if k == 1 else get_chord_table(table.layout.scaled(k), table.chords.min_gap,
                                                table.width_px * k, disk_cache=disk_cache)
    dark = np.minimum(coverage_sum(fine, chords), 1.0)
    return downscale_local_mean(1.0 - dark, (k, k)).astype(np.float32)


def render_model(table: ChordTable, chords, thread: ThreadModel, *, model: str = "multiplicative",
                 supersample: int = 4) -> np.ndarray:
    """Render with the named thread model: ``"multiplicative"`` or ``"opaque"``."""
    if model == "multiplicative":
        return render(table, chords, opacity=thread.opacity)
    if model == "opaque":
        return render_opaque(table, chords, supersample=supersample)
    raise InputError(f"model must be one of {', '.join(MODELS)}, got {model!r}")


def view_scale(image: np.ndarray, factor: int) -> np.ndarray:
    """Box-average an image ``factor`` times down (how string art looks from a distance).

    The canvas is cropped to a multiple of ``factor`` first.
    """
    factor = check_int("view scale", factor, low=1)
    if factor == 1:
        return np.asarray(image, dtype=np.float32)
    img = np.asarray(image, dtype=np.float32)
    h, w = img.shape[0] // factor * factor, img.shape[1] // factor * factor
    # scikit-image's downscale_local_mean (np.mean over view_as_blocks' (H/f, W/f, f, f) view), written out on
    # the same view: the same numbers bit for bit (a test checks), without importing skimage.transform (~0.15 s)
    blocks = img[:h, :w].reshape(h // factor, factor, w // factor, factor).transpose(0, 2, 1, 3)
    return np.mean(blocks, axis=(2, 3)).astype(np.float32)


def needs_compiling(*dispatchers, build_table: bool = False, invert_table: bool = False) -> bool:
    """Whether a run needing these kernels (and rendering's own) will compile some first.

    Parameters
    ----------
    dispatchers : numba dispatchers a solver runs (:meth:`solvers.Solver.jit_kernels`)
    build_table : the chord table is not cached and will be built
    invert_table : greedy's pixel-major copy is not cached and will be built
    """
    if not (dispatchers or build_table or invert_table):
        return False  # a solver without kernels renders small pictures without numba (see render)
    from . import _kernels as K
    from .jit import kernels_cached

    wanted = [K._render_multiplicative, *dispatchers]
    if build_table:
        wanted += [K._count_chord_pixels, K._fill_chord_pixels]
    if invert_table:
        wanted.append(K._invert)
    return not kernels_cached(*wanted)


def render_snapshots(table: ChordTable, chords, counts, *, opacity: float = 1.0) -> list:
    """(canvas, canvas) float32 renders after each of ``counts`` lines (ascending), drawn incrementally with
    :func:`render`'s arithmetic (each pixel multiplied by ``1 - opacity * coverage`` per pass, float32, in
    order), so the one after the last line equals :func:`render` bit for bit."""
    chords = _as_chord_ids(chords, table.n_chords)
    o = np.float32(opacity)
    out = np.ones(table.n_pixels, dtype=np.float32)
    numpy = _use_numpy(table, chords)
    done = 0
    shots = []
    for k in counts:
        k = int(k)
        if k > done:
            _draw_passes(table, chords[done:k], o, out, numpy)
            done = k
        shots.append(out.reshape(table.shape).copy())
    return shots
