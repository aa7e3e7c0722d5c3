"""Numba kernels of the greedy solver. Private: contiguous arrays in, inputs trusted.

The public wrapper is :mod:`solvers.greedy`.

Scores
------
Each pixel carries two numbers ``g`` and ``h`` computed from its state ``s``,
and a chord ``c`` scores ``sum_p cov * (g - cov * h)`` over its pixels.

* ``error`` (exact decrease of the weighted squared error under the
  multiplicative model; ``s`` is the brightness ``B``): drawing ``c`` turns
  ``B`` into ``B (1 - o cov)``, which lowers ``w (B - T)^2`` by
  ``o cov w B [2 (B - T) - o cov B]``; so ``g = 2 o w B (B - T)`` and
  ``h = o^2 w B^2``.
* ``sum`` (the seed's web generator; ``s`` is the darkness left, ``D``):
  ``g = D``, ``h = 0``; drawing ``c`` lowers ``D`` by ``step * cov`` (clamped
  at 0), ``step = weight / width`` (``cov / width`` is the chord's length
  inside the pixel, an anti-aliased 1 px line).

Incremental scoring
-------------------
A scan of every candidate's pixels at every step is bound by memory traffic
(the table streams at ~4 GB/s on one core: ~1 s for 288 pins, 4000 lines,
512 px). Instead the kernels keep the score of *every* chord and, when a chord
is drawn, push the change ``cov * (dg - cov * dh)`` of each of its pixels to the
chords through that pixel, read from the pixel-major copy of the table
(``pptr``, ``pchord``, ``pcov``). A step then costs the pixels of one chord
times the chords per pixel (~490 x ~95 = 48k updates at 288 pins, 512 px)
instead of the pixels of all candidates (~250 x 530 = 130k reads), and
picking the best chord from a pin is a look-up. Each pixel's chord list is a
cache miss, so the lists of the pixels a few steps ahead are prefetched
(1.6x). The running scores are float32 (half the bytes); before each pick,
every candidate within a rounding margin of the top one is rescored exactly in
float64 from the state, so the pick and its gain are those of a fresh scan
(the tests check the paths match), at about one rescore per line.

Tried and dropped: exact pruning of candidates by an upper bound from
``bs x bs`` block maxima of ``g`` (scores are sums of positive and negative
terms, so the bound is loose: 88% of candidates still needed an exact score,
and the scan got slower).

The parallel variant splits the chords (the candidates) between threads by id;
each score receives the same additions in the same order as in the serial
kernel, so results are identical.

Arguments
---------
The loops take their inputs bundled in the named tuples below (as pynndescent
does), built by the public wrappers (:mod:`solvers.greedy`, :mod:`solvers.view`,
:mod:`solvers.refine`): the chord table (:class:`Table`) and its pixel-major
(:class:`PixelMajor`) and block (:class:`Blocks`) copies, the chords by pins
(:class:`Pins`), the picture and its score's constants (:class:`Picture`,
:class:`BlockPicture`), the run's settings (:class:`Settings`), the running
scores (:class:`Running`, :class:`ViewScores`), a warm start (:class:`Warm`),
the thread being built (:class:`Thread`, :class:`Refine`) and scratch
(:class:`BlockScratch`). The types are module-level, so ``cache=True`` keys
them by name. Each kernel unpacks its tuples once, on its first lines, into the
names its body uses; the per-pixel and per-candidate helpers inlined into hot
loops take arrays, never tuples: a tuple read inside such a helper costs
reference counts on every call (measured 2.3x on the refiner's pair delta).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from rendering.jit import guard_cache, variant

guard_cache()  # before the first @njit: stale caches of other kernel modules never load

RULE_ERROR = 0
RULE_SUM = 1

#: Slots of the ``stats`` array (int64, :data:`N_STATS` long) that every greedy loop fills:
#: steps where ``no_return`` was relaxed to find a chord,
STAT_RELAXED = 0
#: why the thread stopped (:data:`STOP_BUDGET`, :data:`STOP_NO_GAIN`, :data:`STOP_DEAD_END`),
STAT_STOP = 1
#: candidates scored exactly (incremental greedy: rescored near the top; block greedy: measured),
STAT_EXACT = 2
#: steps where no listed partner was valid and every candidate was scored (warm start),
STAT_FALLBACKS = 3
#: lines drawn while a guide led (:mod:`solvers._guide_kernels`).
STAT_LED = 4
N_STATS = 5
#: values of ``stats[STAT_STOP]``: the budget was drawn, no chord lowers the error, no chord is left
STOP_BUDGET, STOP_NO_GAIN, STOP_DEAD_END = 0, 1, 2
STOP_REASONS = ("budget", "no gain", "dead end")
#: Slots of the refiner's ``stats`` (:func:`_refine_range`): moves tried, moves kept, exact evaluations.
REFINE_TRIED, REFINE_MOVES, REFINE_EXACT = 0, 1, 2
#: smallest transmittance the refiner divides by (a fully opaque pass cannot be undone exactly)
_MIN_FACTOR = 1e-9
#: pixels ahead of the current one whose chord lists are prefetched
_AHEAD = 6


# ---------------------------------------------------------------------------- what the kernels take
class Table(NamedTuple):
    """The chord table, CSR by chord: chord ``c`` covers ``pixel[indptr[c]:indptr[c + 1]]`` by ``coverage``.

    indptr (n_chords + 1,) int64; pixel (nnz,) int32; coverage (nnz,) float32 in (0, 1].
    """

    indptr: np.ndarray
    pixel: np.ndarray
    coverage: np.ndarray


class PixelMajor(NamedTuple):
    """The chord table transposed (:class:`rendering.derived.PixelTable`): the chords through pixel ``p`` are
    ``chord[indptr[p]:indptr[p + 1]]`` (sorted by id), with their ``coverage`` there. The block-major table
    (:func:`rendering.derived.block_major`) has the same shape, with blocks in place of pixels."""

    indptr: np.ndarray
    chord: np.ndarray
    coverage: np.ndarray


class Blocks(NamedTuple):
    """Each chord's coverage summed over blocks (:class:`rendering.derived.BlockTable`), CSR by chord; empty
    (``indptr`` ``[0]``) where no shortlist ranks with it."""

    indptr: np.ndarray
    block: np.ndarray
    coverage: np.ndarray


class Pins(NamedTuple):
    """The chords by pins: ``id_of`` (n_pins, n_pins) int32, the chord id of a pin pair (-1: not allowed);
    ``pin_a``, ``pin_b`` (n_chords,) int32, each chord's pins."""

    id_of: np.ndarray
    pin_a: np.ndarray
    pin_b: np.ndarray


