"""`bench train`: tiny end-to-end runs and one-line user errors."""

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from bench.cli import app

runner = CliRunner()


def _data(folder):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):
        Image.fromarray(rng.integers(0, 256, (40, 40), dtype=np.uint8)).save(folder / f"{k}.png")
    (folder / "broken.png").write_bytes(b"nope")
    return folder


def test_train_writes_checkpoint_curves_and_resumes(tmp_path):
    data = _data(tmp_path / "data")
    out = tmp_path / "run"
    args = ["train", "ae-chords", "--data", str(data), "--epochs", "1", "--device", "cpu", "--seed", "2",
            "--out", str(out), "--pins", "24", "--canvas", "32", "--batch-size", "4", "--train-crops", "4",
            "--val-crops", "2", "--threads", "1", "--model-opt", "w_distill=0.5"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "1 unreadable skipped" in res.output
    assert "epoch 1:" in res.output
    for name in ("ae-chords.pt", "last.pt", "loss.png", "history.json"):
        assert (out / name).is_file()
    res = runner.invoke(app, [*args[:4], "--epochs", "2", *args[6:], "--resume"])
    assert res.exit_code == 0, res.output
    assert "resumed from epoch 1" in res.output and "epoch 2:" in res.output


def test_train_user_errors_are_one_line(tmp_path):
    res = runner.invoke(app, ["train", "vae"])
    assert res.exit_code == 2 and "error: unknown model 'vae'; choose one of: ae-chords, ae-seed" in res.output
    res = runner.invoke(app, ["train", "ae-chords", "--data", str(tmp_path / "none")])
    assert res.exit_code == 2 and "error: --data must be a folder of images" in res.output
    res = runner.invoke(app, ["train", "ae-chords", "--device", "tpu", "--data", str(_data(tmp_path / "d"))])
    assert res.exit_code == 2 and "error: --device must be one of auto, cpu, cuda" in res.output
    res = runner.invoke(app, ["train", "ae-chords", "--model-opt", "w_distill", "--data", str(tmp_path / "d")])
    assert res.exit_code == 2
    assert "error: --model-opt takes KEY=VALUE, got 'w_distill'; e.g. --model-opt w_distill=1" in res.output
    res = runner.invoke(app, ["train", "ae-chords", "--model-opt", "nope=1", "--pins", "24", "--out",
                              str(tmp_path / "o"), "--data", str(tmp_path / "d")])
    assert res.exit_code == 2 and "error: bad option for model ae-chords" in res.output
    res = runner.invoke(app, ["train", "ae-chords", "--resume", "--out", str(tmp_path / "fresh"), "--pins", "24",
                              "--data", str(tmp_path / "d")])
    assert res.exit_code == 2 and "error: nothing to resume" in res.output
