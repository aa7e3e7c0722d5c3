"""Chord-space guides: the density-following decoder and guided greedy, against NumPy references."""

from __future__ import annotations

import numpy as np
import pytest

from rendering import InputError, Target, render
from solvers import ChordGuide, Problem, WarmStart, follow_guide, make_solver
from solvers import error_weights
from solvers.greedy import GreedySolver, chord_scores, greedy_path

from .test_greedy import ref_greedy


def noise_problem(*, pins=24, lines=30, canvas=48, seed=0, **kw) -> Problem:
    img = np.random.default_rng(seed).uniform(0.2, 1.0, (canvas, canvas)).astype(np.float32)
    return Problem.create(Target(img, "noise"), pins=pins, lines=lines, canvas=canvas, **kw)


def ref_residual(cs, weights, kern):
    """Blurred density by explicit shifted sums (wrap-around in both pin indices)."""
    n = cs.n_pins
    W = np.zeros((n, n))
    W[cs.pin_a, cs.pin_b] = weights
    W[cs.pin_b, cs.pin_a] = weights
    r = kern.shape[0] // 2
    R = np.zeros_like(W)
    for a in range(-r, r + 1):
        for b in range(-r, r + 1):
            R += kern[a + r, b + r] * np.roll(np.roll(W, a, axis=0), b, axis=1)
    return R


def ref_follow(cs, guide, n_lines, start):
    """The decoder by brute force: most wanted open partner (lowest pin on ties),
    kernel subtracted around each chord."""
    kern = guide.kernel()
    R = ref_residual(cs, guide.weights, kern)
    n, r = cs.n_pins, kern.shape[0] // 2
    used = np.zeros(cs.n_chords, dtype=bool)
    path = [start]
    for _ in range(n_lines):
        cur = path[-1]
        js = [j for j in range(n) if cs.id_of[cur, j] >= 0 and not used[cs.id_of[cur, j]]]
        j = max(js, key=lambda j: (R[cur, j], -j))
        used[cs.id_of[cur, j]] = True
        for a in range(-r, r + 1):
            for b in range(-r, r + 1):
                R[(cur + a) % n, (j + b) % n] -= kern[a + r, b + r]
                R[(j + a) % n, (cur + b) % n] -= kern[a + r, b + r]
        path.append(j)
    return np.array(path)


@pytest.mark.parametrize("sigma", [0.0, 0.7, 1.5])
def test_follow_guide_matches_reference(sigma):
    p = noise_problem()
    cs = p.chords
    w = np.random.default_rng(1).random(cs.n_chords)
    guide = ChordGuide(w, sigma=sigma)
    assert np.allclose(guide.residual(cs), ref_residual(cs, w, guide.kernel()))
    path = follow_guide(cs, guide, 30)
    assert path[0] == guide.start_pin(cs)
    assert np.array_equal(path, ref_follow(cs, guide, 30, int(path[0])))
    chords = cs.path_to_chords(path)  # raises on a disallowed step
    assert len(np.unique(chords)) == 30


def test_kernel_sums_to_one_and_blur_keeps_the_mass():
    p = noise_problem()
    w = np.random.default_rng(2).random(p.chords.n_chords)
    for sigma in (0.0, 0.5, 2.0):
        g = ChordGuide(w, sigma=sigma)
        assert g.kernel().sum() == pytest.approx(1.0)
        assert g.residual(p.chords).sum() == pytest.approx(2 * w.sum())


def test_follow_guide_traces_a_thread_it_is_given():
    """Weights = the chords of greedy's thread: following them (from its start) draws mostly those chords."""
    p = Problem.create("camera", pins=64, lines=150, canvas=96)
    sol = make_solver("greedy").solve(p)
    w = np.zeros(p.chords.n_chords)
    w[sol.chords] = 1.0
    path = follow_guide(p.chords, ChordGuide(w, sigma=0.0), p.n_lines, start=int(sol.path[0]))
    assert np.isin(p.chords.path_to_chords(path), sol.chords).mean() > 0.8


