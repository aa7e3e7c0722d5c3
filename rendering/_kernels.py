"""Numba CPU kernels. Private: they take contiguous arrays and trust their inputs.

The public wrappers live in :mod:`rendering.chords`, :mod:`rendering.raster` and :mod:`rendering.derived`.

Coverage model
--------------
A thread of width ``w`` is the strip of points within ``w/2`` of the chord's
centre line. The exact area of a unit pixel inside an infinitely long strip is
``F(d + w/2) - F(d - w/2)``, where ``d`` is the signed distance from the pixel
centre to the line and ``F`` the CDF of the pixel's projection on the line's
normal: the sum ``a*U1 + b*U2`` of two uniforms with ``a = max(|nx|, |ny|)``,
``b = min(|nx|, |ny|)`` (a trapezoid of area 1). Summed over pixels, coverage
equals ``w * length`` at every angle. Near the two pins, the pixel's share of
the segment's extent along the line (the same CDF, on the tangent) scales it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .jit import guard_cache, variant

guard_cache()  # before the first @njit: stale caches of other kernel modules never load

_EPS_COVERAGE = 1e-5


@njit(cache=True, inline="always")
def _trap_cdf(t, a, b):
    """CDF of a*U1 + b*U2 (U uniform on [-1/2, 1/2], a >= b >= 0, a > 0)."""
    h = 0.5 * (a + b)
    g = 0.5 * (a - b)
    if t <= -h:
        return 0.0
    if t >= h:
        return 1.0
    if t <= -g:
        u = t + h
        return u * u / (2.0 * a * b)
    if t < g:
        return b / (2.0 * a) + (t + g) / a
    u = h - t
    return 1.0 - u * u / (2.0 * a * b)


@njit(cache=True)
def _chord_pixels(px, py, qx, qy, width, W, H, out_pix, out_cov, write):
    """Enumerate the pixels a chord covers; write them if ``write``; return the count."""
    dx = qx - px
    dy = qy - py
    length = math.sqrt(dx * dx + dy * dy)
    if length <= 0.0:
        return 0
    tx = dx / length
    ty = dy / length
    nx = -ty
    ny = tx
    a = max(abs(nx), abs(ny))
    b = min(abs(nx), abs(ny))
    half_w = 0.5 * width
    reach = half_w + 0.5 * (a + b)  # largest |d| with non-zero coverage
    count = 0
    # walk the major axis (the one the chord advances along faster: x-major walks columns, y-major rows), a short
    # run of the other in each step; (m, n) is (x, y) or (y, x), and the pixel index ``y * W + x`` is
    # ``m * sm + n * sn``. The sums below are those of (x, y) with their terms swapped: the same floats.
    if abs(dx) >= abs(dy):
        pm, qm, pn, dm, dn, tm, tn, nm, nn, sm, sn, m_size, n_size = px, qx, py, dx, dy, tx, ty, nx, ny, 1, W, W, H
    else:
        pm, qm, pn, dm, dn, tm, tn, nm, nn, sm, sn, m_size, n_size = py, qy, px, dy, dx, ty, tx, ny, nx, W, 1, H, W
    m0 = int(math.floor(min(pm, qm) - reach - 1.0))
    m1 = int(math.floor(max(pm, qm) + reach + 1.0))
    if m0 < 0:
        m0 = 0
    if m1 > m_size - 1:
        m1 = m_size - 1
    slope = dn / dm
    span = reach / abs(tm)
    for m in range(m0, m1 + 1):
        cm = m + 0.5
        nl = pn + (cm - pm) * slope
        n0 = int(math.floor(nl - span))
        n1 = int(math.floor(nl + span))
        if n0 < 0:
            n0 = 0
        if n1 > n_size - 1:
            n1 = n_size - 1
        rm = cm - pm
        for n in range(n0, n1 + 1):
            rn = (n + 0.5) - pn
            d = rm * nm + rn * nn
            cov = _trap_cdf(d + half_w, a, b) - _trap_cdf(d - half_w, a, b)
            if cov <= _EPS_COVERAGE:
                continue
            u = rm * tm + rn * tn
            cov *= _trap_cdf(length - u, a, b) - _trap_cdf(-u, a, b)
            if cov <= _EPS_COVERAGE:
                continue
            if write:
                out_pix[count] = m * sm + n * sn
                out_cov[count] = min(cov, 1.0)
            count += 1
    return count


def _count_chord_pixels_py(pos, pin_a, pin_b, width, W, H):
    """Pixels of every chord (the first pass of a table build)."""
    n = pin_a.shape[0]
    counts = np.empty(n, dtype=np.int64)
    dummy_p = np.empty(0, dtype=np.int32)
    dummy_c = np.empty(0, dtype=np.float32)
    for c in prange(n):
        i = pin_a[c]
        j = pin_b[c]
        counts[c] = _chord_pixels(pos[i, 0], pos[i, 1], pos[j, 0], pos[j, 1], width, W, H,
                                  dummy_p, dummy_c, False)
    return counts


def _fill_chord_pixels_py(pos, pin_a, pin_b, width, W, H, indptr, pixel, coverage):
    """Fill every chord's pixels and coverage (the second pass; ``indptr`` from the first)."""
    n = pin_a.shape[0]
    for c in prange(n):
        i = pin_a[c]
        j = pin_b[c]
        s = indptr[c]
        e = indptr[c + 1]
        _chord_pixels(pos[i, 0], pos[i, 1], pos[j, 0], pos[j, 1], width, W, H,
                      pixel[s:e], coverage[s:e], True)


