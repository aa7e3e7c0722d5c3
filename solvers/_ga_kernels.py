"""Numba kernels of the genetic-algorithm solver (private: contiguous arrays in, no validation).

State of one individual (see :mod:`solvers.ga`)
------------------------------------------------
path : (n + 1,) int32 pins, ``n`` chords
count : (n_chords,) int32, how often each chord is used
bright : (n_pixels,) float64, per pixel ``prod (1 - opacity * coverage)`` over its chords
fit : float64, ``sum weight * (bright - target) ** 2``

``fac`` is the table's coverage turned into the factor ``1 - o * c`` once
(floored at :data:`solvers.ga.FACTOR_FLOOR` > 0, so every pass can be divided
out again). Adding a chord multiplies its pixels by its factors, removing it
divides them out (exact to float64 rounding, about 1e-16 per pass), so an
offspring that differs from its parent in a few pins is scored from the chords
it changes only: O(chord length), never O(canvas).

Scoring an offspring never writes to the parent's state: the changed chords'
factors are gathered into a sparse per-thread scratch ``f`` (NaN where
untouched), then each touched pixel is scored as ``bright * f``. Applying the
same offspring later visits the same factors in the same order, so the state it
leaves is bit-for-bit the one that was scored. ``tw`` holds target and weight
side by side, (n_pixels, 2) float64, one cache line per pixel.

Viewing-scale fitness (``shift > 0``): the error is taken between means of
blocks of ``2 ** shift`` consecutive pixels (in the tiled Morton order of
:func:`solvers.ga.tiled_order` these are ``k x k`` squares, ``k * k = 2 ** shift``).
Each individual then also keeps its block means ``means`` (n_blocks,) float64,
``tw`` is per block, and a scored pixel change is folded into a sparse block
scratch ``g`` (NaN where untouched) before the touched blocks are scored.

Randomness: every offspring reads its own row of pre-drawn uniforms, so the
result does not depend on how offspring are spread over threads. The same
Python functions are compiled twice, serial and parallel (``prange``), as
umap does.

Arguments
---------
The offspring kernels (:func:`_offspring_py`, :func:`_make_offspring`,
:func:`_apply_edits`) take their inputs bundled in the named tuples below (as
pynndescent does), built by :class:`solvers.ga._Population`: the population
(:class:`Population`) or one individual of it (:class:`Individual`), the chord
table with its factors (:class:`ChordFactors`), the fitness' targets and scale
(:class:`Fitness`), the operators' settings (:class:`Operators`), the
per-thread scratch (:class:`Scratch`) and the offspring's output buffers
(:class:`Offspring`). Each kernel unpacks them into plain local names on its
first lines; the types are module-level, so ``cache=True`` keys them by name.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from rendering.jit import guard_cache, variant

guard_cache()  # before the first @njit: stale caches of other kernel modules never load

#: The factor ``1 - o c`` of a pass is floored here, so a fully opaque full-coverage pass can be
#: divided out again (brightness 1e-9 instead of 0: far below any visible or scored difference).
FACTOR_FLOOR = 1e-9


class Population(NamedTuple):
    """The population's state, one row per individual (``mu`` of them, ``n`` chords each).

    paths : (mu, n + 1) int32 pins
    counts : (mu, n_chords) int32, how often each individual uses each chord
    bright : (mu, n_pixels) float64, per-pixel brightness ``prod (1 - o c)``
    means : (mu, n_blocks) float64, block means of ``bright`` (used when ``shift > 0``)
    fit : (mu,) float64, fitness (lower is better)
    """

    paths: np.ndarray
    counts: np.ndarray
    bright: np.ndarray
    means: np.ndarray
    fit: np.ndarray


class Individual(NamedTuple):
    """One individual's state: rows of :class:`Population`, changed in place.

    path : (n + 1,) int32; count : (n_chords,) int32; bright : (n_pixels,) float64;
    means : (n_blocks,) float64
    """

    path: np.ndarray
    count: np.ndarray
    bright: np.ndarray
    means: np.ndarray


class ChordFactors(NamedTuple):
    """The chords by pins and their pixels with the factors a pass multiplies them by.

    id_of : (n_pins, n_pins) int32, chord id of a pin pair (-1: not allowed)
    indptr : (n_chords + 1,) int64, CSR by chord: chord ``c`` covers entries ``indptr[c]:indptr[c + 1]``
    pixel : (nnz,) int32, the entries' pixels (in the fitness' pixel order)
    fac : (nnz,) float32, the entries' factors ``1 - o c`` (floored at :data:`FACTOR_FLOOR`)
    """

    id_of: np.ndarray
    indptr: np.ndarray
    pixel: np.ndarray
    fac: np.ndarray


class Fitness(NamedTuple):
    """What the fitness compares with.

    tw : (n_pixels, 2) float64 (``shift == 0``) or (n_blocks, 2) float64: target and weight side by side
    shift : int, blocks of ``2 ** shift`` consecutive pixels (0: per pixel)
    """

    tw: np.ndarray
    shift: int


class Operators(NamedTuple):
    """The GA's operator settings.

    tournament : int, tournament size; p_cx : float, crossover probability; n_mut : int, mutations per
    offspring; creep : int, 0 or the +-range of a mutated pin; tries : int, draws to find a valid pin;
    allow_repeats : bool, a chord may be used more than once
    """

    tournament: int
    p_cx: float
    n_mut: int
    creep: int
    tries: int
    allow_repeats: bool


class Scratch(NamedTuple):
    """Per-thread scratch of the offspring kernels: 2-D with one row per chunk (:func:`_offspring_py`),
    or one such row (:func:`_make_offspring`, :func:`_apply_edits`). Returned cleared.

    child : (n + 1,) int32, the offspring's path; f : (n_pixels,) float64, sparse factors (NaN where
    untouched); touched : (n_pixels,) int32, pixels listed in ``f``; g : (n_blocks,) float64, sparse
    block changes (NaN where untouched); btouched : (n_blocks,) int32, blocks listed in ``g``;
    dcount : (n_chords,) int32, chord count changes; ctouch : (2 n + 4 n_mut + 8,) int32, chords listed in
    ``dcount``; smark : (n,) uint8, steps marked; steps : (n,) int32, steps listed in ``smark``;
    pos : (n + 1 + n_mut,) int32, changed positions
    """

    child: np.ndarray
    f: np.ndarray
    touched: np.ndarray
    g: np.ndarray
    btouched: np.ndarray
    dcount: np.ndarray
    ctouch: np.ndarray
    smark: np.ndarray
    steps: np.ndarray
    pos: np.ndarray


class Offspring(NamedTuple):
    """The offspring's output buffers, one row per offspring (``lam``).

    base : (lam,) int64, the parent it is an edit of; fit : (lam,) float64, its fitness (``inf``: equals its
    parent); npos : (lam,) int64, edits written; pos, pin : (lam, n + 1 + n_mut) int32, the edits
    (positions in the base path and their new pins)
    """

    base: np.ndarray
    fit: np.ndarray
    npos: np.ndarray
    pos: np.ndarray
    pin: np.ndarray


@njit(cache=True)
def _full_state(path, id_of, indptr, pixel, fac, tw, shift, bright, means, count):
    """Build one individual's ``bright``, ``means`` (when ``shift > 0``) and ``count``; return its fitness."""
    bright[:] = 1.0
    count[:] = 0
    n = path.shape[0] - 1
    for s in range(n):
        c = id_of[path[s], path[s + 1]]
        count[c] += 1
        for e in range(indptr[c], indptr[c + 1]):
            bright[pixel[e]] *= fac[e]
    err = 0.0
    if shift == 0:
        for p in range(bright.shape[0]):
            d = bright[p] - tw[p, 0]
            err += tw[p, 1] * d * d
        return err
    area = 1 << shift
    for B in range(means.shape[0]):
        acc = 0.0
        for p in range(B * area, (B + 1) * area):
            acc += bright[p]
        means[B] = acc / area
        d = means[B] - tw[B, 0]
        err += tw[B, 1] * d * d
    return err


