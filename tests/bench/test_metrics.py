import numpy as np
import pytest

from rendering.metrics import reference_scores, score
from rendering import VIEW_SCALE
from solvers import Problem, make_solver


def test_identical_images_score_perfectly():
    rng = np.random.default_rng(0)
    t = rng.random((64, 64))
    mask = np.ones((64, 64), bool)
    m = score(t, t, mask)
    assert m["ssim"] == pytest.approx(1.0) and m["l1"] == 0 and m["psnr"] == float("inf")
    assert m["ssim_full"] == pytest.approx(1.0)


def test_only_pixels_inside_the_frame_count():
    t = np.full((64, 64), 0.5)
    p = t.copy()
    mask = np.zeros((64, 64), bool)
    mask[16:48, 16:48] = True
    p[~mask] = 0.0  # garbage outside the frame does not matter
    m = score(p, t, mask)
    assert m["l1"] == 0 and m["l1_full"] == 0 and m["ssim"] == pytest.approx(1.0)


def test_l1_and_psnr_values():
    t = np.zeros((32, 32))
    p = np.full((32, 32), 0.1)
    m = score(p, t, np.ones((32, 32), bool))
    assert m["l1"] == pytest.approx(0.1) and m["l1_full"] == pytest.approx(0.1)
    assert m["psnr"] == pytest.approx(20.0)


def test_viewing_scale_is_a_box_average():
    # a checkerboard of black threads on white averages to flat grey at the viewing scale
    t = np.full((64, 64), 0.5)
    p = np.indices((64, 64)).sum(0) % 2 * 1.0
    mask = np.ones((64, 64), bool)
    m = score(p, t, mask, factor=VIEW_SCALE)
    assert m["l1"] == pytest.approx(0.0, abs=1e-9) and m["l1_full"] == pytest.approx(0.5)


def test_references_and_why_the_viewing_scale_exists():
    """At full resolution a blank canvas beats real (random) string art on SSIM."""
    p = Problem.create("camera", pins=128, lines=1500, canvas=128)
    refs = reference_scores(p.target.image, p.mask)
    art = score(make_solver("random").solve(p, rng=0).render(), p.target.image, p.mask)
    assert refs["blank"]["ssim_full"] > art["ssim_full"]
    assert refs["flat"]["l1"] < refs["blank"]["l1"]  # the mean tone is the better constant
    assert refs["blank"]["l1"] == pytest.approx(np.mean(1 - p.target.image[p.mask]), rel=0.02)


def test_shape_mismatch_is_one_line():
    from rendering import InputError

    with pytest.raises(InputError, match="must have one shape"):
        score(np.ones((8, 8)), np.ones((9, 9)), np.ones((8, 8), bool))