class Picture(NamedTuple):
    """The pixel state greedy chases the target with, and the constants of its score.

    state : (n_pixels,) float32, brightness (``error``) or darkness left (``sum``), updated in place
    target, weight : (n_pixels,) float32, the target brightness and the error's weight per pixel
    opacity : float32, a pass's opacity; rule : :data:`RULE_ERROR` or :data:`RULE_SUM`
    sum_step : float32, the darkness a pass removes per unit coverage (``sum``)
    """

    state: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    opacity: float
    rule: int
    sum_step: float


class Settings(NamedTuple):
    """A greedy run's settings: lines to draw, the first pin (< 0: the best chord of all first), no return to
    the last ``no_return`` pins, each chord at most ``once``, stop when no chord gains (``early_stop``)."""

    n_lines: int
    start: int
    no_return: int
    once: bool
    early_stop: bool


class Running(NamedTuple):
    """Every chord's running (float32) score, kept up to date through the pixel-major table ``pixels``.

    Candidates within ``tol`` of the top are rescored exactly before each pick (:func:`_settle`); the
    scores are recomputed from the picture every ``refresh`` lines.
    """

    pixels: PixelMajor
    scores: np.ndarray
    tol: float
    refresh: int


class Warm(NamedTuple):
    """A warm start (:func:`solvers.warm_start.warm_start_inputs`): ``prior`` (n_chords,) float64 added to
    each candidate's score (empty: none); ``partners`` (n_pins, m) int32, sorted rows, -1 padded (m = 0:
    none); ``allowed`` (n_chords,) bool, the chords the partners allow (empty: all)."""

    prior: np.ndarray
    partners: np.ndarray
    allowed: np.ndarray


class Thread(NamedTuple):
    """The thread being built, filled in place: ``used`` (n_chords,) bool, chords drawn; ``path`` (n_lines +
    1,) int64 pins; ``gains``, ``removed`` (n_lines,) float64, each line's gain and the darkness it removed
    (``sum``; unused, may be empty, at the block scale); ``stats`` (:data:`N_STATS`,) int64."""

    used: np.ndarray
    path: np.ndarray
    gains: np.ndarray
    removed: np.ndarray
    stats: np.ndarray


class BlockPicture(NamedTuple):
    """The picture at a block scale ``k`` (the refiner's and ``greedy-view``'s error).

    bright : (n_pixels,) float64 brightness, updated in place; sums : (n_blocks,) float64, its block sums,
    updated in place; target : (n_blocks,) float64, the target's block sums; weight : (n_blocks,) float64,
    the blocks' error weights; inv : ``1 / k^2``; opacity : float; block : (n_pixels,) int64, each
    pixel's block. The error is ``sum_b weight (inv (sums - target))^2``.
    """

    bright: np.ndarray
    sums: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    inv: float
    opacity: float
    block: np.ndarray


class BlockScratch(NamedTuple):
    """Scratch of a change of the block sums: ``delta`` (n_blocks,) float64 and ``mark`` (n_blocks,) bool,
    zero where untouched; ``touched`` (n_blocks,) int64, the blocks touched. Every kernel leaves it clear."""

    delta: np.ndarray
    mark: np.ndarray
    touched: np.ndarray


class ViewScores(NamedTuple):
    """``greedy-view``'s running scores: ``scores`` (n_chords,) float64, every chord's approximate gain, kept up
    to date through the block-major table ``through`` and recomputed from the block table ``blocks`` every
    ``refresh`` lines; the ``shortlist`` best are measured exactly each step (0: all)."""

    blocks: Blocks
    through: PixelMajor
    scores: np.ndarray
    shortlist: int
    refresh: int


class Refine(NamedTuple):
    """The thread a refiner re-chooses pins of: ``path`` (n + 1,) int64, updated in place; ``counts``
    (n_chords,) int64, how often each chord is drawn; ``once``: moves use undrawn chords only;
    ``shortlist``: candidates measured exactly per pin (0: all); ``stats`` (3,) int64 (:data:`REFINE_TRIED` ...)."""

    path: np.ndarray
    counts: np.ndarray
    once: bool
    shortlist: int
    stats: np.ndarray



@intrinsic
def _prefetch(typingctx, arr, idx):
    """Hint the CPU to load the cache line of ``arr[idx]`` (``llvm.prefetch``; never faults).

    A step reads the chord lists of ~500 pixels scattered over a table of
    ~100 MB; each list start is a cache miss, and without prefetching the
    update loop waits on memory latency (1.6x slower at 288 pins, 512 px).
    """
    if not isinstance(arr, types.Array) or not isinstance(idx, types.Integer):
        return None
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False,
                                       boundscheck=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        # read (0), high temporal locality (3), data cache (1)
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, inline="always")
def _prefetch_lists(pptr, pchord, pcov, p):
    """Prefetch the chord list of pixel ``p`` (both columns, every cache line)."""
    a = pptr[p]
    b = pptr[p + 1]
    for q in range(a, b, 32):
        _prefetch(pchord, q)
    for q in range(a, b, 16):
        _prefetch(pcov, q)


# ---------------------------------------------------------------------------- per-pixel terms
@njit(cache=True, inline="always")
def _gh(s, t, w, o, rule):
    """``(g, h)`` of a pixel in state ``s`` (float64)."""
    if rule == RULE_ERROR:
        b = np.float64(s)
        return 2.0 * o * w * b * (b - t), o * o * w * b * b
    return np.float64(s), 0.0


@njit(cache=True, inline="always")
def _score_chord(indptr, pixel, coverage, S, T, Wt, o, rule, c):
    sc = 0.0
    for t in range(indptr[c], indptr[c + 1]):
        p = pixel[t]
        cv = np.float64(coverage[t])
        g, h = _gh(S[p], T[p], Wt[p], o, rule)
        sc += cv * (g - cv * h)
    return sc


@njit(cache=True)
def _scores_serial(indptr, pixel, coverage, S, T, Wt, o, rule, out):
    """Score of every chord from the state ``S`` (a fresh scan)."""
    for c in range(indptr.shape[0] - 1):
        out[c] = _score_chord(indptr, pixel, coverage, S, T, Wt, o, rule, c)


@njit(cache=True, parallel=True)
def _scores_parallel(indptr, pixel, coverage, S, T, Wt, o, rule, out):
    """:func:`_scores_serial` over all threads (same numbers)."""
    for c in prange(indptr.shape[0] - 1):
        out[c] = _score_chord(indptr, pixel, coverage, S, T, Wt, o, rule, c)


@njit(cache=True)
def _fill_gh(S, T, Wt, o, rule, gh):
    """``gh[p] = (g, h)`` of every pixel, float32 (input of :func:`_scores_push`)."""
    for p in range(S.shape[0]):
        g, h = _gh(S[p], T[p], Wt[p], o, rule)
        gh[p, 0] = g
        gh[p, 1] = h


