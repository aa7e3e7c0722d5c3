"""The colour solvers: the joint colour greedy against a brute-force reference, the grey model inside it,
white on black, the dithering baseline, and bad colour input."""

import numpy as np
import pytest

from rendering import InputError
from solvers import Problem, error_weights, make_solver
from solvers.colour import colour_arrays, colour_error, dither, interleave, split_lines


@pytest.fixture(scope="module")
def colour_problem():
    return Problem.create("astronaut", pins=32, lines=150, canvas=48, colors="black,red,#1e90ff")


def test_black_only_palette_draws_the_grey_greedys_chords():
    grey = Problem.create("camera", pins=64, lines=600, canvas=96)
    black = Problem.create("camera", pins=64, lines=600, canvas=96, colors="black")
    g = make_solver("greedy").solve(grey)
    c = make_solver("colour-greedy").solve(black)
    np.testing.assert_array_equal(c.chords, g.chords)
    np.testing.assert_array_equal(c.paths[0], g.path)
    assert c.colours.tolist() == [0] * 600 and c.extra["channels"] == 1
    np.testing.assert_array_equal(c.render(), g.render())  # black on white is the grey model, one channel
    from rendering import render_colour

    col = render_colour(black.table, c.chords, c.colours, black.palette)
    for ch in range(3):  # the colour renderer equals the grey render in every channel, bit for bit
        np.testing.assert_array_equal(col[..., ch], g.render())
    # the default problem is black on white: the same one thread
    one = make_solver("colour-greedy").solve(grey)
    assert np.array_equal(one.path, g.path) and len(one.threads) == 1


def _reference(problem, *, min_run, space):
    """The joint rule, slowly: every candidate's exact gain from the float32 state, each step."""
    nch, T, cols, board = colour_arrays(problem, space)
    table, cs = problem.table, problem.chords
    K = cols.shape[0]
    W = error_weights(problem).astype(np.float64)
    S = np.empty((table.n_pixels, nch), np.float32)
    S[:] = board
    o = np.float32(problem.thread.opacity)
    cov = table.coverage.astype(np.float64)
    starts = table.indptr[:-1]
    used = np.zeros((table.n_chords, K), bool)
    cur = [-1] * K
    colour, run, n = -1, 0, problem.n_lines
    out = []
    for step in range(n):
        left = n - step
        free = colour < 0 or (run >= min_run and left >= min_run)
        gains = []
        for k in range(K):
            s = S.astype(np.float64)
            d, e = s - cols[k], s - T.astype(np.float64)
            g = 2.0 * float(o) * W * np.sum(d * e, axis=1)
            h = float(o) ** 2 * W * np.sum(d * d, axis=1)
            terms = cov * (g[table.pixel] - cov * h[table.pixel])
            gains.append(np.add.reduceat(terms, starts))

        def candidates(eligible):
            got = []
            for k in eligible:
                if cur[k] >= 0:
                    got += [(k, int(cs.id_of[cur[k], j]), j) for j in range(cs.id_of.shape[0])
                            if cs.id_of[cur[k], j] >= 0 and not used[cs.id_of[cur[k], j], k]]
                else:
                    got += [(k, c, -1) for c in range(table.n_chords) if not used[c, k]]
            return got

        cand = candidates([k for k in range(K) if free or k == colour])
        if not cand:
            cand = candidates([k for k in range(K) if k != colour])
        best = max(range(len(cand)), key=lambda i: (gains[cand[i][0]][cand[i][1]], -i))
        k, c, j = cand[best]
        frm, to = (cur[k], j) if cur[k] >= 0 else (int(cs.pin_a[c]), int(cs.pin_b[c]))
        if k != colour:
            colour, run = k, 0
        run += 1
        used[c, k] = True
        cur[k] = to
        px = table.pixel[table.indptr[c]:table.indptr[c + 1]]
        a = (o * table.coverage[table.indptr[c]:table.indptr[c + 1]]).astype(np.float64)[:, None]
        S[px] = (S[px].astype(np.float64) * (1.0 - a) + cols[k][None] * a).astype(np.float32)
        out.append((k, frm, to, gains[k][c]))
    return out


@pytest.mark.parametrize("space", ["lab", "rgb"])
def test_the_joint_greedy_matches_a_brute_force_reference(colour_problem, space):
    sol = make_solver("colour-greedy", min_run=5, space=space).solve(colour_problem)
    ref = _reference(colour_problem, min_run=5, space=space)
    pairs = sol.pin_pairs()
    assert [r[0] for r in ref] == sol.colours.tolist()
    assert [[r[1], r[2]] for r in ref] == pairs.tolist()
    np.testing.assert_allclose(-np.diff(sol.history), [r[3] for r in ref], rtol=1e-9, atol=1e-9)
    assert len(set(sol.colours.tolist())) > 1  # the test is about colours


