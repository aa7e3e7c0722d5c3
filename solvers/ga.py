"""Genetic algorithm on continuous pin paths: ``ga`` (random start) and ``greedy+ga``
(greedy, then the GA as a refiner).

Representation
    An individual is a pin path of exactly ``n_lines`` chords, so every
    individual is a thread a person can wind. Every operator keeps it valid:
    each step is an allowed chord (``min_gap``, frame sides) and, unless the
    problem allows repeats, no chord is used twice.

Operators (and why)
    * **Tournament selection** of parents (size ``tournament``): cheap, and its
      pressure does not depend on the scale of the error.
    * **One-point crossover** (probability ``crossover``): the child is
      ``A[:j] + junction + B[j+1:]``, the pin at the junction repaired (keep A's
      pin if it links both sides, else B's, else a random pin that does). The
      error does not depend on the order of the chords, so a splice passes on
      whole blocks of good chords. A child whose halves share a chord is
      dropped when repeats are not allowed. It is scored as an edit of
      whichever parent it differs less from, so splicing two relatives (the
      usual case once the population has converged, and always in
      ``greedy+ga``) costs a few chords, not a whole render.
    * **Mutation** (``mutations`` per offspring): re-choose one pin, uniform
      among the pins that make allowed, unused chords with both neighbours.
      Changing one pin changes two chords.
    * **Survivors: (mu + lambda) with elitism.** The next population is the
      ``population`` best of parents and offspring, exact duplicates (equal
      fitness) last. A parent is replaced only by a better offspring, so the
      best fitness never rises, and ``greedy+ga`` never ends worse than its
      greedy seed. A generational (comma) scheme would also have to copy every
      surviving offspring's canvas state, O(canvas) each, which costs more than
      a hundred incremental evaluations.

Fitness
    The (importance-weighted, inside the frame) squared error of the rendered
    picture under the multiplicative thread model,
    ``sum_p w_p (prod_c (1 - o c_cp) - t_p)^2``, the error greedy minimises.
    Each individual keeps its per-pixel brightness in float64: adding a chord
    multiplies its pixels by ``1 - o c``, removing it divides them out again
    (factors floored at :data:`FACTOR_FLOOR`, so that is always defined), and
    an offspring is scored from the chords it changes only: O(chord length),
    not O(canvas). See :mod:`solvers._ga_kernels`.

    With ``view = k > 1`` the error is instead taken between ``k x k`` block
    means (the viewing scale of :func:`rendering.metrics.score` is 4); each
    individual then also keeps its block means, still updated incrementally.
    Pixels are stored in tiles of :data:`TILE` px in Morton order
    (:func:`rendering.derived.tiled_order`), so a chord of any direction touches few cache lines
    and ``k x k`` blocks are runs of consecutive pixels.

Budget
    ``generations`` (default, deterministic: 500 generations of 128 offspring,
    a few seconds at 288 pins / 4000 lines / 512 px), and optionally
    ``evaluations`` (offspring made and scored; exact) and ``seconds`` (wall
    time, checked between generations; machine-dependent). The run stops at
    the first one reached. ``history[g]`` is the best fitness after generation
    ``g`` (``history[0]``: the initial population).

Determinism
    All randomness is drawn from the one ``rng`` in the Python loop, one row of
    uniforms per offspring; the parallel kernel gives every offspring its own
    row and scratch, so a seed gives the same result whatever the thread count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from rendering import InputError, derived
from rendering.derived import TILE
from rendering.device import check_device
from rendering.errors import check_float, check_int
from rendering.lazy import lazy_import

K = lazy_import("solvers._ga_kernels")  # numba: loaded when a kernel runs
from . import greedy as _greedy  # noqa: E402,F401  (registers greedy, which greedy+ga composes)
from . import progress  # noqa: E402
from .base import RngLike, Solver, as_generator  # noqa: E402
from .compose import Refiner, compose  # noqa: E402
from .hints import Hint  # noqa: E402
from .problem import Problem, error_weights  # noqa: E402
from .registry import register  # noqa: E402
from .solution import Output, Solution  # noqa: E402

#: random draws allowed to find a valid pin before a mutation or junction repair gives up
_TRIES = 24


def pass_factors(problem: Problem) -> np.ndarray:
    """The GA's brightness factor ``1 - opacity * coverage`` of every entry of the problem's chord table.

    :func:`rendering.derived.pass_factors` floored at :data:`solvers._ga_kernels.FACTOR_FLOOR` (kept on the table).

    Returns
    -------
    (nnz,) float32 in [FACTOR_FLOOR, 1), aligned with ``problem.table.pixel``
    """
    return derived.pass_factors(problem.table, problem.thread.opacity, floor=K.FACTOR_FLOOR)


def _target_weights(problem: Problem, perm: np.ndarray | None = None, size: int | None = None) -> np.ndarray:
    """(size, 2) float64: target brightness and error weight side by side (pixel ``p`` at ``perm[p]``)."""
    tw = np.stack([problem.target.image.ravel().astype(np.float64), error_weights(problem).astype(np.float64)],
                  axis=1)
    if perm is None:
        return np.ascontiguousarray(tw)
    out = np.zeros((size, 2), dtype=np.float64)  # type: ignore[type-var]  # size comes with perm; padding: weight 0
    out[perm] = tw
    return out


def _scoring_arrays(problem: Problem, view: int, tiled: bool = True):
    """Pixel indices, target/weight array, block shift and sizes for a fitness at scale ``view``.

    Returns ``pixel (nnz,) int32, tw (n, 2) float64, shift, n_pixels, n_blocks``: ``tw`` per pixel
    when ``view == 1``, else per ``view x view`` block (target outside the frame counted white, as
    :func:`rendering.metrics.score` does; weight = the block's mean pixel weight).
    """
    if view == 1 and not tiled:  # row-major (for checks); a writable copy keeps the kernels' compiled types
        tw = _target_weights(problem)
        return np.array(problem.table.pixel), tw, 0, tw.shape[0], 1
    tp = derived.tiled_pixels(problem.table, TILE)
    pixel, perm, size = tp.pixel, tp.perm, tp.size
    tw = _target_weights(problem, perm, size)
    if view == 1:
        return pixel, tw, 0, size, 1
    inside = np.zeros(size, dtype=bool)
    inside[perm] = problem.mask.ravel()
    tw[~inside, 0] = 1.0
    area = view * view
    blocks = tw.reshape(size // area, area, 2).mean(axis=1)
    return pixel, np.ascontiguousarray(blocks), int(area).bit_length() - 1, size, size // area


def path_fitness(problem: Problem, path, *, view: int = 1) -> float:
    """The GA's fitness of one pin path: weighted squared error of its render (lower is better).

    Parameters
    ----------
    problem : Problem
    path : (n + 1,) int pins, any number of chords ``n >= 1``
    view : int, 1 or a power of two up to :data:`TILE`: the error between ``view x view`` block means

    Returns
    -------
    float, ``sum_p w_p (b_p - t_p) ** 2`` with ``b`` the multiplicative render and ``w`` from
    :func:`solvers.base.error_weights` (``view == 1``; the squared error greedy minimises), else the same sum
    over blocks of block means, weighted by the blocks' mean weight
    """
    _check_view(view)
    path = np.ascontiguousarray(path, dtype=np.int32)
    problem.chords.path_to_chords(path)  # validates
    table = problem.table
    pixel, tw, shift, size, n_blocks = _scoring_arrays(problem, view)
    bright = np.ones(size, dtype=np.float64)
    means = np.zeros(n_blocks, dtype=np.float64)
    count = np.zeros(table.n_chords, dtype=np.int32)
    id_of = np.ascontiguousarray(problem.chords.id_of, dtype=np.int32)
    return float(K._full_state(path, id_of, table.indptr, pixel, pass_factors(problem), tw, shift, bright, means,
                               count))


def _check_view(view) -> int:
    view = check_int("view", view, low=1, high=TILE, hint=f"use 1 (full resolution) or 2, 4, ... {TILE}")
    if view & (view - 1):
        raise InputError(f"view must be a power of two (1, 2, 4, ... {TILE}), got {view}")
    return view


@dataclass(frozen=True, kw_only=True)
class GAConfig:
    """Options of the genetic algorithm.

    Parameters
    ----------
    population : int >= 1, individuals kept (mu)
    offspring : int >= 1, offspring made and scored per generation (lambda)
    generations : int >= 0, the default, deterministic budget
    evaluations : int >= 1 or None, stop after this many offspring (exact)
    seconds : float > 0 or None, stop after the generation that passes this wall time
        (machine-dependent: leave None for reproducible runs)
    tournament : int >= 1, tournament size of parent selection
    crossover : float in [0, 1], probability that an offspring is a splice of two parents
    mutations : int >= 0, pins re-chosen per offspring
    creep : int >= 0, 0: the new pin is uniform over all pins; k > 0: uniform within +-k pins of the old one
    view : int, scale of the fitness: 1 = full resolution (greedy's error); 2, 4, ... 32 = squared error
        between ``view x view`` block means (``rendering.metrics`` views at 4)
    parallel : bool, score offspring on all Numba threads (same result either way)
    device : {"cpu", "auto", "cuda"}, ``cuda`` scores the starting population in one batch on the GPU
        (:func:`solvers._ga_cuda.population_fitness`; ``view=1`` only); offspring are scored by the
        CPU's incremental kernels either way. ``auto`` picks CUDA when numba.cuda finds a GPU.
    """

    population: int = 8
    offspring: int = 128
    generations: int = 500
    evaluations: int | None = None
    seconds: float | None = None
    tournament: int = 3
    crossover: float = 0.3
    mutations: int = 1
    creep: int = 0
    view: int = 1
    parallel: bool = True
    device: str = "cpu"

    def __post_init__(self):
        check_device(self.device)
        check_int("population", self.population, low=1, hint="keep at least one individual, e.g. population=16")
        check_int("offspring", self.offspring, low=1, hint="make at least one offspring per generation")
        check_int("generations", self.generations, low=0, hint="e.g. generations=1000")
        if self.evaluations is not None:
            check_int("evaluations", self.evaluations, low=1, hint="or leave it None for no cap")
        if self.seconds is not None:
            check_float("seconds", self.seconds, low=0.0, low_open=True, hint="or leave it None for no cap")
        check_int("tournament", self.tournament, low=1, hint="e.g. tournament=3")
        check_float("crossover", self.crossover, low=0.0, high=1.0, hint="a probability, e.g. 0.3")
        check_int("mutations", self.mutations, low=0, hint="e.g. mutations=1")
        check_int("creep", self.creep, low=0, hint="0 re-chooses among all pins, k > 0 within +-k pins")
        _check_view(self.view)
        if self.mutations == 0 and self.crossover == 0:
            raise InputError("mutations=0 with crossover=0 makes no new individuals; set mutations >= 1 "
                             "or crossover > 0")
        if not isinstance(self.parallel, (bool, np.bool_)):
            raise InputError(f"parallel must be True or False, got {self.parallel!r}")


class _Population:
    """Population state and the incremental machinery around the kernels."""

    def __init__(self, problem: Problem, paths: np.ndarray, cfg: GAConfig, *, tiled: bool = True):
        import numba

        table = problem.table
        self.problem = problem
        self.cfg = cfg
        self.id_of = np.ascontiguousarray(problem.chords.id_of, dtype=np.int32)
        self.indptr = table.indptr
        self.fac = pass_factors(problem)
        self.pixel, self.tw, self.shift, P, nB = _scoring_arrays(problem, cfg.view, tiled or cfg.view > 1)
        mu, npath = paths.shape
        n = npath - 1
        C = table.n_chords
        self.n = n
        self.paths = np.ascontiguousarray(paths, dtype=np.int32)
        self.counts = np.zeros((mu, C), dtype=np.int32)
        self.bright = np.ones((mu, P), dtype=np.float64)
        self.means = np.zeros((mu, nB), dtype=np.float64)
        self.fit = np.zeros(mu, dtype=np.float64)
        init = K._init_population_par if cfg.parallel else K._init_population
        init(self.paths, self.id_of, self.indptr, self.pixel, self.fac, self.tw, self.shift, self.bright,
             self.means, self.counts, self.fit)
        chunks = max(1, min(numba.get_num_threads(), cfg.offspring)) if cfg.parallel else 1
        lam, m = cfg.offspring, cfg.mutations
        self.max_pos = n + 1 + m
        self.s_child = np.zeros((chunks, n + 1), dtype=np.int32)
        self.s_f = np.full((chunks, P), np.nan, dtype=np.float64)
        self.s_touched = np.zeros((chunks, P), dtype=np.int32)
        self.s_g = np.full((chunks, nB), np.nan, dtype=np.float64)
        self.s_btouched = np.zeros((chunks, nB), dtype=np.int32)
        self.s_dcount = np.zeros((chunks, C), dtype=np.int32)
        self.s_ctouch = np.zeros((chunks, 2 * n + 4 * m + 8), dtype=np.int32)
        self.s_smark = np.zeros((chunks, n), dtype=np.uint8)
        self.s_steps = np.zeros((chunks, n), dtype=np.int32)
        self.s_pos = np.zeros((chunks, self.max_pos), dtype=np.int32)
        self.out_base = np.zeros(lam, dtype=np.int64)
        self.out_fit = np.zeros(lam, dtype=np.float64)
        self.out_npos = np.zeros(lam, dtype=np.int64)
        self.out_pos = np.zeros((lam, self.max_pos), dtype=np.int32)
        self.out_pin = np.zeros((lam, self.max_pos), dtype=np.int32)
        self.a_old = np.zeros(n, dtype=np.int32)
        # the kernels' named tuples (views of the arrays above, which are only ever changed in place)
        self.k_population = K.Population(self.paths, self.counts, self.bright, self.means, self.fit)
        self.k_table = K.ChordFactors(self.id_of, self.indptr, self.pixel, self.fac)
        self.k_fitness = K.Fitness(self.tw, self.shift)
        self.k_operators = K.Operators(cfg.tournament, float(cfg.crossover), cfg.mutations, cfg.creep, _TRIES,
                                       bool(problem.allow_repeats))
        self.k_scratch = K.Scratch(self.s_child, self.s_f, self.s_touched, self.s_g, self.s_btouched,
                                   self.s_dcount, self.s_ctouch, self.s_smark, self.s_steps, self.s_pos)
        self.k_scratch0 = K.Scratch(*(a[0] for a in self.k_scratch))  # row 0, for _apply_edits
        self.k_individuals = [K.Individual(self.paths[s], self.counts[s], self.bright[s], self.means[s])
                              for s in range(mu)]
        # uniforms per offspring: 2 tournaments, crossover draws and repair tries, mutation draws
        self.n_uniforms = 2 * cfg.tournament + 2 + _TRIES + m * (1 + _TRIES)

    def best(self) -> int:
        return int(np.argmin(self.fit))

    def generation(self, rng: np.random.Generator, lam: int) -> None:
        """Make ``lam`` offspring and keep the ``population`` best of parents and offspring."""
        self.breed(rng, lam)
        self.select(lam)

    def offspring_path(self, o: int) -> np.ndarray:
        """(n + 1,) int32: the path of offspring ``o`` of the last :meth:`breed` (for checks)."""
        path = self.paths[int(self.out_base[o])].copy()
        k = int(self.out_npos[o])
        path[self.out_pos[o, :k]] = self.out_pin[o, :k]
        return path

    def breed(self, rng: np.random.Generator, lam: int) -> None:
        """Make and score ``lam`` offspring into ``out_*`` (the population is not changed)."""
        cfg = self.cfg
        uniforms = rng.random((lam, self.n_uniforms))
        kern = K._offspring_par if cfg.parallel else K._offspring
        out = K.Offspring(self.out_base[:lam], self.out_fit[:lam], self.out_npos[:lam], self.out_pos, self.out_pin)
        kern(self.k_population, uniforms, self.k_table, self.k_fitness, self.k_operators, self.k_scratch, out)

    def select(self, lam: int) -> None:
        """Keep the ``population`` best of parents and the last ``lam`` offspring (duplicates last)."""
        mu = self.fit.size
        pool = np.concatenate([self.fit, self.out_fit[:lam]])
        order = np.argsort(pool, kind="stable")
        vals = pool[order]
        dup = np.zeros(order.size, dtype=bool)
        dup[1:] = vals[1:] == vals[:-1]
        ok = np.isfinite(vals)
        ranked = np.concatenate([order[ok & ~dup], order[ok & dup], order[~ok]])
        chosen = ranked[:mu]
        kept = set(int(i) for i in chosen if i < mu)
        born = [int(i) - mu for i in chosen if i >= mu]
        if not born:
            return
        free = [s for s in range(mu) if s not in kept]
        claimed: set[int] = set()
        in_place, pending = [], []
        for o in born:
            b = int(self.out_base[o])
            if b not in kept and b not in claimed:
                claimed.add(b)
                in_place.append((o, b))
            else:
                pending.append(o)
        spare = [s for s in free if s not in claimed]
        moves = list(zip(pending, spare))
        for o, s in moves:  # copies first: their sources are never overwritten before
            b = int(self.out_base[o])
            self.paths[s] = self.paths[b]
            self.counts[s] = self.counts[b]
            self.bright[s] = self.bright[b]
            self.means[s] = self.means[b]
        for o, s in in_place + moves:
            K._apply_edits(self.k_individuals[s], self.shift, self.out_pos[o], self.out_pin[o], int(self.out_npos[o]),
                           self.k_table, self.k_scratch0, self.a_old)
            self.fit[s] = self.out_fit[o]


def random_paths(problem: Problem, count: int, rng: RngLike = None) -> np.ndarray:
    """``count`` random continuous paths (uniform among allowed, unused chords at each step).

    Returns
    -------
    (count, n_lines + 1) int32 pins
    """
    gen = as_generator(rng)
    n = problem.n_lines
    u = gen.random((count, n + 1))
    out = np.zeros((count, n + 1), dtype=np.int32)
    used = np.zeros(problem.chords.n_chords, dtype=np.uint8)
    id_of = np.ascontiguousarray(problem.chords.id_of, dtype=np.int32)
    for i in range(count):
        K._random_path(id_of, bool(problem.allow_repeats), u[i], out[i], used)
        if not problem.allow_repeats:
            chords = id_of[out[i, :-1], out[i, 1:]]
            if np.unique(chords).size < chords.size:  # the walk hit a dead end and took a chord again
                seen: set = set()
                # seen.add is called for its side effect (its None lets `or` go on)
                k = next(j for j, c in enumerate(chords.tolist()) if c in seen or seen.add(c))  # type: ignore[func-returns-value]
                raise InputError(f"the GA evolves threads of exactly {n} lines with no chord twice, but a random "
                                 f"thread reached a dead end after {k} line{'s' if k != 1 else ''} "
                                 f"(min gap {problem.min_gap}); "
                                 f"ask for fewer lines or lower --min-gap")
    return out


def _as_path(problem: Problem, initial) -> np.ndarray:
    if isinstance(initial, Solution):
        if initial.path is None:
            raise InputError(f"the initial solution from {initial.solver or 'a solver'} is not one continuous "
                             f"thread; seed the GA with a continuous solver such as greedy")
        initial = initial.path
    path = np.ascontiguousarray(initial, dtype=np.int32)
    if path.ndim != 1 or path.size != problem.n_lines + 1:
        raise InputError(f"an initial path must have n_lines + 1 = {problem.n_lines + 1} pins, got shape "
                         f"{path.shape}")
    problem.chords.path_to_chords(path)
    return path


def solve_ga(problem: Problem, *, config: GAConfig | None = None, rng: RngLike = None,
             initial=None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run the GA; the engine behind the ``ga`` and ``greedy+ga`` solvers.

    Parameters
    ----------
    problem : Problem, continuous
    config : GAConfig (default options when None)
    rng : Generator, int or None
    initial : None, a Solution, a (n_lines + 1,) path or a (k, n_lines + 1) array of paths.
        Seeds: the population starts as copies of them (cycled); None: random paths.

    Returns
    -------
    path : (n_lines + 1,) int32, the best individual
    history : (generations_run + 1,) float64, best fitness after each generation
    info : dict, ``evaluations``, ``generations``, ``initial_fitness`` (best at start), ``fitness``,
        ``device`` ("cpu" or "cuda")

    Raises
    ------
    InputError
        for ``device="cuda"`` without a usable GPU, or with ``view > 1``.
    """
    cfg = config or GAConfig()
    if not problem.continuous:
        raise InputError("the GA evolves one continuous thread; build the problem with continuous=True")
    gen = as_generator(rng)
    start = time.perf_counter()
    device = cfg.device.lower()
    if device != "cpu":
        from rendering.device import resolve_device  # imports numba.cuda only now

        device = resolve_device(device)
    if device == "cuda" and cfg.view != 1:
        raise InputError(f"view {cfg.view} is not supported on cuda yet (the GPU fitness is at full resolution); "
                         f"use view=1 or device='cpu'")
    mu = cfg.population
    if initial is None:
        paths = random_paths(problem, mu, gen)
    else:
        seeds: Any = np.asarray(initial.path if isinstance(initial, Solution) else initial)
        seeds = [_as_path(problem, initial)] if isinstance(initial, Solution) or seeds.ndim == 1 else \
            [_as_path(problem, s) for s in seeds]
        paths = np.stack([seeds[i % len(seeds)] for i in range(mu)])
    pop = _Population(problem, paths, cfg)
    if device == "cuda":  # the population scored in one batch on the GPU (equal to float64 rounding)
        from ._ga_cuda import population_fitness

        pop.fit[:] = population_fitness(problem, pop.paths)
    history = [float(pop.fit.min())]
    done = 0
    g = 0
    while g < cfg.generations:
        lam = cfg.offspring
        if cfg.evaluations is not None:
            lam = min(lam, cfg.evaluations - done)
            if lam <= 0:
                break
        if cfg.seconds is not None and time.perf_counter() - start >= cfg.seconds:
            break
        if progress.cancelled():
            break
        pop.generation(gen, lam)
        done += lam
        g += 1
        history.append(float(pop.fit.min()))
    b = pop.best()
    info = dict(evaluations=done, generations=g, initial_fitness=history[0], fitness=float(pop.fit[b]),
                device=device)
    return pop.paths[b].copy(), np.asarray(history, dtype=np.float64), info


@register("ga", description="genetic algorithm on continuous pin paths, random start")
class GASolver(Solver):
    """Genetic algorithm on continuous pin paths (tournament, splice crossover, pin mutation, elitism)."""

    Config = GAConfig  # type: ignore[assignment]  # its own dataclass, not a subclass of the base's empty Config
    family = "genetic"
    quick_options: ClassVar[dict] = dict(population=4, offspring=8, generations=5)

    def jit_kernels(self) -> tuple:
        return _ga_kernels(self.config)

    def run(self, problem: Problem, rng: np.random.Generator, hint: Hint | None = None) -> Output:
        path, history, info = solve_ga(problem, config=self.config, rng=rng)
        return Output(path=path, history=history, extra=info)


def _ga_kernels(cfg: GAConfig) -> tuple:
    par = cfg.parallel
    return (K._offspring_par if par else K._offspring, K._init_population_par if par else K._init_population)


class GARefiner(Refiner):
    """The GA as a refiner: its population starts as copies of the thread so far (elitist: never worse)."""

    prefix = "ga_"
    title = "ga"
    stochastic = True
    Config = GAConfig  # type: ignore[assignment]  # its own dataclass, not a subclass of the base's empty Config
    quick_options: ClassVar[dict] = dict(population=4, offspring=8, generations=5)

    def jit_kernels(self) -> tuple:
        return _ga_kernels(self.config)

    def refine(self, problem: Problem, output: Output, rng: np.random.Generator) -> Output:
        runs = output.runs(problem)
        if len(runs) != 1:
            raise InputError(f"the GA evolves one continuous thread; the solver before it drew {len(runs)} runs")
        seed = runs[0][1]
        if seed.size - 1 < problem.n_lines:
            raise InputError(f"the GA evolves threads of exactly {problem.n_lines} lines, but its seed drew "
                             f"{seed.size - 1} (stop: {output.extra.get('stop', 'early')})")
        path, history, info = solve_ga(problem, config=self.config, rng=rng, initial=seed)
        return Output(path=path, history=history, extra=info)


compose("greedy+ga", "greedy", refiners=(GARefiner,), family="genetic",
        description="genetic algorithm seeded with the greedy solver's path; never worse than its seed")