def _init_population_py(paths, id_of, indptr, pixel, fac, tw, shift, bright, means, count, fit):
    for i in prange(paths.shape[0]):
        fit[i] = _full_state(paths[i], id_of, indptr, pixel, fac, tw, shift, bright[i], means[i], count[i])


_init_population = njit(cache=True)(variant(_init_population_py, "_init_population"))
_init_population_par = njit(cache=True, parallel=True)(variant(_init_population_py, "_init_population_par"))


@njit(cache=True)
def _random_path(id_of, allow_repeats, u, path, used):
    """A random continuous path: each step uniform among allowed (and unused) next pins.

    ``u`` : (n + 1,) uniforms in [0, 1); ``used`` : (n_chords,) uint8 scratch, returned cleared.
    At a dead end (every chord from the current pin used) a used chord is taken, as
    :func:`solvers.baseline.random_path` does.
    """
    n_pins = id_of.shape[0]
    n = path.shape[0] - 1
    cur = min(int(u[0] * n_pins), n_pins - 1)
    path[0] = cur
    for k in range(n):
        free = 0
        ok = 0
        for p in range(n_pins):
            c = id_of[cur, p]
            if c >= 0:
                ok += 1
                if allow_repeats or used[c] == 0:
                    free += 1
        strict = free > 0
        total = free if strict else ok
        pick = min(int(u[k + 1] * total), total - 1)
        for p in range(n_pins):
            c = id_of[cur, p]
            if c >= 0 and (not strict or allow_repeats or used[c] == 0):
                if pick == 0:
                    used[c] = 1
                    cur = p
                    break
                pick -= 1
        path[k + 1] = cur
    for s in range(n):
        used[id_of[path[s], path[s + 1]]] = 0


