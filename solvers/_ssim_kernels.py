"""Numba kernels of the refiner's picture objective (``objective="ssim"``).

Private: contiguous arrays in, inputs trusted.

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
brightness, and a refiner on SSIM alone trades the tone away for its gain.

State
-----
Each window ``w`` keeps the sums ``Sx, Sxx, Sxy`` of its 49 cells (``Sy,
Syy`` are fixed), its SSIM and its weight (``W``, columns ``W_*``); each
block its mean, the target's, its squared-error weight and ``1 / pixels``
(``BS``, columns ``B_*``), one cache line a row. A chord move changes the
block means of the blocks it crosses; :func:`_push` spreads each change to the
windows that see it (at most 7 x 7; ``ridx, rmul`` list, per row or column
index, the window centres that see it and how often, the reflection counting
a cell twice near the edge) and SSIM is re-evaluated there: the exact change
of ``J``, ~50 window updates per changed block. Per pin the old chords'
removal is pushed once (:func:`_removal`) and each candidate adds its own
chords on top (:func:`_candidate`); the state changes only when a pin moves
(:func:`_settle` with ``commit``).

Ranking
-------
Measuring every candidate pin exactly would cost ~280 of those per pin.
Candidates are ranked first by the first-order change of ``J``:
``dJ ~ sum_b (dJ/dx_b) dx_b`` with ``dx_b ~ -o cov_b x_b / k^2`` (each pixel's
brightness taken as its block's mean, the block table ``bindptr, bblock,
bcov``), i.e. ``-o/k^2 sum_b bcov_b h_b`` with ``h = x dJ/dx``
(:func:`_gradient`, the exact derivative through the reflected window, kept
current by :func:`_gradient_local` as pins move), and only the best
``shortlist`` are measured.

Arguments
---------
The kernels with many arguments take them as the named tuples below, unpacked
on their first lines into the names the bodies use: :func:`_refine_ssim_range`
takes a :class:`Table`, an :class:`SSIMThread`, an :class:`SSIMState`, a
:class:`Ranking`, an :class:`SSIMScratch`, the range ``m0, m1`` and ``stats``;
:func:`_candidate` the same table, state and scratch, which its caller passes
through.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from rendering.jit import guard_cache

guard_cache()  # before the first @njit: stale caches of other kernel modules never load

# a pass's change of the block sums, and the smallest transmittance divided by, as the error refiner's
from ._greedy_kernels import _MIN_FACTOR, Table, _delta, _reroutes  # noqa: E402,F401

#: scikit-image's SSIM constants for data range 1, the window side and the sample-covariance factor
C1 = 0.01 ** 2
C2 = 0.03 ** 2
WIN = 7
NP = WIN * WIN
CN = NP / (NP - 1.0)
#: 1 / 49 and 49/48 / 49: window means by multiplication (a division costs ~5x a multiply in the hot loop)
INV_NP = 1.0 / NP
CN_NP = CN / NP
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


# packed state (one cache line per window or block): columns of ``W`` (per window), ``BS`` (per block),
# ``D`` (a candidate's window changes), ``RS`` (the removal's window changes and SSIM), ``PQR`` (derivatives)
W_SX, W_SY, W_SXX, W_SYY, W_SXY, W_S, W_MW = 0, 1, 2, 3, 4, 5, 6
B_X, B_Y, B_WL, B_INV, B_RDX, B_P, B_Q, B_R = 0, 1, 2, 3, 4, 5, 6, 7
D_X, D_XX, D_XY, D_S = 0, 1, 2, 3


# ---------------------------------------------------------------------------- what the kernels take
class SSIMThread(NamedTuple):
    """The thread being refined: ``id_of`` (n_pins, n_pins) int32, the chord id of a pin pair (-1: not
    allowed); ``path`` (n_lines + 1,) int64, its pins (updated in place); ``count`` (n_chords,) int64, the
    passes of each chord (updated in place); ``once``, bool, each chord at most once."""

    id_of: np.ndarray
    path: np.ndarray
    count: np.ndarray
    once: bool


class SSIMState(NamedTuple):
    """The objective's state (built by :func:`solvers.refine.refine_ssim_path`).

    B : (n_pixels,) float64, the thread's brightness (updated in place); o : float, a pass's opacity;
    blk : (n_pixels,) int64, each pixel's block; BS : (n_blocks, 8) float64, per block the columns ``B_*``;
    G : int, blocks per side; ridx, rmul : (G, 7) int64 and float64, :func:`window_reach`; wrow : (G, 7)
    int64, :func:`window_rows`; W : (n_blocks, 8) float64, per window the columns ``W_*``; PQR :
    (n_blocks, 4) float64, each window's derivatives (:func:`_pqr`); h : (n_blocks,) float64, ``x dJ/dx``
    per block (:func:`_gradient`).
    """

    B: np.ndarray
    o: float
    blk: np.ndarray
    BS: np.ndarray
    G: int
    ridx: np.ndarray
    rmul: np.ndarray
    wrow: np.ndarray
    W: np.ndarray
    PQR: np.ndarray
    h: np.ndarray


class Ranking(NamedTuple):
    """The first-order ranking of candidates: the block table (each chord's coverage summed over blocks,
    CSR by chord: ``bindptr`` (n_chords + 1,) int64, ``bblock`` uint16 (or int64), ``bcov`` float32;
    ``bindptr`` ``[0]`` when ``shortlist`` is 0); ``shortlist``, int, candidates measured exactly per pin
    (0: all); each pin's fan ``fan`` (n_pins, n_pins) float64, the first-order score of its chords,
    computed at the version ``fan_at`` (n_pins,) int64 (-1: never) of ``h``, whose current version is
    ``version`` (1,) int64."""

    bindptr: np.ndarray
    bblock: np.ndarray
    bcov: np.ndarray
    shortlist: int
    fan: np.ndarray
    fan_at: np.ndarray
    version: np.ndarray


class SSIMScratch(NamedTuple):
    """The refiner's scratch, left clear between pins, (n_blocks,) each but ``D`` and ``RS`` (n_blocks, 4)
    float64: a candidate's change of the block sums ``dsum`` (float64) over ``touched`` (int64, marked in
    ``mark``, bool), and its window changes ``D`` over ``wt`` (int64, marked in ``wmark``, bool); the old
    chords' removal: block-sum change ``rsum`` (float64) over ``rtouched`` (int64), window changes and SSIM
    ``RS`` over ``rwt`` (int64, marked in ``rwmark``, bool); the blocks whose ``h`` is stale, ``hlist``
    (int64, marked in ``hmark``, bool)."""

    D: np.ndarray
    RS: np.ndarray
    dsum: np.ndarray
    mark: np.ndarray
    touched: np.ndarray
    rsum: np.ndarray
    rtouched: np.ndarray
    wmark: np.ndarray
    wt: np.ndarray
    rwmark: np.ndarray
    rwt: np.ndarray
    hmark: np.ndarray
    hlist: np.ndarray


@njit(cache=True, inline="always")
def _ssim(sx, sy, sxx, syy, sxy):
    ux = sx * INV_NP
    uy = sy * INV_NP
    vx = CN_NP * sxx - CN * ux * ux
    vy = CN_NP * syy - CN * uy * uy
    vxy = CN_NP * sxy - CN * ux * uy
    return ((2.0 * ux * uy + C1) * (2.0 * vxy + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2))


@njit(cache=True)
def _windows_init(BS, G, ridx, rmul, W):
    """Every window's sums and SSIM from the block means (``BS[:, B_X]`` thread, ``BS[:, B_Y]`` target)."""
    for k in range(5):
        W[:, k] = 0.0
    K = ridx.shape[1]
    for q in range(BS.shape[0]):
        u = q // G
        v = q - u * G
        x = BS[q, B_X]
        y = BS[q, B_Y]
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
                W[w, W_SX] += m * x
                W[w, W_SY] += m * y
                W[w, W_SXX] += m * x * x
                W[w, W_SYY] += m * y * y
                W[w, W_SXY] += m * x * y
    for w in range(W.shape[0]):
        W[w, W_S] = _ssim(W[w, W_SX], W[w, W_SY], W[w, W_SXX], W[w, W_SYY], W[w, W_SXY])


