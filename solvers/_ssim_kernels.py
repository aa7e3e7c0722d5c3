"""Numba kernels of the refiner's picture objective (``objective="ssim"``). Private: contiguous arrays in, inputs trusted.

The public wrapper is :func:`solvers.refine.refine_path`.

Objective
---------
On images box-averaged ``k x k`` (a ``G x G`` grid of blocks, row-major;
``x`` the thread's block means, ``y`` the target's) the refiner maximises

    J = SSIM(x, y) - lam * sum_b wl_b (x_b - y_b)^2

where SSIM is scikit-image's ``structural_similarity`` as
:func:`rendering.metrics.score` takes it: a 7 x 7 uniform window, edges
reflected (``scipy.ndimage`` mode ``reflect``: ``d c b a | a b c d``), sample
covariance (49/48), ``C1 = 0.01^2``, ``C2 = 0.03^2``, the map averaged over the
windows centred inside the frame (weights ``mw``, summing to 1). The squared
error keeps the tone: SSIM alone is nearly blind to a uniform shift of
brightness, and a refiner on SSIM alone trades 0.06-0.09 of L1 for its gain.

State
-----
Each window ``w`` keeps the sums ``Sx, Sxx, Sxy`` of its 49 cells (``Sy,
Syy`` are fixed) and its SSIM ``Sw``. A chord move changes the block means
of the blocks it crosses; :func:`_settle` pushes those changes to the windows
that see them (each block reaches at most 7 x 7 windows; ``ridx, rmul`` list,
per row or column index, the window centres that see it and how often, the
reflection counting a cell twice near the edge) and re-evaluates SSIM there:
the exact change of ``J``, at ~50 window updates per changed block.

Ranking
-------
Measuring every candidate pin exactly would cost ~280 of those per pin.
Candidates are ranked first by the first-order change of ``J``:
``dJ ~ sum_b (dJ/dx_b) dx_b`` with ``dx_b ~ -o cov_b x_b / k^2`` (each pixel's
brightness taken as its block's mean, the block table ``bindptr, bblock,
bcov``), i.e. ``-o/k^2 sum_b bcov_b h_b`` with ``h = x dJ/dx``
(:func:`_gradient`, the exact derivative through the reflected window,
recomputed per chunk of pins), and only the best ``shortlist`` are measured.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rendering.jit import guard_cache

guard_cache()  # before the first @njit: stale caches of other kernel modules never load

#: scikit-image's SSIM constants for data range 1, the window side and the sample-covariance factor
C1 = 0.01 ** 2
C2 = 0.03 ** 2
WIN = 7
NP = WIN * WIN
CN = NP / (NP - 1.0)
#: smallest transmittance divided by when a pass is taken off (as :mod:`solvers._greedy_kernels`)
_MIN_FACTOR = 1e-9
#: slots of the refiner's ``stats``: moves tried, moves kept, exact evaluations (as the error refiner's)
TRIED, MOVES, EXACT = 0, 1, 2


def window_rows(G: int) -> np.ndarray:
    """``(G, 7)``: the rows (or columns) that window centre ``i`` spans, reflected at the edges (repeats kept).

    >>> window_rows(8)[0].tolist()
    [2, 1, 0, 0, 1, 2, 3]
    """
    t = np.arange(G)[:, None] + np.arange(-(WIN // 2), WIN // 2 + 1)[None, :]
    return np.where(t < 0, -t - 1, np.where(t >= G, 2 * G - t - 1, t)).astype(np.int64)


def window_reach(G: int) -> tuple[np.ndarray, np.ndarray]:
    """For each row (or column) index ``u < G``: the window centres whose reflected 7-wide span holds ``u``.

    Returns ``(idx, mult)``, both ``(G, 7)``: centre indices (-1 padded) and
    how many times the span holds ``u`` (2 where the reflection repeats it).

    >>> idx, mult = window_reach(8)
    >>> idx[0].tolist(), mult[0].tolist()
    ([0, 1, 2, 3, -1, -1, -1], [2.0, 2.0, 2.0, 1.0, 0.0, 0.0, 0.0])
    """
    r = WIN // 2
    idx = np.full((G, WIN), -1, dtype=np.int64)
    mult = np.zeros((G, WIN), dtype=np.float64)
    for i in range(G):
        for t in range(i - r, i + r + 1):
            u = -t - 1 if t < 0 else (2 * G - t - 1 if t >= G else t)
            hit = np.flatnonzero(idx[u] == i)
            k = hit[0] if hit.size else np.flatnonzero(idx[u] == -1)[0]
            idx[u, k] = i
            mult[u, k] += 1.0
    return idx, mult


@njit(cache=True, inline="always")
def _ssim(sx, sy, sxx, syy, sxy):
    ux = sx / NP
    uy = sy / NP
    vx = CN * (sxx / NP - ux * ux)
    vy = CN * (syy / NP - uy * uy)
    vxy = CN * (sxy / NP - ux * uy)
    return ((2.0 * ux * uy + C1) * (2.0 * vxy + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2))


@njit(cache=True)
def _windows_init(xs, ys, G, ridx, rmul, Sx, Sy, Sxx, Syy, Sxy, Sw):
    """Every window's sums and SSIM from the block means ``xs`` (thread) and ``ys`` (target)."""
    Sx[:] = 0.0
    Sy[:] = 0.0
    Sxx[:] = 0.0
    Syy[:] = 0.0
    Sxy[:] = 0.0
    K = ridx.shape[1]
    for q in range(xs.shape[0]):
        u = q // G
        v = q - u * G
        x = xs[q]
        y = ys[q]
        for a in range(K):
            i = ridx[u, a]
            if i < 0:
                break
            for c in range(K):
                j = ridx[v, c]
                if j < 0:
                    break
                m = rmul[u, a] * rmul[v, c]
                w = i * G + j
                Sx[w] += m * x
                Sy[w] += m * y
                Sxx[w] += m * x * x
                Syy[w] += m * y * y
                Sxy[w] += m * x * y
    for w in range(Sx.shape[0]):
        Sw[w] = _ssim(Sx[w], Sy[w], Sxx[w], Syy[w], Sxy[w])


