"""The genetic-algorithm solver: valid operators, incremental fitness = full recomputation, determinism, budgets."""

import numpy as np
import pytest

from rendering import InputError
from solvers import Problem, make_solver
from solvers import ga  # noqa: F401  (registers "ga" and "greedy+ga")
from solvers.ga import GAConfig, _Population, path_fitness, random_paths, solve_ga


def reference_fitness(problem: Problem, path, view: int = 1) -> float:
    """Obviously-correct NumPy version: multiply every pass (float64 products), weighted squared error in the frame.

    With ``view > 1``: the error between ``view x view`` block means (canvas padded white, weight 0),
    target white outside the frame, each block weighted by its mean pixel weight.
    """
    table = problem.table
    chords = problem.chords.path_to_chords(path)
    bright = np.ones(table.n_pixels, dtype=np.float64)
    for c in chords:
        s, e = table.indptr[c], table.indptr[c + 1]
        # the pass factor in float32, as rendering.render computes it
        factor = np.float32(1.0) - np.float32(problem.thread.opacity) * table.coverage[s:e]
        np.multiply.at(bright, table.pixel[s:e], np.maximum(factor, np.float32(1e-9)).astype(np.float64))
    w = problem.mask.astype(np.float64).ravel() * problem.target.weight_map.ravel()
    t = problem.target.image.ravel().astype(np.float64)
    if view == 1:
        return float(np.sum(w * (bright - t) ** 2))
    canvas = problem.layout.canvas
    side = -(-canvas // view) * view

    def blocks(a, fill):
        img = np.full((side, side), fill, dtype=np.float64)
        img[:canvas, :canvas] = a.reshape(canvas, canvas)
        return img.reshape(side // view, view, side // view, view).mean(axis=(1, 3))

    t_white = np.where(problem.mask.ravel(), t, 1.0)
    return float(np.sum(blocks(w, 0.0) * (blocks(bright, 1.0) - blocks(t_white, 1.0)) ** 2))


def check_path(problem: Problem, path):
    path = np.asarray(path)
    assert path.shape == (problem.n_lines + 1,)
    chords = problem.chords.path_to_chords(path)  # raises on a disallowed step (min_gap)
    if not problem.allow_repeats:
        assert np.unique(chords).size == chords.size, "a chord is used twice"
    return chords


@pytest.fixture(scope="module")
def tiny():
    return Problem.create("camera", pins=24, lines=40, canvas=48, min_gap=3)


@pytest.mark.parametrize("view", [1, 4])
def test_operators_keep_paths_valid_and_state_exact(tiny, view):
    """Every offspring (heavy crossover and mutation) is a valid thread, and is scored exactly."""
    cfg = GAConfig(population=6, offspring=24, crossover=0.7, mutations=3, parallel=False, view=view)
    pop = _Population(tiny, random_paths(tiny, cfg.population, 0), cfg)
    rng = np.random.default_rng(1)
    crossed = 0
    for _g in range(12):
        pop.breed(rng, cfg.offspring)
        for o in range(cfg.offspring):
            child = pop.offspring_path(o)
            check_path(tiny, child)
            if np.isfinite(pop.out_fit[o]):
                assert pop.out_fit[o] == pytest.approx(reference_fitness(tiny, child, view), rel=1e-9)
                base = pop.paths[pop.out_base[o]]
                crossed += int(np.count_nonzero(child != base) > cfg.mutations)
            else:  # a clone of its base: no change
                np.testing.assert_array_equal(child, pop.paths[pop.out_base[o]])
        pop.select(cfg.offspring)
        for i in range(cfg.population):
            chords = check_path(tiny, pop.paths[i])
            np.testing.assert_array_equal(pop.counts[i], np.bincount(chords, minlength=tiny.chords.n_chords))
            assert pop.fit[i] == pytest.approx(reference_fitness(tiny, pop.paths[i], view), rel=1e-9)
            if view > 1:  # the kept block means are those of the kept brightness
                np.testing.assert_allclose(pop.means[i], pop.bright[i].reshape(-1, view * view).mean(axis=1),
                                           rtol=0, atol=1e-12)
    assert crossed > 0, "no crossover produced a multi-pin change"


def test_repeats_allowed_problem_stays_valid():
    p = Problem.create("camera", pins=8, lines=30, canvas=32, min_gap=2, allow_repeats=True)
    path, history, _ = solve_ga(p, config=GAConfig(population=4, offspring=16, generations=20, crossover=0.5),
                                rng=3)
    chords = check_path(p, path)
    assert chords.size == 30 and np.unique(chords).size < 30  # 30 lines from 20 chords repeat some
    assert path_fitness(p, path) == pytest.approx(history[-1], rel=1e-9)


def test_path_fitness_matches_reference_with_importance_and_opacity():
    from rendering import ThreadModel

    base = Problem.create("astronaut", pins=32, lines=60, canvas=64, thread=ThreadModel(thread_mm=2.0, opacity=0.7))
    imp = np.random.default_rng(0).random(base.target.image.shape).astype(np.float32)
    p = Problem(target=base.target.with_weights(imp), layout=base.layout, thread=base.thread, n_lines=60,
                min_gap=base.min_gap)
    path = random_paths(p, 1, 5)[0]
    assert path_fitness(p, path) == pytest.approx(reference_fitness(p, path), rel=1e-9)
    for view in (2, 4, 32):
        assert path_fitness(p, path, view=view) == pytest.approx(reference_fitness(p, path, view), rel=1e-9)
    # and it is the squared error of the project's renderer (float32) inside the frame
    from rendering import render

    img = render(p.table, p.chords.path_to_chords(path), opacity=0.7).astype(np.float64)
    direct = float(np.sum(imp * p.mask * (img - p.target.image) ** 2))
    assert path_fitness(p, path) == pytest.approx(direct, rel=1e-4)


def test_random_paths_respect_constraints(tiny):
    paths = random_paths(tiny, 5, 0)
    for path in paths:
        check_path(tiny, path)
    np.testing.assert_array_equal(paths, random_paths(tiny, 5, 0))
    assert len({tuple(p) for p in paths}) == 5


def test_ga_improves_and_history_is_best_per_generation(tiny):
    sol = make_solver("ga", population=6, offspring=24, generations=30).solve(tiny, rng=0)
    check_path(tiny, sol.path)
    h = sol.history
    assert h.shape == (31,) and sol.extra["generations"] == 30
    assert np.all(np.diff(h) <= 0), "elitism: the best never gets worse"
    assert h[-1] < h[0]
    assert h[-1] == pytest.approx(reference_fitness(tiny, sol.path), rel=1e-9)


def test_deterministic_for_a_seed_and_thread_count(tiny):
    kw = dict(population=5, offspring=20, generations=15, crossover=0.5, mutations=2)
    a = make_solver("ga", **kw).solve(tiny, rng=11)
    b = make_solver("ga", **kw).solve(tiny, rng=11)
    c = make_solver("ga", parallel=False, **kw).solve(tiny, rng=11)
    np.testing.assert_array_equal(a.path, b.path)
    np.testing.assert_array_equal(a.path, c.path)
    np.testing.assert_array_equal(a.history, c.history)
    d = make_solver("ga", **kw).solve(tiny, rng=12)
    assert not np.array_equal(a.path, d.path)


def test_budgets_respected(tiny):
    # evaluations: exact, even mid-generation
    path, history, info = solve_ga(tiny, config=GAConfig(population=4, offspring=10, generations=100,
                                                         evaluations=35), rng=0)
    assert info["evaluations"] == 35 and info["generations"] == 4 and history.size == 5
    # generations
    _, history, info = solve_ga(tiny, config=GAConfig(population=4, offspring=10, generations=3), rng=0)
    assert info["generations"] == 3 and info["evaluations"] == 30 and history.size == 4
    # zero generations: the best of the initial population
    path, history, info = solve_ga(tiny, config=GAConfig(population=4, generations=0), rng=0)
    assert info["evaluations"] == 0 and history.size == 1
    # wall seconds: stops long before an enormous generation cap (a generation here takes about a millisecond)
    import time

    t0 = time.perf_counter()
    _, history, info = solve_ga(tiny, config=GAConfig(population=4, offspring=10, generations=10**9,
                                                      seconds=0.2), rng=0)
    assert time.perf_counter() - t0 < 10.0
    assert info["generations"] < 10**9 and history.size == info["generations"] + 1


def test_seeded_from_a_path_is_never_worse(tiny):
    seed = random_paths(tiny, 1, 4)[0]
    seed_fit = path_fitness(tiny, seed)
    path, history, info = solve_ga(tiny, config=GAConfig(population=4, offspring=16, generations=10), rng=0,
                                   initial=seed)
    assert history[0] == pytest.approx(seed_fit, rel=1e-12)
    assert path_fitness(tiny, path) <= seed_fit
    with pytest.raises(InputError, match="n_lines \\+ 1 = 41 pins"):
        solve_ga(tiny, config=GAConfig(generations=1), initial=seed[:-1])


def test_greedy_ga_never_worse_than_its_greedy_seed():
    p = Problem.create("camera", pins=48, lines=120, canvas=64)
    for seed in (0, 1):
        sol = make_solver("greedy+ga", ga_population=6, ga_offspring=24, ga_generations=25).solve(p, rng=seed)
        check_path(p, sol.path)
        seed_fit = sol.extra["initial_fitness"]
        greedy = make_solver("greedy").solve(p, rng=int(np.random.default_rng(seed).integers(2**63 - 1)))
        assert seed_fit == pytest.approx(path_fitness(p, greedy.path), rel=1e-9)
        assert sol.history[-1] <= seed_fit
        assert path_fitness(p, sol.path) == pytest.approx(sol.history[-1], rel=1e-9)


@pytest.mark.parametrize("kw, match", [
    (dict(population=0), "population must be"),
    (dict(crossover=1.5), "crossover must be"),
    (dict(mutations=0, crossover=0.0), "makes no new individuals"),
    (dict(seconds=0), "seconds must be"),
    (dict(evaluations=0), "evaluations must be"),
    (dict(tournament=0), "tournament must be"),
    (dict(view=3), "view must be a power of two"),
    (dict(view=64), "view must be"),
])
def test_config_errors_are_one_line(kw, match):
    with pytest.raises(InputError, match=match) as e:
        GAConfig(**kw)
    assert "\n" not in str(e.value)


def test_unknown_option_and_non_continuous_problem(tiny):
    with pytest.raises(InputError, match="unknown option 'popsize' for solver ga; its options are: population, "):
        make_solver("ga", popsize=3)
    import dataclasses

    with pytest.raises(InputError, match="continuous=True"):
        solve_ga(dataclasses.replace(tiny, continuous=False), config=GAConfig(generations=1))


def test_tiled_order_is_a_permutation_of_whole_tiles():
    from rendering.derived import tiled_order

    for canvas, tile in ((64, 32), (48, 32), (10, 4)):
        perm, size = tiled_order(canvas, tile)
        assert size == (-(-canvas // tile) * tile) ** 2
        assert perm.shape == (canvas * canvas,) and np.unique(perm).size == perm.size
        assert perm.min() >= 0 and perm.max() < size
    perm, _ = tiled_order(8, 4)  # first tile in Z order: (0,0) (0,1) (1,0) (1,1) (0,2) ...
    assert [int(perm[r * 8 + c]) for r, c in ((0, 0), (0, 1), (1, 0), (1, 1), (0, 2), (2, 0), (0, 4))] == \
        [0, 1, 2, 3, 4, 8, 16]


def test_tiled_and_row_major_states_score_alike(tiny):
    cfg = GAConfig(population=4, offspring=16, crossover=0.5, mutations=2, parallel=False)
    paths = random_paths(tiny, cfg.population, 2)
    a = _Population(tiny, paths, cfg, tiled=True)
    b = _Population(tiny, paths, cfg, tiled=False)
    np.testing.assert_allclose(a.fit, b.fit, rtol=1e-12)
    a.breed(np.random.default_rng(0), 16)
    b.breed(np.random.default_rng(0), 16)
    np.testing.assert_array_equal(a.out_pos, b.out_pos)
    np.testing.assert_allclose(a.out_fit, b.out_fit, rtol=1e-12)


# ---------------------------------------------------------------------------- device option
def test_device_option_is_validated():
    assert GAConfig().device == "cpu"
    with pytest.raises(InputError, match="device must be one of auto, cpu, cuda, got 'gpu'") as e:
        make_solver("ga", device="gpu")
    assert "\n" not in str(e.value)


def test_cpu_and_auto_agree_here_and_cuda_without_gpu_is_refused():
    from rendering.device import cuda_available, resolve_device

    problem = Problem.create("camera", pins=24, lines=30, canvas=48)
    opts = dict(population=3, offspring=6, generations=3)
    cpu = make_solver("ga", device="cpu", **opts).solve(problem, rng=1)
    auto = make_solver("ga", device="auto", **opts).solve(problem, rng=1)
    assert cpu.extra["device"] == "cpu"
    if resolve_device("auto") == "cpu":
        np.testing.assert_array_equal(auto.path, cpu.path)
    if not cuda_available():
        with pytest.raises(InputError, match="device 'cuda' was asked") as e:
            make_solver("ga", device="cuda", **opts).solve(problem, rng=1)
        assert "\n" not in str(e.value)


_SIM_CHECK = """
import numpy as np
import pytest
from solvers import Problem, make_solver
from solvers import ga  # noqa: F401
problem = Problem.create("camera", pins=12, lines=6, canvas=24, min_gap=2)
opts = dict(population=3, offspring=4, generations=2, parallel=False)
gpu = make_solver("ga", device="cuda", **opts).solve(problem, rng=3)
cpu = make_solver("ga", device="cpu", **opts).solve(problem, rng=3)
assert gpu.extra["device"] == "cuda", gpu.extra
np.testing.assert_allclose(gpu.extra["initial_fitness"], cpu.extra["initial_fitness"], rtol=1e-12)
np.testing.assert_array_equal(gpu.path, cpu.path)
with pytest.raises(Exception, match="not supported on cuda yet"):  # view=4 on cuda is refused
    make_solver("ga", device="cuda", view=4, **opts).solve(problem, rng=3)
print("SIM OK")
"""


def test_cuda_population_fitness_under_the_simulator(run_cuda_sim_script):
    run_cuda_sim_script(_SIM_CHECK)