@njit(cache=True, inline="always")
def _tournament(fit, u, k, size):
    """Index of the fittest of ``size`` uniform picks (ties: lower index)."""
    mu = fit.shape[0]
    R = u.shape[0]
    best = -1
    for t in range(size):
        i = min(int(u[(k + t) % R] * mu), mu - 1)
        if best < 0 or fit[i] < fit[best] or (fit[i] == fit[best] and i < best):
            best = i
    return best


@njit(cache=True, inline="always")
def _link_ok(id_of, a, p, b):
    """Pin ``p`` may sit between ``a`` and ``b`` (either may be -1: path end)."""
    if a >= 0 and id_of[a, p] < 0:
        return False
    if b >= 0 and id_of[p, b] < 0:
        return False
    return True


@njit(cache=True)
def _mark_step(s, n, base_path, child, id_of, smark, steps, nsteps, dcount, ctouch, nct):
    """Register chord step ``s`` (once) and count its chord change into ``dcount``."""
    if s < 0 or s >= n or smark[s]:
        return nsteps, nct
    smark[s] = 1
    steps[nsteps] = s
    old = id_of[base_path[s], base_path[s + 1]]
    new = id_of[child[s], child[s + 1]]
    if old != new:
        dcount[old] -= 1
        dcount[new] += 1
        ctouch[nct] = old
        ctouch[nct + 1] = new
        nct += 2
    return nsteps + 1, nct


@njit(cache=True, inline="always")
def _gather(old, new, indptr, pixel, fac, f, touched, ntouch):
    """Fold chord ``old`` out of and chord ``new`` into the sparse factor scratch ``f``."""
    for e in range(indptr[old], indptr[old + 1]):
        p = pixel[e]
        if f[p] != f[p]:  # NaN: first touch
            f[p] = 1.0 / fac[e]
            touched[ntouch] = p
            ntouch += 1
        else:
            f[p] = f[p] / fac[e]
    for e in range(indptr[new], indptr[new + 1]):
        p = pixel[e]
        if f[p] != f[p]:
            f[p] = np.float64(fac[e])
            touched[ntouch] = p
            ntouch += 1
        else:
            f[p] = f[p] * fac[e]
    return ntouch


