"""The learned front end: settings, the search (teacher), the network and its training command."""

import json

import numpy as np
import pytest

from learned import front
from learned.front import FrontParams, evaluate, fit_front, front_problem, search, solve_front
from rendering import InputError
from solvers import Problem, make_solver


@pytest.fixture(scope="module")
def problem():
    return Problem.create("camera", pins=96, lines=300, canvas=128)


def test_params_refuse_values_out_of_range():
    with pytest.raises(InputError, match="gamma must be in"):
        FrontParams(gamma=3.0)
    assert FrontParams.from_array([2.0, 9.0, 0.1, -1.0]) == FrontParams(local=1.0, gamma=1.6, opacity=0.5,
                                                                          strength=0.0)


def test_the_neutral_front_end_is_the_plain_solver(problem):
    plain = make_solver(front.SOLVER).solve(problem, rng=0).path
    assert np.array_equal(solve_front(problem, FrontParams()), plain)


def test_the_front_end_edits_what_greedy_chases_but_not_what_is_scored(problem):
    p = FrontParams(local=0.5, gamma=0.8, opacity=0.7, strength=1.0)
    edited = front_problem(problem, p)
    assert edited.thread.opacity == 0.7 and edited.target.weights is not None
    assert not np.allclose(edited.target.image, problem.target.image)
    assert edited.target.original is problem.target.original
    path = solve_front(problem, p)
    assert not np.array_equal(path, solve_front(problem, FrontParams()))
    # the score draws with the real thread against the photo
    assert evaluate(problem, path)["ssim"] != evaluate(edited, path)["ssim"]


def test_search_never_loses_to_the_plain_solve_and_keeps_l1(problem):
    best, path, info = search(problem, rounds=1)
    assert info["best"]["ssim"] >= info["base"]["ssim"]
    assert info["best"]["l1"] <= info["base"]["l1"] + front.L1_SLACK + 1e-12
    assert evaluate(problem, path) == info["best"]
    assert np.array_equal(path, solve_front(problem, best))
    assert info["evaluations"] <= sum(len(v) for v in front.GRID.values())


def _labels(n, rng):
    """Synthetic labels: the right gamma is the picture's mean brightness (a rule the net can learn)."""
    out = []
    for k in range(n):
        level = rng.uniform(0.2, 0.9)
        img = np.clip(level + 0.1 * rng.standard_normal((64, 64)), 0, 1).astype(np.float32)
        out.append(dict(index=k, name=f"s{k}", features=front.features(img), ssim=0.5, base_ssim=0.49,
                        params=dict(local=0.2, gamma=0.7 + level, opacity=0.9, strength=0.0)))
    return out


def test_the_network_learns_a_per_picture_rule_better_than_the_mean():
    model = fit_front(_labels(60, np.random.default_rng(0)), epochs=300, seed=0)
    assert model.info["val_loss"] < 0.3 * model.info["val_loss_mean"]
    dark = model.predict(np.full((64, 64), 0.25, np.float32))
    bright = model.predict(np.full((64, 64), 0.85, np.float32))
    assert bright.gamma - dark.gamma > 0.3
    assert abs(model.average.opacity - 0.9) < 1e-6


def test_checkpoints_round_trip_and_refuse_other_files(tmp_path):
    model = fit_front(_labels(12, np.random.default_rng(1)), epochs=20, seed=0)
    path = model.save(tmp_path / "m.pt")
    again = front.FrontModel.load(path)
    img = np.random.default_rng(2).random((64, 64)).astype(np.float32)
    assert again.predict(img) == model.predict(img)
    assert again.average == model.average
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not an ae-target checkpoint"):
        front.FrontModel.load(tmp_path / "bad.pt")
    with pytest.raises(InputError, match="not found"):
        front.FrontModel.load(tmp_path / "missing.pt")


def test_the_shipped_checkpoint_predicts_in_bounds_quickly():
    import time

    from learned.models import default_checkpoint

    model = front.FrontModel.load(default_checkpoint("ae-target"))
    img = Problem.create("coffee", pins=288, lines=10, canvas=512).target.original
    model.predict(img)
    t = time.perf_counter()
    p = model.predict(img)
    assert time.perf_counter() - t < 1.0  # tens of ms in practice; generous for a loaded CI machine
    assert isinstance(p, FrontParams)
    assert model.info["n_labels"] >= 100 and model.info["pins"] == 288


def test_bench_train_ae_target_end_to_end(tmp_path):
    from PIL import Image
    from typer.testing import CliRunner

    from bench.cli import app

    data = tmp_path / "pics"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray((rng.random((80, 80)) * 255).astype(np.uint8)).save(data / f"p{i}.png")
    out = tmp_path / "run"
    args = ["train", "ae-target", "--data", str(data), "--train-crops", "3", "--canvas", "64", "--pins", "48",
            "--lines", "60", "--workers", "1", "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert (out / "ae-target.pt").is_file() and (out / "fit.png").is_file()
    saved = json.loads((out / "labels.json").read_text())
    assert len(saved["labels"]) == 3 and saved["setting"]["lines"] == 60
    # a second run reuses the labels: no new searches
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0 and "reusing 3 labels" in res.output and "label 1/" not in res.output, res.output
    model = front.FrontModel.load(out / "ae-target.pt")
    assert model.info["n_labels"] == 3 and model.info["data"] == str(data)


def test_bench_train_ae_target_refuses_bad_counts(tmp_path):
    from typer.testing import CliRunner

    from bench.cli import app

    res = CliRunner().invoke(app, ["train", "ae-target", "--train-crops", "1", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "--train-crops" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "x").exists()
