"""A learned model's checkpoint records the pictures it was trained on, and a study flags a score on one."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from rendering import load_target, same_picture, seen_in, thumbprint

pytest.importorskip("torch")


def _face(k: int) -> np.ndarray:
    import skimage.data

    return skimage.data.lfw_subset()[k].astype(np.float32)


def test_one_picture_gives_one_print_through_files_and_canvases(tmp_path):
    face = _face(3)
    Image.fromarray((face * 255 + 0.5).astype(np.uint8)).resize((200, 200)).save(tmp_path / "f.jpg", quality=85)
    mine = thumbprint(face)
    for canvas in (128, 512):  # the study's target: read, cropped, blown up to the canvas
        assert same_picture(mine, thumbprint(load_target(tmp_path / "f.jpg", canvas).original))
    assert not same_picture(mine, thumbprint(_face(4)))
    cam = load_target("camera", 256).original
    assert not any(same_picture(thumbprint(load_target(n, 256).original), thumbprint(cam))
                   for n in ("moon", "coins", "astronaut", "rocket"))
    assert seen_in([dict(name="x", print=thumbprint(_face(4))), dict(name="y", print=mine)], face)["name"] == "y"
    assert seen_in((), face) is None


def test_the_shipped_checkpoints_record_their_pictures():
    from tools.record_trained_on import main

    assert main(["--check"]) == 0  # recorded, and what the offline pool gives today


def test_a_study_flags_a_learned_solver_on_its_training_picture(tmp_path):
    from bench.cli import app

    folder = tmp_path / "pictures"
    folder.mkdir()
    Image.fromarray((_face(3) * 255 + 0.5).astype(np.uint8)).resize((128, 128)).save(folder / "face.png")
    Image.fromarray((load_target("camera", 128).original * 255).astype(np.uint8)).save(folder / "camera.png")
    res = CliRunner().invoke(app, ["run", "--solver", "ae-chords", "--solver", "greedy", "--images", str(folder),
                                   "--lines", "60", "--pins", "288", "--canvas", "128", "--seeds", "1",
                                   "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    import pandas as pd

    df = pd.read_csv(tmp_path / "s" / "runs.csv", keep_default_na=False)
    flagged = {(r.solver, r.image): r.trained_on for r in df.itertuples()}
    assert flagged == {("ae-chords", "face"): "lfw:3 (train)", ("ae-chords", "camera"): "",
                       ("greedy", "face"): "", ("greedy", "camera"): ""}
    notes = [ln for ln in res.output.splitlines() if "trained on" in ln and ln.startswith("note:")]
    assert len(notes) == 1 and "ae-chords on face" in notes[0]
    summary = (tmp_path / "s" / "summary.md").read_text()
    assert "§ a learned solver was scored on a picture its model was trained on (ae-chords on face)" in summary
