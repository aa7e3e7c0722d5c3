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
brightness taken as its block's mean, the block table ``Ranking.blocks``),
i.e. ``-o/k^2 sum_b bcov_b h_b`` with ``h = x dJ/dx``
(:func:`_gradient`, the exact derivative through the reflected window, kept
current by :func:`_gradient_local` as pins move), and only the best
``shortlist`` are measured.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from rendering.jit import guard_cache

guard_cache()  # before the first @njit: stale caches of other kernel modules never load

# a pass's change of the block sums, and the smallest transmittance divided by, as the error refiner's
from ._greedy_kernels import (REFINE_EXACT, REFINE_MOVES, _around, _delta, _factor,  # noqa: E402
                              _move_scratch, _MIN_FACTOR, _reroutes, _scale, _shortlist_order, _touch, BlockScratch)

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


class SSIMState(NamedTuple):
    """The objective's state, as the kernels take it (built by :func:`solvers.refine.refine_ssim_path`).

    bright : (n_pixels,) float64, the thread's brightness (updated in place); opacity : float;
    block : (n_pixels,) int64, each pixel's block; BS : (n_blocks, 8) float64, per block the columns
    ``B_*``; G : int, blocks per side; ridx, rmul : (G, 7), :func:`window_reach`; wrow : (G, 7),
    :func:`window_rows`; W : (n_blocks, 8) float64, per window the columns ``W_*``; PQR : (n_blocks, 4)
    float64, each window's derivatives (:func:`_pqr`); h : (n_blocks,) float64, ``x dJ/dx`` per block.
    """

    bright: np.ndarray
    opacity: float
    block: np.ndarray
    BS: np.ndarray
    G: int
    ridx: np.ndarray
    rmul: np.ndarray
    wrow: np.ndarray
    W: np.ndarray
    PQR: np.ndarray
    h: np.ndarray


class SSIMScratch(NamedTuple):
    """The refiner's window scratch, (n_blocks,) each, left clear between pins: a candidate's window changes
    ``D`` (n_blocks, 4) with its marks ``wmark`` and list ``wt``; the old chords' removal: block-sum change
    ``rsum`` over ``rtouched``, window changes and SSIM ``RS`` (n_blocks, 4) over ``rwmark``, ``rwt``; and
    the blocks whose ``h`` is stale, ``hmark``, ``hlist``."""

    D: np.ndarray
    wmark: np.ndarray
    wt: np.ndarray
    RS: np.ndarray
    rsum: np.ndarray
    rtouched: np.ndarray
    rwmark: np.ndarray
    rwt: np.ndarray
    hmark: np.ndarray
    hlist: np.ndarray


class Ranking(NamedTuple):
    """The first-order ranking of candidates: the block table ``blocks`` (a
    :class:`~solvers._greedy_kernels.Blocks`), each pin's fan ``fan`` (n_pins, n_pins) float64 (the
    first-order score of its chords), the ``version`` (1,) int64 of ``h`` each fan was computed at
    (``fan_at`` (n_pins,) int64; -1: never)."""

    blocks: object
    fan: np.ndarray
    fan_at: np.ndarray
    version: np.ndarray


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
def _push(q, dx, xb, yb, st, D, wmark, wt, nw):
    """Add block ``q``'s change of mean ``dx`` (from ``xb``; target ``yb``) to the window scratch ``D``."""
    axx = 2.0 * xb * dx + dx * dx
    axy = yb * dx
    G = st.G
    ridx = st.ridx
    rmul = st.rmul
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


@njit(cache=True, inline="always")
def _block_change(st, q, dx, x0, D, wmark, wt, nw):
    """Block ``q``'s mean moving by ``dx`` from ``x0``: its change of the tone term (returned) and of its
    windows' sums (pushed to ``D``). Returns ``(tone change, windows listed)``."""
    BS = st.BS
    e0 = x0 - BS[q, B_Y]
    tone = BS[q, B_WL] * (2.0 * e0 * dx + dx * dx)
    return tone, _push(q, dx, x0, BS[q, B_Y], st, D, wmark, wt, nw)


@njit(cache=True, inline="always")
def _ssim_plus(W, w, D):
    """The SSIM of window ``w`` with the changes ``D`` added to its sums."""
    return _ssim(W[w, W_SX] + D[w, D_X], W[w, W_SY], W[w, W_SXX] + D[w, D_XX], W[w, W_SYY],
                 W[w, W_SXY] + D[w, D_XY])