@njit(cache=True, inline="always")
def _fold_blocks(b, f, touched, ntouch, shift, g, btouched, inv_area, write):
    """Fold the touched pixels' brightness changes into the sparse block scratch ``g``.

    Clears ``f``; writes the new brightness into ``b`` when ``write``. Returns the
    number of touched blocks listed in ``btouched``.
    """
    nb = 0
    for i in range(ntouch):
        p = touched[i]
        bo = b[p]
        bn = bo * f[p]
        f[p] = np.nan
        if write:
            b[p] = bn
        B = p >> shift
        d = (bn - bo) * inv_area
        if g[B] != g[B]:
            g[B] = d
            btouched[nb] = B
            nb += 1
        else:
            g[B] = g[B] + d
    return nb


@njit(cache=True)
def _make_offspring(o, u, population, table, fitness, operators, scratch, out):
    """Build offspring ``o`` from its uniforms ``u`` and score it incrementally.

    ``scratch`` is one row of :class:`Scratch`; of ``out`` only ``pos`` and ``pin`` are written.
    Returns ``(base, fitness, n_edits)``: the parent it is an edit of, its fitness
    (``inf`` when it equals its parent) and the number of entries written to
    ``out_pos[o]`` / ``out_pin[o]`` (positions in the base path and their new pins).
    All scratch arrays are returned cleared.
    """
    paths, counts, bright, means, fit = population
    id_of, indptr, pixel, fac = table
    tw, shift = fitness
    tournament, p_cx, n_mut, creep, tries, allow_repeats = operators
    child, f, touched, g, btouched, dcount, ctouch, smark, steps, pos = scratch
    out_pos, out_pin = out.pos, out.pin
    mu = paths.shape[0]
    n = paths.shape[1] - 1
    n_pins = id_of.shape[0]
    R = u.shape[0]
    k = 0
    pa = _tournament(fit, u, k, tournament)
    k += tournament
    base = pa
    npos = 0
    nsteps = 0
    nct = 0
    crossed = False
    do_cx = u[k % R] < p_cx
    k += 1
    if do_cx and mu > 1 and n >= 2:
        pb = _tournament(fit, u, k, tournament)
        k += tournament
        j = 1 + min(int(u[k % R] * (n - 1)), n - 2)  # junction pin, 1..n-1
        k += 1
        if pb != pa:
            A = paths[pa]
            B = paths[pb]
            d_suffix = 0
            d_prefix = 0
            for q in range(n + 1):
                if A[q] != B[q]:
                    if q > j:
                        d_suffix += 1
                    elif q < j:
                        d_prefix += 1
            # child = A[:j] + junction + B[j+1:]; edit whichever parent it differs less from
            if d_prefix < d_suffix:
                base, donor, lo, hi = pb, pa, 0, j
            else:
                base, donor, lo, hi = pa, pb, j + 1, n + 1
            child[:] = paths[base]
            D = paths[donor]
            for q in range(lo, hi):
                if child[q] != D[q]:
                    child[q] = D[q]
                    pos[npos] = q
                    npos += 1
            # repair the junction: keep the base's pin, else the donor's, else a random valid one
            a = child[j - 1]
            b = child[j + 1]
            ok = _link_ok(id_of, a, child[j], b)
            if not ok and _link_ok(id_of, a, D[j], b):
                child[j] = D[j]
                pos[npos] = j
                npos += 1
                ok = True
            t = 0
            while not ok and t < tries:
                p = min(int(u[k % R] * n_pins), n_pins - 1)
                k += 1
                t += 1
                if _link_ok(id_of, a, p, b):
                    child[j] = p
                    pos[npos] = j
                    npos += 1
                    ok = True
            if ok and npos > 0:
                for i in range(npos):
                    q = pos[i]
                    nsteps, nct = _mark_step(q - 1, n, paths[base], child, id_of, smark, steps, nsteps,
                                             dcount, ctouch, nct)
                    nsteps, nct = _mark_step(q, n, paths[base], child, id_of, smark, steps, nsteps,
                                             dcount, ctouch, nct)
                if not allow_repeats:
                    for i in range(nct):
                        c = ctouch[i]
                        if dcount[c] > 0 and counts[base, c] + dcount[c] > 1:
                            ok = False
                            break
            if not ok or npos == 0:  # give up the crossover: the child is the base again
                for i in range(npos):
                    child[pos[i]] = paths[base, pos[i]]
                for i in range(nsteps):
                    smark[steps[i]] = 0
                for i in range(nct):
                    dcount[ctouch[i]] = 0
                npos = 0
                nsteps = 0
                nct = 0
            crossed = True
    if not crossed:
        child[:] = paths[base]

    # mutations: re-choose a pin, valid with both neighbours and (unless allowed) no repeated chord
    for _m in range(n_mut):
        q = min(int(u[k % R] * (n + 1)), n)
        k += 1
        a = child[q - 1] if q > 0 else -1
        b = child[q + 1] if q < n else -1
        p0 = child[q]
        for _t in range(tries):
            if creep > 0:  # a pin within +-creep of the old one
                r = min(int(u[k % R] * 2 * creep), 2 * creep - 1)
                p = (p0 + (r - creep if r < creep else r - creep + 1)) % n_pins
            else:
                p = min(int(u[k % R] * n_pins), n_pins - 1)
            k += 1
            if p == p0 or not _link_ok(id_of, a, p, b):
                continue
            if not allow_repeats:
                if a >= 0 and b >= 0 and a == b:
                    continue  # a -> p -> a uses one chord twice
                if a >= 0:
                    ca = id_of[a, p]
                    if counts[base, ca] + dcount[ca] > 0:
                        continue
                if b >= 0:
                    cb = id_of[p, b]
                    if counts[base, cb] + dcount[cb] > 0:
                        continue
            # accept: move the chords of steps q-1 and q from the old pin to p
            for s in range(q - 1, q + 1):
                if s >= 0 and s < n:
                    c = id_of[child[s], child[s + 1]]
                    dcount[c] -= 1
                    ctouch[nct] = c
                    nct += 1
            child[q] = p
            for s in range(q - 1, q + 1):
                if s >= 0 and s < n:
                    c = id_of[child[s], child[s + 1]]
                    dcount[c] += 1
                    ctouch[nct] = c
                    nct += 1
                    if not smark[s]:
                        smark[s] = 1
                        steps[nsteps] = s
                        nsteps += 1
            pos[npos] = q
            npos += 1
            break

    # score: gather the changed chords' factors sparsely, then score the touched pixels
    bp = paths[base]
    changed = False
    ntouch = 0
    for i in range(nsteps):
        s = steps[i]
        smark[s] = 0
        old = id_of[bp[s], bp[s + 1]]
        new = id_of[child[s], child[s + 1]]
        if old == new:
            continue
        changed = True
        ntouch = _gather(old, new, indptr, pixel, fac, f, touched, ntouch)
    b = bright[base]
    delta = 0.0
    if shift == 0:
        for i in range(ntouch):
            p = touched[i]
            bo = b[p]
            bn = bo * f[p]
            f[p] = np.nan
            tp = tw[p, 0]
            delta += tw[p, 1] * (bn - bo) * (bn + bo - 2.0 * tp)
    else:
        nb = _fold_blocks(b, f, touched, ntouch, shift, g, btouched, 1.0 / (1 << shift), False)
        mb = means[base]
        for i in range(nb):
            B = btouched[i]
            mo = mb[B]
            mn = mo + g[B]
            g[B] = np.nan
            delta += tw[B, 1] * (mn - mo) * (mn + mo - 2.0 * tw[B, 0])
    for i in range(nct):
        dcount[ctouch[i]] = 0
    for i in range(npos):
        out_pos[o, i] = pos[i]
        out_pin[o, i] = child[pos[i]]
    if not changed:
        return base, np.inf, 0
    return base, fit[base] + delta, npos


