"""The front end: exposure repair, CLAHE, crops, importance maps; results are scored against the photo."""

import numpy as np
import pytest
from PIL import Image

from rendering import InputError, load_target
from rendering import frontend as F


def test_exposure_repair_only_where_a_photo_is_badly_exposed():
    rng = np.random.default_rng(0)
    good = rng.random((64, 64)).astype(np.float32)
    assert F.exposure_problem(good) is None
    np.testing.assert_array_equal(F.repair_exposure(good), good)
    washed = 0.5 + 0.3 * good
    assert F.exposure_problem(washed) == "washed out"
    fixed = F.repair_exposure(washed)
    assert fixed.min() == 0.0 and fixed.max() == 1.0
    assert F.exposure_problem(0.15 * good) == "washed out"  # a narrow range is found first
    assert F.exposure_problem(good ** 4) == "too dark" and F.exposure_problem(good ** 0.2) == "too bright"
    with pytest.raises(InputError, match="exposure must be one of auto, off, force"):
        F.repair_exposure(good, mode="maybe")


def test_load_target_keeps_the_photo_apart_from_its_edits():
    arr = np.linspace(0.45, 0.8, 96 * 96).reshape(96, 96)
    plain = load_target(arr, 64)
    assert plain.edits == () and plain.original is plain.image
    t = load_target(arr, 64, exposure="auto", clahe=True, gamma=1.2)
    assert t.edits == ("exposure: washed out", "clahe", "gamma 1.2")
    np.testing.assert_array_equal(t.original, plain.image)
    assert not np.array_equal(t.image, t.original)


def test_crops():
    arr = np.zeros((100, 200), np.float32)
    arr[:, 150:] = 1.0
    assert load_target(arr, 32, crop="center").image.mean() < 0.1  # the middle square
    fit = load_target(arr, 40, crop="fit").image
    assert fit[:5].min() == 1.0 and 0.2 < fit.mean() < 0.8  # white bands above and below
    assert load_target(arr, 32, crop="150,0,50").image.min() == 1.0
    with pytest.raises(InputError, match="crop 150,0,80 does not fit image"):
        load_target(arr, 32, crop="150,0,80")
    with pytest.raises(InputError, match="crop must be center, fit, auto or LEFT,TOP,SIZE"):
        load_target(arr, 32, crop="left")


def test_importance_maps_and_masks(tmp_path):
    from solvers import Problem, error_weights

    for mode in ("edges", "saliency", "both"):
        p = Problem.create("camera", pins=32, lines=20, canvas=64, importance=mode, importance_strength=3.0)
        w = p.target.weights
        assert w.shape == (64, 64) and w.min() >= 1.0 and 1.5 < w.max() <= 4.0 + 1e-6
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    p = Problem.create("camera", pins=32, lines=20, canvas=64, importance=str(tmp_path / "mask.png"))
    w = error_weights(p).reshape(64, 64)
    assert w[32, 32] == pytest.approx(3.0) and w[20, 4] == pytest.approx(1.0)
    with pytest.raises(InputError, match="importance must be edges, saliency, both or a mask picture file"):
        Problem.create("camera", pins=32, lines=20, canvas=64, importance="faces")


def test_scores_are_against_the_photo():
    from solvers import Problem, make_solver

    arr = np.linspace(0.45, 0.8, 96 * 96).reshape(96, 96)
    p = Problem.create(arr, pins=32, lines=30, canvas=64, exposure="force")
    sol = make_solver("random").solve(p, rng=0)
    from rendering.metrics import score

    assert sol.scores() == score(sol.render(), p.target.original, p.mask)