def test_follow_guide_spreads_instead_of_piling_up():
    """A wanted density of 1/4 thread on each of 40 neighbouring chords gets about 10 of them, not all 40."""
    p = Problem.create("camera", pins=96, lines=60, canvas=96, min_gap=8)
    cs = p.chords
    w = np.full(cs.n_chords, 0.02)
    block = [cs.id_of[i, j] for i in range(10, 15) for j in range(50, 58)]
    w[block] = 0.25
    path = follow_guide(cs, ChordGuide(w, sigma=1.0), p.n_lines)
    drawn = np.isin(cs.path_to_chords(path), block).sum()
    assert 4 <= drawn <= 20


def test_follow_guide_repeats_only_when_allowed():
    p = noise_problem(pins=12, lines=5, canvas=32, min_gap=3)
    cs = p.chords
    g = ChordGuide(np.ones(cs.n_chords))
    path = follow_guide(cs, g, cs.n_chords + 7, allow_repeats=True)
    assert path.size == cs.n_chords + 8
    cs.path_to_chords(path)


def test_guided_greedy_with_every_candidate_is_greedy():
    p = noise_problem()
    g = ChordGuide(np.zeros(p.chords.n_chords), candidates=p.layout.n_pins)
    sol = GreedySolver(start_pin=3).solve(p, hint=g)
    assert np.array_equal(sol.path, ref_greedy(p, start=3))
    assert sol.extra["guide_candidates"] == p.layout.n_pins
    # its history is the true squared error of the rendered thread, as plain greedy's
    plain = GreedySolver(start_pin=3).solve(p)
    assert np.allclose(sol.history, plain.history)


def test_guided_greedy_with_one_candidate_follows_the_guide():
    p = noise_problem()
    w = np.random.default_rng(3).random(p.chords.n_chords)
    g = ChordGuide(w, candidates=1)
    sol = GreedySolver().solve(p, hint=g)
    assert np.array_equal(sol.path, follow_guide(p.chords, g, p.n_lines))


def test_guided_greedy_between_follow_and_greedy():
    """More candidates: closer to greedy's error (the error is monotone in the candidate count here)."""
    p = Problem.create("camera", pins=64, lines=200, canvas=96)
    w = np.random.default_rng(4).random(p.chords.n_chords)
    errs = [GreedySolver().solve(p, hint=ChordGuide(w, candidates=m)).history[-1] for m in (1, 8, 64)]
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] == pytest.approx(GreedySolver(start_pin=int(ChordGuide(w).start_pin(p.chords))).solve(p).history[-1])


def assert_greedy_steps(p, path, first):
    """Steps ``first..`` of ``path`` each take the open chord with the highest exact gain (brute force)."""
    cs = p.chords
    T, W = p.target.image.ravel(), error_weights(p)
    for m in range(first, len(path) - 1):
        state = render(p.table, cs.path_to_chords(path[:m + 1]), opacity=p.thread.opacity).ravel()
        gains = chord_scores(p.table, state, T, W, opacity=p.thread.opacity)
        drawn = set(cs.path_to_chords(path[:m + 1]).tolist())
        cur = int(path[m])
        opts = [int(cs.id_of[cur, j]) for j in range(cs.n_pins) if cs.id_of[cur, j] >= 0
                and int(cs.id_of[cur, j]) not in drawn]
        best = max(gains[c] for c in opts)
        assert gains[cs.id_of[cur, path[m + 1]]] >= best - 1e-9 * max(1.0, abs(best)), f"step {m}"


def test_guided_greedy_leads_then_hands_over_to_greedy():
    p = noise_problem(lines=40)
    w = np.random.default_rng(5).random(p.chords.n_chords)
    led = GreedySolver().solve(p, hint=ChordGuide(w, candidates=3))  # the whole thread led
    part = GreedySolver().solve(p, hint=ChordGuide(w, candidates=3, lead=15))
    assert part.extra["guide_lines"] == 15 and led.extra["guide_lines"] == 40
    np.testing.assert_array_equal(part.path[:16], led.path[:16])  # the same guided start
    assert not np.array_equal(part.path, led.path)
    assert_greedy_steps(p, part.path, 15)  # greedy from there on, every candidate scored
    # its history is still the true error of the thread
    img = render(p.table, p.chords.path_to_chords(part.path), opacity=p.thread.opacity)
    err = float(np.sum(error_weights(p) * (img.ravel().astype(np.float64) - p.target.image.ravel()) ** 2))
    assert part.history[-1] == pytest.approx(err, rel=1e-6)
    assert part.history[-1] < led.history[-1]


