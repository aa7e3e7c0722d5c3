"""The greedy solver: one continuous thread, each chord the best from the current pin.

Registered names
----------------
``greedy``
    Score = the exact decrease of the (weighted) squared error between the
    multiplicative thread model and the target, inside the frame.
``greedy-sum``
    The seed's web generator: score = the darkness left along the chord,
    and drawing a chord subtracts a fixed ``weight`` (20/255) along it.

Its relatives are their own solvers: ``greedy-view`` (:mod:`solvers.view`, the
same greedy on the viewing-scale error), and the composed ``greedy+refine`` and
``greedy-view+refine`` (:mod:`solvers.refine`).

Every variant respects ``min_gap`` (through the chord table), never returns to
the last ``no_return`` pins, and by default draws each chord at most once.
Kernels live in :mod:`solvers._greedy_kernels`: every chord's score is kept up
to date incrementally through a pixel-major copy of the chord table
(:func:`rendering.derived.pixel_table`), so a step costs one chord's pixels
times the chords through each, not a scan of all candidates (see there).

Warm starts are typed hints (:mod:`solvers.hints`): a :class:`~solvers.hints.WarmStart`
(a prior on each chord's gain, each pin's partners), or a :class:`~solvers.guide.ChordGuide`
that leads the first lines (``ae+greedy``).

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
from dataclasses import dataclass

import numpy as np

from rendering import ChordTable, InputError
from rendering.derived import pixel_table
from rendering.device import check_device
from rendering.errors import check_float, check_int
from rendering.lazy import lazy_import

K = lazy_import("solvers._greedy_kernels")  # numba: loaded when a kernel runs
from . import progress  # noqa: E402
from .base import Solver  # noqa: E402
from .guide import ChordGuide  # noqa: E402
from .hints import Hint, WarmStart  # noqa: E402
from .problem import Problem, error_weights  # noqa: E402
from .registry import register  # noqa: E402
from .solution import Output  # noqa: E402
from .warm_start import restricted_pixel_table, warm_start_inputs  # noqa: E402

SCORES = ("error", "sum")
METHODS = ("incremental", "scan")
#: running float32 scores within this fraction of the largest initial |score| of the top one are
#: rescored exactly before each pick. Measured at 288 pins, 512 px, 4000 lines on camera, the largest
#: drift of any running score from a fresh scan is 21x (error) and 8x (sum) below this margin.
SCORE_TOLERANCE = 1e-4
#: the running scores are recomputed from the image every this many lines, so drift stays as measured
REFRESH_EVERY = 4000
#: the seed generator's weight: darkness (in [0, 1]) removed per pass along a chord
SEED_WEIGHT = 20.0 / 255.0


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


def kernel_table(table: ChordTable):
    """The chord table's arrays as the kernels take them (:class:`solvers._greedy_kernels.Table`)."""
    return K.Table(table.indptr, table.pixel, table.coverage)


