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
def test_tiny_training_run_saves_and_resumes(tmp_path, kind):
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


def _discs(folder):
    """Four pictures of a dark disc on a light ground: structure a tiny model can learn (noise has none)."""
    from PIL import Image

    y, x = np.mgrid[0:48, 0:48]
    for k in range(4):
        img = np.where((y - 24) ** 2 + (x - 24) ** 2 < (8 + 2 * k) ** 2, 40, 220).astype(np.uint8)
        Image.fromarray(img).save(folder / f"{k}.png")
    return folder


@pytest.mark.parametrize("kind, model, lr, fall", [
    # the seed's autoencoder: its reconstruction and thread losses fall fast (val 0.344 -> 0.315 when written)
    ("ae-seed", {"n_threads": 16, "channels": 4}, 1e-2, 0.05),
    # ChordNet at this size barely moves its view loss (~0.2 % in 30 steps on one batch); with the teacher's
    # weights as a target the training loss falls 1.5 % in four epochs (1.400 -> 1.379 when written)
    ("ae-chords", {"channels": 4, "features": 2, "hidden": 8, "w_distill": 1.0, "teacher_steps": 4}, 3e-2, 0.008),
])
def test_training_lowers_the_loss(tmp_path, kind, model, lr, fall):
    data = tmp_path / "data"
    data.mkdir()
    cfg = TrainConfig(kind=kind, epochs=4, batch_size=4, n_train=16, n_val=4, lines=(20, 40), val_lines=30, pins=32,
                      min_gap=3, canvas=32, input_size=32, model=model, lr=lr)
    h = train(cfg, data=_discs(data), out=tmp_path / "run", device="cpu", seed=1, threads=1).history
    loss = "val_loss" if kind == "ae-seed" else "train_loss"  # ChordNet's budgets are fixed per crop: comparable
    first, last = h[0][loss], h[-1][loss]
    assert last < first * (1 - fall), [round(r[loss], 4) for r in h]
    assert h[-1]["val_loss"] < h[0]["val_loss"]  # and the held-out crops do not get worse
    if kind == "ae-chords":
        assert h[-1]["distill_bce"] < h[0]["distill_bce"]


def _soft_loss(scores, x, table, n):
    from learned.losses import view_loss
    from rendering.torch_render import chord_render

    mask = torch.from_numpy(np.array(table.layout.frame_mask))
    return float(view_loss(chord_render(table, budget_weights(scores, n)), x, mask)[0])


def test_refine_scores_lowers_the_render_loss_and_passes_gradients_straight_through():
    from learned.models import refine_scores

    table = SPEC.table(32)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((2, 1, 32, 32)).astype(np.float32))
    n = torch.tensor([20.0, 40.0])
    s0 = torch.zeros(2, table.n_chords, requires_grad=True)
    assert refine_scores(s0, x, table, n, steps=0, lr=0.5) is s0
    losses = [_soft_loss(refine_scores(s0, x, table, n, steps=k, lr=0.3).detach(), x, table, n) for k in (0, 2, 8)]
    assert losses[0] > losses[1] > losses[2]
    out = refine_scores(s0, x, table, n, steps=2, lr=0.3)
    out.sum().backward()  # the steps are constants: d out / d scores = identity
    np.testing.assert_allclose(s0.grad.numpy(), 1.0)


def test_teacher_weights_meet_the_budget_and_beat_their_start():
    from learned.train import teacher_weights

    table = SPEC.table(32)
    rng = np.random.default_rng(1)
    imgs = rng.random((3, 32, 32)).astype(np.float32)
    budgets = np.array([15.0, 30.0, 45.0])
    w = teacher_weights(imgs, SPEC, budgets, steps=6, lr=0.3, batch_size=2)
    assert w.shape == (3, table.n_chords) and w.dtype == np.float16
    np.testing.assert_allclose(w.astype(np.float64).sum(1), budgets, rtol=2e-3)
    w0 = teacher_weights(imgs, SPEC, budgets, steps=1, lr=1e-6)  # ~ the projection start
    x = torch.from_numpy(imgs)[:, None]
    from learned.losses import view_loss
    from rendering.torch_render import chord_render

    mask = torch.from_numpy(np.array(table.layout.frame_mask))
    def loss(wt):
        return float(view_loss(chord_render(table, torch.from_numpy(wt.astype(np.float32))), x, mask)[0])
    assert loss(w) < loss(w0)


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


def test_chordnet_refinement_starts_as_plain_descent_and_learns():
    from learned.models import refine_scores

    torch.manual_seed(0)
    model = build_model("ae-chords", SPEC, channels=4, refine_steps=2, refine_lr=0.4)
    rng = np.random.default_rng(2)
    pic = torch.from_numpy(rng.random((2, 1, 32, 32)).astype(np.float32))
    n = torch.tensor([20.0, 30.0])
    s0 = model(pic, n)  # input size = training canvas here
    plain = refine_scores(s0, pic, model.refine_table, n, steps=2, lr=0.4)
    np.testing.assert_allclose(model.refine(s0, pic, n).detach().numpy(), plain.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(model.scores(pic, n).detach().numpy(), plain.detach().numpy(), atol=1e-5)
    # the learned parts get gradients from a loss on the refined scores; a third step reuses the last one
    model.scores(pic, n).pow(2).mean().backward()
    assert model.step_size.grad.abs().sum() > 0
    assert model.steps[1][-1].weight.grad.abs().sum() > 0
    assert model.scores(pic, n, steps=3).shape == s0.shape
    assert torch.equal(model.scores(pic, n, steps=0), model(pic, n))
