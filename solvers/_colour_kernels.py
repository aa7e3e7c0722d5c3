"""Numba kernels of the colour solvers. Private: contiguous arrays in, inputs trusted.

The public wrapper is :mod:`solvers.colour`.

The exact gain of a colour line
-------------------------------
A pass of thread colour ``c`` over a pixel in state ``C`` (per channel) with ``a = o cov`` makes it
``C + a (c - C)``. With ``d = C - c`` and ``e = C - T`` per channel, the weighted squared error
``w |C - T|^2`` falls by ``a 2 w d.e - a^2 w d.d``, so, as in the grey greedy
(:mod:`solvers._greedy_kernels`), each pixel carries per colour ``k``::

    g_k = 2 o w sum_ch d_k e,    h_k = o^2 w sum_ch d_k d_k,

and chord ``c`` drawn in colour ``k`` lowers the error by ``sum_p cov (g_k - cov h_k)``. For black
(``c = 0``) on one channel this is the grey greedy's ``(g, h)``, computed with the same expressions in
the same order, so a black-only palette on a grey picture draws the grey greedy's chords exactly.

Incremental scores for every colour
-----------------------------------
The scores of every chord in every colour are kept up to date as the grey greedy keeps its own: drawing
a line changes each of its pixels' state, hence every colour's ``(g, h)`` there, and the changes are
pushed to the chords through the pixel, read from the pixel-major copy of the table. The scores are
stored colour-interleaved, ``scores[chord, colour]`` (``KP`` lanes: the colours padded to 1, 2, 4, 8 or
16; one compiled variant per width and channel count, :data:`KERNELS`), so one cache line of a chord
serves every colour and the per-lane loop unrolls. On three channels a colour's change at a pixel is a
dot product: with ``A = S.(S - T)`` and ``B = S.S``, ``dg_k = tow (dA - c_k.dS)`` and
``dh_k = oow (dB - 2 c_k.dS)``. Before each pick every candidate within a rounding margin of the top is
rescored exactly in float64, as in the grey greedy (about one rescore a line). Measured at 288 pins,
4000 lines, 512 px on astronaut (one core): 4 lanes, 1 colour drawing 0.61 s against 1 lane 0.32 s (the
push's four lanes), 4 colours 0.78-0.85 s, the grey greedy 0.27-0.30 s.

Tried and kept: the lanes' deltas read from a tuple (``to_fixed_tuple``) rather than an array, so the
compiler keeps them in registers (4 lanes, 1 colour: 0.73 s -> 0.59 s); the dot-product deltas instead
of every colour's ``(g, h)`` computed before and after each pass (4 colours: 1.22 s -> 0.78 s); the scan
for a colour not started yet one lane at a time in a register (20 us a step instead of 40 us for all
lanes at once).

The joint step
--------------
Each colour is its own continuous thread with its own current pin (``cur[k]``; -1 before it starts,
when it may start with any chord). The current colour keeps the thread for at least ``min_run`` lines
(unless it reaches a dead end); after that, and while at least ``min_run`` lines are left, the step's
candidates are every colour's chords from its own pin, and the best (colour, chord) pair wins: the line
order is the build order. Ties go to the lower colour index, then the lower pin (as the grey greedy).

A colour not started yet may start with any chord: until it starts, each step at which it may take the
frame scans its lane (all chords). Limiting switches to every few lines would save that scan but is not
the greedy rule; it costs 0.05-0.1 s at 4000 lines where a colour starts late.

Arguments
---------
The joint greedy (:func:`_greedy_py`, compiled per width as :data:`KERNELS`) takes its arguments as the
named tuples below, unpacked on its first lines into the names its body uses: a :class:`Table`,
:class:`Pins`, a :class:`ColourPicture`, :class:`ColourSettings`, :class:`ColourScores` and
:class:`Lines`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from numba.np.unsafe.ndarray import to_fixed_tuple

from rendering.jit import guard_cache, variant

guard_cache()  # before the first @njit: stale caches of other kernel modules never load

from ._greedy_kernels import (STAT_EXACT, STAT_STOP, STOP_DEAD_END, STOP_NO_GAIN, Pins, Table,  # noqa: E402,F401
                              _prefetch_lists)

#: stats slots (int64): exact rescores, stop reason (as the grey greedy's), colour switches, forced switches
C_EXACT = STAT_EXACT
C_STOP = STAT_STOP
C_SWITCHES = 3
C_FORCED = 4
N_CSTATS = 5
#: the pixel lists of this many pixels ahead are prefetched
_AHEAD = 6
#: the compiled widths: colours padded to one of these, channels 1 or 3
WIDTHS = (1, 2, 4, 8, 16)
#: a compiled copy's lanes (colours, padded) and channels: constants bound per copy (:data:`KERNELS`)
KP = 1
NCH = 1


# ---------------------------------------------------------------------------- what the kernels take
class ColourPicture(NamedTuple):
    """The picture the colour greedy draws in: ``S`` (n_pixels, NCH) float32, the state, updated in place
    (the renderer's arithmetic); ``T`` (n_pixels, NCH) float32, the target; ``Wt`` (n_pixels,) float32, the
    error's weight per pixel; ``cols`` (KP, NCH) float64, the thread colours (padded); ``o`` float32, a
    pass's opacity; ``ncol``, int, the colours in use."""

    S: np.ndarray
    T: np.ndarray
    Wt: np.ndarray
    cols: np.ndarray
    o: np.float32
    ncol: int


class ColourSettings(NamedTuple):
    """The colour greedy's settings: ``n_lines`` to draw, the shortest run of a colour (``min_run``), stop
    when no line gains (``early_stop``, bool), each chord at most ``once`` per colour (bool)."""

    n_lines: int
    min_run: int
    early_stop: bool
    once: bool


class ColourScores(NamedTuple):
    """Every chord's running score in every colour, kept up to date through the pixel-major table (the chords
    through pixel ``p`` are ``pchord[pptr[p]:pptr[p + 1]]``, uint16, by ``pcov``, float32; ``pptr`` int32): ``scores``
    (n_chords, KP) float32 (:func:`_fill_scores_py`); candidates within ``tol`` (float) of the top are rescored
    exactly before each pick; the scores are recomputed from the picture every ``refresh`` (int) lines."""

    pptr: np.ndarray
    pchord: np.ndarray
    pcov: np.ndarray
    scores: np.ndarray
    tol: float
    refresh: int


class Lines(NamedTuple):
    """The threads being built, filled in place: ``used`` (n_chords, KP) bool, chords drawn per colour;
    ``cur`` (KP,) int64, each colour's current pin (-1: not started); per line in build order (n_lines,)
    int64 ``line_colour``, ``line_from``, ``line_to`` and float64 ``gains``; ``stats`` (:data:`N_CSTATS`,)
    int64."""

    used: np.ndarray
    cur: np.ndarray
    line_colour: np.ndarray
    line_from: np.ndarray
    line_to: np.ndarray
    gains: np.ndarray
    stats: np.ndarray


# ---------------------------------------------------------------------------- per-pixel terms
@njit(cache=True, inline="always")
def _gh(S, T, Wt, cols, o, p, k, nch):
    """``(g, h)`` of colour ``k`` at pixel ``p`` (float64); for one channel and black, the grey greedy's."""
    w = Wt[p]
    tow = 2.0 * o * w
    oow = o * o * w  # float32, as the grey greedy's ``o * o * w``
    b = np.float64(S[p, 0])
    d = b - cols[k, 0]
    e = b - T[p, 0]
    g = tow * d * e
    h = oow * d * d
    for ch in range(1, nch):
        b = np.float64(S[p, ch])
        d = b - cols[k, ch]
        e = b - T[p, ch]
        g += tow * d * e
        h += oow * d * d
    return g, h


@njit(cache=True, inline="always")
def _score_chord(indptr, pixel, coverage, S, T, Wt, cols, o, k, c, nch):
    """Exact (float64) decrease of the error if chord ``c`` were drawn in colour ``k``."""
    sc = 0.0
    for t in range(indptr[c], indptr[c + 1]):
        p = pixel[t]
        cv = np.float64(coverage[t])
        g, h = _gh(S, T, Wt, cols, o, p, k, nch)
        sc += cv * (g - cv * h)
    return sc


def _fill_scores_py(pptr, pchord, pcov, S, T, Wt, cols, o, ncol, scores):
    """Every chord's float32 score in every colour, pushed pixel by pixel through the pixel-major table."""
    scores[:] = 0.0
    g32 = np.zeros(KP, dtype=np.float32)
    h32 = np.zeros(KP, dtype=np.float32)
    for p in range(pptr.shape[0] - 1):
        nz = False
        for k in range(ncol):
            g, h = _gh(S, T, Wt, cols, o, p, k, NCH)
            g32[k] = g
            h32[k] = h
            nz = nz or g32[k] != 0 or h32[k] != 0
        if not nz:
            continue
        a = pptr[p]
        b = pptr[p + 1]
        cs = pchord[a:b]
        cc = pcov[a:b]
        for i in range(cs.shape[0]):
            cv = cc[i]
            c = cs[i]
            for k in range(KP):
                scores[c, k] += cv * (g32[k] - cv * h32[k])


def _top_py(id_of, scores, used, cur, eligible, ncol, once, fm):
    """The top running score (float64) over the candidates of the eligible colours: each started colour's
    chords from its pin, and every chord for a colour not started yet (``fm[k]`` gets that colour's top,
    -inf for the others; a full pass over its lane, ~20 us at 288 pins, each step until the colour starts)."""
    n = id_of.shape[0]
    amax = -np.inf
    fresh = False
    for k in range(KP):
        fm[k] = -np.inf
    for k in range(ncol):
        if not eligible[k]:
            continue
        if cur[k] < 0:
            fresh = True
            continue
        for j in range(n):
            c = id_of[cur[k], j]
            if c < 0 or (once and used[c, k]):
                continue
            v = np.float64(scores[c, k])
            if v > amax:
                amax = v
    if fresh:  # a colour not started has drawn no chord: every chord is a candidate
        for k in range(ncol):
            if eligible[k] and cur[k] < 0:
                t = np.float32(-np.inf)
                for c in range(scores.shape[0]):  # one lane at a time, in a register: 2x faster than all lanes
                    t = max(t, scores[c, k])
                fm[k] = t
                if fm[k] > amax:
                    amax = fm[k]
    return amax


#: the helpers :func:`_greedy_py` calls; each compiled copy binds its own (:data:`KERNELS`)
_fill = _fill_scores_py
_top = _top_py


def _greedy_py(table, pins, picture, settings, running, lines):
    """The joint colour greedy (module docstring). Returns the number of lines drawn.

    ``table``: a :class:`Table`; ``pins``: :class:`Pins`; ``picture``: a :class:`ColourPicture`;
    ``settings``: :class:`ColourSettings`; ``running``: :class:`ColourScores`; ``lines``: :class:`Lines`.
    ``S`` (n_pixels, NCH) float32 starts at the board's colour and is updated in place (the renderer's
    arithmetic); ``scores`` (n_chords, KP) float32 must hold every chord's score for ``S`` in each of
    the ``ncol`` colours (:func:`_fill_scores_py`); ``used`` (n_chords, KP) marks chords drawn in each
    colour; ``cur`` (KP,) int64 the colours' current pins (-1: not started). Line ``i`` is drawn in
    colour ``line_colour[i]`` from pin ``line_from[i]`` to ``line_to[i]``, lowering the error by
    ``gains[i]``.
    """
    indptr, pixel, coverage = table
    id_of, pin_a, pin_b = pins
    S, T, Wt, cols, o, ncol = picture
    n_lines, min_run, early_stop, once = settings
    pptr, pchord, pcov, scores, tol, refresh = running
    used, cur, line_colour, line_from, line_to, gains, stats = lines
    n = id_of.shape[0]
    n_chords = indptr.shape[0] - 1
    g0 = np.zeros(KP, dtype=np.float64)
    h0 = np.zeros(KP, dtype=np.float64)
    dg = np.zeros(KP, dtype=np.float32)
    dh = np.zeros(KP, dtype=np.float32)
    dS = np.zeros(NCH, dtype=np.float64)
    eligible = np.zeros(KP, dtype=np.bool_)
    fm = np.zeros(KP, dtype=np.float64)
    colour = -1  # the colour on the frame now
    run = 0
    drawn = 0
    while drawn < n_lines:
        # which colours may draw this line
        left = n_lines - drawn
        for k in range(ncol):
            eligible[k] = colour < 0 or k == colour or (run >= min_run and left >= min_run)
        # the top running score over the candidates
        amax = _top(id_of, scores, used, cur, eligible, ncol, once, fm)
        if amax == -np.inf and colour >= 0 and not (run >= min_run and left >= min_run):
            # the colour on the frame reached a dead end before its run was done: any colour may go on
            stats[C_FORCED] += 1
            for k in range(ncol):
                eligible[k] = k != colour
            amax = _top(id_of, scores, used, cur, eligible, ncol, once, fm)
        if amax == -np.inf:
            stats[C_STOP] = STOP_DEAD_END
            break
        # exact rescoring of every candidate near the top; the best exact score wins (ties: lower colour, pin)
        thr = amax - tol
        best = -np.inf
        bk = -1
        bc = -1
        bto = -1
        for k in range(ncol):
            if not eligible[k]:
                continue
            if cur[k] >= 0:
                for j in range(n):
                    c = id_of[cur[k], j]
                    if c < 0 or (once and used[c, k]):
                        continue
                    if scores[c, k] >= thr:
                        e = _score_chord(indptr, pixel, coverage, S, T, Wt, cols, o, k, c, NCH)
                        scores[c, k] = e
                        stats[C_EXACT] += 1
                        if e > best:
                            best = e
                            bk = k
                            bc = c
                            bto = j
            elif fm[k] >= thr:
                for c in range(n_chords):
                    if scores[c, k] >= thr:
                        e = _score_chord(indptr, pixel, coverage, S, T, Wt, cols, o, k, c, NCH)
                        scores[c, k] = e
                        stats[C_EXACT] += 1
                        if e > best:
                            best = e
                            bk = k
                            bc = c
                            bto = -1
        if early_stop and best <= 0.0:
            stats[C_STOP] = STOP_NO_GAIN
            break
        # draw chord bc in colour bk
        if cur[bk] >= 0:
            frm = cur[bk]
        else:
            frm = pin_a[bc]
            bto = pin_b[bc]
        if bk != colour:
            if colour >= 0:
                stats[C_SWITCHES] += 1
            colour = bk
            run = 0
        used[bc, bk] = True
        gains[drawn] = best
        line_colour[drawn] = bk
        line_from[drawn] = frm
        line_to[drawn] = bto
        e_ = indptr[bc + 1]
        for t in range(indptr[bc], min(indptr[bc] + _AHEAD, e_)):
            _prefetch_lists(pptr, pchord, pcov, pixel[t])
        for t in range(indptr[bc], e_):
            if t + _AHEAD < e_:
                _prefetch_lists(pptr, pchord, pcov, pixel[t + _AHEAD])
            p = pixel[t]
            a = o * coverage[t]  # float32, as the grey greedy's ``o * cv``
            nz = False
            if NCH == 1:  # the grey greedy's arithmetic, term for term
                for k in range(ncol):
                    g, h = _gh(S, T, Wt, cols, o, p, k, NCH)
                    g0[k] = g
                    h0[k] = h
                S[p, 0] = S[p, 0] * (1.0 - a) + cols[bk, 0] * a
                for k in range(ncol):
                    g, h = _gh(S, T, Wt, cols, o, p, k, NCH)
                    dg[k] = g - g0[k]
                    dh[k] = h - h0[k]
                    nz = nz or dg[k] != 0 or dh[k] != 0
            else:  # g_k = tow (S.e - c_k.e), h_k = oow (S.S - 2 c_k.S + c_k.c_k): a colour's change is a dot product
                w = Wt[p]
                tow = 2.0 * o * w
                oow = o * o * w
                dA = 0.0
                dB = 0.0
                for ch in range(NCH):
                    s0 = np.float64(S[p, ch])
                    S[p, ch] = S[p, ch] * (1.0 - a) + cols[bk, ch] * a
                    s1 = np.float64(S[p, ch])
                    tt = np.float64(T[p, ch])
                    dA += s1 * (s1 - tt) - s0 * (s0 - tt)
                    dB += s1 * s1 - s0 * s0
                    dS[ch] = s1 - s0
                for k in range(ncol):
                    dot = 0.0
                    for ch in range(NCH):
                        dot += cols[k, ch] * dS[ch]
                    dg[k] = tow * (dA - dot)
                    dh[k] = oow * (dB - 2.0 * dot)
                    nz = nz or dg[k] != 0 or dh[k] != 0
            if not nz:
                continue
            dgt = to_fixed_tuple(dg, KP)
            dht = to_fixed_tuple(dh, KP)
            q0 = pptr[p]
            q1 = pptr[p + 1]
            cs = pchord[q0:q1]
            cc = pcov[q0:q1]
            for i in range(cs.shape[0]):
                cv = cc[i]
                c = cs[i]
                for k in range(KP):
                    scores[c, k] += cv * (dgt[k] - cv * dht[k])
        cur[bk] = bto
        run += 1
        drawn += 1
        if drawn % refresh == 0 and drawn < n_lines:
            _fill(pptr, pchord, pcov, S, T, Wt, cols, o, ncol, scores)
    return drawn


# ---------------------------------------------------------------------------- compiled variants
#: (channels, width) -> (fill, greedy) dispatchers; numba compiles one on its first call
KERNELS = {}
for _nch in (1, 3):
    for _kp in WIDTHS:
        _f = njit(cache=True)(variant(_fill_scores_py, f"_fill_{_nch}_{_kp}", NCH=_nch, KP=_kp))
        _t = njit(cache=True)(variant(_top_py, f"_top_{_nch}_{_kp}", KP=_kp))
        _g = njit(cache=True)(variant(_greedy_py, f"_greedy_{_nch}_{_kp}", NCH=_nch, KP=_kp, _fill=_f, _top=_t))
        KERNELS[(_nch, _kp)] = (_f, _g)
del _nch, _kp, _f, _g, _t


def width_for(n_colours: int) -> int:
    """The compiled width for ``n_colours`` colours (the smallest of :data:`WIDTHS` that holds them)."""
    for w in WIDTHS:
        if n_colours <= w:
            return w
    raise ValueError(f"at most {WIDTHS[-1]} colours, got {n_colours}")


# ---------------------------------------------------------------------------- dithering
@njit(cache=True)
def _floyd_steinberg(img, mask, colours, out):
    """Floyd-Steinberg error diffusion of ``img`` (H, W, 3) float64 (modified in place) to the nearest of
    ``colours`` (m, 3) float64 in RGB; ``out`` (H, W) int64 gets each pixel's index (-1 outside ``mask``,
    where no error is diffused)."""
    H, W = mask.shape
    m = colours.shape[0]
    for y in range(H):
        for x in range(W):
            if not mask[y, x]:
                out[y, x] = -1
                continue
            best = np.inf
            bi = 0
            for i in range(m):
                d = 0.0
                for ch in range(3):
                    u = img[y, x, ch] - colours[i, ch]
                    d += u * u
                if d < best:
                    best = d
                    bi = i
            out[y, x] = bi
            for ch in range(3):
                err = img[y, x, ch] - colours[bi, ch]
                if x + 1 < W and mask[y, x + 1]:
                    img[y, x + 1, ch] += err * (7.0 / 16.0)
                if y + 1 < H:
                    if x > 0 and mask[y + 1, x - 1]:
                        img[y + 1, x - 1, ch] += err * (3.0 / 16.0)
                    if mask[y + 1, x]:
                        img[y + 1, x, ch] += err * (5.0 / 16.0)
                    if x + 1 < W and mask[y + 1, x + 1]:
                        img[y + 1, x + 1, ch] += err * (1.0 / 16.0)
