"""The greedy solver: one continuous thread, each chord the best from the current pin.

Registered names
----------------
``greedy``
    Score = the exact decrease of the (importance-weighted) squared error
    between the multiplicative thread model and the target, inside the frame.
``greedy-sum``
    The seed's web generator: score = the darkness left along the chord,
    and drawing a chord subtracts a fixed ``weight`` (20/255) along it.
``greedy-view``
    ``greedy`` on the squared error of both images box-averaged 4x (the
    benchmark's viewing scale): better SSIM, ~4x slower.
``greedy+refine``
    ``greedy``, then sweeps that re-choose every pin of the path (the middle
    pin ``b`` of each ``a -> b -> c``) while the thread stays one thread,
    lowering the squared error at the viewing scale (both images box-averaged
    4x), until a sweep gains nothing or the time budget is spent.

Every variant respects ``min_gap`` (through the chord table), never returns to
the last ``no_return`` pins, and by default draws each chord at most once.
Kernels live in :mod:`solvers._greedy_kernels`: every chord's score is kept up
to date incrementally through a pixel-major copy of the chord table, so a step
costs one chord's pixels times the chords through each, not a scan of all
candidates (see there).

Examples
--------
>>> from solvers import Problem
>>> problem = Problem.create("camera", pins=32, lines=40, canvas=64)
>>> sol = GreedySolver().solve(problem)
>>> sol.n_lines, bool(sol.history[-1] < sol.history[0])
(40, True)
"""

from __future__ import annotations

import dataclasses
import time
import threading
import weakref
from dataclasses import dataclass

import numpy as np

from rendering import ChordTable, InputError
from rendering.device import DEVICES
from rendering.errors import check_float, check_int

from . import _greedy_kernels as K
from .base import Problem, RngLike, Solution, Solver, as_generator
from .registry import register

SCORES = ("error", "sum")
METHODS = ("incremental", "scan")
#: running float32 scores within this fraction of the largest initial |score| of the top one are
#: rescored exactly before each pick. Measured at 288 pins, 512 px, 4000 lines on camera, the largest
#: drift of any running score from a fresh scan is 21x (error) and 8x (sum) below this margin.
SCORE_TOLERANCE = 1e-4
#: the running scores are recomputed from the image every this many lines, so drift stays as measured
REFRESH_EVERY = 4000
#: the viewing scale of the benchmark's headline metrics (``bench.metrics.VIEW_SCALE``; solvers
#: may not import bench): 512 px seen as 128 px, as the eye averages threads from a distance
VIEW_SCALE = 4
#: the seed generator's weight: darkness (in [0, 1]) removed along a chord per pass
SEED_WEIGHT = 20.0 / 255.0
_STOP_REASONS = ("budget", "no gain", "dead end")


# ---------------------------------------------------------------------------- pixel-major table
@dataclass(frozen=True, eq=False)
class PixelTable:
    """The chord table transposed: for every pixel, the chords through it (sorted by id).

    Attributes
    ----------
    indptr : (n_pixels + 1,) int32 (int64 past 2**31 entries)
    chord : (nnz,) uint16 (int32 when there are more than 65535 chords), chord ids
    coverage : (nnz,) float32, the same coverage as the chord table
    """

    indptr: np.ndarray
    chord: np.ndarray
    coverage: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.indptr.nbytes + self.chord.nbytes + self.coverage.nbytes)


_pixel_tables: "weakref.WeakKeyDictionary[ChordTable, PixelTable]" = weakref.WeakKeyDictionary()
_pixel_lock = threading.Lock()


def pixel_table(table: ChordTable) -> PixelTable:
    """The :class:`PixelTable` of ``table``, built once and kept as long as the table lives.

    Costs as much memory as the chord table less its ``int32`` pixel column
    plus a ``uint16`` chord column (6 bytes per entry).
    """
    with _pixel_lock:
        if table in _pixel_tables:
            return _pixel_tables[table]
    counts = np.bincount(table.pixel, minlength=table.n_pixels)
    # int32 offsets when they fit: the update loop reads two per pixel, and half the bytes is ~5% faster
    indptr = np.zeros(table.n_pixels + 1, dtype=np.int32 if table.nnz < 2**31 else np.int64)
    np.cumsum(counts, out=indptr[1:])
    chord = np.empty(table.nnz, dtype=np.uint16 if table.n_chords <= 65535 else np.int32)
    cov = np.empty(table.nnz, dtype=np.float32)
    K._invert(table.indptr, table.pixel, table.coverage, indptr, chord, cov)
    for arr in (indptr, chord, cov):
        arr.setflags(write=False)
    pt = PixelTable(indptr, chord, cov)
    with _pixel_lock:
        _pixel_tables[table] = pt
    return pt