@njit(cache=True, inline="always")
def _push(q, dx, xb, yb, G, ridx, rmul, D, wmark, wt, nw):
    """Add block ``q``'s change of mean ``dx`` (from ``xb``; target ``yb``) to the window scratch ``D``."""
    axx = 2.0 * xb * dx + dx * dx
    axy = yb * dx
    u = q // G
    v = q - u * G
    K = ridx.shape[1]
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
                D[w, D_X] = 0.0
                D[w, D_XX] = 0.0
                D[w, D_XY] = 0.0
            D[w, D_X] += m * dx
            D[w, D_XX] += m * axx
            D[w, D_XY] += m * axy
    return nw


@njit(cache=True)
def _settle(dsum, mark, touched, nt, BS, G, ridx, rmul, W, D, wmark, wt, commit):
    """The change of ``J`` if the block sums moved by ``dsum`` (over ``touched[:nt]``), and the windows touched
    (``wt[:nw]``); clears the scratch. With ``commit`` the change is applied to the blocks and the windows."""
    dl = 0.0
    nw = 0
    for k in range(nt):
        q = touched[k]
        dx = dsum[q] * BS[q, B_INV]
        x0 = BS[q, B_X]
        e0 = x0 - BS[q, B_Y]
        dl += BS[q, B_WL] * (2.0 * e0 * dx + dx * dx)
        nw = _push(q, dx, x0, BS[q, B_Y], G, ridx, rmul, D, wmark, wt, nw)
        if commit:
            BS[q, B_X] = x0 + dx
        dsum[q] = 0.0
        mark[q] = False
    ds = 0.0
    for k in range(nw):
        w = wt[k]
        wmark[w] = False
        if commit:
            W[w, W_SX] += D[w, D_X]
            W[w, W_SXX] += D[w, D_XX]
            W[w, W_SXY] += D[w, D_XY]
            s1 = _ssim(W[w, W_SX], W[w, W_SY], W[w, W_SXX], W[w, W_SYY], W[w, W_SXY])
            ds += W[w, W_MW] * (s1 - W[w, W_S])
            W[w, W_S] = s1
        elif W[w, W_MW] != 0.0:
            s1 = _ssim(W[w, W_SX] + D[w, D_X], W[w, W_SY], W[w, W_SXX] + D[w, D_XX], W[w, W_SYY],
                       W[w, W_SXY] + D[w, D_XY])
            ds += W[w, W_MW] * (s1 - W[w, W_S])
    return ds - dl, nw