@njit(cache=True)
def _settle(sc, nt, st, ws, commit):
    """The change of ``J`` if the block sums moved by ``sc.delta`` (over ``sc.touched[:nt]``), and the windows
    touched (``ws.wt[:nw]``); clears the scratch. With ``commit`` the change is applied to the blocks and the
    windows."""
    BS = st.BS
    W = st.W
    D = ws.D
    dl = 0.0
    nw = 0
    for k in range(nt):
        q = sc.touched[k]
        dx = sc.delta[q] * BS[q, B_INV]
        x0 = BS[q, B_X]
        tone, nw = _block_change(st, q, dx, x0, D, ws.wmark, ws.wt, nw)
        dl += tone
        if commit:
            BS[q, B_X] = x0 + dx
        sc.delta[q] = 0.0
        sc.mark[q] = False
    ds = 0.0
    for k in range(nw):
        w = ws.wt[k]
        ws.wmark[w] = False
        if commit:
            W[w, W_SX] += D[w, D_X]
            W[w, W_SXX] += D[w, D_XX]
            W[w, W_SXY] += D[w, D_XY]
            s1 = _ssim(W[w, W_SX], W[w, W_SY], W[w, W_SXX], W[w, W_SYY], W[w, W_SXY])
            ds += W[w, W_MW] * (s1 - W[w, W_S])
            W[w, W_S] = s1
        elif W[w, W_MW] != 0.0:
            s1 = _ssim_plus(W, w, D)
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
def _gradient_local(st, ws, nw):
    """Bring ``st.h`` up to date after the windows ``ws.wt[:nw]`` (and the blocks they hold) changed."""
    BS = st.BS
    G = st.G
    wrow = st.wrow
    PQR = st.PQR
    hmark = ws.hmark
    hlist = ws.hlist
    nh = 0
    K = wrow.shape[1]
    for k in range(nw):
        w = ws.wt[k]
        p1, q1, r1 = _pqr(st.W, w)
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
        st.h[b] = _h(BS, b)


@njit(cache=True, inline="always")
def _pass(tab, c, add, st, sc, nt):
    """Add (``add``) or take off one pass of chord ``c`` in ``st.bright``, recording the block sums' change in
    the :class:`~solvers._greedy_kernels.BlockScratch` ``sc``."""
    for t in range(tab.indptr[c], tab.indptr[c + 1]):
        p = tab.pixel[t]
        d = _scale(st.bright, p, _factor(st.opacity, tab.coverage[t]), add)
        q = st.block[p]
        nt = _touch(sc, q, nt)
        sc.delta[q] += d
    return nt


@njit(cache=True, inline="always")
def _restore(tab, c, B, o):
    """Add one pass of chord ``c`` back into ``B`` (nothing recorded)."""
    for t in range(tab.indptr[c], tab.indptr[c + 1]):
        f = 1.0 - o * tab.coverage[t]
        B[tab.pixel[t]] *= f if f > _MIN_FACTOR else _MIN_FACTOR


@njit(cache=True, inline="always")
def _take_off(tab, c, B, o):
    """Take one pass of chord ``c`` off ``B`` (nothing recorded)."""
    for t in range(tab.indptr[c], tab.indptr[c + 1]):
        f = 1.0 - o * tab.coverage[t]
        B[tab.pixel[t]] /= f if f > _MIN_FACTOR else _MIN_FACTOR


@njit(cache=True, inline="always")
def _lin(bt, x, h):
    s = 0.0
    if x >= 0:
        for q in range(bt.indptr[x], bt.indptr[x + 1]):
            s += bt.coverage[q] * h[bt.block[q]]
    return s


@njit(cache=True)
def _removal(ws, nr, st):
    """Push the old chords' removal (``ws.rsum`` over ``ws.rtouched[:nr]``) to the removal scratch ``ws.RS``.

    Returns its change of ``J`` and the windows it reaches (``ws.rwt[:nrw]``);
    ``BS[:, B_RDX]`` gets each block's change of mean, ``RS[:, D_S]`` the SSIM of each window reached.
    """
    BS = st.BS
    W = st.W
    RS = ws.RS
    dl = 0.0
    nw = 0
    for k in range(nr):
        q = ws.rtouched[k]
        dx = ws.rsum[q] * BS[q, B_INV]
        BS[q, B_RDX] = dx
        tone, nw = _block_change(st, q, dx, BS[q, B_X], RS, ws.rwmark, ws.rwt, nw)
        dl += tone
    ds = 0.0
    for k in range(nw):
        w = ws.rwt[k]
        s1 = _ssim_plus(W, w, RS)
        RS[w, D_S] = s1
        ds += W[w, W_MW] * (s1 - W[w, W_S])
    return ds - dl, nw


