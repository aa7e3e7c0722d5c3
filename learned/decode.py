"""Chord scores to one continuous thread.

Shared by ``projection``, ``ae-seed`` and ``ae-chords`` so that they differ only
in their scores. The budget's ``n_lines`` best-scoring chords are *wanted*; the
thread then walks from pin to pin with the problem's constraints (``min_gap``
through the chord set, no chord twice unless repeats are allowed), at each pin
taking, in this order of preference:

1. the best-scoring unused wanted chord from the current pin;
2. otherwise a connector: the best-scoring unused chord to a pin that still has
   unused wanted chords;
3. otherwise the best-scoring unused chord (or, when every chord from the pin is
   used, the best-scoring one again, as ``random`` does at a dead end).

The thread starts at the pin with the most wanted chords (lowest index on ties),
so decoding is deterministic.
"""

from __future__ import annotations

import numba
import numpy as np

from rendering import InputError


@numba.njit(cache=True)
def _decode(id_of, scores, wanted, n_lines, start, allow_repeats):  # pragma: no cover - compiled
    n = id_of.shape[0]
    n_chords = scores.size
    used = np.zeros(n_chords, dtype=np.bool_)
    remaining = np.zeros(n, dtype=np.int64)
    for i in range(n):
        for j in range(n):
            c = id_of[i, j]
            if c >= 0 and wanted[c]:
                remaining[i] += 1
    path = np.empty(n_lines + 1, dtype=np.int32)
    cur = start
    path[0] = cur
    for k in range(n_lines):
        best_j = -1
        best_tier = -1
        best_s = -np.inf
        any_j = -1
        any_s = -np.inf
        for j in range(n):
            c = id_of[cur, j]
            if c < 0:
                continue
            s = scores[c]
            if s > any_s:
                any_s = s
                any_j = j
            if used[c] and not allow_repeats:
                continue
            if wanted[c] and not used[c]:
                tier = 2
            elif remaining[j] > 0:
                tier = 1
            else:
                tier = 0
            if tier > best_tier or (tier == best_tier and s > best_s):
                best_tier = tier
                best_s = s
                best_j = j
        if best_j < 0:
            best_j = any_j
        c = id_of[cur, best_j]
        if wanted[c] and not used[c]:
            remaining[cur] -= 1
            remaining[best_j] -= 1
        used[c] = True
        path[k + 1] = best_j
        cur = best_j
    return path


def wanted_top(scores: np.ndarray, n_lines: int) -> np.ndarray:
    """(n_chords,) bool: the ``n_lines`` best scores (ties to the lower id)."""
    scores = np.asarray(scores)
    k = min(int(n_lines), scores.size)
    wanted = np.zeros(scores.size, dtype=bool)
    if k > 0:
        wanted[np.argsort(-scores, kind="stable")[:k]] = True
    return wanted


def decode_path(chords, scores, n_lines: int, *, allow_repeats: bool = False, wanted=None,
                start: int | None = None) -> np.ndarray:
    """One continuous thread of ``n_lines`` chords from chord scores.

    Parameters
    ----------
    chords : rendering.ChordSet
    scores : (n_chords,) float, higher = more wanted
    n_lines : int >= 1
    allow_repeats : bool
    wanted : optional (n_chords,) bool, default the ``n_lines`` best scores
    start : optional start pin, default the pin with most wanted chords

    Returns
    -------
    (n_lines + 1,) int32 pin sequence

    Examples
    --------
    >>> from rendering import ChordSet, PinLayout
    >>> cs = ChordSet.build(PinLayout(n_pins=8, canvas=32), min_gap=2)
    >>> path = decode_path(cs, np.arange(cs.n_chords, dtype=float), 3)
    >>> len(path), len(set(cs.path_to_chords(path).tolist()))
    (4, 3)
    """
    scores = np.ascontiguousarray(scores, dtype=np.float64)
    if scores.shape != (chords.n_chords,) or not np.isfinite(scores).all():
        raise InputError(f"scores must be {chords.n_chords} finite numbers, got shape {scores.shape}")
    wanted = wanted_top(scores, n_lines) if wanted is None else np.ascontiguousarray(wanted, dtype=bool)
    if start is None:
        deg = np.bincount(chords.pin_a[wanted], minlength=chords.n_pins) + \
            np.bincount(chords.pin_b[wanted], minlength=chords.n_pins)
        start = int(np.argmax(deg))
    id_of = np.ascontiguousarray(chords.id_of, dtype=np.int32)
    return _decode(id_of, scores, wanted, int(n_lines), int(start), bool(allow_repeats))
