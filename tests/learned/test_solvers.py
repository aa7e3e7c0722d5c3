"""The learned solvers and the projection baseline keep the solver contract."""

import numpy as np
import pytest
import torch

from learned.decode import decode_path, score_weights
from learned.models import Spec, build_model, save_checkpoint
from learned.inference import projection_scores
from rendering import InputError, render
from solvers import Problem, make_solver, solver_names

SPEC = Spec(n_pins=32, min_gap=3, train_canvas=32, input_size=32)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("ckpt")
    return {"ae-chords": str(save_checkpoint(d / "c.pt", build_model("ae-chords", SPEC, channels=4))),
            "ae-seed": str(save_checkpoint(d / "s.pt", build_model("ae-seed", SPEC, n_threads=30, channels=4)))}


def test_registered_through_the_entry_point():
    names = solver_names()
    for name in ("projection", "ae-chords", "ae-seed"):
        assert name in names


def _check(problem, sol):
    cs = problem.chords
    assert sol.chords.shape == (problem.n_lines,) and sol.path.shape == (problem.n_lines + 1,)
    np.testing.assert_array_equal(cs.path_to_chords(sol.path), sol.chords)
    assert len(np.unique(sol.chords)) == problem.n_lines


@pytest.mark.parametrize("name", ["ae-chords", "ae-seed", "projection"])
def test_contract_on_a_small_setup(tiny_problem, checkpoints, name):
    opts = {"checkpoint": checkpoints[name]} if name in checkpoints else {}
    sol = make_solver(name, **opts).solve(tiny_problem, rng=3)
    _check(tiny_problem, sol)
    assert sol.solver == name and sol.seconds >= 0
    again = make_solver(name, **opts).solve(tiny_problem, rng=4)
    np.testing.assert_array_equal(sol.chords, again.chords)  # deterministic
    img = sol.render()
    assert img.shape == tiny_problem.target.image.shape


def test_mismatched_checkpoint_is_a_one_line_error(checkpoints):
    p = Problem.create("camera", pins=40, lines=20, canvas=64, min_gap=3)
    for name in ("ae-chords", "ae-seed"):
        with pytest.raises(InputError, match="trained for 32 pins, the problem has 40"):
            make_solver(name, checkpoint=checkpoints[name]).solve(p)
    with pytest.raises(InputError, match="checkpoint .* not found"):
        make_solver("ae-chords", checkpoint="/nonexistent/x.pt").solve(p)


def test_projection_finds_a_drawn_chord():
    p = Problem.create("camera", pins=32, lines=5, canvas=64, min_gap=3)
    cid = p.chords.chord_id(2, 17)
    table = p.table
    img = render(table, [cid] * 40)  # a dark line along one chord
    q = Problem.create(img, pins=32, lines=5, canvas=64, min_gap=3)
    s = projection_scores(q)
    assert int(np.argmax(s)) == cid
    sol = make_solver("projection").solve(q)
    assert cid in sol.chords


def test_decoder_follows_the_score_weights(tiny_problem):
    cs = tiny_problem.chords
    rng = np.random.default_rng(0)
    scores = 3 * rng.standard_normal(cs.n_chords)
    w = score_weights(scores, 30)
    assert w.sum() == pytest.approx(30, rel=1e-6) and (w > 0).all() and (w < 1).all()
    assert np.array_equal(np.argsort(w, kind="stable"), np.argsort(scores, kind="stable"))  # monotone
    path = decode_path(cs, scores, 30)
    chords = cs.path_to_chords(path)
    assert len(np.unique(chords)) == 30
    assert w[chords].mean() > 2 * w.mean()  # mostly the wanted chords
    with pytest.raises(InputError, match="scores must be"):
        decode_path(cs, scores[:-1], 10)
    # with repeats allowed the thread can go on past every chord
    path = decode_path(cs, scores, cs.n_chords + 10, allow_repeats=True)
    assert path.size == cs.n_chords + 11


def test_ae_greedy_is_greedy_guided_by_the_model(tiny_problem, checkpoints):
    from solvers.greedy import GreedySolver

    assert "ae+greedy" in solver_names()
    ck = checkpoints["ae-chords"]
    sol = make_solver("ae+greedy", checkpoint=ck).solve(tiny_problem, rng=1)
    _check(tiny_problem, sol)
    assert sol.solver == "ae+greedy" and sol.extra["guide_candidates"] == 16
    assert sol.config["lead"] == 1500 and sol.config["sigma"] == 0.5
    # one candidate leading the whole thread with the decoder's blur: the model's own decoded thread
    one = make_solver("ae+greedy", checkpoint=ck, candidates=1, lead=None, sigma=1.0).solve(tiny_problem)
    np.testing.assert_array_equal(one.path, make_solver("ae-chords", checkpoint=ck).solve(tiny_problem).path)
    # every candidate: greedy from the same start; no lead: plain greedy
    every = make_solver("ae+greedy", checkpoint=ck, candidates=tiny_problem.layout.n_pins).solve(tiny_problem)
    np.testing.assert_array_equal(every.path, GreedySolver(start_pin=int(every.path[0])).solve(tiny_problem).path)
    zero = make_solver("ae+greedy", checkpoint=ck, lead=0).solve(tiny_problem)
    np.testing.assert_array_equal(zero.path, GreedySolver().solve(tiny_problem).path)
    # a short lead: the model's candidates for those lines, then greedy (the same start as the long lead)
    short = make_solver("ae+greedy", checkpoint=ck, lead=5).solve(tiny_problem)
    assert short.extra["guide_lines"] == 5
    np.testing.assert_array_equal(short.path[:6], sol.path[:6])
    with pytest.raises(InputError, match="candidates must be at least 1"):
        make_solver("ae+greedy", candidates=0)
    with pytest.raises(InputError, match="lead must be at least 0"):
        make_solver("ae+greedy", lead=-5)


def test_projection_greedy_is_ae_greedy_led_by_the_projection(tiny_problem):
    from learned.inference import refined_projection_scores
    from learned.decode import scores_guide
    from solvers.greedy import GreedySolver

    sol = make_solver("projection+greedy").solve(tiny_problem)
    _check(tiny_problem, sol)
    assert sol.solver == "projection+greedy" and sol.extra["guide_lines"] <= 1500
    scores = refined_projection_scores(tiny_problem, steps=2)
    guide = scores_guide(tiny_problem.chords, scores, tiny_problem.n_lines, sigma=0.5, candidates=16, lead=1500)
    np.testing.assert_array_equal(sol.path, GreedySolver().solve(tiny_problem, hint=guide).path)
    # the projection's scores alone (no refinement) lead too
    plain = make_solver("projection+greedy", refine_steps=0).solve(tiny_problem)
    guide0 = scores_guide(tiny_problem.chords, refined_projection_scores(tiny_problem, steps=0), tiny_problem.n_lines,
                          sigma=0.5, candidates=16, lead=1500)
    np.testing.assert_array_equal(plain.path, GreedySolver().solve(tiny_problem, hint=guide0).path)