@njit(cache=True)
def _candidate(tab, x1, x2, st, sc, ws, d_rem):
    """Exact change of ``J`` of a move: the old chords' removal (``d_rem``, its windows ``ws.RS``) plus ``x1, x2``.

    ``st.bright`` is without the old chords; a block or window both touch takes both changes.
    """
    B = st.bright
    o = st.opacity
    blk = st.block
    nt = 0
    if x1 >= 0 and x2 >= 0:
        # the two chords share the pixels near b' (and more when a and c are neighbours): x2 is measured on
        # B with x1 drawn, then x1 comes off again
        nt = _pass(tab, x1, True, st, sc, nt)
        nt = _delta(tab, x2, B, o, blk, sc, nt)
        _take_off(tab, x1, B, o)
    elif x1 >= 0:
        nt = _delta(tab, x1, B, o, blk, sc, nt)
    elif x2 >= 0:
        nt = _delta(tab, x2, B, o, blk, sc, nt)
    BS = st.BS
    W = st.W
    D = ws.D
    RS = ws.RS
    d = d_rem
    nw = 0
    for k in range(nt):
        q = sc.touched[k]
        dx = sc.delta[q] * BS[q, B_INV]
        tone, nw = _block_change(st, q, dx, BS[q, B_X] + BS[q, B_RDX], D, ws.wmark, ws.wt, nw)
        d -= tone
        sc.delta[q] = 0.0
        sc.mark[q] = False
    for k in range(nw):
        w = ws.wt[k]
        ws.wmark[w] = False
        if W[w, W_MW] == 0.0:
            continue
        if ws.rwmark[w]:
            s1 = _ssim(W[w, W_SX] + RS[w, D_X] + D[w, D_X], W[w, W_SY], W[w, W_SXX] + RS[w, D_XX] + D[w, D_XX],
                       W[w, W_SYY], W[w, W_SXY] + RS[w, D_XY] + D[w, D_XY])
            d += W[w, W_MW] * (s1 - RS[w, D_S])
        else:
            s1 = _ssim_plus(W, w, D)
            d += W[w, W_MW] * (s1 - W[w, W_S])
    return d


@njit(cache=True)
def _refine_ssim_range(tab, id_of, st, rk, sc, ws, ref, m0, m1):
    """Re-choose pins ``ref.path[m]``, ``m0 <= m < m1``, in order, raising ``J``; the thread stays one thread.

    ``tab`` the :class:`~solvers._greedy_kernels.Table`; ``st`` the :class:`SSIMState` (updated as pins
    move); ``rk`` the :class:`Ranking`; ``sc`` and ``ws`` the scratch
    (:class:`~solvers._greedy_kernels.BlockScratch`, :class:`SSIMScratch`); ``ref`` the thread
    (:class:`~solvers._greedy_kernels.Refine`; ``stats`` slots :data:`TRIED`, :data:`MOVES`, :data:`EXACT`).
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
    """
    n = id_of.shape[0]
    B = st.bright
    o = st.opacity
    BS = st.BS
    counts = ref.counts
    shortlist = ref.shortlist
    fan = rk.fan
    fan_at = rk.fan_at
    version = rk.version
    removal = BlockScratch(ws.rsum, sc.mark, ws.rtouched)
    gain = 0.0
    cj, c1, c2, approx = _move_scratch(n)
    for m in range(m0, m1):
        a, b, c, ca, cc = _around(ref, id_of, m)
        nr = 0
        if ca >= 0:
            nr = _pass(tab, ca, False, st, removal, nr)
            counts[ca] -= 1
        if cc >= 0:
            nr = _pass(tab, cc, False, st, removal, nr)
            counts[cc] -= 1
        for k in range(nr):
            sc.mark[ws.rtouched[k]] = False
        ncand = _reroutes(id_of, a, b, c, counts, ref.once, cj, c1, c2)
        if shortlist > 0 and ncand > shortlist:
            for p in (a, c):
                if p >= 0 and fan_at[p] != version[0]:
                    for j in range(n):
                        fan[p, j] = _lin(rk.blocks, id_of[p, j], st.h)
                    fan_at[p] = version[0]
            for i in range(ncand):
                j = cj[i]
                approx[i] = (fan[a, j] if a >= 0 else 0.0) + (fan[c, j] if c >= 0 else 0.0)
        order = _shortlist_order(approx, ncand, shortlist)
        nrw = 0
        if order.shape[0] > 0:
            d_rem, nrw = _removal(ws, nr, st)
        best = 0.0  # keeping b changes nothing
        k_best = -1
        for i in order:
            d = _candidate(tab, c1[i], c2[i], st, sc, ws, d_rem)
            ref.stats[REFINE_EXACT] += 1
            if d > best:
                best = d
                k_best = i
        if k_best >= 0:
            n1 = c1[k_best]
            n2 = c2[k_best]
            ref.path[m] = cj[k_best]
            gain += best
            ref.stats[REFINE_MOVES] += 1
            # the windows take the removal and the new chords together; B takes the new chords
            nt = 0
            for k in range(nr):
                q = ws.rtouched[k]
                sc.mark[q] = True
                sc.touched[nt] = q
                nt += 1
                sc.delta[q] = ws.rsum[q]
            if n1 >= 0:
                nt = _pass(tab, n1, True, st, sc, nt)
            if n2 >= 0:
                nt = _pass(tab, n2, True, st, sc, nt)
            _, nw = _settle(sc, nt, st, ws, True)
            _gradient_local(st, ws, nw)
            version[0] += 1  # every fan is stale
        else:
            n1 = ca
            n2 = cc
            # put the old chords back into B (the windows never saw them go)
            if n1 >= 0:
                _restore(tab, n1, B, o)
            if n2 >= 0:
                _restore(tab, n2, B, o)
        for k in range(nr):
            q = ws.rtouched[k]
            ws.rsum[q] = 0.0
            BS[q, B_RDX] = 0.0
        for k in range(nrw):
            ws.rwmark[ws.rwt[k]] = False
        if n1 >= 0:
            counts[n1] += 1
        if n2 >= 0:
            counts[n2] += 1
    return gain
