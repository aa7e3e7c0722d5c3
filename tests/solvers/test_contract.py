"""The contract every registered solver keeps (run against the whole registry)."""

import numpy as np
import pytest

from solvers import Problem, Solution, get_entry, make_solver, solver_names


@pytest.fixture(scope="module")
def problem():
    # 288 pins (the default, which shipped learned checkpoints are trained for) on a small canvas
    return Problem.create("camera", pins=288, lines=50, canvas=96)


def quick(name):
    return make_solver(name, **get_entry(name).cls.quick_options)


@pytest.mark.parametrize("name", solver_names())
def test_solver_contract(name, problem):
    solver = quick(name)
    sol = solver.solve(problem, rng=7)
    assert isinstance(sol, Solution)
    assert sol.solver == name
    # budget respected, valid chord ids
    assert sol.chords.dtype == np.int32 and sol.chords.shape == (problem.n_lines,)
    cs = problem.chords
    assert sol.chords.min() >= 0 and sol.chords.max() < cs.n_chords
    # min_gap respected
    a, b = cs.pin_a[sol.chords], cs.pin_b[sol.chords]
    assert np.all(problem.layout.circular_distance(a, b) >= problem.min_gap)
    # no chord twice unless the problem allows it
    if not problem.allow_repeats:
        assert len(np.unique(sol.chords)) == len(sol.chords)
    # one continuous thread when the solver claims it
    if type(solver).continuous:
        assert sol.path is not None and sol.path.shape == (problem.n_lines + 1,)
        np.testing.assert_array_equal(cs.path_to_chords(sol.path), sol.chords)
    assert sol.seconds >= 0
    img = sol.render()
    assert img.shape == problem.target.image.shape and 0 <= img.min() <= img.max() <= 1
    # same seed, same result
    again = quick(name).solve(problem, rng=7)
    np.testing.assert_array_equal(sol.chords, again.chords)


def test_registry_refuses_duplicates_and_unknown_names():
    from rendering import InputError
    from solvers import register
    from solvers.baseline import RandomSolver

    with pytest.raises(ValueError, match="a solver named 'random' is already registered"):
        register("random", RandomSolver)
    with pytest.raises(InputError, match="unknown solver 'nope'; choose one of: random"):
        make_solver("nope")


def test_random_baseline_respects_repeats_flag():
    p = Problem.create("camera", pins=8, lines=30, canvas=32, min_gap=2, allow_repeats=True)
    sol = make_solver("random").solve(p, rng=1)
    assert sol.n_lines == 30  # more lines than the 20 chords: repeats allowed
    seeds = {tuple(make_solver("random").solve(p, rng=s).chords) for s in range(3)}
    assert len(seeds) == 3


def test_config_errors_name_the_registered_solver():
    from rendering import InputError

    with pytest.raises(InputError, match="bad option for solver random: .*its options are: none"):
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