@njit(cache=True)
def _settle(dsum, mark, touched, nt, binv, xs, ys, wl, G, ridx, rmul, Sx, Sy, Sxx, Syy, Sxy, Sw, mw,
            dSx, dSxx, dSxy, wmark, wt, commit):
    """The change of ``J`` if the block sums moved by ``dsum`` (over ``touched[:nt]``); clears the scratch.

    With ``commit`` the change is applied to ``xs`` and the windows.
    """
    dl = 0.0
    nw = 0
    K = ridx.shape[1]
    for k in range(nt):
        q = touched[k]
        dx = dsum[q] * binv[q]
        x0 = xs[q]
        e0 = x0 - ys[q]
        e1 = e0 + dx
        dl += wl[q] * (e1 * e1 - e0 * e0)
        ax = dx
        axx = 2.0 * x0 * dx + dx * dx
        axy = ys[q] * dx
        u = q // G
        v = q - u * G
        for a in range(K):
            i = ridx[u, a]
            if i < 0:
                break
            mi = rmul[u, a]
            for c in range(K):
                j = ridx[v, c]
                if j < 0:
                    break
                m = mi * rmul[v, c]
                w = i * G + j
                if not wmark[w]:
                    wmark[w] = True
                    wt[nw] = w
                    nw += 1
                    dSx[w] = 0.0
                    dSxx[w] = 0.0
                    dSxy[w] = 0.0
                dSx[w] += m * ax
                dSxx[w] += m * axx
                dSxy[w] += m * axy
        if commit:
            xs[q] = x0 + dx
        dsum[q] = 0.0
        mark[q] = False
    ds = 0.0
    for k in range(nw):
        w = wt[k]
        wmark[w] = False
        if commit:
            Sx[w] += dSx[w]
            Sxx[w] += dSxx[w]
            Sxy[w] += dSxy[w]
            s1 = _ssim(Sx[w], Sy[w], Sxx[w], Syy[w], Sxy[w])
            ds += mw[w] * (s1 - Sw[w])
            Sw[w] = s1
        elif mw[w] != 0.0:
            s1 = _ssim(Sx[w] + dSx[w], Sy[w], Sxx[w] + dSxx[w], Syy[w], Sxy[w] + dSxy[w])
            ds += mw[w] * (s1 - Sw[w])
    return ds - dl, nw


