"""Numba kernels of chord-space guides (private; see :mod:`solvers.guide`).

A guide is a wanted thread density ``R`` over pin pairs (an ``(n, n)`` symmetric
float64 map, already blurred by a small kernel ``kern`` over pin offsets).
Drawing chord ``(i, j)`` subtracts ``kern`` centred at ``(i, j)`` and ``(j, i)``,
so ``R`` is the density still wanted around every chord: after a chord is
drawn, its near-parallel neighbours (nearby pin pairs cover nearly the same
pixels) are wanted less. Both kernels below read and update ``R`` in place.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from rendering.jit import guard_cache

guard_cache()  # before the first @njit: registers this module for the cache stamp

from ._greedy_kernels import (STAT_STOP, STOP_DEAD_END, STOP_NO_GAIN, _gh_at, _keep_best,  # noqa: E402
                              _open_chord, _step_pixel)


class Guide(NamedTuple):
    """A guide as :func:`_greedy_guided` takes it: ``R`` (n_pins, n_pins) float64, the density still wanted
    (updated in place); ``kern`` (2r + 1, 2r + 1) float64, the blur taken off around each drawn chord;
    ``m``, the most wanted open partners scored at each pin."""

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


@njit(cache=True)
def _top(R, id_of, used, once, cur, m, cj, cr):
    """The ``m`` open partners of ``cur`` with the most wanted density, best first (ties: lower pin).

    Fills ``cj`` (pins) and ``cr`` (their ``R``); returns how many were found.
    """
    cnt = 0
    for j in range(id_of.shape[0]):
        if _open_chord(id_of, cur, j, once, used) >= 0:
            cnt = _keep_best(cr, cj, cnt, m, R[cur, j], j)
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
def _set_gh(gh, pic, p):
    g, h = _gh_at(pic, p)
    gh[p, 0] = g
    gh[p, 1] = h


@njit(cache=True)
def _greedy_guided(tab, id_of, pic, run, handover, guide, out):
    """Greedy whose candidates at each pin are the guide's ``guide.m`` most wanted open partners.

    ``tab``, ``pic``, ``run`` and ``out``: the :class:`~solvers._greedy_kernels.Table`, ``Picture``,
    ``Settings`` (``no_return`` unused; ``start >= 0``) and ``Thread`` of
    :func:`solvers._greedy_kernels._greedy`; ``guide`` a :class:`Guide` (its ``R`` updated in place).
    Each candidate's exact score is a scan of its pixels with greedy's own
    arithmetic (:func:`solvers._greedy_kernels._score_chord`: ``cov * (g - cov * h)``
    in float64), so a step costs ``m`` chord lengths instead of an update of
    every chord crossing the drawn one. Each pixel's float64 ``(g, h)`` is kept
    in one array and refreshed where a chord is drawn: one read per entry instead
    of three, the same numbers bit for bit.
    ``out.stats[STAT_STOP]``: the stop code, as :func:`solvers._greedy_kernels._greedy`;
    with ``handover`` it returns, leaving the code 0, as soon as no candidate lowers the error
    (the caller hands the thread to plain greedy, which scores every candidate).
    Returns the number of chords drawn.
    """
    indptr = tab.indptr
    pixel = tab.pixel
    coverage = tab.coverage
    m = guide.m
    gh = np.empty((pic.state.shape[0], 2), dtype=np.float64)
    for p in range(pic.state.shape[0]):
        _set_gh(gh, pic, p)
    cj = np.empty(max(m, 1), dtype=np.int64)
    cr = np.empty(max(m, 1), dtype=np.float64)
    cur = run.start
    out.path[0] = cur
    for k in range(run.n_lines):
        cnt = _top(guide.R, id_of, out.used, run.once, cur, m, cj, cr)
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
            out.stats[STAT_STOP] = STOP_DEAD_END
            return k
        if handover and bs <= 0.0:
            return k
        if run.early_stop and bs <= 0.0:
            out.stats[STAT_STOP] = STOP_NO_GAIN
            return k
        c = id_of[cur, best]
        rem = 0.0
        for t in range(indptr[c], indptr[c + 1]):
            p = pixel[t]
            rem += _step_pixel(pic, p, coverage[t])
            _set_gh(gh, pic, p)
        out.gains[k] = bs
        out.removed[k] = rem
        out.used[c] = True
        _take(guide.R, guide.kern, cur, best)
        out.path[k + 1] = best
        cur = best
    return run.n_lines