def kernel_pins(problem: Problem):
    """The problem's chords by pins as the kernels take them (:class:`solvers._greedy_kernels.Pins`)."""
    chords = problem.chords
    return K.Pins(chords.id_of, chords.pin_a, chords.pin_b)


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
        model; weight = frame mask times the target's weights).
        ``sum``: the seed generator's darkness sum with a fixed ``weight`` per pass.
    weight : float in (0, 1], darkness removed per pass along a chord (``sum`` only; the
        darkness starts at ``1 - target`` times the target's weights, inside the frame)
    no_return : int >= 0, never go back to any of the last ``no_return`` pins
        (relaxed for a step that would otherwise have no chord)
    once : bool, each chord at most once (always on when the problem forbids repeats)
    early_stop : bool, stop when no chord lowers the error (off: exactly ``n_lines`` lines)
    start_pin : int or None, the first pin; None starts with the best chord of all
    method : {"incremental", "scan"}
        ``incremental`` keeps every chord's score up to date through the
        pixel-major table (fast, +6 bytes per table entry); ``scan`` rescans
        the candidates' pixels every step (no extra memory, ~5x slower).
    parallel : bool, split the score updates (the candidates) between threads (same result)
    device : {"cpu", "auto", "cuda"}, where the greedy loop runs: ``cuda`` runs
        :func:`solvers._greedy_cuda.greedy` (the ``scan`` arithmetic, every candidate scored on the
        GPU each step; ``method`` and ``parallel`` are then unused; no warm start); ``auto`` picks
        CUDA when numba.cuda finds a GPU.

    Hints (``solve(problem, hint=...)``): a :class:`~solvers.hints.WarmStart` with a ``prior`` (a bonus on
    each chord's score when choosing, in the score's own units; ``history`` and the gains stay the true
    error, and ``early_stop`` stops when the best score plus prior is not positive) and/or ``partners``
    (from pin ``i`` only the chords to its partners are candidates; a step where none is valid falls back
    to every candidate, ``extra["partner_fallbacks"]`` counts them; only the listed chords' scores are
    kept up to date, the speed-up), or a :class:`~solvers.guide.ChordGuide` (for its ``lead`` lines only
    its ``candidates`` most wanted open partners of the current pin are scored, each exactly; then plain
    greedy finishes; not with ``no_return`` or cuda).
    """

    family = "greedy"
    continuous = True
    stochastic = False
    accepts = (WarmStart, ChordGuide)

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
        device: str = "cpu"

        def __post_init__(self):
            object.__setattr__(self, "device", check_device(self.device))
            if self.score not in SCORES:
                raise InputError(f"score must be one of {', '.join(SCORES)}, got {self.score!r}")
            if self.method not in METHODS:
                raise InputError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
            check_float("weight", self.weight, low=0.0, high=1.0, low_open=True,
                        hint="darkness removed per pass, e.g. 20/255 = 0.078")
            check_int("no_return", self.no_return, low=0, hint="use 0 to allow any pin, or e.g. 20 as the seed")
            if self.start_pin is not None:
                check_int("start_pin", self.start_pin, low=0, hint="use a pin index, or None for the best chord")
            for flag in ("once", "early_stop", "parallel"):
                if not isinstance(getattr(self, flag), (bool, np.bool_)):
                    raise InputError(f"{flag} must be True or False, got {getattr(self, flag)!r}")

    def jit_kernels(self) -> tuple:
        cfg = self.config
        if cfg.device != "cpu":
            return ()
        if cfg.method == "scan":
            return (K._greedy_scan_warm,)
        return (K._greedy_par if cfg.parallel else K._greedy, K._fill_gh, K._scores_push)

    def run(self, problem: Problem, rng: np.random.Generator, hint: Hint | None = None) -> Output:
        """Draw ``problem.n_lines`` chords (fewer only with ``early_stop`` or at a dead end).

        Greedy is deterministic: ``rng`` is not used.
        """
        path, history, extra = greedy_path(problem, self.config, hint=hint)
        return Output(path=path, history=history, extra=extra)


def greedy_path(problem: Problem, config: "GreedySolver.Config | None" = None, *, hint: Hint | None = None,
                **options) -> tuple[np.ndarray, np.ndarray, dict]:
    """Build a greedy continuous thread at pixel scale: the work behind :class:`GreedySolver`.

    ``config`` (default: ``greedy``'s) with ``options`` (its field names, e.g.
    ``score="sum"``) replaced; the Config checks them. ``once`` is forced on
    when the problem forbids repeats. ``hint``: a :class:`~solvers.hints.WarmStart` or a
    :class:`~solvers.guide.ChordGuide` (see
    :class:`GreedySolver`). ``device="cuda"`` (or ``"auto"`` with a GPU) runs the
    loop on the GPU (:func:`solvers._greedy_cuda.greedy`, the ``scan`` arithmetic);
    ``"cuda"`` without a usable GPU raises :class:`InputError`.

    Returns
    -------
    path : (n_drawn + 1,) int64 pin sequence (``n_drawn == problem.n_lines`` unless
        ``early_stop`` or a dead end stopped it)
    history : (n_drawn + 1,) float64, the weighted squared error (``error``) or the darkness left
        (``sum``), before the first and after each chord
    extra : dict, ``stop`` ("budget", "no gain", "dead end"), ``no_return_relaxed``,
        ``greedy_seconds``, ``device`` ("cpu" or "cuda"); with partners also
        ``partner_fallbacks`` (steps that fell back to every candidate) and ``partner_chords``
        (chords the partners allow); with a prior, ``prior=True``; with a guide,
        ``guide_candidates`` and ``guide_lines`` (lines drawn while the guide led)
    """
    t0 = time.perf_counter()
    cfg = config if config is not None else GreedySolver.Config()
    if not isinstance(cfg, GreedySolver.Config):
        raise InputError(f"config must be a GreedySolver.Config, got {type(cfg).__name__}")
    if options:
        try:
            cfg = dataclasses.replace(cfg, **options)  # checked by the Config
        except TypeError as e:
            raise InputError(f"bad greedy option: {e}") from None
    n_pins = problem.layout.n_pins
    if cfg.start_pin is not None and cfg.start_pin >= n_pins:
        raise InputError(f"start_pin must be below the pin count {n_pins}, got {cfg.start_pin}")
    once = bool(cfg.once or not problem.allow_repeats)
    device = cfg.device
    if device != "cpu":
        from rendering.device import resolve_device  # imports numba.cuda only now

        device = resolve_device(device)
    prior = hint.prior if isinstance(hint, WarmStart) else None
    partners = hint.partners if isinstance(hint, WarmStart) else None
    guide = hint if isinstance(hint, ChordGuide) else None
    if guide is not None:
        guide.check(problem.chords)
        if cfg.no_return or device == "cuda":
            raise InputError("a guide cannot be combined with no_return > 0 or cuda; drop those options or the guide")
    if device == "cuda" and hint is not None:
        raise InputError("warm starts (prior, partners, a guide) are not supported on cuda yet; use device='cpu'")
    th = _Thread.start(problem, cfg, once=once, prior=prior, partners=partners)
    first = -1 if cfg.start_pin is None else int(cfg.start_pin)
    if device == "cuda":
        from . import _greedy_cuda

        drawn = _greedy_cuda.greedy(problem.table, kernel_pins(problem), th.picture(),
                                    th.settings(problem.n_lines, first, cfg.no_return), th.thread())
    elif guide is not None:
        drawn = _guided(th, guide, first)
    elif cfg.method == "incremental":
        with progress.watching(progress.path_batches(th.path)):
            drawn = _incremental(th, problem.n_lines, first, cfg.no_return, restricted=partners is not None,
                                 ctl=progress.control())
    else:
        drawn = _scan(th, problem.n_lines, first, cfg.no_return)
    stats = th.stats
    drop = th.gains[:drawn] if th.rule == K.RULE_ERROR else th.removed[:drawn]
    history = th.total0 - np.concatenate([[0.0], np.cumsum(drop)])
    extra = dict(stop=K.STOP_REASONS[stats[K.STAT_STOP]], no_return_relaxed=int(stats[K.STAT_RELAXED]),
                 exact_rescores=int(stats[K.STAT_EXACT]), greedy_seconds=time.perf_counter() - t0, device=device)
    if partners is not None:
        extra.update(partner_fallbacks=int(stats[K.STAT_FALLBACKS]), partner_chords=int(th.allowed.sum()))
    if prior is not None:
        extra["prior"] = True
    if guide is not None:
        extra["guide_candidates"] = int(guide.candidates)
        extra["guide_lines"] = int(stats[K.STAT_LED])
    return th.path[:drawn + 1], history, extra


# ---------------------------------------------------------------------------- the pixel-scale loops
@dataclass(eq=False)
class _Thread:
    """One greedy thread being built at pixel scale: what the kernels read, and the arrays they fill in place.

    Attributes
    ----------
    problem : Problem
    rule : int, ``K.RULE_ERROR`` or ``K.RULE_SUM``
    state : (n_pixels,) float32, brightness (``error``) or darkness left (``sum``), updated in place
    target, weights : (n_pixels,) float32, target brightness and error weight
    opacity, sum_step : float32, a pass's opacity and the darkness it removes per unit coverage (``sum``)
    total0 : float, the error (or darkness) before the first chord
    once, early_stop, parallel : bool
    used : (n_chords,) bool, chords drawn
    path : (n_lines + 1,) int64; gains, removed : (n_lines,) float64, per line drawn
    stats : (K.N_STATS,) int64, slots ``K.STAT_*``
    prior, partners, allowed : warm-start arrays (:func:`solvers.warm_start.warm_start_inputs`)
    """

    problem: Problem
    rule: int
    state: np.ndarray
    target: np.ndarray
    weights: np.ndarray
    opacity: np.float32
    sum_step: np.float32
    total0: float
    once: bool
    early_stop: bool
    parallel: bool
    used: np.ndarray
    path: np.ndarray
    gains: np.ndarray
    removed: np.ndarray
    stats: np.ndarray
    prior: np.ndarray
    partners: np.ndarray
    allowed: np.ndarray

    @classmethod
    def start(cls, problem: Problem, cfg: "GreedySolver.Config", *, once: bool, prior=None,
              partners=None) -> "_Thread":
        prior64, partners32, allowed = warm_start_inputs(problem, prior, partners)
        table = problem.table
        rule = K.RULE_ERROR if cfg.score == "error" else K.RULE_SUM
        T = np.ascontiguousarray(problem.target.image.ravel(), dtype=np.float32)
        Wt = error_weights(problem)
        if rule == K.RULE_ERROR:
            state = np.ones(table.n_pixels, dtype=np.float32)
            total0 = float(np.sum(Wt.astype(np.float64) * (1.0 - T.astype(np.float64)) ** 2))
        else:
            state = np.ascontiguousarray((1.0 - T) * Wt, dtype=np.float32)  # darkness (times importance) in the frame
            total0 = float(np.sum(state, dtype=np.float64))
        n = problem.n_lines
        return cls(problem=problem, rule=rule, state=state, target=T, weights=Wt,
                   opacity=np.float32(problem.thread.opacity),
                   sum_step=np.float32(check_float("weight", cfg.weight) / table.width_px), total0=total0,
                   once=once, early_stop=bool(cfg.early_stop), parallel=bool(cfg.parallel),
                   used=np.zeros(table.n_chords, dtype=np.bool_), path=np.zeros(n + 1, dtype=np.int64),
                   gains=np.zeros(n, dtype=np.float64), removed=np.zeros(n, dtype=np.float64),
                   stats=np.zeros(K.N_STATS, dtype=np.int64), prior=prior64, partners=partners32, allowed=allowed)

    def picture(self):
        """The picture the kernels update (:class:`solvers._greedy_kernels.Picture`)."""
        return K.Picture(self.state, self.target, self.weights, self.opacity, self.rule, self.sum_step)

    def settings(self, n_lines: int, start: int, no_return: int):
        """A run's settings (:class:`solvers._greedy_kernels.Settings`): ``start < 0``, the best chord first."""
        return K.Settings(n_lines, start, no_return, self.once, self.early_stop)

    def warm(self):
        """The warm start (:class:`solvers._greedy_kernels.Warm`; empty arrays: none)."""
        return K.Warm(self.prior, self.partners, self.allowed)

    def thread(self):
        """The arrays the kernels fill (:class:`solvers._greedy_kernels.Thread`)."""
        return K.Thread(self.used, self.path, self.gains, self.removed, self.stats)

    def after(self, drawn: int) -> "_Thread":
        """The same thread seen from line ``drawn`` on: its path, gains and removed start there, fresh stats."""
        return dataclasses.replace(self, path=self.path[drawn:], gains=self.gains[drawn:],
                                   removed=self.removed[drawn:], stats=np.zeros(K.N_STATS, dtype=np.int64))


def _incremental(th: _Thread, n_lines: int, first: int, no_return: int, *, restricted: bool = False,
                 ctl: np.ndarray | None = None) -> int:
    """Run :func:`solvers._greedy_kernels._greedy` from ``th.state`` (any chords already drawn, ``th.used`` marked).

    ``ctl``: the :mod:`solvers.progress` control array the kernel reports to (lines drawn, cancel flag)."""
    table = th.problem.table
    # with partners only the allowed chords can be candidates (but for counted fallbacks, which
    # rescore exactly): keeping just their scores up to date is the speed-up
    pt = restricted_pixel_table(table, th.allowed) if restricted else pixel_table(table)
    gh = np.empty((table.n_pixels, 2), dtype=np.float32)
    K._fill_gh(th.state, th.target, th.weights, th.opacity, th.rule, gh)
    scores = np.empty(table.n_chords, dtype=np.float32)
    K._scores_push(pt.indptr, pt.chord, pt.coverage, gh, scores)
    tol = SCORE_TOLERANCE * float(np.abs(scores).max(initial=0.0))
    nt = 2 * _n_threads() if th.parallel else 1
    kernel = K._greedy_par if th.parallel else K._greedy
    running = K.Running(K.PixelMajor(pt.indptr, pt.chord, pt.coverage), scores, tol, REFRESH_EVERY)
    return kernel(kernel_table(table), kernel_pins(th.problem), th.picture(), th.settings(n_lines, first, no_return),
                  running, th.warm(), th.thread(), nt, np.zeros(2, np.int64) if ctl is None else ctl)


def _scan(th: _Thread, n_lines: int, first: int, no_return: int) -> int:
    """Run :func:`solvers._greedy_kernels._greedy_scan_warm`: every candidate's pixels rescanned each step."""
    return K._greedy_scan_warm(kernel_table(th.problem.table), kernel_pins(th.problem), th.picture(),
                               th.settings(n_lines, first, no_return), th.warm(), th.thread(), th.parallel)


def _guided(th: _Thread, guide, first: int) -> int:
    """Greedy led by a guide for ``guide.lead`` lines (all when None), then plain greedy; ``stats[K.STAT_LED]``:
    lines led. A guide takes no prior or partners: the greedy that finishes gets ``th``'s empty warm start."""
    from . import _guide_kernels as GK

    table = th.problem.table
    chords = th.problem.chords
    n_lines = th.problem.n_lines
    lead = n_lines if guide.lead is None else min(int(guide.lead), n_lines)
    handover = guide.lead is not None
    drawn = 0
    stats = th.stats
    if lead > 0:
        if first < 0:
            first = guide.start_pin(chords)
        drawn = GK._greedy_guided(kernel_table(table), np.ascontiguousarray(chords.id_of, dtype=np.int32),
                                  th.picture(), GK.GuidedSettings(lead, first, th.once, th.early_stop, handover),
                                  GK.Guide(guide.residual(chords), guide.kernel(), guide.candidates), th.thread())
    stats[K.STAT_LED] = drawn
    if not handover or drawn == n_lines or stats[K.STAT_STOP] in (K.STOP_NO_GAIN, K.STOP_DEAD_END):
        return drawn
    # handed over (budget led, or no candidate of the guide lowers the error): greedy finishes
    stats[K.STAT_STOP] = K.STOP_BUDGET
    start = int(th.path[drawn]) if lead > 0 else first
    tail = th.after(drawn)
    more = _incremental(tail, n_lines - drawn, start, 0)
    stats[K.STAT_RELAXED] += tail.stats[K.STAT_RELAXED]
    stats[K.STAT_STOP] = tail.stats[K.STAT_STOP]
    stats[K.STAT_EXACT] += tail.stats[K.STAT_EXACT]
    return drawn + more


def _n_threads() -> int:
    import numba

    return int(numba.get_num_threads())


register("greedy-sum", GreedySolver, defaults=dict(score="sum", no_return=20),
         description="the seed's web generator: darkness sum, fixed weight 20/255 per pass, no return to last 20 pins")
