"""solvers: the Solver interface, the registry and the classical solvers.

>>> from solvers import Problem, make_solver
>>> problem = Problem.create("camera", pins=64, lines=50, canvas=64)
>>> solution = make_solver("random").solve(problem, rng=0)
>>> solution.n_lines, solution.path.shape
(50, (51,))
"""

from .base import Output, Problem, RngLike, Solution, Solver, as_generator, error_weights, resolve_rng
from .registry import DEFAULT_SOLVER, get_entry, make_solver, register, solver_names
from .guide import ChordGuide, follow_guide  # noqa: E402
from . import baseline, greedy, ga  # noqa: F401,E402  (importing registers: random; greedy, greedy-sum, greedy+refine; ga, greedy+ga)
from . import colour  # noqa: F401,E402  (registers colour-greedy, colour-dither)

__all__ = ["DEFAULT_SOLVER", "ChordGuide", "follow_guide", "Output", "Problem", "RngLike", "Solution", "Solver", "as_generator",
           "error_weights", "get_entry", "make_solver", "register", "resolve_rng", "solver_names"]