@njit(cache=True, inline="always")
def _pqr(Sx, Sy, Sxx, Syy, Sxy, mw, w):
    """A window's weighted derivatives of SSIM by its sums: d/dSx, d/dSxx, d/dSxy."""
    if mw[w] == 0.0:
        return 0.0, 0.0, 0.0
    ux = Sx[w] / NP
    uy = Sy[w] / NP
    vx = CN * (Sxx[w] / NP - ux * ux)
    vy = CN * (Syy[w] / NP - uy * uy)
    vxy = CN * (Sxy[w] / NP - ux * uy)
    a1 = 2.0 * ux * uy + C1
    a2 = 2.0 * vxy + C2
    b1 = ux * ux + uy * uy + C1
    b2 = vx + vy + C2
    den = b1 * b2
    num = a1 * a2
    # d/d(ux) at fixed window sums (vx and vxy move with ux), then the chain to Sx, Sxx, Sxy
    dnum = 2.0 * uy * a2 - 2.0 * CN * uy * a1
    dden = 2.0 * ux * b2 - 2.0 * CN * ux * b1
    return (mw[w] * (dnum * den - num * dden) / (den * den) / NP, -mw[w] * num / (den * b2) * CN / NP,
            mw[w] * 2.0 * a1 / den * CN / NP)


@njit(cache=True, inline="always")
def _h(xs, ys, wl, pb, qb, rb, q):
    x = xs[q]
    return x * (pb[q] + 2.0 * x * qb[q] + ys[q] * rb[q] - 2.0 * wl[q] * (x - ys[q]))


@njit(cache=True)
def _gradient_local(xs, ys, wl, G, wrow, Sx, Sy, Sxx, Syy, Sxy, mw, P, Q, R, pb, qb, rb, h, wt, nw, hmark, hlist):
    """Bring ``h`` up to date after the windows ``wt[:nw]`` (and the blocks they hold) changed."""
    nh = 0
    K = wrow.shape[1]
    for k in range(nw):
        w = wt[k]
        p1, q1, r1 = _pqr(Sx, Sy, Sxx, Syy, Sxy, mw, w)
        dp = p1 - P[w]
        dq = q1 - Q[w]
        dr = r1 - R[w]
        P[w] = p1
        Q[w] = q1
        R[w] = r1
        i = w // G
        j = w - i * G
        for a in range(K):
            u = wrow[i, a]
            for c in range(K):
                b = u * G + wrow[j, c]
                pb[b] += dp
                qb[b] += dq
                rb[b] += dr
                if not hmark[b]:
                    hmark[b] = True
                    hlist[nh] = b
                    nh += 1
    for k in range(nh):
        b = hlist[k]
        hmark[b] = False
        h[b] = _h(xs, ys, wl, pb, qb, rb, b)


@njit(cache=True)
def _gradient(xs, ys, wl, G, ridx, rmul, Sx, Sy, Sxx, Syy, Sxy, mw, P, Q, R, pb, qb, rb, h):
    """``h_b = x_b dJ/dx_b`` for every block (the exact derivative through the reflected window)."""
    for w in range(Sx.shape[0]):
        P[w], Q[w], R[w] = _pqr(Sx, Sy, Sxx, Syy, Sxy, mw, w)
    K = ridx.shape[1]
    for q in range(Sx.shape[0]):
        u = q // G
        v = q - u * G
        p = 0.0
        pq = 0.0
        pr = 0.0
        for a in range(K):
            i = ridx[u, a]
            if i < 0:
                break
            mi = rmul[u, a]
            for c in range(K):
                j = ridx[v, c]
                if j < 0:
                    break
                m = mi * rmul[v, c]
                w = i * G + j
                p += m * P[w]
                pq += m * Q[w]
                pr += m * R[w]
        pb[q] = p
        qb[q] = pq
        rb[q] = pr
        h[q] = _h(xs, ys, wl, pb, qb, rb, q)


@njit(cache=True, inline="always")
def _pass(indptr, pixel, coverage, c, add, B, o, blk, dsum, mark, touched, nt):
    """Add (``add``) or take off one pass of chord ``c`` in ``B``, recording the block sums' change."""
    for t in range(indptr[c], indptr[c + 1]):
        p = pixel[t]
        f = 1.0 - o * coverage[t]
        if f < _MIN_FACTOR:
            f = _MIN_FACTOR
        b0 = B[p]
        b1 = b0 * f if add else b0 / f
        B[p] = b1
        q = blk[p]
        if not mark[q]:
            mark[q] = True
            touched[nt] = q
            nt += 1
        dsum[q] += b1 - b0
    return nt


