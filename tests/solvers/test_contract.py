"""The contract every registered solver keeps (run against the whole registry)."""

import pytest

from solvers import Problem, get_entry, make_solver, solver_names
from solvers.testing import check_dead_ends, check_solver, contract_problem


@pytest.fixture(scope="module")
def problem():
    return contract_problem()


@pytest.mark.parametrize("name", solver_names())
def test_solver_contract(name, problem):
    check_solver(name, problem)


@pytest.mark.parametrize("name", solver_names())
def test_solver_contract_at_dead_ends(name):
    check_dead_ends(name)


def test_the_contract_catches_a_broken_solver(problem):
    from dataclasses import dataclass

    from solvers import Output, Solver, registry

    @registry.register("test-repeats")
    class Repeats(Solver):
        """Winds one chord over and over: breaks the no-repeat rule."""

        @dataclass(frozen=True, kw_only=True)
        class Config:
            pass

        def run(self, problem, rng):
            a, b = problem.chords.pins(0)
            return Output(path=[a, b] * (problem.n_lines // 2) + [a] * (problem.n_lines % 2 + 1))

    try:
        with pytest.raises(AssertionError, match="draws a chord twice"):
            check_solver("test-repeats", problem)
    finally:
        del registry._REGISTRY["test-repeats"]


def test_variants_carry_their_registered_name():
    from solvers.greedy import GreedySolver
    from solvers.view import GreedyViewSolver

    assert GreedySolver().name == "greedy"
    seed = make_solver("greedy-sum")
    assert seed.name == "greedy-sum" and isinstance(seed, GreedySolver) and seed.config.score == "sum"
    assert get_entry("greedy-sum").cls().config == seed.config
    view = make_solver("greedy-view")
    assert view.name == "greedy-view" and isinstance(view, GreedyViewSolver) and view.config.scale == 4


def test_registry_refuses_duplicates_and_unknown_names():
    from rendering import InputError
    from solvers import register
    from solvers.baseline import RandomSolver

    with pytest.raises(ValueError, match="a solver named 'random' is already registered"):
        register("random", RandomSolver)
    with pytest.raises(InputError, match="unknown solver 'nope'; choose one of: random, greedy"):
        make_solver("nope")


def test_random_baseline_respects_repeats_flag():
    p = Problem.create("camera", pins=8, lines=30, canvas=32, min_gap=2, allow_repeats=True)
    sol = make_solver("random").solve(p, rng=1)
    assert sol.n_lines == 30  # more lines than the 20 chords: repeats allowed
    seeds = {tuple(make_solver("random").solve(p, rng=s).chords) for s in range(3)}
    assert len(seeds) == 3


def test_config_errors_name_the_registered_solver():
    from rendering import InputError

    with pytest.raises(InputError, match="unknown option 'colour' for solver random; its options are: none"):
        make_solver("random", colour="red")


def test_a_broken_plugin_does_not_break_the_registry(monkeypatch):
    from importlib import metadata

    from solvers import registry

    broken = metadata.EntryPoint(name="broken", value="no_such_module_xyz", group="stringart.solvers")
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    monkeypatch.setattr(registry, "_plugin_errors", {})
    monkeypatch.setattr(registry.metadata, "entry_points", lambda group: [broken])
    with pytest.warns(RuntimeWarning, match="solver plugin 'broken'"):
        names = registry.solver_names()
    assert "random" in names and "broken" in registry.plugin_errors()


@pytest.mark.parametrize("name", [n for n in solver_names() if get_entry(n).cls.colours])
def test_colour_solver_contract(name):
    from solvers.testing import check_colour_solver

    sol = check_colour_solver(name)
    assert len(sol.paths) == 3 and sol.render().shape == (96, 96, 3)


def test_grey_solvers_refuse_colour_threads():
    from rendering import InputError
    from solvers.testing import colour_contract_problem

    with pytest.raises(InputError, match="draws one black thread on white; .*use a solver that draws any threads"):
        make_solver("greedy").solve(colour_contract_problem())
