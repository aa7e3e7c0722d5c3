"""The refiner's picture objective (``objective="ssim"``, ``greedy-view+refine``): exact SSIM kept current."""

import numpy as np
import pytest
from scipy.ndimage import uniform_filter
from skimage.metrics import structural_similarity

from rendering import InputError
from rendering.raster import view_scale
from solvers import Problem, make_solver
from solvers import _greedy_kernels as K
from solvers import _ssim_kernels as KS
from solvers import error_weights
from solvers.baseline import random_path
from solvers.refine import refine_path, refine_ssim_path


def _state(G, seed, mw=None, wl=None):
    """Packed block and window state (``KS.B_*``, ``KS.W_*`` columns) for random block means."""
    rng = np.random.default_rng(seed)
    BS = np.zeros((G * G, 8))
    BS[:, KS.B_X] = rng.uniform(0.2, 1.0, G * G)
    BS[:, KS.B_Y] = np.clip(BS[:, KS.B_X] + rng.normal(0, 0.2, G * G), 0, 1)
    BS[:, KS.B_WL] = 0.0 if wl is None else wl
    W = np.zeros((G * G, 8))
    W[:, KS.W_MW] = 0.0 if mw is None else mw
    ridx, rmul = KS.window_reach(G)
    KS._windows_init(BS, G, ridx, rmul, W)
    return BS, W, ridx, rmul


@pytest.mark.parametrize("G", [7, 10])
def test_windows_are_scikit_images_ssim(G):
    BS, W, _, _ = _state(G, 0)
    X, Y = BS[:, KS.B_X].reshape(G, G), BS[:, KS.B_Y].reshape(G, G)
    np.testing.assert_allclose(W[:, KS.W_SX], uniform_filter(X, 7, mode="reflect").ravel() * 49, atol=1e-10)
    np.testing.assert_allclose(W[:, KS.W_SXY], uniform_filter(X * Y, 7, mode="reflect").ravel() * 49, atol=1e-10)
    _, smap = structural_similarity(Y, X, data_range=1.0, full=True, win_size=7)
    np.testing.assert_allclose(W[:, KS.W_S], smap.ravel(), atol=1e-9)


def test_window_reach_and_rows_are_one_relation():
    G = 9
    idx, mult = KS.window_reach(G)
    rows = KS.window_rows(G)
    for u in range(G):
        for k in range(7):
            if idx[u, k] >= 0:
                assert np.count_nonzero(rows[idx[u, k]] == u) == mult[u, k]
    assert mult.sum() == 7 * G  # every window spans 7 rows, repeats counted