# ---------------------------------------------------------------------------- drawing
@njit(cache=True, inline="always")
def _push32(pptr, pchord, pcov, p, dg, dh, scores):
    """Add ``cov * (dg - cov * dh)`` to the (float32) score of every chord through pixel ``p``."""
    a = pptr[p]
    b = pptr[p + 1]
    cs = pchord[a:b]  # views: a loop from 0 needs no negative-index checks (17% faster)
    cc = pcov[a:b]
    for i in range(cs.shape[0]):
        cv = cc[i]
        scores[cs[i]] += cv * (dg - cv * dh)


@njit(cache=True)
def _scores_push(pptr, pchord, pcov, gh, scores):
    """Every chord's float32 score from ``gh``, pushed pixel by pixel through the pixel-major table.

    Reads the pixel-major table once, in order (3x faster than gathering
    ``gh`` chord by chord); float32 sums, within rounding of the exact scan.
    """
    scores[:] = 0.0
    for p in range(pptr.shape[0] - 1):
        g = gh[p, 0]
        h = gh[p, 1]
        if g == 0 and h == 0:
            continue
        _push32(pptr, pchord, pcov, p, g, h, scores)


@njit(cache=True, inline="always")
def _step_pixel(S, p, cv, o, rule, sum_step):
    """Draw one pass over pixel ``p`` (float32 state: the renderer's arithmetic). Returns the darkness removed."""
    if rule == RULE_ERROR:
        S[p] *= 1.0 - o * cv  # the renderer's expression, so S matches render() bit for bit
        return 0.0
    d = S[p] - sum_step * cv
    d = d if d > 0 else np.float32(0.0)
    removed = np.float64(S[p] - d)
    S[p] = d
    return removed


@njit(cache=True)
def _draw_serial(table, k, picture, pixels, scores, dgh, nt):
    """Draw chord ``k`` of the :class:`Table` into the :class:`Picture`'s state and update every chord's (float32)
    ``scores`` through the :class:`PixelMajor` table ``pixels``.

    Returns the darkness removed (``sum``; 0 for ``error``). ``dgh`` and ``nt``
    are unused (the signature of :func:`_draw_parallel`).
    """
    indptr, pixel, coverage = table
    S, T, Wt, o, rule, sum_step = picture
    pptr, pchord, pcov = pixels
    removed = 0.0
    e = indptr[k + 1]
    for t in range(indptr[k], min(indptr[k] + _AHEAD, e)):
        _prefetch_lists(pptr, pchord, pcov, pixel[t])
    for t in range(indptr[k], e):
        if t + _AHEAD < e:
            _prefetch_lists(pptr, pchord, pcov, pixel[t + _AHEAD])
        p = pixel[t]
        g0, h0 = _gh(S[p], T[p], Wt[p], o, rule)
        removed += _step_pixel(S, p, coverage[t], o, rule, sum_step)
        g1, h1 = _gh(S[p], T[p], Wt[p], o, rule)
        dg = np.float32(g1 - g0)
        dh = np.float32(h1 - h0)
        if dg != 0 or dh != 0:
            _push32(pptr, pchord, pcov, p, dg, dh, scores)
    return removed


@njit(cache=True, parallel=True)
def _draw_parallel(table, k, picture, pixels, scores, dgh, nt):
    """:func:`_draw_serial` with the chords split into ``nt`` id ranges, one task each (identical results).

    ``dgh`` is float32 scratch of at least ``2 * (pixels of k)``.
    """
    indptr, pixel, coverage = table
    S, T, Wt, o, rule, sum_step = picture
    pptr, pchord, pcov = pixels
    removed = 0.0
    s0 = indptr[k]
    m = indptr[k + 1] - s0
    for i in range(m):
        p = pixel[s0 + i]
        g0, h0 = _gh(S[p], T[p], Wt[p], o, rule)
        removed += _step_pixel(S, p, coverage[s0 + i], o, rule, sum_step)
        g1, h1 = _gh(S[p], T[p], Wt[p], o, rule)
        dgh[2 * i] = g1 - g0
        dgh[2 * i + 1] = h1 - h0
    n_chords = indptr.shape[0] - 1
    for th in prange(nt):
        lo = th * n_chords // nt
        hi = (th + 1) * n_chords // nt
        for i in range(m):
            if i + _AHEAD < m:
                _prefetch_lists(pptr, pchord, pcov, pixel[s0 + i + _AHEAD])
            dg = dgh[2 * i]
            dh = dgh[2 * i + 1]
            if dg == 0 and dh == 0:
                continue
            p = pixel[s0 + i]
            a = pptr[p]
            b = pptr[p + 1]
            q0 = a + np.searchsorted(pchord[a:b], lo)
            q1 = a + np.searchsorted(pchord[a:b], hi)
            cs = pchord[q0:q1]
            cc = pcov[q0:q1]
            for j in range(cs.shape[0]):
                cv = cc[j]
                scores[cs[j]] += cv * (dg - cv * dh)
    return removed


@njit(cache=True, inline="always")
def _bonus(prior, c):
    """The prior of chord ``c`` (0 when ``prior`` is empty: no prior)."""
    if prior.shape[0] == 0:
        return 0.0
    return prior[c]


@njit(cache=True)
def _settle(table, picture, scores, cand, ncand, amax, tol, prior, stats):
    """Exact pick among candidates whose running score (plus prior) is within ``tol`` of the top one (``amax``).

    The running float32 scores may be off by rounding; every candidate that
    could be the best is rescored exactly (float64 scan of its pixels, the
    running score is reset to it) and the best exact score plus its prior
    wins, ties to the lowest index. ``tol = inf`` rescores every candidate.
    Returns ``(index into cand, exact score, exact score + prior)``.
    """
    indptr, pixel, coverage = table
    S, T, Wt, o, rule, _ = picture
    thr = amax - tol
    best = -np.inf
    gain = -np.inf
    k = -1
    for i in range(ncand):
        c = cand[i]
        b = _bonus(prior, c)
        if scores[c] + b >= thr:
            e = _score_chord(indptr, pixel, coverage, S, T, Wt, o, rule, c)
            scores[c] = e
            stats[STAT_EXACT] += 1
            if e + b > best:
                best = e + b
                gain = e
                k = i
    return k, gain, best


@njit(cache=True)
def _restrict(pptr, pchord, pcov, allowed, qptr, qchord, qcov, fill):
    """The pixel-major table cut to the chords with ``allowed[c]`` (count only unless ``fill``; ``qptr`` given).

    Each pixel's chords stay sorted by id. Returns the number of entries kept.
    """
    k = 0
    for p in range(pptr.shape[0] - 1):
        for q in range(pptr[p], pptr[p + 1]):
            c = pchord[q]
            if allowed[c]:
                if fill:
                    qchord[k] = c
                    qcov[k] = pcov[q]
                k += 1
        if not fill:
            qptr[p + 1] = k
    return k


