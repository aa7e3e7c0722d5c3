"""The contract every solver keeps: a suite plugin authors can run on their own solvers.

Like ``optuna.testing``, this ships with the package so that a solver written
elsewhere (registered through the ``stringart.solvers`` entry point) can be
held to the same contract as the built-in ones. It needs no test framework:
:func:`check_solver` raises :class:`AssertionError` with what broke.

Examples
--------
In a plugin's test suite::

    import pytest
    from solvers import solver_names
    from solvers.testing import check_solver

    @pytest.mark.parametrize("name", ["my-solver"])
    def test_contract(name):
        check_solver(name)

>>> sol = check_solver("random", contract_problem(pins=32, canvas=32, lines=20))
>>> sol.solver, sol.n_lines
('random', 20)
"""

from __future__ import annotations

import numpy as np

from .base import Solver
from .problem import Problem
from .solution import Solution
from .registry import get_entry, make_solver


def contract_problem(*, pins: int = 288, canvas: int = 96, lines: int = 50, **kw) -> Problem:
    """The problem the contract is checked on: camera, 288 pins (what shipped checkpoints are trained for)
    on a small canvas; keyword arguments go to :meth:`Problem.create`."""
    return Problem.create("camera", pins=pins, lines=lines, canvas=canvas, **kw)


def colour_contract_problem(*, pins: int = 96, canvas: int = 96, lines: int = 60, **kw) -> Problem:
    """The colour contract's problem: astronaut in three threads (black, red, #1e90ff) on white."""
    kw.setdefault("colors", "black,red,#1e90ff")
    return Problem.create("astronaut", pins=pins, lines=lines, canvas=canvas, **kw)


def quick_solver(name: str, **options) -> Solver:
    """The registered solver ``name`` with its ``quick_options`` (a small budget), then ``options``."""
    return make_solver(name, **{**get_entry(name).cls.quick_options, **options})


def check_solution(solution: Solution, problem: Problem, *, continuous: bool) -> None:
    """Raise AssertionError unless ``solution`` is a valid answer to ``problem``.

    Valid: chord ids of the problem within the line budget, every chord at least
    ``min_gap`` pins apart, a palette index per line, no chord twice in one colour
    unless the problem allows repeats, each colour's lines one continuous thread
    (its pin path walking its chords in build order) when ``continuous``, a finite
    non-negative time and a preview in [0, 1] on the problem's canvas.
    """
    assert isinstance(solution, Solution), f"solve returned {type(solution).__name__}, not a Solution"
    chords, colours = solution.chords, solution.colours
    assert chords.dtype == np.int32 and chords.ndim == 1, f"chords must be 1-D int32, got {chords.dtype} {chords.shape}"
    assert chords.size <= problem.n_lines, f"{chords.size} lines drawn, over the budget of {problem.n_lines}"
    assert colours.shape == chords.shape, "colours must give one palette index per line"
    n = problem.palette.n
    assert colours.size == 0 or (colours.min() >= 0 and colours.max() < n), "a colour index outside the palette"
    cs = problem.chords
    if chords.size:
        assert chords.min() >= 0 and chords.max() < cs.n_chords, "chord ids outside the problem's chord set"
        a, b = cs.pin_a[chords], cs.pin_b[chords]
        assert np.all(problem.layout.circular_distance(a, b) >= problem.min_gap), "a chord breaks min_gap"
    if continuous:
        assert solution.paths is not None and len(solution.paths) == n, "each colour must be one continuous thread"
    for k in range(n):
        mine = chords[colours == k]
        if not problem.allow_repeats:
            assert len(np.unique(mine)) == len(mine), f"colour {k} draws a chord twice but the problem forbids repeats"
        if mine.size and continuous:
            np.testing.assert_array_equal(cs.path_to_chords(solution.paths[k]), mine,  # type: ignore[index]  # asserted above
                                          err_msg=f"the path of colour {k} does not walk its chords in build order")
    assert np.isfinite(solution.seconds) and solution.seconds >= 0, f"seconds must be >= 0, got {solution.seconds}"
    img = solution.render()
    assert img.shape[:2] == problem.target.image.shape, f"preview is {img.shape}, not on the canvas"
    assert 0 <= img.min() <= img.max() <= 1, "preview values outside [0, 1]"


def check_solver(name: str, problem: Problem | None = None, *, rng: int = 7, exact_budget: bool = True,
                 **options) -> Solution:
    """Run the contract on the registered solver ``name`` (with its quick options) and return its solution.

    Checks :func:`check_solution`, that the solution records the registered
    name however the solver is made (by name or by its class), that the budget
    is drawn in full when ``exact_budget``, and that the same seed gives the
    same chords.
    """
    problem = problem if problem is not None else contract_problem()
    solver = quick_solver(name, **options)
    sol = solver.solve(problem, rng=rng)
    continuous = type(solver).continuous
    check_solution(sol, problem, continuous=continuous)
    assert sol.solver == name, f"the solution records solver {sol.solver!r}, not its registered name {name!r}"
    assert type(solver)().name == name, "a solver made from its class does not carry its registered name"
    if exact_budget:
        assert sol.n_lines == problem.n_lines, f"{sol.n_lines} lines drawn, {problem.n_lines} asked"
    again = quick_solver(name, **options).solve(problem, rng=rng)
    np.testing.assert_array_equal(sol.chords, again.chords, err_msg="the same seed gave another result")
    return sol


def check_colour_solver(name: str, problem: Problem | None = None, *, rng: int = 7, **options) -> Solution:
    """The contract of a solver of any threads (``Solver.colours``) on a colour problem: :func:`check_solution`
    (every colour's thread continuous, in build order), the budget drawn in full, the same seed the same
    result."""
    problem = problem if problem is not None else colour_contract_problem()
    solver = quick_solver(name, **options)
    assert type(solver).colours, f"solver {name} draws one black thread only (Solver.colours is False)"
    sol = solver.solve(problem, rng=rng)
    check_solution(sol, problem, continuous=type(solver).continuous)
    assert sol.n_lines == problem.n_lines, f"{sol.n_lines} lines drawn, {problem.n_lines} asked"
    again = quick_solver(name, **options).solve(problem, rng=rng)
    np.testing.assert_array_equal(sol.chords, again.chords, err_msg="the same seed gave another result")
    np.testing.assert_array_equal(sol.colours, again.colours, err_msg="the same seed gave other colours")
    return sol


def check_dead_ends(name: str, *, rng: int = 7, **options) -> Solution | None:
    """The contract where a continuous thread runs out of chords: 288 pins with ``min_gap`` 144.

    Every pin then has one chord (to the opposite pin), so one thread can draw a
    single line without repeating a chord. The solver must either return a
    valid solution of at most the budget, no chord twice, with
    :meth:`Solution.shortfall` saying why it is short, or refuse with one
    :class:`rendering.InputError` line. Returns the solution, or None when refused.
    """
    from rendering import InputError

    problem = contract_problem(min_gap=144, lines=10)
    try:
        sol = quick_solver(name, **options).solve(problem, rng=rng)
    except InputError as e:
        assert "\n" not in str(e), "an InputError must be one line"
        return None
    check_solution(sol, problem, continuous=type(quick_solver(name, **options)).continuous)
    if sol.n_lines < problem.n_lines:
        assert sol.shortfall(), "a short solution must say why (Solution.shortfall)"
    return sol