def _offspring_py(population, uniforms, table, fitness, operators, scratch, out):
    """Make and score ``uniforms.shape[0]`` offspring; chunk ``c`` uses scratch row ``c``.

    ``scratch`` is a 2-D :class:`Scratch` (a row per chunk); ``out`` an :class:`Offspring` of
    ``uniforms.shape[0]`` rows.
    """
    s_child, s_f, s_touched, s_g, s_btouched, s_dcount, s_ctouch, s_smark, s_steps, s_pos = scratch
    out_base, out_fit, out_npos = out.base, out.fit, out.npos
    n_chunks = s_child.shape[0]
    lam = uniforms.shape[0]
    for c in prange(n_chunks):
        row = Scratch(s_child[c], s_f[c], s_touched[c], s_g[c], s_btouched[c], s_dcount[c],
                      s_ctouch[c], s_smark[c], s_steps[c], s_pos[c])
        for o in range(c, lam, n_chunks):
            b, fo, ne = _make_offspring(o, uniforms[o], population, table, fitness, operators, row, out)
            out_base[o] = b
            out_fit[o] = fo
            out_npos[o] = ne


_offspring = njit(cache=True)(variant(_offspring_py, "_offspring"))
_offspring_par = njit(cache=True, parallel=True)(variant(_offspring_py, "_offspring_par"))