def test_gradient_is_the_derivative_of_the_objective():
    G = 9
    mw = np.zeros(G * G)
    mw[np.random.default_rng(2).random(G * G) < 0.7] = 1.0
    mw /= mw.sum()
    wl = np.full(G * G, 30.0 / (G * G))
    BS, W, ridx, rmul = _state(G, 1, mw, wl)
    xs, ys = BS[:, KS.B_X].copy(), BS[:, KS.B_Y]

    def J(x):
        B2 = BS.copy()
        B2[:, KS.B_X] = x
        W2 = W.copy()
        KS._windows_init(B2, G, ridx, rmul, W2)
        return float(mw @ W2[:, KS.W_S]) - float(wl @ (x - ys) ** 2)

    h = np.zeros(G * G)
    KS._gradient(BS, G, ridx, rmul, W, np.zeros((G * G, 4)), h)
    eps = 1e-6
    for b in (0, 4, G + 1, G * G // 2, G * G - 1):
        e = np.zeros(G * G)
        e[b] = eps
        fd = (J(xs + e) - J(xs - e)) / (2 * eps)
        assert h[b] / xs[b] == pytest.approx(fd, rel=1e-5, abs=1e-9)


def _fresh_objective(problem, path, scale, tone_weight):
    """J and SSIM computed from scratch in float64: the thread rendered, block-averaged, scikit-image's SSIM."""
    chords = problem.chords.path_to_chords(path).astype(np.int64)
    table = problem.table
    B = np.empty(table.n_pixels)
    blk = np.zeros(table.n_pixels, dtype=np.int64)
    c = problem.layout.canvas
    K._refine_state(table.indptr, table.pixel, table.coverage, chords, B, float(problem.thread.opacity), blk,
                    np.zeros(1))
    X = B.reshape(c, c).reshape(c // scale, scale, c // scale, scale).mean(axis=(1, 3))
    T = np.where(problem.mask, problem.target.image, 1.0).astype(np.float64)
    Y = T.reshape(c // scale, scale, c // scale, scale).mean(axis=(1, 3))
    mv = view_scale(problem.mask.astype(np.float32), scale) >= 0.5
    _, smap = structural_similarity(Y, X, data_range=1.0, full=True, win_size=7)
    ssim = float(smap[mv].mean())
    W = error_weights(problem).astype(np.float64).reshape(c // scale, scale, c // scale, scale).mean(axis=(1, 3))
    mse = float(np.sum(W * (X - Y) ** 2) / W.sum())  # the error weights' block means (rim blocks in part)
    return ssim, ssim - tone_weight * mse


def test_refinement_keeps_the_exact_objective_and_raises_it():
    problem = Problem.create("camera", pins=48, lines=400, canvas=96)
    start = make_solver("greedy-view").solve(problem).path
    path, info = refine_ssim_path(problem, start, sweeps=2, shortlist=2)
    assert path.shape == start.shape and info["refine_moves"] > 0
    chords = problem.chords.path_to_chords(path)
    assert len(set(chords.tolist())) == chords.size  # one valid thread, no chord twice
    for p, when in ((start, "before"), (path, "after")):
        ssim, J = _fresh_objective(problem, p, 4, info["refine_tone_weight"])
        assert info[f"refine_ssim_{when}"] == pytest.approx(ssim, abs=1e-9)
        assert -info[f"refine_error_{when}"] == pytest.approx(J, abs=1e-9)
    assert info["refine_error_after"] < info["refine_error_before"]
    assert np.all(np.diff(info["refine_history"]) <= 0) and info["refine_history"][1] < info["refine_history"][0]
    assert info["refine_history"][-1] == pytest.approx(info["refine_error_after"], abs=1e-9)


def test_greedy_view_refine_raises_the_benchmark_ssim_and_holds_the_tone():
    problem = Problem.create("camera", pins=64, lines=800, canvas=128)
    view = make_solver("greedy-view").solve(problem)
    refined = make_solver("greedy-view+refine").solve(problem)
    assert refined.solver == "greedy-view+refine" and refined.n_lines == view.n_lines
    assert refined.extra["refine_objective"] == "ssim" and refined.extra["refine_tried"] <= 4000
    assert refined.extra["refine_sweeps"] > 1  # 801 pins a sweep: the 4000-pin budget allows several
    a, b = view.scores(), refined.scores()
    assert b["ssim"] > a["ssim"] + 0.005
    assert b["l1"] < a["l1"] + 0.01
    # without the tone term the thread drifts from the tone: a larger squared error
    free, _ = refine_ssim_path(problem, view.path, tone_weight=0.0, shortlist=2)
    ssim_h, j_h = _fresh_objective(problem, refined.path, 4, 1.0)
    ssim_f, j_f = _fresh_objective(problem, free, 4, 1.0)
    assert ssim_f - j_f > 1.2 * (ssim_h - j_h)


def test_shortlist_of_everything_is_exhaustive():
    problem = Problem.create("camera", pins=24, lines=60, canvas=48)
    start = random_path(problem, np.random.default_rng(2))
    a, _ = refine_ssim_path(problem, start, shortlist=0)
    b, _ = refine_ssim_path(problem, start, shortlist=1000)
    np.testing.assert_array_equal(a, b)


def test_tiny_canvas_lowers_the_scale_as_the_metric_does():
    problem = Problem.create("camera", pins=16, lines=30, canvas=24)
    path, info = refine_ssim_path(problem, random_path(problem, np.random.default_rng(0)))
    assert info["refine_scale"] == 3 and path.size == 31


def test_bad_objective_and_tone_weight_are_one_line_errors():
    problem = Problem.create("camera", pins=24, lines=30, canvas=48)
    start = random_path(problem, np.random.default_rng(0))
    with pytest.raises(InputError, match="objective must be one of error, ssim"):
        refine_path(problem, start, objective="psnr")
    with pytest.raises(InputError, match="tone_weight must be at least 0"):
        refine_path(problem, start, objective="ssim", tone_weight=-1)
    with pytest.raises(InputError, match="refine_tone_weight must be at least 0"):
        make_solver("greedy-view+refine", refine_tone_weight=-1)
    with pytest.raises(InputError, match="once=True"):
        refine_ssim_path(problem, np.r_[start[:3], start[1:3]])


def test_pin_budget_spans_sweeps_and_stops_mid_sweep():
    from solvers.refine import _sweeps

    seen = []

    def step(m0, m1):
        seen.append((m0, m1))
        return 1.0

    gains, out = _sweeps(step, 101, 8, 64, None, 0.0, stop_below=0.0, max_pins=250)
    assert sum(m1 - m0 for m0, m1 in seen) == 250 and len(gains) == 3 and not out
    assert seen[-1] == (0, 48)  # the third sweep stops after 48 pins
    seen.clear()
    gains, _ = _sweeps(step, 101, 2, 64, None, 0.0, stop_below=0.0)  # no budget: whole sweeps
    assert sum(m1 - m0 for m0, m1 in seen) == 202 and len(gains) == 2


def test_greedy_view_refine_visits_the_same_number_of_pins_at_any_line_count():
    for lines in (150, 300):
        problem = Problem.create("camera", pins=48, lines=lines, canvas=96)
        sol = make_solver("greedy-view+refine", refine_pins=600).solve(problem)
        assert sol.extra["refine_tried"] == 600
    with pytest.raises(InputError, match="refine_pins must be at least 1"):
        make_solver("greedy-view+refine", refine_pins=0)