@njit(cache=True, inline="always")
def _pqr(W, w):
    """A window's weighted derivatives of SSIM by its sums: d/dSx, d/dSxx, d/dSxy."""
    mw = W[w, W_MW]
    if mw == 0.0:
        return 0.0, 0.0, 0.0
    ux = W[w, W_SX] * INV_NP
    uy = W[w, W_SY] * INV_NP
    vx = CN_NP * W[w, W_SXX] - CN * ux * ux
    vy = CN_NP * W[w, W_SYY] - CN * uy * uy
    vxy = CN_NP * W[w, W_SXY] - CN * ux * uy
    a1 = 2.0 * ux * uy + C1
    a2 = 2.0 * vxy + C2
    b1 = ux * ux + uy * uy + C1
    b2 = vx + vy + C2
    den = b1 * b2
    num = a1 * a2
    # d/d(ux) at fixed window sums (vx and vxy move with ux), then the chain to Sx, Sxx, Sxy
    dnum = 2.0 * uy * a2 - 2.0 * CN * uy * a1
    dden = 2.0 * ux * b2 - 2.0 * CN * ux * b1
    inv = 1.0 / den
    return (mw * (dnum - num * dden * inv) * inv * INV_NP, -mw * num * inv / b2 * CN_NP, mw * 2.0 * a1 * inv * CN_NP)


@njit(cache=True, inline="always")
def _h(BS, q):
    x = BS[q, B_X]
    y = BS[q, B_Y]
    return x * (BS[q, B_P] + 2.0 * x * BS[q, B_Q] + y * BS[q, B_R] - 2.0 * BS[q, B_WL] * (x - y))


@njit(cache=True)
def _gradient(BS, G, ridx, rmul, W, PQR, h):
    """``h_b = x_b dJ/dx_b`` for every block (the exact derivative through the reflected window)."""
    for w in range(W.shape[0]):
        PQR[w, 0], PQR[w, 1], PQR[w, 2] = _pqr(W, w)
    K = ridx.shape[1]
    for q in range(BS.shape[0]):
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
                p += m * PQR[w, 0]
                pq += m * PQR[w, 1]
                pr += m * PQR[w, 2]
        BS[q, B_P] = p
        BS[q, B_Q] = pq
        BS[q, B_R] = pr
        h[q] = _h(BS, q)