@njit(cache=True)
def _gather(id_of, cur, partners, last, drawn, no_return, once, used, cand, cpin, stats):
    """The candidate chords from pin ``cur`` into ``cand`` (their far pins into ``cpin``), by increasing pin.

    With ``partners`` (rows sorted, -1 padded; ``partners.shape[1] > 0``)
    only the listed partner pins are candidates; when none of them is valid
    (drawn, not allowed by ``min_gap``, or within ``no_return``) the step
    falls back to every pin and ``stats[STAT_FALLBACKS]`` counts it. When no pin is valid
    and ``no_return > 0`` the no-return rule is forgotten for the step
    (``stats[STAT_RELAXED]`` counts it). Returns ``(count, fell_back)``.
    """
    n = id_of.shape[0]
    ncand = 0
    m = partners.shape[1]
    if m > 0:
        for q in range(m):
            j = partners[cur, q]
            if j < 0:
                break
            c = id_of[cur, j]
            if c < 0 or (once and used[c]) or last[j] > drawn - no_return:
                continue
            cand[ncand] = c
            cpin[ncand] = j
            ncand += 1
        if ncand > 0:
            return ncand, False
        stats[STAT_FALLBACKS] += 1
    for j in range(n):
        c = id_of[cur, j]
        if c < 0 or (once and used[c]) or last[j] > drawn - no_return:
            continue
        cand[ncand] = c
        cpin[ncand] = j
        ncand += 1
    if ncand == 0 and no_return > 0:  # dead end: forget the no-return rule for this step
        stats[STAT_RELAXED] += 1
        for j in range(n):
            c = id_of[cur, j]
            if c < 0 or (once and used[c]):
                continue
            cand[ncand] = c
            cpin[ncand] = j
            ncand += 1
    return ncand, m > 0


@njit(cache=True)
def _gather_first(n_chords, allowed, once, used, cand, stats):
    """Candidates of a free first chord: every undrawn chord, or the ``allowed`` ones when given.

    Falls back to every undrawn chord (``stats[STAT_FALLBACKS]`` counts it) when no allowed one is left.
    Returns ``(count, fell_back)``.
    """
    ncand = 0
    if allowed.shape[0] > 0:
        for c in range(n_chords):
            if allowed[c] and not (once and used[c]):
                cand[ncand] = c
                ncand += 1
        if ncand > 0:
            return ncand, False
        stats[STAT_FALLBACKS] += 1
    for c in range(n_chords):
        if not (once and used[c]):
            cand[ncand] = c
            ncand += 1
    return ncand, allowed.shape[0] > 0


@njit(cache=True, inline="always")
def _begin(k, best, start, early_stop, pin_a, pin_b, partners, path, last, stats):
    """Start the thread: at pin ``start`` (``start >= 0``) or with the first chord ``k``, whose score
    (plus prior) is ``best``, drawn from the pin that lists the other. Returns ``(k, next pin, go)``;
    ``go`` is False when ``early_stop`` stops before the first chord (``stats[STAT_STOP] = STOP_NO_GAIN``)."""
    if start >= 0:
        path[0] = start
        last[start] = 0
        return -1, -1, True
    a, b = pin_a[k], pin_b[k]
    if not _listed(partners, a, b):  # drawn from the pin that lists the other
        a, b = b, a
    path[0] = a
    if early_stop and best <= 0.0:
        stats[STAT_STOP] = STOP_NO_GAIN
        return k, b, False
    last[a] = 0
    return k, b, True


@njit(cache=True)
def _listed(partners, a, b):
    """True when pin ``b`` is among ``a``'s partners (always, when there are no partners)."""
    if partners.shape[1] == 0:
        return True
    for q in range(partners.shape[1]):
        if partners[a, q] == b:
            return True
    return False


# ---------------------------------------------------------------------------- the greedy loop
#: the chord-drawing step :func:`_greedy_py` calls; :data:`_greedy_par` binds :func:`_draw_parallel` instead
_draw = _draw_serial


def _greedy_py(table, pins, picture, settings, running, warm, thread, nt, ctl):
    """Build one continuous thread greedily. Returns the number of lines drawn.

    Takes the :class:`Table`, :class:`Pins`, :class:`Picture`, :class:`Settings`, :class:`Running`,
    :class:`Warm` and :class:`Thread` tuples, whose fields are named below.

    Compiled twice (see the end of this module): :data:`_greedy` draws with
    :func:`_draw_serial`, :data:`_greedy_par` with :func:`_draw_parallel` (its
    ``nt`` tasks); the serial one never compiles the parallel step.

    ``S`` (float32, flat) is the state (brightness for ``error``, darkness for
    ``sum``), updated in place; ``scores`` (float32, n_chords) must hold every
    chord's score for ``S`` and is kept up to date (to rounding: candidates
    within ``tol`` of the top are rescored exactly before the pick, see
    :func:`_settle`) and recomputed from ``S`` every ``refresh`` lines so that
    rounding cannot build up over long runs. ``path`` gets ``n_drawn + 1`` pins, ``gains`` the exact
    score of each drawn chord, ``removed`` the darkness it removed (``sum``).
    ``start < 0``: the first chord is the best of all chords. ``stats``: see
    :data:`STAT_RELAXED` and the slots after it.

    Warm start: ``prior`` (n_chords,) float64 is added to each candidate's
    score when picking (empty: none; ``gains`` stay the true scores, and
    ``early_stop`` looks at score + prior). ``partners`` (n_pins, m) int32,
    rows sorted and -1 padded (m = 0: none) restricts the candidates from each
    pin (see :func:`_gather`); ``allowed`` (n_chords,) bool marks the chords
    ``(i, partners[i, q])`` (empty: all), the candidates of a free first chord.
    With partners, the pixel-major table passed in may hold the allowed chords
    only (:func:`_restrict`): the other chords' running scores are then stale,
    so a step that falls back to every candidate rescores them all exactly.

    ``ctl`` (int64, 2): the lines drawn so far are written to ``ctl[0]`` after each line, and the loop
    stops before the next line once ``ctl[1]`` is non-zero (:mod:`solvers.progress`).
    """
    indptr, pixel, coverage = table
    id_of, pin_a, pin_b = pins
    S, T, Wt, o, rule, sum_step = picture
    n_lines, start, no_return, once, early_stop = settings
    pixels, scores, tol, refresh = running
    pptr, pchord, pcov = pixels
    prior, partners, allowed = warm
    used, path, gains, removed, stats = thread
    n = id_of.shape[0]
    n_chords = indptr.shape[0] - 1
    restricted = allowed.shape[0] > 0
    last = np.full(n, -(1 << 30), dtype=np.int64)
    maxlen = 0
    for c in range(n_chords):
        maxlen = max(maxlen, indptr[c + 1] - indptr[c])
    dgh = np.empty(2 * maxlen, dtype=np.float32)
    cand = np.empty(max(n, n_chords if start < 0 else n), dtype=np.int64)
    cpin = np.empty(n, dtype=np.int64)
    drawn = 0
    if start < 0:
        ncand, fell = _gather_first(n_chords, allowed, once, used, cand, stats)
        if ncand == 0:
            stats[STAT_STOP] = STOP_DEAD_END
            path[0] = 0
            return 0
        amax = -np.inf
        for i in range(ncand):
            amax = max(amax, scores[cand[i]] + _bonus(prior, cand[i]))
        i, gain, best = _settle(table, picture, scores, cand, ncand, amax, np.inf if fell else tol, prior, stats)
        k = cand[i]
    else:
        k, gain, best = -1, -np.inf, 0.0
    k, cur_next, go = _begin(k, best, start, early_stop, pin_a, pin_b, partners, path, last, stats)
    if not go:
        return 0
    while drawn < n_lines:
        if ctl[1] != 0:  # cancelled
            break
        if k < 0:  # pick the next chord from the current pin
            ncand, fell = _gather(id_of, path[drawn], partners, last, drawn, no_return, once, used, cand, cpin,
                                  stats)
            if ncand == 0:
                stats[STAT_STOP] = STOP_DEAD_END
                break
            amax = -np.inf
            for i in range(ncand):
                amax = max(amax, scores[cand[i]] + _bonus(prior, cand[i]))
            i, gain, best = _settle(table, picture, scores, cand, ncand, amax,
                                    np.inf if (fell and restricted) else tol, prior, stats)
            if early_stop and best <= 0.0:
                stats[STAT_STOP] = STOP_NO_GAIN
                break
            k = cand[i]
            cur_next = cpin[i]
        used[k] = True
        gains[drawn] = gain
        removed[drawn] = _draw(table, k, picture, pixels, scores, dgh, nt)
        drawn += 1
        path[drawn] = cur_next
        last[cur_next] = drawn
        ctl[0] = drawn
        k = -1
        if drawn % refresh == 0 and drawn < n_lines:
            gh = np.empty((S.shape[0], 2), dtype=np.float32)
            _fill_gh(S, T, Wt, o, rule, gh)
            _scores_push(pptr, pchord, pcov, gh, scores)
    return drawn