def chord_scores(table: ChordTable, state: np.ndarray, target: np.ndarray, weights: np.ndarray, *,
                 opacity: float = 1.0, score: str = "error", parallel: bool = False) -> np.ndarray:
    """The score of every chord for a state (a fresh scan of the table).

    Parameters
    ----------
    table : ChordTable
    state : (n_pixels,) or (canvas, canvas) float, brightness (``error``) or darkness left (``sum``)
    target, weights : like ``state``, target brightness and error weight per pixel
    opacity : float in (0, 1]
    score : {"error", "sum"}

    Returns
    -------
    (n_chords,) float64: for ``error`` the exact decrease of ``sum w (B - T)^2``
    if the chord were drawn once more; for ``sum`` the coverage-weighted darkness along it.
    """
    if score not in SCORES:
        raise InputError(f"score must be one of {', '.join(SCORES)}, got {score!r}")
    check_float("opacity", opacity, low=0.0, high=1.0, low_open=True)
    arrays = []
    for name, arr in (("state", state), ("target", target), ("weights", weights)):
        arr = np.asarray(arr)
        if arr.size != table.n_pixels or arr.ndim not in (1, 2):
            raise InputError(f"{name} must have one value per pixel ({table.n_pixels}, flat or "
                             f"{table.shape}), got shape {arr.shape}")
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
        arrays.append(np.ascontiguousarray(arr.ravel()))
    out = np.empty(table.n_chords, dtype=np.float64)
    rule = K.RULE_ERROR if score == "error" else K.RULE_SUM
    fn = K._scores_parallel if parallel else K._scores_serial
    fn(table.indptr, table.pixel, table.coverage, *arrays, float(opacity), rule, out)
    return out


def error_weights(problem: Problem) -> np.ndarray:
    """(canvas * canvas,) float32: the per-pixel weight of the error (importance inside the frame, 0 outside)."""
    w = problem.mask.astype(np.float32)
    if problem.importance is not None:
        w *= problem.importance
    return np.ascontiguousarray(w.ravel())


def squared_error(problem: Problem, image: np.ndarray) -> float:
    """The weighted squared error ``sum w (image - target)^2`` the ``error`` score lowers."""
    d = np.asarray(image, dtype=np.float64).ravel() - problem.target.image.ravel().astype(np.float64)
    return float(np.sum(error_weights(problem) * d * d))


# ---------------------------------------------------------------------------- solver
@register("greedy", description="exact squared-error greedy, one continuous thread (Numba)")
class GreedySolver(Solver):
    """Greedy continuous thread: from the current pin, draw the chord that scores best.

    Config
    ------
    score : {"error", "sum"}
        ``error``: exact decrease of the weighted squared error (multiplicative
        model; weight = frame mask times the problem's importance map).
        ``sum``: the seed generator's darkness sum with a fixed ``weight`` per pass.
    weight : float in (0, 1], darkness removed per pass along a chord (``sum`` only; the
        darkness starts at ``1 - target`` times the importance map, inside the frame)
    no_return : int >= 0, never go back to any of the last ``no_return`` pins
        (relaxed for a step that would otherwise have no chord)
    once : bool, each chord at most once (always on when the problem forbids repeats)
    early_stop : bool, stop when no chord lowers the error (off: exactly ``n_lines`` lines)
    start_pin : int or None, the first pin; None starts with the best chord of all
    method : {"incremental", "scan"}
        ``incremental`` keeps every chord's score up to date through the
        pixel-major table (fast, +6 bytes per table entry); ``scan`` rescans
        the candidates' pixels every step (no extra memory, ~5x slower).
    parallel : bool, split the score updates (the candidates) between threads (same result;
        ``scale=1`` only)
    scale : int >= 1, the error is taken on images box-averaged ``scale`` times down: 1 = pixels
        (exact, incremental, fastest); 4 = the benchmark's viewing scale (``greedy-view``)
    shortlist : int >= 0, with ``scale > 1`` and in the refiner: candidates measured exactly
        after a cheap block-mean ranking (0: measure all; see :func:`refine_path`)
    refine : bool, after the path is built, re-choose pins while the error falls
    refine_scale : int >= 1, the refiner's error is taken on images box-averaged this many
        times down (default: the benchmark's viewing scale, 4; 1 = the pixel error greedy lowers)
    refine_sweeps : int >= 1, at most this many sweeps over the path
    refine_seconds : float > 0 or None, time budget of the refinement
    device : {"cpu", "auto", "cuda"}, where the greedy loop runs: ``cuda`` runs
        :func:`solvers._greedy_cuda.greedy` (the ``scan`` arithmetic, every candidate scored on the
        GPU each step; ``method`` and ``parallel`` are then unused; ``scale=1`` only, no warm
        start); ``auto`` picks CUDA when numba.cuda finds a GPU. The refinement runs on the CPU.
    """

    continuous = True
    stochastic = False
    quick_options = {"refine_sweeps": 1}

    @dataclass(frozen=True, kw_only=True)
    class Config:
        score: str = "error"
        weight: float = SEED_WEIGHT
        no_return: int = 0
        once: bool = True
        early_stop: bool = False
        start_pin: int | None = None
        method: str = "incremental"
        parallel: bool = False
        scale: int = 1
        shortlist: int = 8
        refine: bool = False
        refine_scale: int = VIEW_SCALE
        refine_sweeps: int = 3
        refine_seconds: float | None = 60.0
        device: str = "cpu"

        def __post_init__(self):
            check_device(self.device)
            if self.score not in SCORES:
                raise InputError(f"score must be one of {', '.join(SCORES)}, got {self.score!r}")
            if self.method not in METHODS:
                raise InputError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
            check_float("weight", self.weight, low=0.0, high=1.0, low_open=True,
                        hint="darkness removed per pass, e.g. 20/255 = 0.078")
            check_int("no_return", self.no_return, low=0, hint="use 0 to allow any pin, or e.g. 20 as the seed")
            check_int("refine_sweeps", self.refine_sweeps, low=1, hint="e.g. 3")
            check_int("refine_scale", self.refine_scale, low=1, hint="use 1 (pixels) or the viewing scale, e.g. 4")
            check_int("scale", self.scale, low=1, hint="use 1 (pixels) or the viewing scale, e.g. 4")
            check_int("shortlist", self.shortlist, low=0, hint="e.g. 8, or 0 to measure every candidate")
            if self.scale > 1 and self.score != "error":
                raise InputError(f"scale {self.scale} needs score='error' (the sum rule has no scale); "
                                 f"use scale=1 with score={self.score!r}")
            if self.start_pin is not None:
                check_int("start_pin", self.start_pin, low=0, hint="use a pin index, or None for the best chord")
            if self.refine_seconds is not None:
                check_float("refine_seconds", self.refine_seconds, low=0.0, low_open=True,
                            hint="a positive time budget in seconds, or None for no limit")
            for flag in ("once", "early_stop", "parallel", "refine"):
                if not isinstance(getattr(self, flag), (bool, np.bool_)):
                    raise InputError(f"{flag} must be True or False, got {getattr(self, flag)!r}")

    def solve(self, problem: Problem, *, rng: RngLike = None) -> Solution:
        """Draw ``problem.n_lines`` chords (fewer only with ``early_stop`` or at a dead end).

        The result does not depend on ``rng`` (greedy is deterministic); an int
        seed is recorded. Same as :func:`solve_greedy` with this config.
        """
        return _solve(problem, self.config, rng=rng, name=self.name, config_dict=self.config_dict())