@njit(cache=True, inline="always")
def _restore(indptr, pixel, coverage, c, B, o):
    """Add one pass of chord ``c`` back into ``B`` (nothing recorded)."""
    for t in range(indptr[c], indptr[c + 1]):
        f = 1.0 - o * coverage[t]
        B[pixel[t]] *= f if f > _MIN_FACTOR else _MIN_FACTOR


@njit(cache=True, inline="always")
def _take_off(indptr, pixel, coverage, c, B, o):
    """Take one pass of chord ``c`` off ``B`` (nothing recorded)."""
    for t in range(indptr[c], indptr[c + 1]):
        f = 1.0 - o * coverage[t]
        B[pixel[t]] /= f if f > _MIN_FACTOR else _MIN_FACTOR


@njit(cache=True, inline="always")
def _would_add(indptr, pixel, coverage, c, B, o, blk, dsum, mark, touched, nt):
    """Record in ``dsum`` the block sums' change if chord ``c`` were added to ``B`` (``B`` unchanged)."""
    for t in range(indptr[c], indptr[c + 1]):
        p = pixel[t]
        f = 1.0 - o * coverage[t]
        if f < _MIN_FACTOR:
            f = _MIN_FACTOR
        q = blk[p]
        if not mark[q]:
            mark[q] = True
            touched[nt] = q
            nt += 1
        dsum[q] += B[p] * (f - 1.0)
    return nt


@njit(cache=True, inline="always")
def _lin(bindptr, bblock, bcov, x, h):
    s = 0.0
    if x >= 0:
        for q in range(bindptr[x], bindptr[x + 1]):
            s += bcov[q] * h[bblock[q]]
    return s


@njit(cache=True)
def _removal(rsum, rtouched, nr, binv, xs, ys, wl, G, ridx, rmul, Sx, Sy, Sxx, Syy, Sxy, Sw, mw,
             rdx, rSx, rSxx, rSxy, rwmark, rwt, Srem):
    """Push the old chords' removal (``rsum`` over ``rtouched[:nr]``) to scratch windows; returns its ``dJ`` and window count.

    ``rdx`` gets each block's change of mean, ``Srem`` the SSIM of each window the removal reaches.
    """
    dl = 0.0
    nw = 0
    K = ridx.shape[1]
    for k in range(nr):
        q = rtouched[k]
        dx = rsum[q] * binv[q]
        rdx[q] = dx
        x0 = xs[q]
        e0 = x0 - ys[q]
        dl += wl[q] * ((e0 + dx) * (e0 + dx) - e0 * e0)
        axx = 2.0 * x0 * dx + dx * dx
        axy = ys[q] * dx
        u = q // G
        v = q - u * G
        for a in range(K):
            i = ridx[u, a]
            if i < 0:
                break
            mi = rmul[u, a]
            for c in range(K):
                j = ridx[v, c]
                if j < 0:
                    break
                m = mi * rmul[v, c]
                w = i * G + j
                if not rwmark[w]:
                    rwmark[w] = True
                    rwt[nw] = w
                    nw += 1
                    rSx[w] = 0.0
                    rSxx[w] = 0.0
                    rSxy[w] = 0.0
                rSx[w] += m * dx
                rSxx[w] += m * axx
                rSxy[w] += m * axy
    ds = 0.0
    for k in range(nw):
        w = rwt[k]
        s1 = _ssim(Sx[w] + rSx[w], Sy[w], Sxx[w] + rSxx[w], Syy[w], Sxy[w] + rSxy[w])
        Srem[w] = s1
        ds += mw[w] * (s1 - Sw[w])
    return ds - dl, nw


