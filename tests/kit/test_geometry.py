"""Physical units: pin centres in mm (pin 0 at 12 o'clock, clockwise from the front), spacing, lengths."""

import math

import numpy as np
import pytest

from rendering import InputError, PinLayout, ThreadModel
from kit.geometry import Geometry, check_pin_spacing, clock_position, pins_mm


def test_pins_in_mm_start_at_twelve_and_go_clockwise():
    lay, th = PinLayout(n_pins=8, canvas=100), ThreadModel(frame_mm=400.0)
    p = pins_mm(lay, th)
    assert np.allclose(p[0], [0, -200]) and np.allclose(p[2], [200, 0]) and np.allclose(p[4], [0, 200])
    assert np.allclose(np.hypot(*p.T), 200.0)
    sq = pins_mm(PinLayout(n_pins=8, canvas=100, shape="square"), th)
    assert np.allclose(sq[0], [0, -200]) and np.allclose(sq[1], [200, -200]) and np.allclose(sq[2], [200, 0])
    assert clock_position(0, -1) == "12:00" and clock_position(1, 0) == "3:00" and clock_position(-1, 0) == "9:00"


def test_pins_wider_than_their_spacing_are_refused_in_one_line():
    lay = PinLayout(n_pins=288, canvas=64)
    assert check_pin_spacing(lay, ThreadModel(frame_mm=600.0), 1.5) == pytest.approx(math.pi * 600 / 288, rel=1e-3)
    with pytest.raises(InputError, match=r"pin spacing too small: 288 pins on a 100 mm circle are 1\.09 mm apart.*"
                                         r"less than the 1\.5 mm pin diameter"):
        check_pin_spacing(lay, ThreadModel(frame_mm=100.0), 1.5)
    with pytest.raises(InputError, match="pin_mm must be greater than 0"):
        check_pin_spacing(lay, ThreadModel(frame_mm=600.0), 0)
    # a square frame: 4 mm along its sides, but the two pins either side of a corner are 2 x 2 mm from it
    sq = PinLayout(n_pins=100, canvas=64, shape="square")
    assert check_pin_spacing(sq, ThreadModel(frame_mm=100.0), 1.0) == pytest.approx(math.sqrt(8), rel=1e-6)
    with pytest.raises(InputError, match=r"100 mm square: pins \d+ and \d+ are 2\.83 mm apart \(centre"):
        check_pin_spacing(sq, ThreadModel(frame_mm=100.0), 3.0)


def test_lengths_and_budget(small_solution):
    geo = Geometry.from_solution(small_solution, 1.5)
    b = geo.budget()
    assert b["straight_m"] == pytest.approx(small_solution.thread_length_m(), rel=1e-9)
    assert b["wrap_m"] == pytest.approx(small_solution.n_lines * math.pi * 1.5 / 2 / 1000)
    assert b["total_m"] > b["straight_m"] and b["buy_m"] >= b["total_m"]
    assert geo.running_m[-1] == pytest.approx(b["straight_m"] + b["wrap_m"])
    assert np.all(np.diff(geo.running_m) > 0)