# ---------------------------------------------------------------------------- refinement
# The refiner measures the error at a scale ``k``: both images box-summed over
# k x k blocks (k = 1: pixels). ``blk[p]`` is the block of pixel ``p``, ``Bs``
# and ``Ts`` the block sums of the state and the target, ``Wb`` the block
# weights, ``inv = 1 / k^2``; the error is ``sum_b Wb (inv (Bs - Ts))^2``.
@njit(cache=True)
def _refine_state(indptr, pixel, coverage, chords, B, o, blk, Bs):
    """Float64 brightness of the drawn chords in ``B`` and its block sums in ``Bs`` (in place)."""
    B[:] = 1.0
    for i in range(chords.shape[0]):
        c = chords[i]
        for t in range(indptr[c], indptr[c + 1]):
            f = 1.0 - o * coverage[t]
            B[pixel[t]] *= f if f > _MIN_FACTOR else _MIN_FACTOR
    Bs[:] = 0.0
    for p in range(B.shape[0]):
        Bs[blk[p]] += B[p]


@njit(cache=True)
def _block_error(Bs, Ts, Wb, inv):
    err = 0.0
    for b in range(Bs.shape[0]):
        e = inv * (Bs[b] - Ts[b])
        err += Wb[b] * e * e
    return err


@njit(cache=True, inline="always")
def _apply(indptr, pixel, coverage, c, add, B, Bs, o, blk):
    """Add (``add``) or remove one pass of chord ``c``."""
    for t in range(indptr[c], indptr[c + 1]):
        p = pixel[t]
        f = 1.0 - o * coverage[t]
        if f < _MIN_FACTOR:
            f = _MIN_FACTOR
        b0 = B[p]
        b1 = b0 * f if add else b0 / f
        B[p] = b1
        Bs[blk[p]] += b1 - b0


@njit(cache=True, inline="always")
def _delta(indptr, pixel, coverage, c, B, o, blk, dsum, mark, touched, nt):
    """Accumulate in ``dsum`` the change of the block sums if chord ``c`` were added; returns the touched count."""
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
def _settle_delta(Bs, Ts, Wb, inv, dsum, mark, touched, nt):
    """The error change of the accumulated ``dsum``; clears the scratch."""
    de = 0.0
    for i in range(nt):
        q = touched[i]
        e0 = inv * (Bs[q] - Ts[q])
        e1 = inv * (Bs[q] + dsum[q] - Ts[q])
        de += Wb[q] * (e1 * e1 - e0 * e0)
        dsum[q] = 0.0
        mark[q] = False
    return de


@njit(cache=True)
def _pair_delta(table, x1, x2, bp, sc):
    """The change of the :class:`BlockPicture`'s error if chords ``x1`` and ``x2`` (-1 or less: none) were added
    (the scratch :class:`BlockScratch` is left clear)."""
    indptr, pixel, coverage = table
    B, Bs, Ts, Wb, inv, o, blk = bp
    dsum, mark, touched = sc
    nt = 0
    if x1 >= 0:
        nt = _delta(indptr, pixel, coverage, x1, B, o, blk, dsum, mark, touched, nt)
    if x2 >= 0:
        nt = _delta(indptr, pixel, coverage, x2, B, o, blk, dsum, mark, touched, nt)
    return _settle_delta(Bs, Ts, Wb, inv, dsum, mark, touched, nt)


@njit(cache=True)
def _pair_approx(bindptr, bblock, bcov, x1, x2, Bs, Ts, Wb, inv, o, dsum, mark, touched):
    """:func:`_pair_delta` with each pixel's brightness taken as its block's mean (block table: ~4x fewer entries)."""
    nt = 0
    for x in (x1, x2):
        if x < 0:
            continue
        for q in range(bindptr[x], bindptr[x + 1]):
            b = bblock[q]
            if not mark[b]:
                mark[b] = True
                touched[nt] = b
                nt += 1
            dsum[b] -= o * bcov[q] * Bs[b] * inv
    return _settle_delta(Bs, Ts, Wb, inv, dsum, mark, touched, nt)


@njit(cache=True, inline="always")
def _reroutes(id_of, a, b, c, count, once, cj, c1, c2):
    """The pins ``j`` that can replace ``b`` between ``a`` and ``c`` (-1: no such neighbour), into ``cj``, with
    their chords ``(a, j)`` in ``c1`` and ``(j, c)`` in ``c2`` (-2 where there is no neighbour); returns how many.

    A chord must exist (``min_gap``) and, with ``once``, not be drawn elsewhere (``count``).
    """
    ncand = 0
    for j in range(id_of.shape[0]):
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
    return ncand