@njit(cache=True)
def _candidate(indptr, pixel, coverage, x1, x2, B, o, blk, dsum, mark, touched, binv, xs, ys, wl, G, ridx, rmul,
               Sx, Sy, Sxx, Syy, Sxy, Sw, mw, dSx, dSxx, dSxy, wmark, wt, rdx, rSx, rSxx, rSxy, rwmark, Srem, d_rem):
    """Exact change of ``J`` of a move: the old chords' removal (``d_rem``, its windows ``rS*``) plus ``x1, x2``.

    ``B`` is without the old chords; a block or window both touch takes both changes.
    """
    nt = 0
    if x1 >= 0 and x2 >= 0:
        # the two chords share the pixels near b' (and more when a and c are neighbours): x2 is measured on
        # B with x1 drawn, then x1 comes off again
        nt = _pass(indptr, pixel, coverage, x1, True, B, o, blk, dsum, mark, touched, nt)
        nt = _would_add(indptr, pixel, coverage, x2, B, o, blk, dsum, mark, touched, nt)
        _take_off(indptr, pixel, coverage, x1, B, o)
    elif x1 >= 0:
        nt = _would_add(indptr, pixel, coverage, x1, B, o, blk, dsum, mark, touched, nt)
    elif x2 >= 0:
        nt = _would_add(indptr, pixel, coverage, x2, B, o, blk, dsum, mark, touched, nt)
    d = d_rem
    nw = 0
    K = ridx.shape[1]
    for k in range(nt):
        q = touched[k]
        dx = dsum[q] * binv[q]
        xp = xs[q] + rdx[q]
        ep = xp - ys[q]
        d -= wl[q] * ((ep + dx) * (ep + dx) - ep * ep)
        axx = 2.0 * xp * dx + dx * dx
        axy = ys[q] * dx
        u = q // G
        v = q - u * G
        for a in range(K):
            i = ridx[u, a]
            if i < 0:
                break
            mi = rmul[u, a]
            for c in range(K):
                j = ridx[v, c]
                if j < 0:
                    break
                m = mi * rmul[v, c]
                w = i * G + j
                if not wmark[w]:
                    wmark[w] = True
                    wt[nw] = w
                    nw += 1
                    dSx[w] = 0.0
                    dSxx[w] = 0.0
                    dSxy[w] = 0.0
                dSx[w] += m * dx
                dSxx[w] += m * axx
                dSxy[w] += m * axy
        dsum[q] = 0.0
        mark[q] = False
    for k in range(nw):
        w = wt[k]
        wmark[w] = False
        if mw[w] == 0.0:
            continue
        if rwmark[w]:
            s1 = _ssim(Sx[w] + rSx[w] + dSx[w], Sy[w], Sxx[w] + rSxx[w] + dSxx[w], Syy[w], Sxy[w] + rSxy[w] + dSxy[w])
            d += mw[w] * (s1 - Srem[w])
        else:
            s1 = _ssim(Sx[w] + dSx[w], Sy[w], Sxx[w] + dSxx[w], Syy[w], Sxy[w] + dSxy[w])
            d += mw[w] * (s1 - Sw[w])
    return d