def check_device(device) -> str:
    """Check a ``device`` option against :data:`rendering.device.DEVICES` (without importing numba.cuda)."""
    if not isinstance(device, str) or device.lower() not in DEVICES:
        raise InputError(f"device must be one of {', '.join(DEVICES)}, got {device!r}; use 'cpu' (or 'auto' "
                         f"to pick CUDA when a GPU is there)")
    return device.lower()


def solve_greedy(problem: Problem, *, config: "GreedySolver.Config | None" = None, rng: RngLike = None,
                 prior=None, partners=None, guide=None, start_pin: int | None = None) -> Solution:
    """Greedy, optionally warm-started: a prior on each chord's gain and/or a short list of partners per pin.

    The one code path behind :class:`GreedySolver`; the learned solvers
    (``ae+greedy``) call it with their chord scores.

    Parameters
    ----------
    problem : Problem
    config : GreedySolver.Config, optional (default: the ``greedy`` defaults)
    rng : int, Generator or None; greedy is deterministic, an int seed is recorded
    prior : optional (n_chords,) float32 (or float64), added to every candidate chord's score when
        choosing, in the score's own units (``error``: squared-error decrease; ``sum``: darkness);
        the caller scales it. ``history`` and the recorded gains stay the true error, and
        ``early_stop`` stops when the best score plus prior is not positive.
    partners : optional (n_pins, m) int32 partner pins, -1 padded: from pin ``i`` only the chords
        to ``partners[i]`` are candidates (a free first chord, ``start_pin=None``, is the best of
        those chords over all pins, drawn from the pin that lists the other). A step where no listed partner is valid (chord drawn, not
        allowed by ``min_gap``, or within ``no_return``) falls back to every candidate from that
        pin; ``extra["partner_fallbacks"]`` counts those steps. With the ``incremental`` method only
        the listed chords' scores are kept up to date (a pixel-major table cut to them, built per
        call), which is where the speed-up comes from; a fallback step rescores its candidates exactly.
    guide : optional :class:`solvers.guide.ChordGuide`: at each step only the guide's
        ``candidates`` most wanted open partners of the current pin (its residual density, updated
        as chords are drawn) are scored, each exactly by a scan of its pixels; a free start
        (``start_pin=None``) is the guide's :meth:`~solvers.guide.ChordGuide.start_pin`. With
        ``guide.lead`` set, the guide leads only that many lines (fewer if none of its candidates
        lowers the error first) and greedy scores every candidate for the rest. Not with
        ``prior``, ``partners``, ``no_return``, ``scale > 1`` or cuda. ``extra["guide_candidates"]``
        records ``candidates``, ``extra["guide_lines"]`` the lines the guide led.
    start_pin : int or None, overrides ``config.start_pin``

    Returns
    -------
    Solution, with ``solver="greedy"`` and the config used (``start_pin`` included); ``extra`` as
    :func:`greedy_path`'s.

    Raises
    ------
    InputError
        for a badly shaped or typed ``prior`` or ``partners``, or when they are combined with
        ``scale > 1`` (``greedy-view``), which does not support them.

    Examples
    --------
    >>> problem = Problem.create("camera", pins=32, lines=40, canvas=64)
    >>> partners = np.tile(np.arange(0, 32, 2, dtype=np.int32), (32, 1))  # even pins only
    >>> sol = solve_greedy(problem, partners=partners, start_pin=0)
    >>> bool(np.all(sol.path % 2 == 0)) or sol.extra["partner_fallbacks"] > 0
    True
    """
    if config is None:
        config = GreedySolver.Config()
    if not isinstance(config, GreedySolver.Config):
        raise InputError(f"config must be a GreedySolver.Config, got {type(config).__name__}; "
                         f"build one with GreedySolver.Config(...) or GreedySolver(...).config")
    if start_pin is not None:
        check_int("start_pin", start_pin, low=0, hint="use a pin index, or None for the best chord")
        config = dataclasses.replace(config, start_pin=int(start_pin))
    return _solve(problem, config, rng=rng, name="greedy", config_dict=dataclasses.asdict(config), prior=prior,
                  partners=partners, guide=guide)