@njit(cache=True)
def _refine_range(table, id_of, bp, blocks, sc, ref, m0, m1):
    """Re-choose pins ``path[m]`` for ``m0 <= m < m1``, in order, keeping the thread continuous.

    Takes the :class:`Table`, the chord ids by pin pair, the :class:`BlockPicture`, the :class:`Blocks`
    table, the :class:`BlockScratch` and the :class:`Refine` tuple (the path and its settings).

    For pin ``b`` between ``a`` and ``c`` the move replaces chords (a, b) and
    (b, c) by (a, b'), (b', c) for the pin ``b'`` whose two chords give the
    lowest error (end pins have one chord); it is kept only if that error is
    lower than with ``b``, both measured exactly. With ``shortlist > 0`` only
    the ``shortlist`` candidates ranked best by :func:`_pair_approx` (block
    means; the block table ``bindptr, bblock, bcov``) are measured exactly.
    ``count[c]`` is how often chord ``c`` is drawn (``once``: candidates use
    undrawn chords only). Returns the total decrease of the error; ``stats``:
    slots :data:`REFINE_TRIED`, :data:`REFINE_MOVES`, :data:`REFINE_EXACT`.
    """
    indptr, pixel, coverage = table
    B, Bs, Ts, Wb, inv, o, blk = bp
    bindptr, bblock, bcov = blocks
    dsum, mark, touched = sc
    path, count, once, shortlist, stats = ref
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
        stats[REFINE_TRIED] += 1
        if ca >= 0:
            _apply(indptr, pixel, coverage, ca, False, B, Bs, o, blk)
            count[ca] -= 1
        if cc >= 0:
            _apply(indptr, pixel, coverage, cc, False, B, Bs, o, blk)
            count[cc] -= 1
        d_old = _pair_delta(table, ca, cc, bp, sc)
        ncand = _reroutes(id_of, a, b, c, count, once, cj, c1, c2)
        if shortlist > 0 and ncand > shortlist:
            for i in range(ncand):
                approx[i] = _pair_approx(bindptr, bblock, bcov, c1[i], c2[i], Bs, Ts, Wb, inv, o, dsum, mark, touched)
            order = np.argsort(approx[:ncand])[:shortlist]
            order.sort()  # ties to the lowest pin, as without a shortlist
        else:
            order = np.arange(ncand)
        best = d_old
        nb = b
        n1 = ca
        n2 = cc
        for i in order:
            d = _pair_delta(table, c1[i], c2[i], bp, sc)
            stats[REFINE_EXACT] += 1
            if d < best:
                best = d
                nb = cj[i]
                n1 = c1[i]
                n2 = c2[i]
        if nb != b:
            path[m] = nb
            gain += d_old - best
            stats[REFINE_MOVES] += 1
        if n1 >= 0:
            _apply(indptr, pixel, coverage, n1, True, B, Bs, o, blk)
            count[n1] += 1
        if n2 >= 0:
            _apply(indptr, pixel, coverage, n2, True, B, Bs, o, blk)
            count[n2] += 1
    return gain


# ---------------------------------------------------------------------------- greedy at a block scale
@njit(cache=True, inline="always")
def _open_chords(n_chords, once, used, pin_b, cand, cpin):
    """Every chord still open (with ``once``: not drawn), for a free first chord: ids into ``cand``, their
    ``pin_b`` into ``cpin``; returns how many."""
    ncand = 0
    for c in range(n_chords):
        if not (once and used[c]):
            cand[ncand] = c
            cpin[ncand] = pin_b[c]
            ncand += 1
    return ncand


@njit(cache=True)
def _shortlist_pick(table, cand, ncand, bp, blocks, shortlist, approx, sc, stats):
    """Index (into ``cand``) of the chord whose pass lowers the block error most, and that change.

    With ``shortlist > 0`` the candidates are ranked by :func:`_pair_approx`
    (block means) and only the best ``shortlist`` are measured exactly; ties
    go to the lowest index.
    """
    _, Bs, Ts, Wb, inv, o, _ = bp
    bindptr, bblock, bcov = blocks
    dsum, mark, touched = sc
    if shortlist > 0 and ncand > shortlist:
        for i in range(ncand):
            approx[i] = _pair_approx(bindptr, bblock, bcov, cand[i], -1, Bs, Ts, Wb, inv, o, dsum, mark, touched)
        order = np.argsort(approx[:ncand])[:shortlist]
        order.sort()
    else:
        order = np.arange(ncand)
    best = np.inf
    k = -1
    for i in order:
        d = _pair_delta(table, cand[i], -1, bp, sc)
        stats[STAT_EXACT] += 1
        if d < best:
            best = d
            k = i
    return k, best


@njit(cache=True)
def _greedy_blocks(table, pins, bp, blocks, shortlist, settings, thread):
    """:func:`_greedy` for the squared error of ``k x k`` block sums (the refiner's error, see there).

    ``B`` (float64 brightness) and ``Bs`` (its block sums) are updated in
    place. Each step measures candidates exactly (a scan of their pixels into
    the touched blocks), after a block-mean shortlist when ``shortlist > 0``.
    ``gains`` gets the decrease of the block error of each chord; ``stats`` as
    in :func:`_greedy` ([no-return relaxed, stop reason, exact measurements]). Takes the :class:`Table`,
    :class:`Pins`, :class:`BlockPicture`, the shortlist's :class:`Blocks` table, :class:`Settings` and
    :class:`Thread` (``removed`` unused).
    """
    indptr, pixel, coverage = table
    id_of, pin_a, pin_b = pins
    B, Bs, Ts, Wb, inv, o, blk = bp
    n_lines, start, no_return, once, early_stop = settings
    used, path, gains, _, stats = thread
    n = id_of.shape[0]
    n_chords = indptr.shape[0] - 1
    nblocks = Bs.shape[0]
    sc = BlockScratch(np.zeros(nblocks, dtype=np.float64), np.zeros(nblocks, dtype=np.bool_),
                      np.zeros(nblocks, dtype=np.int64))
    last = np.full(n, -(1 << 30), dtype=np.int64)
    size = n_chords if start < 0 else n
    cand = np.empty(size, dtype=np.int64)
    cpin = np.empty(size, dtype=np.int64)
    approx = np.empty(size, dtype=np.float64)
    no_partners = np.zeros((n, 0), dtype=np.int32)
    drawn = 0
    if start < 0:
        ncand = _open_chords(n_chords, once, used, pin_b, cand, cpin)
        if ncand == 0:
            stats[STAT_STOP] = STOP_DEAD_END
            path[0] = 0
            return 0
        i, d = _shortlist_pick(table, cand, ncand, bp, blocks, shortlist, approx, sc, stats)
        path[0] = pin_a[cand[i]]
        if early_stop and d >= 0.0:
            stats[STAT_STOP] = STOP_NO_GAIN
            return 0
        last[path[0]] = 0
    else:
        path[0] = start
        last[start] = 0
        i = -1
    while drawn < n_lines:
        if i < 0:
            ncand, _ = _gather(id_of, path[drawn], no_partners, last, drawn, no_return, once, used, cand, cpin,
                               stats)
            if ncand == 0:
                stats[STAT_STOP] = STOP_DEAD_END
                break
            i, d = _shortlist_pick(table, cand, ncand, bp, blocks, shortlist, approx, sc, stats)
            if early_stop and d >= 0.0:
                stats[STAT_STOP] = STOP_NO_GAIN
                break
        c = cand[i]
        used[c] = True
        gains[drawn] = -d
        _apply(indptr, pixel, coverage, c, True, B, Bs, o, blk)
        drawn += 1
        path[drawn] = cpin[i]
        last[cpin[i]] = drawn
        i = -1
    return drawn