def test_history_is_the_colour_error_of_the_render(colour_problem):
    sol = make_solver("colour-greedy", min_run=5).solve(colour_problem)
    assert sol.history[0] == pytest.approx(colour_error(colour_problem, np.ones((48, 48, 3))), rel=1e-6)
    assert sol.history[-1] == pytest.approx(colour_error(colour_problem, sol.render()), rel=1e-5)


def test_each_colour_keeps_the_frame_for_its_minimum_run():
    p = Problem.create("astronaut", pins=64, lines=500, canvas=64, colors="black,red,yellow,blue")
    sol = make_solver("colour-greedy", min_run=40).solve(p)
    runs = sol.runs()
    assert len(runs) > 1 and sol.extra["forced_switches"] == 0
    assert all(b - a + 1 >= 40 for _, a, b in runs)
    assert sol.extra["switches"] == len(runs) - 1
    # each colour is one continuous thread: a run starts where that colour's thread stopped
    pairs = sol.pin_pairs()
    for k in range(4):
        sel = np.flatnonzero(sol.colours == k)
        np.testing.assert_array_equal(pairs[sel[1:], 0], pairs[sel[:-1], 1])
    assert sum(sol.thread_lengths_m()) == pytest.approx(sol.thread_length_m())


def test_white_thread_on_a_black_board():
    p = Problem.create("astronaut", pins=64, lines=400, canvas=64, board="black")
    assert p.palette.names == ("white",) and p.palette.board_name == "black"  # a thread that shows on it
    sol = make_solver("colour-greedy").solve(p)
    assert sol.n_lines == 400 and np.all(np.diff(sol.history) < 0)
    img = sol.render()
    corners = img[[0, 0, -1, -1], [0, -1, 0, -1]]
    assert corners.max() == 0.0 and 0.05 < img[p.mask].mean() < 0.9  # light thread on the bare black board
    grey = Problem.create("camera", pins=64, lines=400, canvas=64, colors="white", board="black")
    g = make_solver("colour-greedy").solve(grey)
    assert g.extra["channels"] == 1 and np.all(np.diff(g.history) < 0)

    m = g.scores()
    assert m["ssim"] > 0.1 and m["de2000"] < 40


def test_the_dithering_baseline():
    img = np.ones((64, 64, 3), np.float32)
    img[:, :20] = (0.0, 0.0, 0.0)
    img[:, 20:40] = (0.82, 0.13, 0.18)  # the table's red
    p = Problem.create(img, pins=64, lines=300, canvas=64, colors="black,red", min_gap=8)
    labels = dither(p)
    assert labels[~p.mask].tolist() == [-1] * int((~p.mask).sum())
    inside = labels[p.mask.astype(bool)]
    assert set(np.unique(inside)) <= {0, 1, 2} and (inside == 1).sum() > 0 and (inside == 2).sum() > 0
    sol = make_solver("colour-dither", min_run=50).solve(p)
    per = np.bincount(sol.colours, minlength=2)
    counts = [int((labels == 1).sum()), int((labels == 2).sum())]
    np.testing.assert_array_equal(per, split_lines(counts, 300))
    assert sol.colours[:50].tolist() == [0] * 50 and sol.colours[50:100].tolist() == [1] * 50  # round robin
    assert split_lines([0, 0], 5).tolist() == [5, 0]
    assert interleave([0, 3], 2).tolist() == [1, 1, 1]


@pytest.mark.parametrize("colors, board, lines, msg", [
    ("black,nope", None, 100, "unknown thread colour 'nope'"),
    ("auto:0", None, 100, "auto:K colours must be at least 1"),
    ("black,red,blue", None, 2, "3 colours need at least 3 lines, got 2"),
    ("white,red", "white", 100, "thread colour white is the board's colour"),
    ("red", "#d0202e", 100, "thread colour red is the board's colour"),
])
def test_bad_colour_input_is_one_line(colors, board, lines, msg):
    with pytest.raises(InputError, match=msg) as e:
        Problem.create("astronaut", pins=32, lines=lines, canvas=32, colors=colors, board=board)
    assert "\n" not in str(e.value)


def test_colour_solution_renders_and_describes_itself(colour_problem):
    sol = make_solver("colour-greedy", min_run=5).solve(colour_problem)
    assert len(sol.threads) > 1 and sol.path is None and sol.render().shape == (48, 48, 3)
    assert colour_problem.describe()["colors"] == "black,red,#1e90ff"
    runs = sol.runs()
    assert runs[0][1] == 0 and runs[-1][2] == 149 and all(r[0] != s[0] for r, s in zip(runs, runs[1:]))
    with pytest.raises(InputError, match="multiplicative"):
        sol.render(model="opaque")