def _solve(problem: Problem, cfg, *, rng, name: str, config_dict: dict, prior=None, partners=None,
           guide=None) -> Solution:
    start = time.perf_counter()
    as_generator(rng)  # validates
    seed = int(rng) if isinstance(rng, (int, np.integer)) else None
    once = cfg.once or not problem.allow_repeats
    path, history, extra = greedy_path(problem, score=cfg.score, weight=cfg.weight, no_return=cfg.no_return,
                                       once=once, early_stop=cfg.early_stop, start_pin=cfg.start_pin,
                                       method=cfg.method, parallel=cfg.parallel, scale=cfg.scale,
                                       shortlist=cfg.shortlist, prior=prior, partners=partners,
                                       guide=guide, device=cfg.device)
    if cfg.refine and path.size >= 2:
        path, info = refine_path(problem, path, scale=cfg.refine_scale, once=once, sweeps=cfg.refine_sweeps,
                                 seconds=cfg.refine_seconds, shortlist=cfg.shortlist)
        extra.update(info)
    path = np.asarray(path, dtype=np.int32)
    chords = problem.chords.path_to_chords(path) if path.size >= 2 else np.zeros(0, dtype=np.int32)
    # path.size < 2: early stop before the first chord, an empty thread
    return Solution(problem=problem, chords=chords, path=path, solver=name, config=config_dict, seed=seed,
                    seconds=time.perf_counter() - start, history=np.asarray(history), extra=extra)


