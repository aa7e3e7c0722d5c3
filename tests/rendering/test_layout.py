import numpy as np
import pytest

from rendering import InputError, PinLayout, default_min_gap


def test_pin_zero_at_twelve_and_clockwise():
    lay = PinLayout(n_pins=8, canvas=100)
    pos = lay.positions
    c = lay.center
    assert pos[0, 0] == pytest.approx(c) and pos[0, 1] < c  # top (y is down)
    assert pos[2, 0] > c and pos[2, 1] == pytest.approx(c)  # 3 o'clock: to the right
    assert pos[4, 1] > c  # 6 o'clock: bottom
    assert pos[6, 0] < c  # 9 o'clock: left
    # clockwise on screen: the angle atan2(x - c, -(y - c)) increases with the index
    ang = np.unwrap(np.arctan2(pos[:, 0] - c, -(pos[:, 1] - c)))
    assert np.all(np.diff(ang) > 0)


@pytest.mark.parametrize("n", [3, 4, 7, 288, 1024, 4096])
def test_any_pin_count_on_the_circle(n):
    lay = PinLayout(n_pins=n, canvas=512)
    r = np.hypot(*(lay.positions - lay.center).T)
    assert lay.positions.shape == (n, 2)
    np.testing.assert_allclose(r, lay.span_px / 2)
    assert len(np.unique(lay.positions.round(6), axis=0)) == n


def test_rect_layout_on_the_border_clockwise_from_top_centre():
    lay = PinLayout(n_pins=16, canvas=100, shape="rect")
    pos = lay.positions
    lo, hi = lay.margin, lay.canvas - lay.margin
    on_border = np.isclose(pos, lo) | np.isclose(pos, hi)
    assert on_border.any(axis=1).all()
    assert pos[0].tolist() == pytest.approx([50.0, lo])
    assert pos[1, 0] > pos[0, 0]  # moving right along the top edge first
    assert lay.frame_mask.all() == False and lay.frame_mask[50, 50]  # noqa: E712


def test_jitter_is_seeded_and_bounded():
    a = PinLayout(n_pins=100, canvas=256, jitter=0.5, seed=1).positions
    b = PinLayout(n_pins=100, canvas=256, jitter=0.5, seed=1).positions
    c = PinLayout(n_pins=100, canvas=256, jitter=0.5, seed=2).positions
    plain = PinLayout(n_pins=100, canvas=256).positions
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    spacing = 2 * np.pi * (256 / 2 - 1) / 100
    assert np.hypot(*(a - plain).T).max() <= 0.25 * spacing + 1e-9


def test_frame_mask_is_the_disk():
    lay = PinLayout(n_pins=10, canvas=64)
    m = lay.frame_mask
    assert m[32, 32] and not m[0, 0] and not m[63, 63]
    assert m.sum() == pytest.approx(np.pi * (lay.span_px / 2) ** 2, rel=0.03)


@pytest.mark.parametrize("kw, match", [
    (dict(n_pins=2, canvas=64), "n_pins must be at least 3, got 2"),
    (dict(n_pins=10, canvas=8), "canvas must be at least 16, got 8"),
    (dict(n_pins=10, canvas=64, shape="hex"), "shape must be circle or square \\(also called rect\\), got 'hex'"),
    (dict(n_pins=10.5, canvas=64), "n_pins must be an integer"),
    (dict(n_pins=10, canvas=64, jitter=1.5), "jitter must be at most"),
])
def test_bad_layouts_say_what_is_wrong(kw, match):
    with pytest.raises(InputError, match=match):
        PinLayout(**kw)


def test_default_min_gap_is_the_seed_generators_at_288():
    assert default_min_gap(288) == 20
    assert default_min_gap(3) == 1
    assert 1 <= default_min_gap(1024) <= 512


def test_square_is_another_name_of_rect():
    assert PinLayout(n_pins=16, canvas=64, shape="square") == PinLayout(n_pins=16, canvas=64, shape="rect")