@njit(cache=True)
def _apply_edits(individual, shift, pos, pins, npos, table, scratch, old_chords):
    """Turn an individual (a copy of an offspring's base) into the offspring, in place.

    ``pos[:npos]``, ``pins[:npos]``: the offspring's edits; ``scratch`` is one row of :class:`Scratch`
    (``f``, ``touched``, ``g``, ``btouched``, ``smark``, ``steps`` used); ``old_chords`` (n,) int32 scratch.
    Steps and factors are visited in the same order as :func:`_make_offspring`
    visits them, so the new ``bright`` is bit-for-bit the one the offspring was scored with.
    ``f`` must be all NaN and is returned so.
    """
    path, count, bright, means = individual
    id_of, indptr, pixel, fac = table
    f, touched, g, btouched = scratch.f, scratch.touched, scratch.g, scratch.btouched
    smark, steps = scratch.smark, scratch.steps
    n = path.shape[0] - 1
    nsteps = 0
    for i in range(npos):
        q = pos[i]
        for s in range(q - 1, q + 1):
            if s >= 0 and s < n and smark[s] == 0:
                smark[s] = 1
                steps[nsteps] = s
                old_chords[nsteps] = id_of[path[s], path[s + 1]]
                nsteps += 1
    for i in range(npos):
        path[pos[i]] = pins[i]
    ntouch = 0
    for i in range(nsteps):
        s = steps[i]
        smark[s] = 0
        old = old_chords[i]
        new = id_of[path[s], path[s + 1]]
        if old == new:
            continue
        count[old] -= 1
        count[new] += 1
        ntouch = _gather(old, new, indptr, pixel, fac, f, touched, ntouch)
    if shift == 0:
        for i in range(ntouch):
            p = touched[i]
            bright[p] = bright[p] * f[p]
            f[p] = np.nan
    else:
        nb = _fold_blocks(bright, f, touched, ntouch, shift, g, btouched, 1.0 / (1 << shift), True)
        for i in range(nb):
            B = btouched[i]
            means[B] = means[B] + g[B]
            g[B] = np.nan
