"""The Solver interface: :class:`~solvers.problem.Problem` in, :class:`~solvers.solution.Solution` out.

:class:`Solver` is an ABC whose :meth:`Solver.solve` is a template that owns the bookkeeping (the rng,
preparing outside the clock, timing, progress and cancellation, the Solution) around one abstract method,
:meth:`Solver.run`, which returns an :class:`~solvers.solution.Output`. A solver declares what it is as
class attributes, which the registry, the CLI, the harness and the report read (never its name):

* ``family`` -- :data:`FAMILIES`: how tables and figures group it;
* ``continuous``, ``stochastic``, ``colours`` (draws any palette, not only one black thread on white),
  ``accepts`` (the :class:`~solvers.hints.Hint` types its ``run`` takes), ``requires`` (modules it needs,
  e.g. ``("torch",)``: without them it is listed as unavailable).
"""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from rendering import InputError, PinLayout, ThreadModel, default_min_gap

from . import progress as _progress
from .hints import Hint
from .problem import Problem
from .solution import Output, Solution

RngLike = np.random.Generator | int | None

#: the families a solver belongs to (``Solver.family``), in the order tables and legends group them
FAMILIES = ("baseline", "greedy", "genetic", "learned", "colour", "other")

#: the extra that installs each module a solver may require (``Solver.requires``)
EXTRAS = {"torch": "learned"}


