"""The realistic preview: the thread's real width (whole fine pixels), printed at 1:1, on the board's colour."""

import io

import numpy as np
import pytest
from PIL import Image

from rendering import InputError, PinLayout, ThreadModel
from kit.geometry import Geometry
from kit.preview import choose_scale, parse_colour, real_preview


def test_scale_makes_the_thread_whole_fine_pixels():
    for t, target in ((0.2, 4.0), (0.3, 3.1), (0.15, 2.0), (1.0, 1.3)):
        ppm, k, strip = choose_scale(t, target)
        assert ppm <= target + 1e-9 and strip == pytest.approx(t * ppm * k)


def _one_line_geometry(pin_mm=1.0):
    """One 200 mm line, 0.5 mm thick, from pin 0 (12 o'clock) to pin 2 (6 o'clock)."""
    from kit.geometry import pins_mm

    lay, th = PinLayout(n_pins=4, canvas=64), ThreadModel(frame_mm=200.0, thread_mm=0.5)
    return Geometry(shape="circle", frame_mm=200.0, thread_mm=0.5, opacity=1.0, pin_mm=pin_mm,
                    pins=pins_mm(lay, th), pairs=np.array([[0, 2]]), colours=np.zeros(1, np.int64),
                    colour_names=("black",), colour_hex=("#000000",), board_name="white", board_hex="#ffffff",
                    continuous=True)


def test_a_line_darkens_its_real_area_and_prints_at_1_to_1():
    geo = _one_line_geometry()
    png, info = real_preview(geo, px_per_mm=2.0, board="#ffffff", thread="#000000")
    im = Image.open(io.BytesIO(png))
    assert im.info["dpi"][0] == pytest.approx(info["px_per_mm"] * 25.4, abs=0.01)
    assert im.width == info["size"] == round((200 + 2 * 10) * info["px_per_mm"])
    dark = 1.0 - np.asarray(im.convert("L"), np.float64) / 255.0
    # remove the two pins (drawn on top), then the thread's area is its length x width
    c, r = info["size"] / 2, 1.5 * info["px_per_mm"]
    yy, xx = np.mgrid[0:im.height, 0:im.width] + 0.5
    keep = (np.hypot(xx - c, yy - (c - 100 * info["px_per_mm"])) > r) & \
        (np.hypot(xx - c, yy - (c + 100 * info["px_per_mm"])) > r)
    area_mm2 = dark[keep].sum() / info["px_per_mm"] ** 2
    assert area_mm2 == pytest.approx((200 - 2 * 1.5) * 0.5, rel=0.03)
    assert tuple(np.asarray(im)[2, 2]) == (255, 255, 255)  # the board


def test_board_colour_and_bad_colour(small_solution):
    geo = Geometry.from_solution(small_solution, 1.5)
    png, _ = real_preview(geo, px_per_mm=1.0, board="#d0a070")
    assert tuple(np.asarray(Image.open(io.BytesIO(png)))[1, 1]) == (0xd0, 0xa0, 0x70)
    assert parse_colour("102030") == (16, 32, 48)
    with pytest.raises(InputError, match="board colour must be a colour like #f2ede3, got 'red'"):
        real_preview(geo, board="red")