@njit(cache=True)
def _gradient_local(BS, G, wrow, W, PQR, h, wt, nw, hmark, hlist):
    """Bring ``h`` up to date after the windows ``wt[:nw]`` (and the blocks they hold) changed."""
    nh = 0
    K = wrow.shape[1]
    for k in range(nw):
        w = wt[k]
        p1, q1, r1 = _pqr(W, w)
        dp = p1 - PQR[w, 0]
        dq = q1 - PQR[w, 1]
        dr = r1 - PQR[w, 2]
        PQR[w, 0] = p1
        PQR[w, 1] = q1
        PQR[w, 2] = r1
        i = w // G
        j = w - i * G
        for a in range(K):
            u = wrow[i, a]
            for c in range(K):
                b = u * G + wrow[j, c]
                BS[b, B_P] += dp
                BS[b, B_Q] += dq
                BS[b, B_R] += dr
                if not hmark[b]:
                    hmark[b] = True
                    hlist[nh] = b
                    nh += 1
    for k in range(nh):
        b = hlist[k]
        hmark[b] = False
        h[b] = _h(BS, b)


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
def _lin(bindptr, bblock, bcov, x, h):
    s = 0.0
    if x >= 0:
        for q in range(bindptr[x], bindptr[x + 1]):
            s += bcov[q] * h[bblock[q]]
    return s


@njit(cache=True)
def _removal(rsum, rtouched, nr, BS, G, ridx, rmul, W, RS, rwmark, rwt):
    """Push the old chords' removal (``rsum`` over ``rtouched[:nr]``) to the removal scratch ``RS``.

    Returns its change of ``J`` and the windows it reaches (``rwt[:nrw]``);
    ``BS[:, B_RDX]`` gets each block's change of mean, ``RS[:, D_S]`` the SSIM of each window reached.
    """
    dl = 0.0
    nw = 0
    for k in range(nr):
        q = rtouched[k]
        dx = rsum[q] * BS[q, B_INV]
        BS[q, B_RDX] = dx
        x0 = BS[q, B_X]
        e0 = x0 - BS[q, B_Y]
        dl += BS[q, B_WL] * (2.0 * e0 * dx + dx * dx)
        nw = _push(q, dx, x0, BS[q, B_Y], G, ridx, rmul, RS, rwmark, rwt, nw)
    ds = 0.0
    for k in range(nw):
        w = rwt[k]
        s1 = _ssim(W[w, W_SX] + RS[w, D_X], W[w, W_SY], W[w, W_SXX] + RS[w, D_XX], W[w, W_SYY],
                   W[w, W_SXY] + RS[w, D_XY])
        RS[w, D_S] = s1
        ds += W[w, W_MW] * (s1 - W[w, W_S])
    return ds - dl, nw


@njit(cache=True)
def _candidate(table, state, scratch, x1, x2, d_rem):
    """Exact change of ``J`` of a move: the old chords' removal (``d_rem``, its windows ``RS``) plus ``x1, x2``.

    ``B`` is without the old chords; a block or window both touch takes both changes. ``table``: a
    :class:`Table`; ``state``: an :class:`SSIMState`; ``scratch``: an :class:`SSIMScratch`.
    """
    indptr, pixel, coverage = table
    B, o, blk, BS, G, ridx, rmul, wrow, W, PQR, h = state
    D, RS, dsum, mark, touched, rsum, rtouched, wmark, wt, rwmark, rwt, hmark, hlist = scratch
    nt = 0
    if x1 >= 0 and x2 >= 0:
        # the two chords share the pixels near b' (and more when a and c are neighbours): x2 is measured on
        # B with x1 drawn, then x1 comes off again
        nt = _pass(indptr, pixel, coverage, x1, True, B, o, blk, dsum, mark, touched, nt)
        nt = _delta(indptr, pixel, coverage, x2, B, o, blk, dsum, mark, touched, nt)
        _take_off(indptr, pixel, coverage, x1, B, o)
    elif x1 >= 0:
        nt = _delta(indptr, pixel, coverage, x1, B, o, blk, dsum, mark, touched, nt)
    elif x2 >= 0:
        nt = _delta(indptr, pixel, coverage, x2, B, o, blk, dsum, mark, touched, nt)
    d = d_rem
    nw = 0
    for k in range(nt):
        q = touched[k]
        dx = dsum[q] * BS[q, B_INV]
        xp = BS[q, B_X] + BS[q, B_RDX]
        ep = xp - BS[q, B_Y]
        d -= BS[q, B_WL] * (2.0 * ep * dx + dx * dx)
        nw = _push(q, dx, xp, BS[q, B_Y], G, ridx, rmul, D, wmark, wt, nw)
        dsum[q] = 0.0
        mark[q] = False
    for k in range(nw):
        w = wt[k]
        wmark[w] = False
        if W[w, W_MW] == 0.0:
            continue
        if rwmark[w]:
            s1 = _ssim(W[w, W_SX] + RS[w, D_X] + D[w, D_X], W[w, W_SY], W[w, W_SXX] + RS[w, D_XX] + D[w, D_XX],
                       W[w, W_SYY], W[w, W_SXY] + RS[w, D_XY] + D[w, D_XY])
            d += W[w, W_MW] * (s1 - RS[w, D_S])
        else:
            s1 = _ssim(W[w, W_SX] + D[w, D_X], W[w, W_SY], W[w, W_SXX] + D[w, D_XX], W[w, W_SYY],
                       W[w, W_SXY] + D[w, D_XY])
            d += W[w, W_MW] * (s1 - W[w, W_S])
    return d


