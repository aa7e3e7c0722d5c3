"""solvers: the Problem, the Solver interface and its registry, the Solution, and the classical solvers.

The flow: a :class:`Problem` (:mod:`solvers.problem`) -> :meth:`Solver.solve` (:mod:`solvers.base`; solvers
composed of steps: :mod:`solvers.compose`, typed warm starts: :mod:`solvers.hints`, progress and
cancellation: :mod:`solvers.progress`) -> a :class:`Solution` (:mod:`solvers.solution`), which renders and
scores itself. Writing it to files is the maker's layer above (:mod:`kit.results`).

Solvers register when their module is imported; the registry imports every module named in the
``stringart.solvers`` entry-point group on first lookup (:mod:`solvers.registry`).

>>> from solvers import Problem, make_solver
>>> problem = Problem.create("camera", pins=64, lines=50, canvas=64)
>>> solution = make_solver("random").solve(problem, rng=0)
>>> solution.n_lines, solution.path.shape
(50, (51,))
"""

from .base import FAMILIES, RngLike, Solver, as_generator, resolve_rng, trained_on
from .compose import Handoff, Lead, Refiner, compose
from .guide import ChordGuide, follow_guide
from .hints import Hint, WarmStart
from .problem import Problem, error_weights
from .progress import Cancelled, Event, Progress
from .registry import (DEFAULT_COLOUR_SOLVER, DEFAULT_SOLVER, get_entry, make_solver, register, solver_modules,
                       solver_names)
from .solution import Output, Solution, runs_from_lines

__all__ = ["DEFAULT_COLOUR_SOLVER", "DEFAULT_SOLVER", "FAMILIES", "Cancelled", "ChordGuide", "Event", "Handoff",
           "Hint", "Lead", "Output", "Problem", "Progress", "Refiner", "RngLike", "Solution",
           "Solver", "as_generator", "compose", "error_weights", "follow_guide", "get_entry", "make_solver",
           "register", "resolve_rng", "runs_from_lines", "solver_modules", "solver_names", "trained_on", "WarmStart"]