@njit(cache=True)
def _refine_ssim_range(indptr, pixel, coverage, id_of, path, count, once, B, o, blk, binv, xs, ys, wl, G,
                       ridx, rmul, Sx, Sy, Sxx, Syy, Sxy, Sw, mw, bindptr, bblock, bcov, shortlist,
                       dsum, mark, touched, rsum, rtouched, dSx, dSxx, dSxy, wmark, wt, P, Q, R, h,
                       rdx, rSx, rSxx, rSxy, rwmark, rwt, Srem, pb, qb, rb, hmark, hlist, wrow, m0, m1, stats):
    """Re-choose pins ``path[m]``, ``m0 <= m < m1``, in order, raising ``J``; the thread stays one thread.

    For pin ``b`` between ``a`` and ``c`` the move replaces chords (a, b) and
    (b, c) by (a, b'), (b', c) (end pins have one chord). Candidates ``b'``
    (``once``: undrawn chords only) are ranked by the first-order change of
    ``J`` (``h``: from :func:`_gradient`, kept current by :func:`_gradient_local`
    as pins move) and the best ``shortlist`` (0: all)
    measured exactly against keeping ``b``; the best is kept if it raises
    ``J``. The windows change only when a pin moves. Returns the total rise of ``J``.
    """
    n = id_of.shape[0]
    L = path.shape[0] - 1
    gain = 0.0
    cj = np.empty(n, dtype=np.int64)
    c1 = np.empty(n, dtype=np.int64)
    c2 = np.empty(n, dtype=np.int64)
    approx = np.empty(n, dtype=np.float64)
    for m in range(m0, m1):
        b = path[m]
        a = path[m - 1] if m > 0 else -1
        c = path[m + 1] if m < L else -1
        ca = id_of[a, b] if a >= 0 else -1
        cc = id_of[b, c] if c >= 0 else -1
        stats[TRIED] += 1
        nr = 0
        if ca >= 0:
            nr = _pass(indptr, pixel, coverage, ca, False, B, o, blk, rsum, mark, rtouched, nr)
            count[ca] -= 1
        if cc >= 0:
            nr = _pass(indptr, pixel, coverage, cc, False, B, o, blk, rsum, mark, rtouched, nr)
            count[cc] -= 1
        for k in range(nr):
            mark[rtouched[k]] = False
        ncand = 0
        for j in range(n):
            if j == b:
                continue
            x1 = id_of[a, j] if a >= 0 else -2
            x2 = id_of[j, c] if c >= 0 else -2
            if x1 == -1 or x2 == -1 or x1 == x2:
                continue
            if once and ((x1 >= 0 and count[x1] > 0) or (x2 >= 0 and count[x2] > 0)):
                continue
            cj[ncand] = j
            c1[ncand] = x1
            c2[ncand] = x2
            ncand += 1
        if shortlist > 0 and ncand > shortlist:
            for i in range(ncand):
                approx[i] = _lin(bindptr, bblock, bcov, c1[i], h) + _lin(bindptr, bblock, bcov, c2[i], h)
            order = np.argsort(approx[:ncand])[:shortlist]
            order.sort()  # ties to the lowest pin
        else:
            order = np.arange(ncand)
        nrw = 0
        if order.shape[0] > 0:
            d_rem, nrw = _removal(rsum, rtouched, nr, binv, xs, ys, wl, G, ridx, rmul, Sx, Sy, Sxx, Syy, Sxy, Sw,
                                  mw, rdx, rSx, rSxx, rSxy, rwmark, rwt, Srem)
        best = 0.0  # keeping b changes nothing
        k_best = -1
        for i in order:
            d = _candidate(indptr, pixel, coverage, c1[i], c2[i], B, o, blk, dsum, mark, touched, binv, xs, ys, wl,
                           G, ridx, rmul, Sx, Sy, Sxx, Syy, Sxy, Sw, mw, dSx, dSxx, dSxy, wmark, wt,
                           rdx, rSx, rSxx, rSxy, rwmark, Srem, d_rem)
            stats[EXACT] += 1
            if d > best:
                best = d
                k_best = i
        if k_best >= 0:
            n1 = c1[k_best]
            n2 = c2[k_best]
            path[m] = cj[k_best]
            gain += best
            stats[MOVES] += 1
            # the windows take the removal and the new chords together; B takes the new chords
            nt = 0
            for k in range(nr):
                q = rtouched[k]
                mark[q] = True
                touched[nt] = q
                nt += 1
                dsum[q] = rsum[q]
            if n1 >= 0:
                nt = _pass(indptr, pixel, coverage, n1, True, B, o, blk, dsum, mark, touched, nt)
            if n2 >= 0:
                nt = _pass(indptr, pixel, coverage, n2, True, B, o, blk, dsum, mark, touched, nt)
            _, nw = _settle(dsum, mark, touched, nt, binv, xs, ys, wl, G, ridx, rmul, Sx, Sy, Sxx, Syy, Sxy, Sw, mw,
                            dSx, dSxx, dSxy, wmark, wt, True)
            _gradient_local(xs, ys, wl, G, wrow, Sx, Sy, Sxx, Syy, Sxy, mw, P, Q, R, pb, qb, rb, h, wt, nw,
                            hmark, hlist)
        else:
            n1 = ca
            n2 = cc
            # put the old chords back into B (the windows never saw them go)
            if n1 >= 0:
                _restore(indptr, pixel, coverage, n1, B, o)
            if n2 >= 0:
                _restore(indptr, pixel, coverage, n2, B, o)
        for k in range(nr):
            q = rtouched[k]
            rsum[q] = 0.0
            rdx[q] = 0.0
        for k in range(nrw):
            rwmark[rwt[k]] = False
        if n1 >= 0:
            count[n1] += 1
        if n2 >= 0:
            count[n2] += 1
    return gain