# Each build kernel is compiled twice (rendering.jit.variant: apart in numba's cache): serial for the tables
# of everyday sizes, where two cores build 288 pins at 512 px no faster in parallel (0.48 s vs 0.50 s) and
# the serial kernels compile in a quarter of the time (the first run after install waits for it), and
# parallel for big tables (512 pins at 1024 px: 2.4 s vs 3.5 s on 2 cores; more with more cores).
_count_chord_pixels = njit(cache=True)(variant(_count_chord_pixels_py, "_count_chord_pixels"))
_fill_chord_pixels = njit(cache=True)(variant(_fill_chord_pixels_py, "_fill_chord_pixels"))
_count_chord_pixels_par = njit(cache=True, parallel=True)(variant(_count_chord_pixels_py, "_count_chord_pixels_par"))
_fill_chord_pixels_par = njit(cache=True, parallel=True)(variant(_fill_chord_pixels_py, "_fill_chord_pixels_par"))


@njit(cache=True)
def _render_multiplicative(indptr, pixel, coverage, chords, opacity, out):
    """out (flat, float32, start at 1) *= (1 - opacity * coverage) for each chord pass."""
    for k in range(chords.shape[0]):
        c = chords[k]
        for t in range(indptr[c], indptr[c + 1]):
            out[pixel[t]] *= 1.0 - opacity * coverage[t]


@njit(cache=True, parallel=True)
def _chord_means(indptr, pixel, coverage, image, out):
    """out[c] = coverage-weighted mean of ``image`` (flat float64) along chord ``c``."""
    for c in prange(indptr.shape[0] - 1):
        s = 0.0
        w = 0.0
        for t in range(indptr[c], indptr[c + 1]):
            cv = np.float64(coverage[t])
            s += cv * image[pixel[t]]
            w += cv
        out[c] = s / w if w > 0 else 0.0


@njit(cache=True)
def _accumulate_coverage(indptr, pixel, coverage, chords, out):
    """out (flat, float32, start at 0) += coverage for each chord pass."""
    for k in range(chords.shape[0]):
        c = chords[k]
        for t in range(indptr[c], indptr[c + 1]):
            out[pixel[t]] += coverage[t]


# ---------------------------------------------------------------------- derived tables (rendering.derived)
@njit(cache=True)
def _invert(indptr, pixel, coverage, pptr, pchord, pcov):
    """Fill the pixel-major table (``pptr`` given); each pixel's chords come out sorted by id."""
    fill = pptr[:-1].copy()
    for c in range(indptr.shape[0] - 1):
        for t in range(indptr[c], indptr[c + 1]):
            p = pixel[t]
            q = fill[p]
            pchord[q] = c
            pcov[q] = coverage[t]
            fill[p] = q + 1


@njit(cache=True)
def _block_table(indptr, pixel, coverage, blk, nblocks, bindptr, bblock, bcov, fill):
    """Per chord, the blocks it touches and its summed coverage in each (count only unless ``fill``)."""
    mark = np.full(nblocks, -1, dtype=np.int64)
    slot = np.zeros(nblocks, dtype=np.int64)
    k = 0
    for c in range(indptr.shape[0] - 1):
        start = k
        for t in range(indptr[c], indptr[c + 1]):
            q = blk[pixel[t]]
            if mark[q] != c:
                mark[q] = c
                slot[q] = k
                if fill:
                    bblock[k] = q
                    bcov[k] = 0.0
                k += 1
            if fill:
                bcov[slot[q]] += coverage[t]
        if not fill:
            bindptr[c + 1] = bindptr[c] + (k - start)
    return k


# ---------------------------------------------------------------------- torch_render (CPU float32 products)
@njit(cache=True, parallel=True)
def _csr_dense(indptr, index, values, x, out):  # pragma: no cover - compiled
    """``out = A @ x`` for a CSR matrix ``A`` (rows in parallel); ``x`` (n_cols, B), ``out`` (n_rows, B)."""
    B = x.shape[1]
    for r in prange(indptr.shape[0] - 1):
        for b in range(B):
            out[r, b] = 0.0
        for t in range(indptr[r], indptr[r + 1]):
            v = values[t]
            c = index[t]
            for b in range(B):
                out[r, b] += v * x[c, b]
