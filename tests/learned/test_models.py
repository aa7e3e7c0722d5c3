"""Models, checkpoints and a tiny training run."""

import numpy as np
import pytest
import torch

from learned.models import (AESeed, ChordNet, Spec, budget_weights, build_model, check_spec, load_checkpoint,
                            save_checkpoint)
from learned.train import TrainConfig, train
from rendering import InputError
from solvers import Problem

SPEC = Spec(n_pins=32, min_gap=3, train_canvas=32, input_size=32)


def test_budget_weights_meet_the_budget_and_pass_gradients():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(3, 500, generator=g, requires_grad=True)
    n = torch.tensor([10.0, 100.0, 250.0])
    w = budget_weights(s, n)
    np.testing.assert_allclose(w.sum(1).detach().numpy(), n.numpy(), rtol=1e-3)
    assert ((w > 0) & (w < 1)).all()
    (w * torch.arange(500.0)).sum().backward()
    assert s.grad.abs().sum() > 0


@pytest.mark.parametrize("kind", ["ae-chords", "ae-seed"])
def test_checkpoint_round_trip(tmp_path, kind):
    torch.manual_seed(0)
    model = build_model(kind, SPEC, **({"n_threads": 20} if kind == "ae-seed" else {"channels": 4}))
    path = save_checkpoint(tmp_path / "m.pt", model, history=[{"epoch": 1}])
    loaded, blob = load_checkpoint(path, kind=kind)
    assert isinstance(loaded, AESeed if kind == "ae-seed" else ChordNet)
    assert loaded.spec == SPEC and loaded.config == model.config and blob["history"] == [{"epoch": 1}]
    assert blob["spec"]["n_pins"] == 32 and blob["spec"]["thread_mm"] == 0.2 and blob["spec"]["train_canvas"] == 32
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        if kind == "ae-chords":
            a, b = model(x, torch.tensor([50.0, 60.0])), loaded(x, torch.tensor([50.0, 60.0]))
        else:
            a, b = model(x)[0], loaded(x)[0]
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=2e-2)  # weights stored as float16


def test_checkpoint_errors_are_one_line(tmp_path):
    with pytest.raises(InputError, match="checkpoint .* not found"):
        load_checkpoint(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(InputError, match="is not a readable checkpoint"):
        load_checkpoint(bad)
    path = save_checkpoint(tmp_path / "m.pt", build_model("ae-chords", SPEC, channels=4))
    with pytest.raises(InputError, match="holds a ae-chords model, expected ae-seed"):
        load_checkpoint(path, kind="ae-seed")


def test_mismatched_problem_is_a_one_line_error():
    p = Problem.create("camera", pins=40, lines=20, canvas=32, min_gap=3)
    with pytest.raises(InputError, match=r"trained for 32 pins, the problem has 40; train a model") as e:
        check_spec(SPEC, p)
    assert "\n" not in str(e.value)
    p2 = Problem.create("camera", pins=32, lines=20, canvas=32, min_gap=5)
    with pytest.raises(InputError, match="trained for min_gap 3, the problem has 5"):
        check_spec(SPEC, p2)
    check_spec(SPEC, Problem.create("camera", pins=32, lines=20, canvas=64, min_gap=3))  # any canvas is fine


def test_bad_configs_are_input_errors():
    with pytest.raises(InputError, match="temperature must be greater than 0"):
        build_model("ae-chords", SPEC, temperature=0)
    with pytest.raises(InputError, match="bad option for model ae-seed"):
        build_model("ae-seed", SPEC, nope=1)
    with pytest.raises(InputError, match="unknown model"):
        build_model("vae", SPEC)
    with pytest.raises(InputError, match="input size must be a multiple of 8"):
        Spec(input_size=60)
    with pytest.raises(InputError, match="lines must be"):
        TrainConfig(lines=(50, 10))


def _folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for k in range(4):
        Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(tmp_path / f"{k}.png")
    return tmp_path


@pytest.mark.parametrize("kind", ["ae-chords", "ae-seed"])
def test_tiny_training_run_learns_saves_and_resumes(tmp_path, kind):
    (tmp_path / "data").mkdir()
    data = _folder(tmp_path / "data")
    model = {"channels": 4, "features": 2, "hidden": 8} if kind == "ae-chords" else {"n_threads": 16, "channels": 4}
    cfg = TrainConfig(kind=kind, epochs=2, batch_size=4, n_train=8, n_val=4, lines=(20, 40), val_lines=30, pins=32,
                      min_gap=3, canvas=32, input_size=32, model=model, lr=1e-2)
    out = tmp_path / "run"
    res = train(cfg, data=data, out=out, device="cpu", seed=1, threads=1)
    assert [h["epoch"] for h in res.history] == [1, 2]
    assert all(np.isfinite(h["train_loss"]) and np.isfinite(h["val_loss"]) for h in res.history)
    assert res.checkpoint.is_file() and res.last.is_file() and res.figure.is_file()
    model_, blob = load_checkpoint(res.checkpoint, kind=kind)
    assert blob["spec"]["n_pins"] == 32
    # same seed, same run
    again = train(cfg, data=data, out=tmp_path / "run2", device="cpu", seed=1, threads=1)
    assert again.history[0]["train_loss"] == pytest.approx(res.history[0]["train_loss"], rel=1e-5)
    # resume continues where it stopped
    more = train(TrainConfig(**{**cfg.__dict__, "epochs": 3}), data=data, out=out, device="cpu", seed=1,
                 resume=True, threads=1)
    assert [h["epoch"] for h in more.history] == [1, 2, 3]
    with pytest.raises(InputError, match="trained with other options"):
        train(TrainConfig(**{**cfg.__dict__, "lr": 0.5}), data=data, out=out, device="cpu", seed=1, resume=True)


def test_greedy_ranks_are_greedys_thread_order():
    from learned.train import NO_RANK, greedy_ranks
    from solvers import Problem, make_solver

    rng = np.random.default_rng(0)
    imgs = rng.random((2, 32, 32)).astype(np.float32)
    ranks = greedy_ranks(imgs, SPEC, 15)
    assert ranks.shape == (2, Problem.create(imgs[0], pins=32, lines=1, canvas=32, min_gap=3).chords.n_chords)
    p = Problem.create(imgs[1], pins=32, lines=15, canvas=32, min_gap=3)
    sol = make_solver("greedy").solve(p)
    np.testing.assert_array_equal(np.argsort(ranks[1])[:15], sol.chords)
    assert (np.sort(ranks[1])[15:] == NO_RANK).all()


def test_budget_weights_gradient_keeps_the_budget():
    """Moving the scores along the gradient of any loss keeps sum(w) = n (implicit shift gradient)."""
    s = torch.randn(1, 300, dtype=torch.float64, requires_grad=True)
    n = torch.tensor([40.0], dtype=torch.float64)
    w = budget_weights(s, n, iters=60)
    (g,) = torch.autograd.grad(w.sum(), s)
    assert g.abs().max() < 1e-9  # the sum cannot change
    (g2,) = torch.autograd.grad((budget_weights(s, n, iters=60) * torch.arange(300.0)).sum(), s)
    w2 = budget_weights(s.detach() - 1e-4 * g2, n, iters=60)
    assert float(w2.sum()) == pytest.approx(40.0, abs=1e-6)
