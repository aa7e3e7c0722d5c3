"""Warm starts of greedy: a prior on each chord's gain, a short list of partners per pin.

:func:`warm_start_inputs` checks and normalises what a caller of
:class:`solvers.greedy.GreedySolver` gets in a :class:`~solvers.hints.WarmStart`
into the arrays the kernels read; :func:`restricted_pixel_table` cuts
greedy's pixel-major table to the chords the partners allow (where the
speed-up of a partner list comes from).
"""

from __future__ import annotations

import numpy as np

from rendering import ChordTable, InputError
from rendering.derived import PixelTable, pixel_table
from rendering.lazy import lazy_import

from .problem import Problem

K = lazy_import("solvers._greedy_kernels")  # numba: loaded when a kernel runs


def warm_start_inputs(problem: Problem, prior=None, partners=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check and normalise greedy's ``prior`` and ``partners`` hints for the kernels.

    Returns
    -------
    prior : (n_chords,) float64, or (0,) for none
    partners : (n_pins, m) int32, each row sorted by pin with duplicates dropped and -1 at the end,
        or (n_pins, 0) for none
    allowed : (n_chords,) bool, the chords ``(i, partners[i, q])`` allowed by ``min_gap``, or (0,) for none
    """
    n_pins = problem.layout.n_pins
    n_chords = problem.table.n_chords
    if prior is None:
        prior64 = np.zeros(0, dtype=np.float64)
    else:
        arr = np.asarray(prior)
        if arr.shape != (n_chords,) or arr.dtype.kind != "f":
            raise InputError(f"prior must be a ({n_chords},) float32 array, one value per chord of the problem, "
                             f"got shape {arr.shape} and dtype {arr.dtype}; index it by problem.chords ids")
        prior64 = np.ascontiguousarray(arr, dtype=np.float64)
        if not np.isfinite(prior64).all():
            raise InputError("prior must be finite; replace NaN/inf values (e.g. np.nan_to_num) first")
    if partners is None:
        return prior64, np.zeros((n_pins, 0), dtype=np.int32), np.zeros(0, dtype=np.bool_)
    P = np.asarray(partners)
    if P.ndim != 2 or P.shape[0] != n_pins or P.shape[1] == 0 or P.dtype.kind not in "iu":
        raise InputError(f"partners must be an ({n_pins}, m) int32 array of partner pins per pin, m >= 1, "
                         f"-1 padded, got shape {P.shape} and dtype {P.dtype}; "
                         f"e.g. each pin's best partners by a score")
    if P.size and (P.min() < -1 or P.max() >= n_pins):
        raise InputError(f"partners must hold pins in [0, {n_pins - 1}] or -1 for padding, "
                         f"got values in [{P.min()}, {P.max()}]")
    key = np.where(P < 0, n_pins, P).astype(np.int64)
    key.sort(axis=1)
    dup = np.zeros(key.shape, dtype=bool)
    dup[:, 1:] = key[:, 1:] == key[:, :-1]
    key[dup] = n_pins
    key.sort(axis=1)
    norm = np.ascontiguousarray(np.where(key == n_pins, -1, key), dtype=np.int32)
    ids = problem.chords.id_of[np.arange(n_pins)[:, None], np.maximum(norm, 0)]
    allowed = np.zeros(n_chords, dtype=np.bool_)
    allowed[ids[(norm >= 0) & (ids >= 0)]] = True
    return prior64, norm, allowed


def restricted_pixel_table(table: ChordTable, allowed: np.ndarray) -> PixelTable:
    """The :func:`pixel_table` of ``table`` cut to the chords with ``allowed[c]`` (chord ids kept; not cached)."""
    pt = pixel_table(table)
    qptr = np.zeros_like(pt.indptr)
    empty_c, empty_v = pt.chord[:0].copy(), pt.coverage[:0].copy()
    nnz = K._restrict(pt.indptr, pt.chord, pt.coverage, allowed, qptr, empty_c, empty_v, False)
    chord = np.empty(nnz, dtype=pt.chord.dtype)
    cov = np.empty(nnz, dtype=np.float32)
    K._restrict(pt.indptr, pt.chord, pt.coverage, allowed, qptr, chord, cov, True)
    return PixelTable(qptr, chord, cov)
