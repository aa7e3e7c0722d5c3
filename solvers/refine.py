"""Refining a continuous thread at the viewing scale: the refiner steps of ``greedy+refine`` and ``greedy-view+refine``.

:func:`refine_path` re-chooses the pins of a thread one at a time while its
objective improves, keeping the line count and the thread in one piece. Two
objectives: ``"error"``, the block-scale squared error
(:class:`solvers.view.BlockError`; kernels :mod:`solvers._greedy_kernels`,
``_refine_state``, ``_refine_range``), and ``"ssim"``, the benchmark's SSIM at
that scale minus a weighted squared error that keeps the tone (kernels
:mod:`solvers._ssim_kernels`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from rendering import VIEW_SCALE, InputError
from rendering.errors import check_float, check_int
from rendering.lazy import lazy_import

from rendering.derived import block_table

K = lazy_import("solvers._greedy_kernels")  # numba: loaded when a kernel runs
KS = lazy_import("solvers._ssim_kernels")
from .greedy import kernel_table  # noqa: E402  (and registers greedy, which greedy+refine composes)
from .compose import Refiner, compose  # noqa: E402
from .problem import Problem  # noqa: E402
from .solution import Output  # noqa: E402
from .view import NO_BLOCKS, BlockError  # noqa: E402

#: the SSIM window's side (:data:`solvers._ssim_kernels.WIN`; here so that checking inputs loads no numba)
KS_WIN = 7


#: the refiner's objectives (:func:`refine_path`)
OBJECTIVES = ("error", "ssim")
#: weight of the squared error beside SSIM in the ``ssim`` objective (``tone_weight``). Measured while choosing it
#: (camera, moon, rocket, 4000 lines, from greedy-view): at 30 the refined threads keep greedy-view's L1 within
#: ~0.005; at 0 SSIM rises 0.07-0.09 while L1 worsens by 0.06-0.09 (the tone drifts); at 100 the gain falls to
#: a third
TONE_WEIGHT = 30.0


def refine_path(problem: Problem, path, *, objective: str = "error", scale: int = VIEW_SCALE, once: bool = True,
                sweeps: int = 3, seconds: float | None = None, shortlist: int = 8, chunk: int = 64,
                tone_weight: float = TONE_WEIGHT, max_pins: int | None = None) -> tuple[np.ndarray, dict]:
    """Improve a continuous thread by re-choosing its pins, one at a time, while its objective improves.

    With ``objective="ssim"`` see :func:`refine_ssim_path` (``tone_weight`` is its
    weight of the squared error); what follows is ``"error"``.

    The error is the weighted squared error between the rendered thread and
    the target, both box-averaged over ``scale x scale`` blocks (the viewing
    scale; ``scale=1`` is the pixel error that ``greedy`` lowers). Each move
    takes a pin ``b`` of the path with neighbours ``a`` and ``c`` and puts
    there the pin ``b'`` whose chords ``(a, b')`` and ``(b', c)`` give the
    lowest error (``min_gap`` and, with ``once``, chords not drawn elsewhere);
    the end pins have one chord each. The ``shortlist`` candidates that rank
    best with each pixel's brightness taken as its block's mean (a table of
    chord coverage per block, ~4x smaller) are measured exactly (0: every
    candidate), and the move is kept only if it lowers the exact error.
    The line count never changes and the thread stays one thread. Sweeps run
    over the whole path until one gains nothing, after ``sweeps`` sweeps, once
    ``max_pins`` pins have been visited in all (None: no such budget), or once
    ``seconds`` have passed (checked every ``chunk`` pins).

    This is the continuous-thread form of Birsak et al. (2018)'s alternation
    of best removal and best addition: removing ``b`` and adding ``b'`` in one
    move keeps the thread in one piece.

    Parameters
    ----------
    problem : Problem
    path : (n_lines + 1,) int, a valid pin sequence for ``problem``
    scale : int >= 1, block side of the error
    shortlist : int >= 0, candidates measured exactly per move (0: all)

    Returns
    -------
    path : (n_lines + 1,) int64, the refined pin sequence
    info : dict, ``refine_sweeps``, ``refine_moves``, ``refine_error_before``,
        ``refine_error_after``, ``refine_seconds``, ``refine_history`` (error after each sweep),
        ``refine_out_of_time``
    """
    if objective not in OBJECTIVES:
        raise InputError(f"refine objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if max_pins is not None:
        check_int("max_pins", max_pins, low=1, hint="pins re-chosen in all, e.g. 4000, or None for no budget")
    if objective == "ssim":
        return refine_ssim_path(problem, path, scale=scale, once=once, sweeps=sweeps, seconds=seconds,
                                shortlist=shortlist, chunk=chunk, tone_weight=tone_weight, max_pins=max_pins)
    t0 = time.perf_counter()
    scale = check_int("refine scale", scale, low=1, hint="use 1 (pixels) or the viewing scale, e.g. 4")
    check_int("sweeps", sweeps, low=1)
    shortlist = check_int("shortlist", shortlist, low=0, hint="e.g. 8, or 0 to measure every candidate")
    if seconds is not None:
        check_float("seconds", seconds, low=0.0, low_open=True)
    path, chords, count = _start(problem, path, once)
    table = problem.table
    err_b = BlockError.of(problem, scale)
    blk, nblocks, Ts, Wb, inv = err_b.blk, err_b.nblocks, err_b.Ts, err_b.Wb, err_b.inv
    o = float(problem.thread.opacity)
    B = np.empty(table.n_pixels, dtype=np.float64)
    Bs = np.empty(nblocks, dtype=np.float64)
    K._refine_state(table.indptr, table.pixel, table.coverage, chords, B, o, blk, Bs)
    err0 = K._block_error(Bs, Ts, Wb, inv)
    scratch = K.BlockScratch(np.zeros(nblocks, dtype=np.float64), np.zeros(nblocks, dtype=np.bool_),
                             np.zeros(nblocks, dtype=np.int64))
    bt = err_b.shortlist_table(problem, shortlist)
    stats = np.zeros(3, dtype=np.int64)  # slots K.REFINE_TRIED, K.REFINE_MOVES, K.REFINE_EXACT
    tab, bp, ref = kernel_table(table), err_b.picture(B, Bs, o), K.Refine(path, count, once, shortlist, stats)
    gains, out_of_time = _sweeps(
        lambda m0, m1: K._refine_range(tab, problem.chords.id_of, bp, bt, scratch, ref, m0, m1),
        path.size, sweeps, chunk, seconds, t0, stop_below=1e-9 * err0, max_pins=max_pins)
    hist = err0 - np.concatenate([[0.0], np.cumsum(gains)])
    err = float(hist[-1])
    done = len(gains)
    info = dict(refine_sweeps=done, refine_moves=int(stats[K.REFINE_MOVES]), refine_tried=int(stats[K.REFINE_TRIED]),
                refine_exact=int(stats[K.REFINE_EXACT]),
                refine_scale=scale, refine_error_before=float(err0), refine_error_after=float(err),
                refine_seconds=time.perf_counter() - t0, refine_history=[float(h) for h in hist],
                refine_out_of_time=out_of_time)
    return path, info


def _sweeps(step, n_pins: int, sweeps: int, chunk: int, seconds: float | None, t0: float, *,
            stop_below: float, max_pins: int | None = None) -> tuple[list[float], bool]:
    """Run ``step(m0, m1)`` (re-choose pins ``m0 <= m < m1``, returning what it gained) over the path, chunk by chunk.

    Sweeps until one gains ``stop_below`` or less, after ``sweeps`` sweeps, once ``max_pins`` pins have been
    visited in all (a budget of work that is the same on every machine), or once ``seconds`` have passed since
    ``t0`` (checked after each chunk). Returns each sweep's gain and whether time ran out.
    """
    gains: list[float] = []
    out_of_time = False
    left = n_pins * sweeps if max_pins is None else max_pins
    for _ in range(sweeps):
        gain = 0.0
        for m0 in range(0, min(n_pins, left), chunk):
            m1 = min(m0 + chunk, n_pins, left)
            gain += step(m0, m1)
            if seconds is not None and time.perf_counter() - t0 > seconds:
                out_of_time = True
                break
        left -= n_pins
        gains.append(gain)
        if out_of_time or gain <= stop_below or left <= 0:
            break
    return gains, out_of_time


def _start(problem: Problem, path, once: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The path as int64, its chords and how often each chord is drawn (checked against ``once``)."""
    path = np.array(path, dtype=np.int64)
    chords = problem.chords.path_to_chords(path).astype(np.int64)
    count = np.bincount(chords, minlength=problem.table.n_chords).astype(np.int64)
    if once and count.max(initial=0) > 1:
        raise InputError("the path draws a chord more than once but once=True; pass once=False to refine it")
    return path, chords, count


def refine_ssim_path(problem: Problem, path, *, scale: int = VIEW_SCALE, once: bool = True, sweeps: int = 1,
                     seconds: float | None = None, shortlist: int = 2, chunk: int = 64,
                     tone_weight: float = TONE_WEIGHT, max_pins: int | None = None) -> tuple[np.ndarray, dict]:
    """Re-choose a thread's pins to raise the picture's SSIM at the viewing scale, keeping its tone.

    The objective, on both images box-averaged ``scale x scale`` (the outside
    of the frame white, as :func:`rendering.metrics.score` takes it), is

        J = SSIM - tone_weight * MSE

    with SSIM exactly the benchmark's (scikit-image's 7x7 uniform window,
    averaged over the frame) and MSE the block-mean squared error weighted by
    the problem's error weights (frame and importance map). SSIM alone is the
    wrong target: it barely sees a uniform shift of tone, and a refiner on it
    alone trades the tone away (see :data:`TONE_WEIGHT`).

    Each move takes a pin ``b`` between ``a`` and ``c`` and puts there the
    pin ``b'`` whose chords ``(a, b')``, ``(b', c)`` raise ``J`` most
    (``min_gap``; with ``once``, chords not drawn elsewhere). The candidates
    are ranked by the first-order change of ``J`` (its exact gradient, from the
    block table) and the best ``shortlist`` (0: every candidate) are measured
    exactly, pixel by pixel under the multiplicative model, then window by
    window; a move is kept only if it raises ``J``. The line count never
    changes and the thread stays one thread. Sweeps run over the whole path
    until one gains nothing, after ``sweeps`` sweeps, once ``max_pins`` pins
    have been visited in all (None: no such budget; ``greedy-view+refine``
    gives 4000, one sweep of a 4000-line thread, two of a 2000-line one), or
    once ``seconds`` have passed (checked every ``chunk`` pins). Kernels:
    :mod:`solvers._ssim_kernels`.

    On a canvas that is not a multiple of ``scale`` the last, partial row and
    column of blocks take part (the metric crops them), so J and the metric
    differ slightly there.

    Parameters
    ----------
    problem : Problem
    path : (n_lines + 1,) int, a valid pin sequence for ``problem``
    scale : int >= 1, block side (the viewing scale; lowered, as the metric does, to keep 7 blocks across)
    shortlist : int >= 0, candidates measured exactly per move (0: all)
    tone_weight : float >= 0, weight of the squared error

    Returns
    -------
    path : (n_lines + 1,) int64, the refined pin sequence
    info : dict, as :func:`refine_path`'s (``refine_error_*`` is ``-J``), plus
        ``refine_ssim_before``, ``refine_ssim_after`` (the SSIM term) and ``refine_objective``
    """
    t0 = time.perf_counter()
    scale = check_int("refine scale", scale, low=1, hint="use the viewing scale, e.g. 4")
    check_int("sweeps", sweeps, low=1)
    shortlist = check_int("shortlist", shortlist, low=0, hint="e.g. 2, or 0 to measure every candidate")
    tone_weight = check_float("tone_weight", tone_weight, low=0.0, hint=f"e.g. {TONE_WEIGHT:g}")
    if max_pins is not None:
        check_int("max_pins", max_pins, low=1, hint="pins re-chosen in all, e.g. 4000, or None for no budget")
    if seconds is not None:
        check_float("seconds", seconds, low=0.0, low_open=True)
    canvas = problem.layout.canvas
    if canvas < KS_WIN:
        raise InputError(f"the ssim refiner needs a canvas of at least {KS_WIN} px (one SSIM window), got {canvas}")
    scale = min(scale, canvas // KS_WIN)  # as the metric does on tiny canvases: at least one window across
    G = -(-canvas // scale)
    path, chords, count = _start(problem, path, once)
    table = problem.table
    err_b = BlockError.of(problem, scale)
    blk, nb = err_b.blk, err_b.nblocks
    binv = 1.0 / np.bincount(blk, minlength=nb).astype(np.float64)
    o = float(problem.thread.opacity)
    B = np.empty(table.n_pixels, dtype=np.float64)
    Bs = np.empty(nb, dtype=np.float64)
    K._refine_state(table.indptr, table.pixel, table.coverage, chords, B, o, blk, Bs)
    BS = np.zeros((nb, 8), dtype=np.float64)  # per block: columns KS.B_* (one cache line a block)
    BS[:, KS.B_X] = Bs * binv
    BS[:, KS.B_Y] = err_b.Ts * binv
    wsum = float(err_b.Wb.sum())
    BS[:, KS.B_WL] = (tone_weight / wsum) * err_b.Wb if wsum > 0 else 0.0
    BS[:, KS.B_INV] = binv
    W = np.zeros((nb, 8), dtype=np.float64)  # per window: columns KS.W_*
    # the windows the metric averages: centred on blocks mostly inside the frame, whole blocks only
    inside = np.bincount(blk, weights=problem.mask.ravel().astype(np.float64), minlength=nb) * binv >= 0.5
    full = np.zeros((G, G), dtype=bool)
    full[:canvas // scale, :canvas // scale] = True
    inside &= full.ravel()
    W[:, KS.W_MW] = inside / max(int(inside.sum()), 1)
    ridx, rmul = KS.window_reach(G)
    KS._windows_init(BS, G, ridx, rmul, W)

    def value() -> tuple[float, float]:
        ssim = float(np.dot(W[:, KS.W_MW], W[:, KS.W_S]))
        return ssim, ssim - float(np.dot(BS[:, KS.B_WL], (BS[:, KS.B_X] - BS[:, KS.B_Y]) ** 2))

    ssim0, j0 = value()
    bt = block_table(table, scale) if shortlist > 0 else None
    bindptr, bblock, bcov = (bt.indptr, bt.block, bt.coverage) if bt is not None else NO_BLOCKS
    D, RS, PQR = (np.zeros((nb, 4), dtype=np.float64) for _ in range(3))
    h = np.zeros(nb, dtype=np.float64)
    KS._gradient(BS, G, ridx, rmul, W, PQR, h)
    n_pins = problem.layout.n_pins
    ranking = KS.Ranking(bindptr, bblock, bcov, shortlist, fan=np.zeros((n_pins, n_pins)),
                         fan_at=np.full(n_pins, -1, dtype=np.int64), version=np.zeros(1, dtype=np.int64))
    scratch = KS.SSIMScratch(D, RS, dsum=np.zeros(nb), mark=np.zeros(nb, dtype=np.bool_),
                             touched=np.zeros(nb, dtype=np.int64), rsum=np.zeros(nb),
                             rtouched=np.zeros(nb, dtype=np.int64), wmark=np.zeros(nb, dtype=np.bool_),
                             wt=np.zeros(nb, dtype=np.int64), rwmark=np.zeros(nb, dtype=np.bool_),
                             rwt=np.zeros(nb, dtype=np.int64), hmark=np.zeros(nb, dtype=np.bool_),
                             hlist=np.zeros(nb, dtype=np.int64))
    state = KS.SSIMState(B, o, blk, BS, G, ridx, rmul, KS.window_rows(G), W, PQR, h)
    ktable = kernel_table(table)
    thread = KS.SSIMThread(problem.chords.id_of, path, count, once)
    stats = np.zeros(3, dtype=np.int64)  # slots KS.TRIED, KS.MOVES, KS.EXACT
    gains, out_of_time = _sweeps(
        lambda m0, m1: KS._refine_ssim_range(ktable, thread, state, ranking, scratch, m0, m1, stats),
        path.size, sweeps, chunk, seconds, t0, stop_below=1e-12, max_pins=max_pins)
    hist = -j0 - np.concatenate([[0.0], np.cumsum(gains)])
    done = len(gains)
    ssim1, j1 = value()
    info = dict(refine_objective="ssim", refine_sweeps=done, refine_moves=int(stats[KS.MOVES]),
                refine_tried=int(stats[KS.TRIED]), refine_exact=int(stats[KS.EXACT]), refine_scale=scale,
                refine_error_before=-j0, refine_error_after=-j1, refine_ssim_before=ssim0, refine_ssim_after=ssim1,
                refine_tone_weight=tone_weight, refine_seconds=time.perf_counter() - t0,
                refine_history=[float(v) for v in hist], refine_out_of_time=out_of_time)
    return path, info


# ---------------------------------------------------------------------------- the refiner steps
@dataclass(frozen=True, kw_only=True)
class _RefineOptions:
    """Options shared by both refiners (prefixed ``refine_`` in a composed solver's config).

    scale : int >= 1, the error is taken on images box-averaged this many times down (4: the viewing scale)
    sweeps : int >= 1, at most this many sweeps over the path
    pins : int >= 1 or None, at most this many pins re-chosen in all (a budget of work, the same on every
        machine; None: none)
    seconds : float > 0 or None, time budget
    shortlist : int >= 0, candidates measured exactly per pin (0: all)
    once : bool, each chord at most once (always when the problem forbids repeats)
    """

    scale: int = VIEW_SCALE
    sweeps: int = 3
    pins: int | None = None
    seconds: float | None = 60.0
    shortlist: int = 8
    once: bool = True

    def __post_init__(self):
        check_int("refine_scale", self.scale, low=1, hint="use 1 (pixels) or the viewing scale, e.g. 4")
        check_int("refine_sweeps", self.sweeps, low=1, hint="e.g. 3")
        if self.pins is not None:
            check_int("refine_pins", self.pins, low=1, hint="pins re-chosen in all, e.g. 4000, or None")
        if self.seconds is not None:
            check_float("refine_seconds", self.seconds, low=0.0, low_open=True,
                        hint="a positive time budget in seconds, or None for no limit")
        check_int("refine_shortlist", self.shortlist, low=0, hint="e.g. 8, or 0 to measure every candidate")
        if not isinstance(self.once, (bool, np.bool_)):
            raise InputError(f"refine_once must be True or False, got {self.once!r}")


class _PathRefiner(Refiner):
    objective = "error"

    def refine(self, problem: Problem, output: Output, rng: np.random.Generator) -> Output:
        runs = output.runs(problem)
        if len(runs) != 1:
            raise InputError(f"the {self.title} refiner re-chooses the pins of one thread; the solver before it drew "
                             f"{len(runs)} runs of thread")
        path = runs[0][1]
        if path.size < 2:
            return output
        c = self.config
        kw = dict(tone_weight=c.tone_weight) if self.objective == "ssim" else {}
        path, info = refine_path(problem, path, objective=self.objective, scale=c.scale,
                                 once=bool(c.once or not problem.allow_repeats), sweeps=c.sweeps, seconds=c.seconds,
                                 shortlist=c.shortlist, max_pins=c.pins, **kw)
        return Output(path=path, history=output.history, extra={**output.extra, **info})


class ErrorRefiner(_PathRefiner):
    """Re-choose each pin of the thread while the viewing-scale squared error falls (:func:`refine_path`)."""

    title = "refine-error"
    objective = "error"
    quick_options = {"sweeps": 1}
    Config = _RefineOptions  # type: ignore[assignment]  # its own dataclass, not a subclass of the base's empty Config

    def jit_kernels(self) -> tuple:
        return (K._refine_range, K._refine_state)


@dataclass(frozen=True, kw_only=True)
class _SSIMOptions(_RefineOptions):
    """:class:`_RefineOptions` and ``tone_weight`` (float >= 0): the weight of the squared error beside SSIM."""

    tone_weight: float = TONE_WEIGHT

    def __post_init__(self):
        super().__post_init__()
        check_float("refine_tone_weight", self.tone_weight, low=0.0, hint=f"e.g. {TONE_WEIGHT:g}")


class SSIMRefiner(_PathRefiner):
    """Re-choose each pin for the viewing-scale SSIM minus a tone term (:func:`refine_ssim_path`)."""

    title = "refine-ssim"
    objective = "ssim"
    #: its tone weight (TONE_WEIGHT) was chosen on these
    tuned_on = ("camera", "moon", "rocket")
    quick_options = {"sweeps": 1}
    Config = _SSIMOptions  # type: ignore[assignment]  # its own dataclass, not a subclass of the base's empty Config

    def jit_kernels(self) -> tuple:
        return (KS._refine_ssim_range, KS._windows_init, KS._gradient, K._refine_state)


compose("greedy+refine", "greedy", refiners=(ErrorRefiner,),
        description="greedy, then re-choose each pin of the thread while the squared error falls")
compose("greedy-view+refine", "greedy-view", refiners=(SSIMRefiner,),
        defaults=dict(refine_sweeps=8, refine_pins=4000, refine_shortlist=2),
        description="greedy-view, then its pins re-chosen for the viewing-scale SSIM, the tone held by the squared "
                    "error; 4000 pins in all (one sweep at 4000 lines, two at 2000): ~1.2 s more")
