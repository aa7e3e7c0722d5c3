"""Numba kernels of chord-space guides (private; see :mod:`solvers.guide`).

A guide is a wanted thread density ``R`` over pin pairs (an ``(n, n)`` symmetric
float64 map, already blurred by a small kernel ``kern`` over pin offsets).
Drawing chord ``(i, j)`` subtracts ``kern`` centred at ``(i, j)`` and ``(j, i)``,
so ``R`` is the density still wanted around every chord: after a chord is
drawn, its near-parallel neighbours (nearby pin pairs cover nearly the same
pixels) are wanted less. Both kernels below read and update ``R`` in place.

Arguments
---------
:func:`_greedy_guided` takes its arguments as the named tuples below, unpacked on
its first lines into the names its body uses: a :class:`Table`, the chord ids
``id_of``, a :class:`Picture`, :class:`GuidedSettings`, a :class:`Guide` and a
:class:`Thread`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from rendering.jit import guard_cache

guard_cache()  # before the first @njit: registers this module for the cache stamp

from ._greedy_kernels import (STAT_STOP, STOP_DEAD_END, STOP_NO_GAIN, Picture, Table, Thread,  # noqa: E402,F401
                              _gh, _step_pixel)


# ---------------------------------------------------------------------------- what the kernels take
class GuidedSettings(NamedTuple):
    """The guided run's settings: ``n_lines`` to draw (int) from pin ``start`` (int); each chord at most
    ``once`` (bool); stop when no candidate gains (``early_stop``, bool); or, with ``handover`` (bool),
    return then, leaving the stop code 0."""

    n_lines: int
    start: int
    once: bool
    early_stop: bool
    handover: bool


class Guide(NamedTuple):
    """A guide as :func:`_greedy_guided` takes it: ``R`` (n_pins, n_pins) float64, the density still wanted
    (updated in place); ``kern`` (2r + 1, 2r + 1) float64, the blur taken off around each drawn chord;
    ``m`` (int), the most wanted open partners scored at each pin."""

    R: np.ndarray
    kern: np.ndarray
    m: int


@njit(cache=True, inline="always")
def _take(R, kern, i, j):
    """Subtract ``kern`` centred at ``(i, j)`` and ``(j, i)`` (pin indices wrap around)."""
    n = R.shape[0]
    r = kern.shape[0] // 2
    for a in range(-r, r + 1):
        ia = (i + a) % n
        ja = (j + a) % n
        for b in range(-r, r + 1):
            w = kern[a + r, b + r]
            R[ia, (j + b) % n] -= w
            R[ja, (i + b) % n] -= w


@njit(cache=True, inline="always")
def _open(id_of, used, once, cur, j):
    c = id_of[cur, j]
    return c >= 0 and not (once and used[c])


@njit(cache=True)
def _top(R, id_of, used, once, cur, m, cj, cr):
    """The ``m`` open partners of ``cur`` with the most wanted density, best first (ties: lower pin).

    Fills ``cj`` (pins) and ``cr`` (their ``R``); returns how many were found.
    """
    n = id_of.shape[0]
    cnt = 0
    for j in range(n):
        if not _open(id_of, used, once, cur, j):
            continue
        v = R[cur, j]
        if cnt < m:
            q = cnt
            cnt += 1
        elif v > cr[m - 1]:
            q = m - 1
        else:
            continue
        while q > 0 and cr[q - 1] < v:
            cr[q] = cr[q - 1]
            cj[q] = cj[q - 1]
            q -= 1
        cr[q] = v
        cj[q] = j
    return cnt


@njit(cache=True, nogil=True)
def _follow(id_of, R, kern, n_lines, start, once, used, path):
    """Walk ``n_lines`` chords from ``start``, each time to the open partner with the most wanted density.

    Returns the number of chords drawn: ``n_lines``, or fewer at a dead end (no open chord from the
    current pin: every chord drawn when ``once``, or none allowed).
    """
    cj = np.empty(1, dtype=np.int64)
    cr = np.empty(1, dtype=np.float64)
    cur = start
    path[0] = cur
    for k in range(n_lines):
        if _top(R, id_of, used, once, cur, 1, cj, cr) <= 0:
            return k
        j = cj[0]
        used[id_of[cur, j]] = True
        _take(R, kern, cur, j)
        path[k + 1] = j
        cur = j
    return n_lines


@njit(cache=True, inline="always")
def _set_gh(gh, S, T, Wt, o, rule, p):
    g, h = _gh(S[p], T[p], Wt[p], o, rule)
    gh[p, 0] = g
    gh[p, 1] = h


@njit(cache=True)
def _greedy_guided(table, id_of, picture, settings, guide, thread):
    """Greedy whose candidates at each pin are the guide's ``m`` most wanted open partners.

    Each candidate's exact score is a scan of its pixels with greedy's own
    arithmetic (:func:`solvers._greedy_kernels._score_chord`: ``cov * (g - cov * h)``
    in float64), so a step costs ``m`` chord lengths instead of an update of
    every chord crossing the drawn one. Each pixel's float64 ``(g, h)`` is kept
    in one array and refreshed where a chord is drawn: one read per entry instead
    of three, the same numbers bit for bit.
    ``stats[STAT_STOP]``: the stop code, as :func:`solvers._greedy_kernels._greedy`;
    with ``handover`` it returns, leaving the code 0, as soon as no candidate lowers the error
    (the caller hands the thread to plain greedy, which scores every candidate).
    Returns the number of chords drawn. ``table``: a :class:`Table`; ``id_of`` (n_pins, n_pins) int32, the
    chord id of a pin pair (-1: not allowed); ``picture``: a :class:`Picture`; ``settings``:
    :class:`GuidedSettings`; ``guide``: a :class:`Guide`; ``thread``: a :class:`Thread`.
    """
    indptr, pixel, coverage = table
    S, T, Wt, o, rule, sum_step = picture
    n_lines, start, once, early_stop, handover = settings
    R, kern, m = guide
    used, path, gains, removed, stats = thread
    gh = np.empty((S.shape[0], 2), dtype=np.float64)
    for p in range(S.shape[0]):
        _set_gh(gh, S, T, Wt, o, rule, p)
    cj = np.empty(max(m, 1), dtype=np.int64)
    cr = np.empty(max(m, 1), dtype=np.float64)
    cur = start
    path[0] = cur
    for k in range(n_lines):
        cnt = _top(R, id_of, used, once, cur, m, cj, cr)
        best, bs = -1, -np.inf
        for q in range(cnt):
            c = id_of[cur, cj[q]]
            sc = 0.0
            for t in range(indptr[c], indptr[c + 1]):
                p = pixel[t]
                cv = np.float64(coverage[t])
                sc += cv * (gh[p, 0] - cv * gh[p, 1])
            if sc > bs:
                bs = sc
                best = cj[q]
        if best < 0:  # every chord from this pin is drawn: stop, as greedy does
            stats[STAT_STOP] = STOP_DEAD_END
            return k
        if handover and bs <= 0.0:
            return k
        if early_stop and bs <= 0.0:
            stats[STAT_STOP] = STOP_NO_GAIN
            return k
        c = id_of[cur, best]
        rem = 0.0
        for t in range(indptr[c], indptr[c + 1]):
            p = pixel[t]
            rem += _step_pixel(S, p, coverage[t], o, rule, sum_step)
            _set_gh(gh, S, T, Wt, o, rule, p)
        gains[k] = bs
        removed[k] = rem
        used[c] = True
        _take(R, kern, cur, best)
        path[k + 1] = best
        cur = best
    return n_lines