@njit(cache=True)
def _refine_ssim_range(table, thread, state, ranking, scratch, m0, m1, stats):
    """Re-choose pins ``path[m]``, ``m0 <= m < m1``, in order, raising ``J``; the thread stays one thread.

    For pin ``b`` between ``a`` and ``c`` the move replaces chords (a, b) and
    (b, c) by (a, b'), (b', c) (end pins have one chord). Candidates ``b'``
    (``once``: undrawn chords only) are ranked by the first-order change of
    ``J`` (``h``: from :func:`_gradient`, kept current by :func:`_gradient_local`
    as pins move) and the best ``shortlist`` (0: all)
    measured exactly against keeping ``b``; the best is kept if it raises
    ``J``. The windows change only when a pin moves. Returns the total rise of ``J``.

    A candidate's first-order score is the sum over its two chords, and the
    chords from one pin (its fan, ``fan[p]``) serve the pins on both sides
    of it: a fan is kept until a move changes ``h`` (``fan_at[p]`` against
    ``version[0]``), which halves the ranking's reads.

    ``table``: a :class:`Table`; ``thread``: an :class:`SSIMThread`; ``state``: an :class:`SSIMState`;
    ``ranking``: a :class:`Ranking`; ``scratch``: an :class:`SSIMScratch`; ``stats`` (3,) int64, slots
    :data:`TRIED`, :data:`MOVES`, :data:`EXACT`.
    """
    indptr, pixel, coverage = table
    id_of, path, count, once = thread
    B, o, blk, BS, G, ridx, rmul, wrow, W, PQR, h = state
    bindptr, bblock, bcov, shortlist, fan, fan_at, version = ranking
    D, RS, dsum, mark, touched, rsum, rtouched, wmark, wt, rwmark, rwt, hmark, hlist = scratch
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
        ncand = _reroutes(id_of, a, b, c, count, once, cj, c1, c2)
        if shortlist > 0 and ncand > shortlist:
            for p in (a, c):
                if p >= 0 and fan_at[p] != version[0]:
                    for j in range(n):
                        fan[p, j] = _lin(bindptr, bblock, bcov, id_of[p, j], h)
                    fan_at[p] = version[0]
            for i in range(ncand):
                j = cj[i]
                approx[i] = (fan[a, j] if a >= 0 else 0.0) + (fan[c, j] if c >= 0 else 0.0)
            order = np.argsort(approx[:ncand])[:shortlist]
            order.sort()  # ties to the lowest pin
        else:
            order = np.arange(ncand)
        nrw = 0
        if order.shape[0] > 0:
            d_rem, nrw = _removal(rsum, rtouched, nr, BS, G, ridx, rmul, W, RS, rwmark, rwt)
        best = 0.0  # keeping b changes nothing
        k_best = -1
        for i in order:
            d = _candidate(table, state, scratch, c1[i], c2[i], d_rem)
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
            _, nw = _settle(dsum, mark, touched, nt, BS, G, ridx, rmul, W, D, wmark, wt, True)
            _gradient_local(BS, G, wrow, W, PQR, h, wt, nw, hmark, hlist)
            version[0] += 1  # every fan is stale
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
            BS[q, B_RDX] = 0.0
        for k in range(nrw):
            rwmark[rwt[k]] = False
        if n1 >= 0:
            count[n1] += 1
        if n2 >= 0:
            count[n2] += 1
    return gain