def warm_start_inputs(problem: Problem, prior=None, partners=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check and normalise :func:`solve_greedy`'s ``prior`` and ``partners`` for the kernels.

    Returns
    -------
    prior : (n_chords,) float64, or (0,) for none
    partners : (n_pins, m) int32, each row sorted by pin with duplicates dropped and -1 at the end,
        or (n_pins, 0) for none
    allowed : (n_chords,) bool, the chords ``(i, partners[i, q])`` allowed by ``min_gap``, or (0,) for none
    """
    n_pins = problem.layout.n_pins
    n_chords = problem.table.n_chords
    if prior is None:
        prior64 = np.zeros(0, dtype=np.float64)
    else:
        arr = np.asarray(prior)
        if arr.shape != (n_chords,) or arr.dtype.kind != "f":
            raise InputError(f"prior must be a ({n_chords},) float32 array, one value per chord of the problem, "
                             f"got shape {arr.shape} and dtype {arr.dtype}; index it by problem.chords ids")
        prior64 = np.ascontiguousarray(arr, dtype=np.float64)
        if not np.isfinite(prior64).all():
            raise InputError("prior must be finite; replace NaN/inf values (e.g. np.nan_to_num) first")
    if partners is None:
        return prior64, np.zeros((n_pins, 0), dtype=np.int32), np.zeros(0, dtype=np.bool_)
    P = np.asarray(partners)
    if P.ndim != 2 or P.shape[0] != n_pins or P.shape[1] == 0 or P.dtype.kind not in "iu":
        raise InputError(f"partners must be an ({n_pins}, m) int32 array of partner pins per pin, m >= 1, "
                         f"-1 padded, got shape {P.shape} and dtype {P.dtype}; e.g. each pin's best partners by a score")
    if P.size and (P.min() < -1 or P.max() >= n_pins):
        raise InputError(f"partners must hold pins in [0, {n_pins - 1}] or -1 for padding, "
                         f"got values in [{P.min()}, {P.max()}]")
    key = np.where(P < 0, n_pins, P).astype(np.int64)
    key.sort(axis=1)
    dup = np.zeros(key.shape, dtype=bool)
    dup[:, 1:] = key[:, 1:] == key[:, :-1]
    key[dup] = n_pins
    key.sort(axis=1)
    norm = np.ascontiguousarray(np.where(key == n_pins, -1, key), dtype=np.int32)
    ids = problem.chords.id_of[np.arange(n_pins)[:, None], np.maximum(norm, 0)]
    allowed = np.zeros(n_chords, dtype=np.bool_)
    allowed[ids[(norm >= 0) & (ids >= 0)]] = True
    return prior64, norm, allowed


def restricted_pixel_table(table: ChordTable, allowed: np.ndarray) -> PixelTable:
    """The :func:`pixel_table` of ``table`` cut to the chords with ``allowed[c]`` (chord ids kept; not cached)."""
    pt = pixel_table(table)
    qptr = np.zeros_like(pt.indptr)
    empty_c, empty_v = pt.chord[:0].copy(), pt.coverage[:0].copy()
    nnz = K._restrict(pt.indptr, pt.chord, pt.coverage, allowed, qptr, empty_c, empty_v, False)
    chord = np.empty(nnz, dtype=pt.chord.dtype)
    cov = np.empty(nnz, dtype=np.float32)
    K._restrict(pt.indptr, pt.chord, pt.coverage, allowed, qptr, chord, cov, True)
    return PixelTable(qptr, chord, cov)


def greedy_path(problem: Problem, *, score: str = "error", weight: float = SEED_WEIGHT, no_return: int = 0,
                once: bool = True, early_stop: bool = False, start_pin: int | None = None,
                method: str = "incremental", parallel: bool = False, scale: int = 1,
                shortlist: int = 8, prior=None, partners=None, guide=None,
                device: str = "cpu") -> tuple[np.ndarray, np.ndarray, dict]:
    """Build a greedy continuous thread (the work behind :class:`GreedySolver`; arguments as its config).

    ``prior``, ``partners`` and ``guide`` warm-start it as in :func:`solve_greedy` (``scale == 1``, CPU only).
    ``device="cuda"`` (or ``"auto"`` with a GPU) runs the loop on the GPU
    (:func:`solvers._greedy_cuda.greedy`, the ``scan`` arithmetic); ``"cuda"`` without a usable
    GPU raises :class:`InputError`.

    Returns
    -------
    path : (n_drawn + 1,) int64 pin sequence (``n_drawn == problem.n_lines`` unless
        ``early_stop`` or a dead end stopped it)
    history : (n_drawn + 1,) float64, the weighted squared error (``error``; of the
        block-averaged images when ``scale > 1``) or the darkness left (``sum``),
        before the first and after each chord
    extra : dict, ``stop`` ("budget", "no gain", "dead end"), ``no_return_relaxed``,
        ``greedy_seconds``, ``device`` ("cpu" or "cuda"); with ``partners`` also
        ``partner_fallbacks`` (steps that fell back to every candidate) and ``partner_chords``
        (chords the partners allow); with ``prior``, ``prior=True``; with ``guide``,
        ``guide_candidates`` and ``guide_lines`` (lines drawn while the guide led)
    """
    t0 = time.perf_counter()
    if score not in SCORES:
        raise InputError(f"score must be one of {', '.join(SCORES)}, got {score!r}")
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    weight = check_float("weight", weight, low=0.0, high=1.0, low_open=True,
                         hint="darkness removed per pass, e.g. 20/255 = 0.078")
    no_return = check_int("no_return", no_return, low=0, hint="use 0 to allow any pin, or e.g. 20 as the seed")
    n_pins = problem.layout.n_pins
    if start_pin is not None:
        start_pin = check_int("start_pin", start_pin, low=0, hint="use a pin index, or None for the best chord")
        if start_pin >= n_pins:
            raise InputError(f"start_pin must be below the pin count {n_pins}, got {start_pin}")
    scale = check_int("scale", scale, low=1, hint="use 1 (pixels) or the viewing scale, e.g. 4")
    shortlist = check_int("shortlist", shortlist, low=0, hint="e.g. 8, or 0 to measure every candidate")
    device = check_device(device)
    if device != "cpu":
        from rendering.device import resolve_device  # imports numba.cuda only now

        device = resolve_device(device)
    if guide is not None:
        from .guide import ChordGuide

        if not isinstance(guide, ChordGuide):
            raise InputError(f"guide must be a solvers.guide.ChordGuide, got {type(guide).__name__}")
        guide.check(problem.chords)
        if prior is not None or partners is not None or no_return or scale > 1 or device == "cuda":
            raise InputError("a guide cannot be combined with prior, partners, no_return > 0, scale > 1 or cuda; "
                             "drop those options or the guide")
    if device == "cuda" and (scale > 1 or prior is not None or partners is not None):
        raise InputError("prior, partners and scale > 1 are not supported on cuda yet; use device='cpu' for them")
    if scale > 1:
        if score != "error":
            raise InputError(f"scale {scale} needs score='error' (the sum rule has no scale); use scale=1")
        if prior is not None or partners is not None:
            raise InputError(f"prior and partners are not supported with scale {scale} (greedy-view); "
                             f"use scale=1 (greedy) for a warm start")
        return _greedy_blocks(problem, scale=scale, shortlist=shortlist, no_return=no_return, once=once,
                              early_stop=early_stop, start_pin=start_pin, t0=t0)
    prior64, partners32, allowed = warm_start_inputs(problem, prior, partners)
    table = problem.table
    chords = problem.chords
    rule = K.RULE_ERROR if score == "error" else K.RULE_SUM
    T = np.ascontiguousarray(problem.target.image.ravel(), dtype=np.float32)
    Wt = error_weights(problem)
    o = np.float32(problem.thread.opacity)
    if rule == K.RULE_ERROR:
        state = np.ones(table.n_pixels, dtype=np.float32)
        total0 = float(np.sum(Wt.astype(np.float64) * (1.0 - T.astype(np.float64)) ** 2))
    else:
        state = np.ascontiguousarray((1.0 - T) * Wt, dtype=np.float32)  # darkness (times importance) in the frame
        total0 = float(np.sum(state, dtype=np.float64))
    used = np.zeros(table.n_chords, dtype=np.bool_)
    path = np.zeros(problem.n_lines + 1, dtype=np.int64)
    gains = np.zeros(problem.n_lines, dtype=np.float64)
    removed = np.zeros(problem.n_lines, dtype=np.float64)
    stats = np.zeros(5, dtype=np.int64)
    first = -1 if start_pin is None else int(start_pin)
    sum_step = np.float32(weight / table.width_px)
    if device == "cuda":
        from . import _greedy_cuda

        drawn = _greedy_cuda.greedy(table, chords.id_of, chords.pin_a, chords.pin_b, state, T, Wt, o, rule, sum_step,
                                    problem.n_lines, first, no_return, once, early_stop, used, path, gains, removed,
                                    stats)
    elif guide is not None:
        drawn = _guided(problem, guide, state, T, Wt, o, rule, sum_step, first, once, early_stop, used, parallel,
                        prior64, partners32, allowed, path, gains, removed, stats)
    elif method == "incremental":
        drawn = _incremental(problem, state, T, Wt, o, rule, sum_step, problem.n_lines, first, no_return, once,
                             early_stop, used, parallel, prior64, partners32, allowed, path, gains, removed, stats,
                             restricted=partners is not None)
    else:
        drawn = K._greedy_scan_warm(table.indptr, table.pixel, table.coverage, chords.id_of, chords.pin_a,
                                    chords.pin_b, state, T, Wt, o, rule, sum_step, problem.n_lines, first,
                                    no_return, once, early_stop, used, parallel, prior64, partners32, allowed,
                                    path, gains, removed, stats)
    drop = gains[:drawn] if rule == K.RULE_ERROR else removed[:drawn]
    history = total0 - np.concatenate([[0.0], np.cumsum(drop)])
    extra = dict(stop=_STOP_REASONS[stats[1]], no_return_relaxed=int(stats[0]), exact_rescores=int(stats[2]),
                 greedy_seconds=time.perf_counter() - t0, device=device)
    if partners is not None:
        extra.update(partner_fallbacks=int(stats[3]), partner_chords=int(allowed.sum()))
    if prior is not None:
        extra["prior"] = True
    if guide is not None:
        extra["guide_candidates"] = int(guide.candidates)
        extra["guide_lines"] = int(stats[4])
    return path[:drawn + 1], history, extra


def _incremental(problem, state, T, Wt, o, rule, sum_step, n_lines, first, no_return, once, early_stop, used,
                 parallel, prior64, partners32, allowed, path, gains, removed, stats, *, restricted=False) -> int:
    """Run :func:`solvers._greedy_kernels._greedy` from ``state`` (any chords already drawn, ``used`` marked)."""
    table = problem.table
    chords = problem.chords
    # with partners only the allowed chords can be candidates (but for counted fallbacks, which
    # rescore exactly): keeping just their scores up to date is the speed-up
    pt = restricted_pixel_table(table, allowed) if restricted else pixel_table(table)
    gh = np.empty((table.n_pixels, 2), dtype=np.float32)
    K._fill_gh(state, T, Wt, o, rule, gh)
    scores = np.empty(table.n_chords, dtype=np.float32)
    K._scores_push(pt.indptr, pt.chord, pt.coverage, gh, scores)
    tol = SCORE_TOLERANCE * float(np.abs(scores).max(initial=0.0))
    nt = 2 * _n_threads() if parallel else 1
    return K._greedy(table.indptr, table.pixel, table.coverage, chords.id_of, chords.pin_a, chords.pin_b,
                     state, T, Wt, o, rule, sum_step, n_lines, first, no_return, once, early_stop,
                     used, parallel, nt, pt.indptr, pt.chord, pt.coverage, scores, tol, REFRESH_EVERY,
                     prior64, partners32, allowed, path, gains, removed, stats)


def _guided(problem, guide, state, T, Wt, o, rule, sum_step, first, once, early_stop, used, parallel,
            prior64, partners32, allowed, path, gains, removed, stats) -> int:
    """Greedy led by a guide for ``guide.lead`` lines (all when None), then plain greedy; ``stats[4]``: lines led.

    ``prior64, partners32, allowed``: :func:`warm_start_inputs` without a prior or partners (a guide
    takes neither), what the greedy that finishes the thread is given.
    """
    from . import _guide_kernels as GK

    table = problem.table
    chords = problem.chords
    n_lines = problem.n_lines
    lead = n_lines if guide.lead is None else min(int(guide.lead), n_lines)
    handover = guide.lead is not None
    drawn = 0
    if lead > 0:
        if first < 0:
            first = guide.start_pin(chords)
        drawn = GK._greedy_guided(table.indptr, table.pixel, table.coverage,
                                  np.ascontiguousarray(chords.id_of, dtype=np.int32), state, T, Wt, o, rule,
                                  sum_step, lead, first, once, early_stop, handover, used, guide.residual(chords),
                                  guide.kernel(), guide.candidates, path, gains, removed, stats)
    stats[4] = drawn
    if not handover or drawn == n_lines or stats[1] in (1, 2):  # done, stopped for no gain, or a dead end
        return drawn
    stats[1] = 0  # handed over (budget led, or no candidate of the guide lowers the error): greedy finishes
    start = int(path[drawn]) if lead > 0 else first
    tail = np.zeros(4, dtype=np.int64)
    more = _incremental(problem, state, T, Wt, o, rule, sum_step, n_lines - drawn, start, 0, once, early_stop,
                        used, parallel, prior64, partners32, allowed, path[drawn:], gains[drawn:],
                        removed[drawn:], tail)
    stats[0] += tail[0]
    stats[1] = tail[1]
    stats[2] += tail[2]
    return drawn + more


def _greedy_blocks(problem: Problem, *, scale, shortlist, no_return, once, early_stop, start_pin, t0):
    table = problem.table
    chords = problem.chords
    blocks = _Blocks.of(problem, scale)
    B = np.ones(table.n_pixels, dtype=np.float64)
    Bs = np.bincount(blocks.blk, weights=B, minlength=blocks.nblocks)
    err0 = K._block_error(Bs, blocks.Ts, blocks.Wb, blocks.inv)
    bt = _block_table(table, scale, blocks.blk) if shortlist > 0 else _NO_BLOCKS
    used = np.zeros(table.n_chords, dtype=np.bool_)
    path = np.zeros(problem.n_lines + 1, dtype=np.int64)
    gains = np.zeros(problem.n_lines, dtype=np.float64)
    stats = np.zeros(3, dtype=np.int64)
    first = -1 if start_pin is None else int(start_pin)
    drawn = K._greedy_blocks(table.indptr, table.pixel, table.coverage, chords.id_of, chords.pin_a, chords.pin_b,
                             B, Bs, blocks.Ts, blocks.Wb, blocks.inv, float(problem.thread.opacity), blocks.blk,
                             bt[0], bt[1], bt[2], shortlist, problem.n_lines, first, no_return, once, early_stop,
                             used, path, gains, stats)
    history = err0 - np.concatenate([[0.0], np.cumsum(gains[:drawn])])
    extra = dict(stop=_STOP_REASONS[stats[1]], no_return_relaxed=int(stats[0]), exact_measurements=int(stats[2]),
                 scale=scale, greedy_seconds=time.perf_counter() - t0)
    return path[:drawn + 1], history, extra


@dataclass(frozen=True, eq=False)
class _Blocks:
    """The block-scale error of a problem: ``sum_b Wb (inv * (Bs - Ts))^2``.

    ``blk`` (n_pixels,) int64 block of each pixel; ``Ts`` block sums of the
    target; ``Wb`` block means of the error weights; ``inv = 1 / scale^2``.
    """

    blk: np.ndarray
    nblocks: int
    Ts: np.ndarray
    Wb: np.ndarray
    inv: float

    @classmethod
    def of(cls, problem: Problem, scale: int) -> "_Blocks":
        W = problem.layout.canvas
        nbx = -(-W // scale)
        rows, cols = np.divmod(np.arange(W * W), W)
        blk = ((rows // scale) * nbx + cols // scale).astype(np.int64)
        nblocks = nbx * nbx
        Ts = np.bincount(blk, weights=problem.target.image.ravel().astype(np.float64), minlength=nblocks)
        Wb = np.bincount(blk, weights=error_weights(problem).astype(np.float64), minlength=nblocks) / scale ** 2
        return cls(blk, nblocks, Ts, Wb, 1.0 / scale ** 2)


def _n_threads() -> int:
    import numba

    return int(numba.get_num_threads())


_block_tables: "weakref.WeakKeyDictionary[ChordTable, dict]" = weakref.WeakKeyDictionary()
_NO_BLOCKS = (np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


def _block_table(table: ChordTable, scale: int, blk: np.ndarray) -> tuple:
    """Each chord's coverage summed over ``scale x scale`` blocks, CSR ``(indptr, block, coverage)``; kept per table."""
    per_table = _block_tables.setdefault(table, {})
    if scale not in per_table:
        nblocks = int(blk.max()) + 1
        indptr = np.zeros(table.n_chords + 1, dtype=np.int64)
        dummy_b, dummy_c = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        nnz = K._block_table(table.indptr, table.pixel, table.coverage, blk, nblocks, indptr, dummy_b, dummy_c, False)
        block = np.empty(nnz, dtype=np.int64)
        cov = np.empty(nnz, dtype=np.float32)
        K._block_table(table.indptr, table.pixel, table.coverage, blk, nblocks, indptr, block, cov, True)
        per_table[scale] = (indptr, block, cov)
    return per_table[scale]


def refine_path(problem: Problem, path, *, scale: int = VIEW_SCALE, once: bool = True, sweeps: int = 3,
                seconds: float | None = None, shortlist: int = 8, chunk: int = 64) -> tuple[np.ndarray, dict]:
    """Improve a continuous thread by re-choosing its pins, one at a time, while the error falls.

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
    over the whole path until one gains nothing, after ``sweeps`` sweeps, or
    once ``seconds`` have passed (checked every ``chunk`` pins).

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
    t0 = time.perf_counter()
    scale = check_int("refine scale", scale, low=1, hint="use 1 (pixels) or the viewing scale, e.g. 4")
    check_int("sweeps", sweeps, low=1)
    shortlist = check_int("shortlist", shortlist, low=0, hint="e.g. 8, or 0 to measure every candidate")
    if seconds is not None:
        check_float("seconds", seconds, low=0.0, low_open=True)
    path = np.array(path, dtype=np.int64)
    chords = problem.chords.path_to_chords(path).astype(np.int64)
    table = problem.table
    count = np.bincount(chords, minlength=table.n_chords).astype(np.int64)
    if once and count.max(initial=0) > 1:
        raise InputError("the path draws a chord more than once but once=True; pass once=False to refine it")
    blocks = _Blocks.of(problem, scale)
    blk, nblocks, Ts, Wb, inv = blocks.blk, blocks.nblocks, blocks.Ts, blocks.Wb, blocks.inv
    o = float(problem.thread.opacity)
    B = np.empty(table.n_pixels, dtype=np.float64)
    Bs = np.empty(nblocks, dtype=np.float64)
    K._refine_state(table.indptr, table.pixel, table.coverage, chords, B, o, blk, Bs)
    err = err0 = K._block_error(Bs, Ts, Wb, inv)
    dsum = np.zeros(nblocks, dtype=np.float64)
    mark = np.zeros(nblocks, dtype=np.bool_)
    touched = np.zeros(nblocks, dtype=np.int64)
    bt = _block_table(table, scale, blk) if shortlist > 0 else _NO_BLOCKS
    stats = np.zeros(3, dtype=np.int64)
    hist = [err]
    done = 0
    out_of_time = False
    L = path.size - 1
    for _ in range(sweeps):
        gain = 0.0
        for m0 in range(0, L + 1, chunk):
            gain += K._refine_range(table.indptr, table.pixel, table.coverage, problem.chords.id_of, path, count,
                                    once, B, Bs, Ts, Wb, inv, o, blk, bt[0], bt[1], bt[2], shortlist,
                                    dsum, mark, touched, m0, min(m0 + chunk, L + 1), stats)
            if seconds is not None and time.perf_counter() - t0 > seconds:
                out_of_time = True
                break
        err -= gain
        hist.append(err)
        done += 1
        if out_of_time or gain <= 1e-9 * err0:
            break
    info = dict(refine_sweeps=done, refine_moves=int(stats[1]), refine_tried=int(stats[0]),
                refine_exact=int(stats[2]),
                refine_scale=scale, refine_error_before=float(err0), refine_error_after=float(err),
                refine_seconds=time.perf_counter() - t0, refine_history=[float(h) for h in hist],
                refine_out_of_time=out_of_time)
    return path, info


register("greedy-sum", GreedySolver, defaults=dict(score="sum", no_return=20),
         description="the seed's web generator: darkness sum, fixed weight 20/255 per pass, no return to last 20 pins")
register("greedy-view", GreedySolver, defaults=dict(scale=VIEW_SCALE),
         description="greedy on the squared error at the viewing scale (4x box-averaged), block-mean shortlist")
register("greedy+refine", GreedySolver, defaults=dict(refine=True),
         description="greedy, then re-choose each pin of the thread while the squared error falls")