# ---------------------------------------------------------------------------- the viewing scale, incremental
@njit(cache=True, inline="always")
def _block_gh(Bs, Ts, Wb, inv, o, b):
    """``(g, h)`` of block ``b``: adding chord coverage ``C`` there lowers the block error by about ``C g - C^2 h``.

    The block error is ``Wb (inv (Bs - Ts))^2``; a pass of coverage ``C`` over a block of mean
    brightness ``m = inv Bs`` lowers ``Bs`` by about ``o C m`` (each pixel's own brightness taken as
    the block's mean), so the error falls by ``Wb (2 e inv o C m - (inv o C m)^2)``, ``e = inv (Bs - Ts)``.
    """
    m = Bs[b] * inv
    a = inv * o * m
    return 2.0 * Wb[b] * inv * (Bs[b] - Ts[b]) * a, Wb[b] * a * a


@njit(cache=True, inline="always")
def _top_k(scores, cand, ncand, k, key, top):
    """Indices (into ``cand``) of the ``k`` best ``scores[cand[j]]``, ties to the lowest index; returns the count.

    One pass with a small sorted buffer: O(ncand k) instead of a sort of every candidate.
    """
    m = 0
    for j in range(ncand):
        v = scores[cand[j]]
        if m < k:
            q = m
            m += 1
        elif v > key[k - 1]:
            q = k - 1
        else:
            continue
        while q > 0 and key[q - 1] < v:
            key[q] = key[q - 1]
            top[q] = top[q - 1]
            q -= 1
        key[q] = v
        top[q] = j
    return m


@njit(cache=True)
def _view_scores(bindptr, bblock, bcov, Bs, Ts, Wb, inv, o, scores):
    """Every chord's approximate gain (see :func:`_block_gh`) from scratch."""
    for c in range(bindptr.shape[0] - 1):
        s = 0.0
        for q in range(bindptr[c], bindptr[c + 1]):
            g, h = _block_gh(Bs, Ts, Wb, inv, o, bblock[q])
            cv = np.float64(bcov[q])
            s += cv * (g - cv * h)
        scores[c] = s


@njit(cache=True, nogil=True)
def _greedy_view(table, pins, bp, vs, settings, thread, ctl):
    """:func:`_greedy_blocks` with every chord's approximate gain kept up to date instead of recomputed.

    Takes the :class:`Table`, :class:`Pins`, :class:`BlockPicture`, :class:`ViewScores` (the block table
    ``bindptr, bblock, bcov``, the block-major table ``qptr, qchord, qcov``, ``scores``, ``shortlist``,
    ``refresh``), :class:`Settings` and :class:`Thread` (``removed`` unused).

    ``scores`` (float64, n_chords) hold each chord's gain with each pixel's
    brightness taken as its block's mean (:func:`_view_scores`, the ranking of
    :func:`_pair_approx`); after a chord is drawn (exactly, pixel by pixel), the
    change of its blocks' ``(g, h)`` is pushed to the chords through those
    blocks, read from the block-major table ``qptr, qchord, qcov`` (about 130
    blocks x 290 chords per step at 288 pins, 512 px, scale 4: the work of a
    pixel greedy step). Each step the ``shortlist`` candidates with the best
    approximate gain are measured exactly (:func:`_pair_delta`) and the best is
    drawn (``shortlist = 0``: all of them). The scores are recomputed every
    ``refresh`` lines. ``stats`` as :func:`_greedy_blocks`'. ``ctl``: progress and cancellation, as
    :func:`_greedy_py`'s, but every 16 lines (and the count at the end).
    """
    indptr, pixel, coverage = table
    id_of, pin_a, pin_b = pins
    B, Bs, Ts, Wb, inv, o, blk = bp
    blocks, through, scores, shortlist, refresh = vs
    bindptr, bblock, bcov = blocks
    qptr, qchord, qcov = through
    n_lines, start, no_return, once, early_stop = settings
    used, path, gains, _, stats = thread
    n = id_of.shape[0]
    n_chords = indptr.shape[0] - 1
    nblocks = Bs.shape[0]
    sc = BlockScratch(np.zeros(nblocks, dtype=np.float64), np.zeros(nblocks, dtype=np.bool_),
                      np.zeros(nblocks, dtype=np.int64))
    last = np.full(n, -(1 << 30), dtype=np.int64)
    size = n_chords if start < 0 else n
    cand = np.empty(size, dtype=np.int64)
    cpin = np.empty(size, dtype=np.int64)
    key = np.empty(max(shortlist, 1), dtype=np.float64)
    top = np.empty(max(shortlist, 1), dtype=np.int64)
    no_partners = np.zeros((n, 0), dtype=np.int32)
    maxb = 0
    for c in range(n_chords):
        maxb = max(maxb, bindptr[c + 1] - bindptr[c])
    old_g = np.empty(maxb, dtype=np.float64)
    old_h = np.empty(maxb, dtype=np.float64)
    _view_scores(bindptr, bblock, bcov, Bs, Ts, Wb, inv, o, scores)
    drawn = 0
    i = -1
    if start < 0:
        ncand = _open_chords(n_chords, once, used, pin_b, cand, cpin)
        if ncand == 0:
            stats[STAT_STOP] = STOP_DEAD_END
            path[0] = 0
            return 0
    else:
        path[0] = start
        last[start] = 0
    while drawn < n_lines:
        if drawn & 15 == 0:  # progress and a cancel every 16 lines: read and written every line, they cost 5 %
            ctl[0] = drawn
            if ctl[1] != 0:
                break
        if not (drawn == 0 and start < 0):
            ncand, _ = _gather(id_of, path[drawn], no_partners, last, drawn, no_return, once, used, cand, cpin,
                               stats)
            if ncand == 0:
                stats[STAT_STOP] = STOP_DEAD_END
                break
        # the shortlist: the best approximate gains (ties to the lowest index), then measured exactly
        if shortlist > 0 and ncand > shortlist:
            m = _top_k(scores, cand, ncand, shortlist, key, top)
            order = np.sort(top[:m])
        else:
            order = np.arange(ncand)
        best = np.inf
        i = -1
        for j in order:
            d = _pair_delta(table, cand[j], -1, bp, sc)
            stats[STAT_EXACT] += 1
            if d < best:
                best = d
                i = j
        if drawn == 0 and start < 0:
            path[0] = pin_a[cand[i]]
            if early_stop and best >= 0.0:
                stats[STAT_STOP] = STOP_NO_GAIN
                return 0
            last[path[0]] = 0
        elif early_stop and best >= 0.0:
            stats[STAT_STOP] = STOP_NO_GAIN
            break
        c = cand[i]
        used[c] = True
        gains[drawn] = -best
        nb = bindptr[c + 1] - bindptr[c]
        for q in range(nb):
            g, h = _block_gh(Bs, Ts, Wb, inv, o, bblock[bindptr[c] + q])
            old_g[q] = g
            old_h[q] = h
        _apply(indptr, pixel, coverage, c, True, B, Bs, o, blk)
        for q in range(nb):
            b = bblock[bindptr[c] + q]
            g, h = _block_gh(Bs, Ts, Wb, inv, o, b)
            dg = g - old_g[q]
            dh = h - old_h[q]
            for r in range(qptr[b], qptr[b + 1]):
                cv = np.float64(qcov[r])
                scores[qchord[r]] += cv * (dg - cv * dh)
        drawn += 1
        path[drawn] = cpin[i]
        last[cpin[i]] = drawn
        if drawn % refresh == 0 and drawn < n_lines:
            _view_scores(bindptr, bblock, bcov, Bs, Ts, Wb, inv, o, scores)
    ctl[0] = drawn
    return drawn


