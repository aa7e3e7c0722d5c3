"""Composed solvers: a lead, then a registered solver, then refiners, declared at registration.

"X then Y" has one form. A composed solver names its steps::

    compose("greedy-view+refine", "greedy-view", refiners=(SSIMRefiner,), defaults=dict(refine_pins=4000))

* a :class:`Lead` (optional) looks at the problem first and hands the solver a :class:`Handoff`: the
  problem it should solve (a front end edits the target it chases, the thread it assumes, the error's
  weights) and a typed :class:`~solvers.hints.Hint` (a learned model's :class:`~solvers.guide.ChordGuide`);
* the solver, a registered name, runs on it;
* each :class:`Refiner` takes the threads so far and returns better ones.

The threads are drawn with the real thread and scored against the photo: the template builds the
:class:`~solvers.solution.Solution` on the original problem. The composed solver is an ordinary
:class:`~solvers.base.Solver` subclass: one timed ``run`` for all its steps, one ``Config`` whose fields
are the solver's, the lead's and each refiner's (each step's fields carry its ``prefix``, e.g.
``refine_sweeps``), its family and capabilities taken from its steps unless given.

Randomness: the solver step draws from a generator seeded by one draw of the composed solver's ``rng``;
the lead and the refiners draw from ``rng`` itself after that draw.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from rendering import InputError

from . import progress as _progress
from .base import Solver
from .hints import Hint
from .problem import Problem
from .solution import Output


class Step(ABC):  # noqa: B024  (no abstract method of its own: an ABC so that Lead's and Refiner's are enforced)
    """One declared step of a composed solver, with its own frozen keyword-only ``Config``.

    ``prefix`` is put before its options' names in the composed solver's config (``refine_`` for the
    refiners). ``requires``: modules it needs (as ``Solver.requires``).
    """

    prefix: ClassVar[str] = ""
    requires: ClassVar[tuple] = ()
    stochastic: ClassVar[bool] = False
    #: the pictures its defaults were tuned on (as ``Solver.tuned_on``)
    tuned_on: ClassVar[tuple] = ()
    #: what the step does, for ``bench solvers`` (e.g. ``"refine-ssim"``)
    title: ClassVar[str] = ""

    @dataclass(frozen=True, kw_only=True)
    class Config:
        pass

    def __init__(self, config=None):
        self.config = config if config is not None else self.Config()

    def prepare(self, problem: Problem) -> None:  # noqa: B027  (an optional hook: does nothing by default)
        """Get ready (load a model, build tables), outside the clock."""

    def jit_kernels(self) -> tuple:
        return ()

    def seen_pictures(self, problem: Problem) -> tuple:
        """The pictures its trained model saw (as ``Solver.seen_pictures``)."""
        return ()


@dataclass(frozen=True, eq=False)
class Handoff:
    """What a :class:`Lead` hands the solver.

    Attributes
    ----------
    problem : the problem the solver solves (its target, thread and weights may be the lead's; the layout,
        chords and line budget are the original's)
    hint : a typed hint the solver accepts, or None
    output : the solver's output when the lead already ran it (a search with the solver in the loop), or None
    extra : what the lead records
    """

    problem: Problem
    hint: Hint | None = None
    output: Output | None = None
    extra: dict = field(default_factory=dict)


class Lead(Step):
    """The first step: look at the problem, hand the solver a problem and a hint."""

    @abstractmethod
    def lead(self, problem: Problem, rng: np.random.Generator, solver: Solver) -> Handoff:
        """The handoff for ``problem``; ``solver`` is the (prepared) solver step, for a lead that searches
        with it in the loop (call its ``run``, never its ``solve``: the composed run is timed once)."""


class Refiner(Step):
    """A step after the solver: better threads from the threads so far."""

    prefix: ClassVar[str] = "refine_"

    @abstractmethod
    def refine(self, problem: Problem, output: Output, rng: np.random.Generator) -> Output:
        """Threads at least as good as ``output``'s, for ``problem``."""


def _fields(cls, prefix: str) -> list[tuple[str, type | str, dataclasses.Field]]:
    out = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        default = f.default if f.default is not dataclasses.MISSING else dataclasses.MISSING
        kw = {"default": default} if default is not dataclasses.MISSING else {"default_factory": f.default_factory}
        out.append((prefix + f.name, f.type, dataclasses.field(**kw)))
    return out


def _part(cls, cfg, prefix: str):
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    return cls(**{n: getattr(cfg, prefix + n) for n in names})


def compose(name: str, solver: str, *, lead: type[Lead] | None = None, refiners: tuple = (),
            defaults: dict | None = None, description: str = "", family: str | None = None,
            quick_options: dict | None = None):
    """Register ``name``: ``lead`` (optional), then the registered ``solver``, then ``refiners``.

    Returns the composed :class:`~solvers.base.Solver` class. ``defaults`` set options of any step (by
    their names in the composed config).
    """
    from .registry import _REGISTRY, get_entry, register

    base = _REGISTRY[solver].cls if solver in _REGISTRY else get_entry(solver).cls
    steps = ([lead] if lead is not None else []) + list(refiners)
    fields = _fields(base.Config, "")
    seen = {f[0]: solver for f in fields}
    for step in steps:
        for f in _fields(step.Config, step.prefix):
            if f[0] in seen:
                raise ValueError(f"option {f[0]!r} of step {step.__name__} clashes with one of {seen[f[0]]}; "
                                 f"give the step another prefix")
            seen[f[0]] = step.__name__
        fields += _fields(step.Config, step.prefix)

    def post_init(cfg):
        _part(base.Config, cfg, "")
        for step in steps:
            _part(step.Config, cfg, step.prefix)

    config = dataclasses.make_dataclass(f"{name}.Config", fields, frozen=True, kw_only=True,
                                        namespace={"__post_init__": post_init})
    quick = {k: v for k, v in base.quick_options.items()}
    for step in steps:
        quick.update({step.prefix + k: v for k, v in getattr(step, "quick_options", {}).items()})
    quick.update(quick_options or {})
    titles = [lead.title or lead.__name__] if lead is not None else []
    titles += [solver] + [r.title or r.__name__ for r in refiners]

    class Composed(Solver):
        __doc__ = description or f"{' then '.join(titles)}"
        Config = config  # type: ignore[assignment]  # a made dataclass, not a subclass of Solver.Config
        quick_options = quick
        continuous = base.continuous
        stochastic = base.stochastic or any(s.stochastic for s in steps)
        colours = base.colours
        requires = tuple(dict.fromkeys([*base.requires, *(m for s in steps for m in s.requires)]))
        tuned_on = tuple(dict.fromkeys([*base.tuned_on, *(m for s in steps for m in s.tuned_on)]))
        accepts = ()
        #: the steps, in order: what ``bench solvers`` shows
        composition: ClassVar[tuple] = tuple(titles)

        def parts(self):
            cfg = self.config
            solver_obj = base(config=_part(base.Config, cfg, ""))
            lead_obj = lead(_part(lead.Config, cfg, lead.prefix)) if lead is not None else None
            return lead_obj, solver_obj, [r(_part(r.Config, cfg, r.prefix)) for r in refiners]

        def prepare(self, problem: Problem) -> None:
            lead_obj, solver_obj, refs = self.parts()
            for s in ([lead_obj] if lead_obj is not None else []) + refs:
                s.prepare(problem)
            solver_obj.prepare(problem)
            super().prepare(problem)

        def seen_pictures(self, problem: Problem) -> tuple:
            lead_obj, solver_obj, refs = self.parts()
            steps = ([lead_obj] if lead_obj is not None else []) + refs
            return tuple(solver_obj.seen_pictures(problem)) + tuple(r for s in steps for r in s.seen_pictures(problem))

        def jit_kernels(self) -> tuple:
            lead_obj, solver_obj, refs = self.parts()
            out = list(solver_obj.jit_kernels())
            for s in ([lead_obj] if lead_obj is not None else []) + refs:
                out += list(s.jit_kernels())
            return tuple(dict.fromkeys(out))

        def specimen_problems(self, **kw):
            return base(config=_part(base.Config, self.config, "")).specimen_problems(**kw)

        def run(self, problem: Problem, rng: np.random.Generator, hint: Hint | None = None) -> Output:
            lead_obj, solver_obj, refs = self.parts()
            solver_rng = np.random.default_rng(int(rng.integers(2**63 - 1)))
            extra: dict = {}
            handoff = Handoff(problem) if lead_obj is None else lead_obj.lead(problem, rng, solver_obj)
            if handoff.problem.chords is not problem.chords or handoff.problem.n_lines != problem.n_lines:
                raise InputError(f"{name}: a lead must keep the problem's pins, chords and line budget")
            extra.update(handoff.extra)
            out = handoff.output
            if out is None:
                solver_obj.check(handoff.problem, handoff.hint)
                out = solver_obj.run(handoff.problem, solver_rng) if handoff.hint is None else \
                    solver_obj.run(handoff.problem, solver_rng, hint=handoff.hint)
            for r in refs:
                if _progress.cancelled():
                    break
                p = _progress.current()
                if p is not None:
                    p.set_phase("refining")
                extra.update(out.extra)
                out = r.refine(problem, out, rng)
            extra.update(out.extra)
            return dataclasses.replace(out, extra=extra)

    Composed.__name__ = Composed.__qualname__ = "".join(p.capitalize() for p in name.replace("+", "-").split("-"))
    Composed.__module__ = (lead or (refiners[0] if refiners else base)).__module__
    Composed.family = family or base.family
    return register(name, Composed, defaults=defaults, description=description or Composed.__doc__ or "")
