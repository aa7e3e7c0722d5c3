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
from typing import NamedTuple

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


class _Strip(NamedTuple):
    """A chord's strip: its ends ``(px, py)``, ``(qx, qy)``, unit tangent ``(tx, ty)`` and normal ``(nx, ny)``,
    the trapezoid's widths ``a >= b`` (:func:`_trap_cdf`), half the thread's width, its length, and the
    largest distance from the centre line at which a pixel centre gets coverage (``reach``)."""

    px: float
    py: float
    qx: float
    qy: float
    tx: float
    ty: float
    nx: float
    ny: float
    a: float
    b: float
    half_w: float
    length: float
    reach: float


@njit(cache=True, inline="always")
def _pixel_coverage(s, cx, cy):
    """The coverage of the pixel centred at ``(cx, cy)`` by the strip ``s`` (0 where at most the threshold)."""
    rx = cx - s.px
    ry = cy - s.py
    d = rx * s.nx + ry * s.ny
    cov = _trap_cdf(d + s.half_w, s.a, s.b) - _trap_cdf(d - s.half_w, s.a, s.b)
    if cov <= _EPS_COVERAGE:
        return 0.0
    u = rx * s.tx + ry * s.ty
    return cov * (_trap_cdf(s.length - u, s.a, s.b) - _trap_cdf(-u, s.a, s.b))


@njit(cache=True, inline="always")
def _cells(lo, hi, n):
    """The cells ``floor(lo) .. floor(hi)`` (inclusive) of a row of ``n``, clipped to it."""
    a = int(math.floor(lo))
    b = int(math.floor(hi))
    if a < 0:
        a = 0
    if b > n - 1:
        b = n - 1
    return a, b


@njit(cache=True, inline="always")
def _walk(s, W, H, transposed, out_pix, out_cov, write):
    """The pixels of strip ``s`` on a ``W x H`` canvas, walked along its major axis ``u`` (``x``; ``y`` when
    ``transposed``) with a short run along the other axis ``v`` at each step; returns the count."""
    if transposed:
        pu, pv, qu, slope, U, V = s.py, s.px, s.qy, (s.qx - s.px) / (s.qy - s.py), H, W
        span = s.reach / abs(s.ty)
    else:
        pu, pv, qu, slope, U, V = s.px, s.py, s.qx, (s.qy - s.py) / (s.qx - s.px), W, H
        span = s.reach / abs(s.tx)
    count = 0
    u0, u1 = _cells(min(pu, qu) - s.reach - 1.0, max(pu, qu) + s.reach + 1.0, U)
    for u in range(u0, u1 + 1):
        cu = u + 0.5
        vl = pv + (cu - pu) * slope
        v0, v1 = _cells(vl - span, vl + span, V)
        for v in range(v0, v1 + 1):
            cv = v + 0.5
            cov = _pixel_coverage(s, cv, cu) if transposed else _pixel_coverage(s, cu, cv)
            if cov <= _EPS_COVERAGE:
                continue
            if write:
                out_pix[count] = u * W + v if transposed else v * W + u
                out_cov[count] = min(cov, 1.0)
            count += 1
    return count


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
    s = _Strip(px, py, qx, qy, tx, ty, nx, ny, a, b, half_w, length, reach)
    if abs(dx) >= abs(dy):  # x-major: walk columns, a short run of rows in each (two inlined copies)
        return _walk(s, W, H, False, out_pix, out_cov, write)
    return _walk(s, W, H, True, out_pix, out_cov, write)


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