def test_guided_greedy_lead_zero_is_greedy_and_a_long_lead_is_the_whole_thread():
    p = noise_problem()
    w = np.random.default_rng(6).random(p.chords.n_chords)
    zero = GreedySolver().solve(p, hint=ChordGuide(w, lead=0))
    plain = GreedySolver().solve(p)
    np.testing.assert_array_equal(zero.path, plain.path)
    np.testing.assert_allclose(zero.history, plain.history)
    assert zero.extra["guide_lines"] == 0
    long = GreedySolver().solve(p, hint=ChordGuide(w, candidates=4, lead=10 * p.n_lines))
    np.testing.assert_array_equal(long.path, GreedySolver().solve(p, hint=ChordGuide(w, candidates=4)).path)


def test_guided_greedy_hands_over_when_its_candidates_stop_helping():
    """Past the tone the target needs, the guide's best candidate darkens too much: greedy takes over there."""
    img = np.full((48, 48), 0.97, dtype=np.float32)
    img[18:30, 18:30] = 0.6
    p = Problem.create(Target(img, "square"), pins=24, lines=100, canvas=48)
    # wanted: the chords through the dark square, as first seen
    w = np.clip(chord_scores(p.table, np.ones(p.table.n_pixels), p.target.image.ravel(), error_weights(p),
                             opacity=p.thread.opacity), 0, None)
    led = GreedySolver().solve(p, hint=ChordGuide(w, candidates=2))
    worse = np.diff(-led.history) <= 0  # the guide's steps that do not lower the error
    assert worse.any()
    k = int(np.argmax(worse))
    assert 0 < k < p.n_lines
    sol = GreedySolver().solve(p, hint=ChordGuide(w, candidates=2, lead=p.n_lines))
    assert sol.extra["guide_lines"] == k
    np.testing.assert_array_equal(sol.path[:k + 1], led.path[:k + 1])
    assert_greedy_steps(p, sol.path, k)
    # with early_stop, greedy (scoring every candidate) decides when to stop
    stop = GreedySolver(config=make_solver("greedy", early_stop=True).config).solve(
        p, hint=ChordGuide(w, candidates=2, lead=p.n_lines))
    assert stop.extra["stop"] == "no gain" and stop.n_lines >= k
    assert np.all(np.diff(stop.history) < 0)


@pytest.mark.parametrize("kw, match", [
    (dict(weights=np.ones(5)), "one value per chord"),
    (dict(weights=-np.ones(1)), "finite and >= 0"),
    (dict(weights=np.array([np.nan])), "finite and >= 0"),
    (dict(weights=np.ones((2, 2))), "1-D array"),
    (dict(weights=np.ones(1), candidates=0), "candidates"),
    (dict(weights=np.ones(1), sigma=-1.0), "sigma"),
    (dict(weights=np.ones(1), lead=-1), "lead must be at least 0"),
    (dict(weights=np.ones(1), lead=2.5), "lead must be an integer"),
])
def test_guide_checks_its_input(kw, match):
    p = noise_problem()
    with pytest.raises(InputError, match=match) as e:
        follow_guide(p.chords, ChordGuide(**kw), 5)
    assert "\n" not in str(e.value)


def test_guide_does_not_mix_with_other_warm_starts():
    p = noise_problem()
    g = ChordGuide(np.ones(p.chords.n_chords))
    with pytest.raises(InputError, match="cannot be combined"):
        greedy_path(p, hint=g, no_return=2)
    # one hint at a time: a guide, or a warm start (the hint types greedy takes are named)
    with pytest.raises(InputError, match="takes no tuple hint; it takes WarmStart, ChordGuide"):
        GreedySolver().solve(p, hint=(g, WarmStart(prior=np.zeros(p.chords.n_chords, dtype=np.float32))))
    with pytest.raises(InputError, match="takes no ndarray hint"):
        GreedySolver().solve(p, hint=np.ones(p.chords.n_chords))