# ---------------------------------------------------------------------------- the scanning variant
@njit(cache=True)
def _scan_serial(indptr, pixel, coverage, S, T, Wt, o, rule, cand, ncand, out):
    for i in range(ncand):
        out[i] = _score_chord(indptr, pixel, coverage, S, T, Wt, o, rule, cand[i])


@njit(cache=True, parallel=True)
def _scan_parallel(indptr, pixel, coverage, S, T, Wt, o, rule, cand, ncand, out):
    for i in prange(ncand):
        out[i] = _score_chord(indptr, pixel, coverage, S, T, Wt, o, rule, cand[i])


@njit(cache=True)
def _greedy_scan(table, pins, picture, settings, thread, parallel):
    """:func:`_greedy` that rescans every candidate's pixels at each step (no pixel-major table).

    Same arguments and results as :func:`_greedy` without the running scores
    and the warm start (see :func:`_greedy_scan_warm`); ``stats`` holds :data:`N_STATS` slots.
    """
    warm = Warm(np.zeros(0, dtype=np.float64), np.zeros((pins.id_of.shape[0], 0), dtype=np.int32),
                np.zeros(0, dtype=np.bool_))
    return _greedy_scan_warm(table, pins, picture, settings, warm, thread, parallel)


@njit(cache=True)
def _greedy_scan_warm(table, pins, picture, settings, warm, thread, parallel):
    """:func:`_greedy_scan` with the warm start of :func:`_greedy` (:class:`Warm`).

    ``stats`` holds :data:`N_STATS` slots (:data:`STAT_RELAXED` ...).
    """
    indptr, pixel, coverage = table
    id_of, pin_a, pin_b = pins
    S, T, Wt, o, rule, sum_step = picture
    n_lines, start, no_return, once, early_stop = settings
    prior, partners, allowed = warm
    used, path, gains, removed, stats = thread
    n = id_of.shape[0]
    n_chords = indptr.shape[0] - 1
    last = np.full(n, -(1 << 30), dtype=np.int64)
    cand = np.empty(max(n, n_chords), dtype=np.int64)
    cpin = np.empty(n, dtype=np.int64)
    sc = np.empty(cand.shape[0], dtype=np.float64)
    drawn = 0
    if start < 0:
        ncand, _ = _gather_first(n_chords, allowed, once, used, cand, stats)
        if parallel:
            _scan_parallel(indptr, pixel, coverage, S, T, Wt, o, rule, cand, ncand, sc)
        else:
            _scan_serial(indptr, pixel, coverage, S, T, Wt, o, rule, cand, ncand, sc)
        best = -np.inf
        gain = -np.inf
        k = -1
        for i in range(ncand):
            v = sc[i] + _bonus(prior, cand[i])
            if v > best:
                best = v
                gain = sc[i]
                k = cand[i]
        if k < 0:
            stats[STAT_STOP] = STOP_DEAD_END
            path[0] = 0
            return 0
    else:
        k, gain, best = -1, -np.inf, 0.0
    k, cur_next, go = _begin(k, best, start, early_stop, pin_a, pin_b, partners, path, last, stats)
    if not go:
        return 0
    while drawn < n_lines:
        if k < 0:
            ncand, _ = _gather(id_of, path[drawn], partners, last, drawn, no_return, once, used, cand, cpin, stats)
            if ncand == 0:
                stats[STAT_STOP] = STOP_DEAD_END
                break
            if parallel:
                _scan_parallel(indptr, pixel, coverage, S, T, Wt, o, rule, cand, ncand, sc)
            else:
                _scan_serial(indptr, pixel, coverage, S, T, Wt, o, rule, cand, ncand, sc)
            best = -np.inf
            for i in range(ncand):
                v = sc[i] + _bonus(prior, cand[i])
                if v > best:
                    best = v
                    gain = sc[i]
                    k = cand[i]
                    cur_next = cpin[i]
            if early_stop and best <= 0.0:
                stats[STAT_STOP] = STOP_NO_GAIN
                break
        used[k] = True
        gains[drawn] = gain
        rm = 0.0
        for t in range(indptr[k], indptr[k + 1]):
            rm += _step_pixel(S, pixel[t], coverage[t], o, rule, sum_step)
        removed[drawn] = rm
        drawn += 1
        path[drawn] = cur_next
        last[cur_next] = drawn
        k = -1
    return drawn


# ---------------------------------------------------------------------------- compiled variants
_greedy = njit(cache=True, nogil=True)(variant(_greedy_py, "_greedy", _draw=_draw_serial))
_greedy_par = njit(cache=True, nogil=True)(variant(_greedy_py, "_greedy_par", _draw=_draw_parallel))