def as_generator(rng: RngLike) -> np.random.Generator:
    """``numpy.random.default_rng`` on an int, None or Generator (called once per solve)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is not None and (isinstance(rng, bool) or not isinstance(rng, (int, np.integer)) or rng < 0):
        raise InputError(f"rng must be a numpy Generator, a non-negative int seed or None, got {rng!r}")
    return np.random.default_rng(rng)


def resolve_rng(rng: RngLike) -> tuple[np.random.Generator, int | None]:
    """The generator a solve draws from and the seed it records (an int seed, else None).

    >>> gen, seed = resolve_rng(7)
    >>> seed, isinstance(gen, np.random.Generator)
    (7, True)
    """
    gen = as_generator(rng)
    return gen, (int(rng) if isinstance(rng, (int, np.integer)) else None)


def missing_modules(cls) -> list[str]:
    """The modules of ``cls.requires`` that cannot be imported here."""
    from importlib.util import find_spec

    def absent(module: str) -> bool:
        try:
            return find_spec(module) is None
        except ImportError:  # a broken install, or an import hook that hides the module
            return True

    return [m for m in getattr(cls, "requires", ()) if absent(m)]


def unavailable_reason(cls) -> str | None:
    """One line saying what a solver class needs and how to install it, or None when it can run here."""
    missing = missing_modules(cls)
    if not missing:
        return None
    extras = sorted({EXTRAS.get(m, m) for m in missing})
    return (f"needs {', '.join(missing)}: pip install 'stringart-bench[{','.join(extras)}]' (with torch, first "
            f"`pip install torch` as the README says, for a CPU build)")


class Solver(ABC):
    """Base class of every solver: :meth:`solve` is a template around one method, :meth:`run`.

    A subclass sets ``Config`` (a frozen, keyword-only dataclass), the capability
    attributes, and implements :meth:`run`; it may override :meth:`prepare`. The base
    class owns the bookkeeping every solver shares: it turns ``rng`` into a
    generator and the seed it records, prepares the solver outside the clock,
    times :meth:`run`, relays progress, and builds the :class:`Solution` with the
    registered name and the config. Instances are built from keyword arguments,
    which go to ``Config`` over the registered defaults.
    """

    #: registry name, set by :func:`solvers.registry.register` (a named variant is a subclass with its own)
    name: ClassVar[str] = ""
    #: config defaults of the registered name (a named variant's options)
    defaults: ClassVar[dict] = {}
    #: how tables and figures group it: one of :data:`FAMILIES`
    family: ClassVar[str] = "other"
    #: each colour's lines form one continuous thread (pin paths)
    continuous: ClassVar[bool] = True
    #: the solver's output depends on the rng (False: deterministic whatever the seed)
    stochastic: ClassVar[bool] = True
    #: config overrides for a quick run (contract tests, ``bench run --quick``, :meth:`prepare`'s warm-up)
    quick_options: ClassVar[dict] = {}
    #: draws any palette (several threads, any board); False: one black thread on white only
    colours: ClassVar[bool] = False
    #: the :class:`~solvers.hints.Hint` types :meth:`run` takes
    accepts: ClassVar[tuple] = ()
    #: modules it needs beyond the base install (listed as unavailable without them)
    requires: ClassVar[tuple] = ()
    #: the pictures a default of it was tuned on (built-in names): a study marks its rows on them
    tuned_on: ClassVar[tuple] = ()

    @dataclass(frozen=True, kw_only=True)
    class Config:
        pass

    def __init__(self, config=None, **kwargs):
        if config is not None and kwargs:
            raise TypeError("pass either a config or keyword arguments, not both")
        if config is None:
            names = [f.name for f in dataclasses.fields(self.Config) if f.init]
            unknown = [k for k in kwargs if k not in names]
            who = self.name or type(self).__name__
            if unknown:
                raise InputError(f"unknown option '{unknown[0]}' for solver {who}; its options are: "
                                 f"{', '.join(names) or 'none'}")
            try:
                config = self.Config(**{**self.defaults, **kwargs})
            except TypeError as e:
                raise InputError(f"bad option for solver {who}: {e}; its options are: "
                                 f"{', '.join(names) or 'none'}") from None
        self.config = config

    def check(self, problem: Problem, hint: Hint | None = None) -> None:
        """Refuse, in one line, a problem or a hint this solver cannot take (before any work)."""
        who = self.name or type(self).__name__
        if not type(self).colours and not problem.palette.plain:
            raise InputError(f"solver {who} draws one black thread on white; for other threads "
                             f"({problem.palette.describe()}) use a solver that draws any threads "
                             f"(colour-greedy, colour-dither; see bench solvers)")
        if hint is not None and not isinstance(hint, tuple(type(self).accepts)):
            raise InputError(f"solver {who} takes no {type(hint).__name__} hint; it takes "
                             f"{', '.join(t.__name__ for t in type(self).accepts) or 'none'}")

    def solve(self, problem: Problem, *, rng: RngLike = None, hint: Hint | None = None,
              progress: "_progress.Progress | None" = None) -> Solution:
        """Solve ``problem``. Same problem and same seed give the same Solution.

        Prepares the solver (:meth:`prepare`, not timed), then times :meth:`run`;
        ``Solution.seconds`` is the run alone. ``hint``: a typed warm start the solver
        accepts (``Solver.accepts``). ``progress``: a :class:`solvers.progress.Progress` that hears
        the lines as they are chosen and can cancel the solve (then :class:`solvers.progress.Cancelled`
        is raised).
        """
        gen, seed = resolve_rng(rng)
        self.check(problem, hint)
        self.prepare(problem)
        with _progress.listening(progress, problem.n_lines):
            start = time.perf_counter()
            out = self.run(problem, gen) if hint is None else self.run(problem, gen, hint=hint)
            seconds = time.perf_counter() - start
        if progress is not None and progress.cancelled:
            progress.emit("cancelled")
            raise _progress.Cancelled(f"{self.name or type(self).__name__} was cancelled")
        if not isinstance(out, Output):
            raise TypeError(f"{type(self).__name__}.run must return a solvers.Output, got {type(out).__name__}")
        sol = Solution(problem=problem, threads=out.runs(problem), solver=self.name, config=self.config_dict(),
                       seed=seed, seconds=seconds, history=None if out.history is None else np.asarray(out.history),
                       extra=dict(out.extra))
        if progress is not None:
            progress.emit("done", lines=sol.n_lines, final=sol.threads)
        return sol

    @abstractmethod
    def run(self, problem: Problem, rng: np.random.Generator, hint: Hint | None = None) -> Output:
        """Build the threads for ``problem``, drawing randomness from ``rng`` only: the solver's work.

        Called by :meth:`solve`, which times it; do the work here and nothing
        else (load models and compile kernels in :meth:`prepare`). ``hint`` is
        one of the types in ``accepts`` (or None).
        """

    def seen_pictures(self, problem: Problem) -> tuple:
        """The pictures this solver's trained model saw, as its checkpoint records them (dicts: ``name``,
        ``split`` (``train`` or ``validation``), ``print``: :func:`rendering.thumbprint`); none for a solver
        without a model. See :func:`trained_on`."""
        return ()

    def prepare(self, problem: Problem) -> None:
        """Get ready to solve ``problem`` fast: everything that is not solving, done once.

        Loads models, compiles or loads JIT kernels, builds the tables derived from
        the chord table. :meth:`solve` calls it before starting its clock; the
        harness and the CLI call it first to report it apart. The default runs
        :meth:`run` once, untimed, on the same problem cut to a few lines with
        the solver's ``quick_options`` (which compiles every kernel it reaches
        and builds the derived tables of the problem's chord table), once per
        process, solver config and chord table. Errors are left for the real
        solve to report.
        """
        key = ("prepared", type(self), self.name, repr(self.config))
        problem.table.derived(key, lambda table: self._warm_up(problem))

    def precompile(self, *, pins: int = 288, min_gap: int | None = None, shape: str = "circle",
                   thread: ThreadModel | None = None) -> None:
        """Compile this solver's kernels into numba's on-disk cache, for a later process to load.

        Runs :meth:`run` on a tiny problem whose chord table is a stand-in with
        the types of a real one (:func:`rendering.chords.specimen_table`), so the
        kernels that build real tables are not compiled here: ``bench solve``
        runs this in a second process on a first run while the first process
        builds the table. The pin count, min gap, frame and thread are the real
        problem's (a learned solver's model checks them).
        """
        from rendering.chords import specimen_table

        thread = thread or ThreadModel()
        gap = default_min_gap(pins) if min_gap is None else min_gap
        layout = PinLayout(n_pins=pins, canvas=64, shape=shape)
        specimen_table(layout, gap, thread.width_px(layout.span_px))
        for problem in self.specimen_problems(pins=pins, min_gap=gap, shape=shape, thread=thread):
            self._warm_up(problem)

    def specimen_problems(self, *, pins: int, min_gap: int, shape: str, thread: ThreadModel) -> list[Problem]:
        """The tiny problems :meth:`precompile` runs (one grey problem; a solver of any threads adds others)."""
        return [Problem.create(np.full((64, 64), 0.5, np.float32), pins=pins, lines=8, canvas=64, min_gap=min_gap,
                               shape=shape, thread=thread)]

    def jit_kernels(self) -> tuple:
        """The numba kernels a run of this solver calls (with its config): the CLI checks whether they are
        compiled already, to say so on one line before a first run compiles them. Default: none."""
        return ()

    def _warm_up(self, problem: Problem) -> bool:
        try:
            cfg = dataclasses.replace(self.config, **self.quick_options) if self.quick_options else self.config
            tiny = type(self)(config=cfg)
            tiny.run(problem.with_lines(min(problem.n_lines, 8)), np.random.default_rng(0))
            return True
        except Exception:  # noqa: BLE001  (the real solve reports it)
            return False

    # ------------------------------------------------------------------ helpers
    def config_dict(self) -> dict:
        return dataclasses.asdict(self.config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"


def trained_on(solver: Solver, problem: Problem) -> str:
    """``"name (split)"`` of the picture of ``solver``'s training (:meth:`Solver.seen_pictures`) that the
    problem's photo is, or ``""``: a score on it measures memory, not generalisation."""
    from rendering import seen_in

    hit = seen_in(solver.seen_pictures(problem), problem.target.original)
    return f"{hit['name']} ({hit.get('split', 'train')})" if hit else ""
