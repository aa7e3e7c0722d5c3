"""The pure helpers of ``benchmarks/quality.py`` and ``benchmarks/_raveler.py`` (Raveler itself is not needed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str, file: str):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / file)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


R = _load("_raveler_under_test", "_raveler.py")
Q = _load("quality_under_test", "quality.py")


def _layout(pins, canvas):
    from rendering import PinLayout

    return PinLayout(n_pins=pins, canvas=canvas)


def test_raveler_pins_are_ours_at_equal_counts():
    lay = _layout(288, 512)
    mapping = R.pin_map(288, 512, lay.positions, lay.center)
    assert np.array_equal(mapping, np.arange(288))
    xy = R.pin_xy(288, 512)
    assert np.abs(xy - lay.positions).max() < 1.5  # within a pixel and a half of our pins
    assert xy[0, 1] < 2 and abs(xy[0, 0] - 256) < 1  # pin 0 at 12 o'clock
    assert xy[72, 0] > 510 and abs(xy[72, 1] - 256) < 1  # a quarter on: 3 o'clock, so clockwise


def test_pin_map_other_counts_is_nearest_by_angle():
    lay = _layout(288, 512)
    assert np.array_equal(R.pin_map(144, 512, lay.positions, lay.center), np.arange(0, 288, 2))
    m = R.pin_map(300, 512, lay.positions, lay.center)
    ang = 2 * np.pi * np.arange(300) / 300
    ours = 2 * np.pi * m / 288
    assert np.abs(np.angle(np.exp(1j * (ang - ours)))).max() <= np.pi / 288 + 0.01


def test_stdin_bytes_are_upside_down_grey():
    img = np.ones((4, 4), np.float32)
    img[0] = 0.0  # a black top row
    raw = np.frombuffer(R.to_stdin_bytes(img), np.uint8).reshape(4, 4)
    assert (raw[-1] == 0).all() and (raw[:-1] == 255).all()


def test_reference_loop_follows_a_dark_chord_of_our_picture():
    """A dark line drawn in our picture from our pin 0 to our pin 11 is the first chord Raveler's loop takes."""
    lay = _layout(32, 64)
    (ax, ay), (bx, by) = lay.positions[0], lay.positions[11]
    yy, xx = np.mgrid[0:64, 0:64] + 0.5
    t = np.clip(((xx - ax) * (bx - ax) + (yy - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2), 0, 1)
    dist = np.hypot(xx - ax - t * (bx - ax), yy - ay - t * (by - ay))
    img = np.where(dist < 1.5, 0.0, 1.0)  # a band 3 px wide: Raveler's pins sit within a pixel of ours
    path = R.reference_path(img, pins=32, steps=1, thread_m=1.0, frame_m=64.0)
    mapping = R.pin_map(32, 64, lay.positions, lay.center)
    assert mapping[path[0]] == 0 and mapping[path[1]] == 11


def test_parse_csv_reads_the_pin_column():
    text = "#total thread length: 1.2\n#pin,score,coord_x,coord_y\n0,1.5,0.5,1\n17,2,0.1,0.2\n3,nan,0,0\n"
    assert R.parse_csv(text).tolist() == [0, 17, 3]


def test_best_opacities_finds_each_metric_optimum():
    def score_at(o):
        return {"ssim": -(o - 0.47) ** 2, "l1": abs(o - 0.83)}

    best, seen = Q.best_opacities(score_at, ("ssim", "l1"))
    assert best["ssim"][1] == pytest.approx(0.47) and best["l1"] == (pytest.approx(0.0), pytest.approx(0.83))
    assert all(0.01 <= o <= 1.0 for o in seen)


def test_best_opacities_at_the_bounds():
    best, _ = Q.best_opacities(lambda o: {"l1": o}, ("l1",))  # lower is better: the faintest
    assert best["l1"][1] == pytest.approx(0.01)
    best, _ = Q.best_opacities(lambda o: {"l1": -o}, ("l1",))
    assert best["l1"][1] == 1.0


def test_pin_spread_ring_and_mapped_pairs():
    assert Q.pin_spread(np.array([[0, 1], [2, 3]]), 4) == 1.0
    pairs, dropped = Q.mapped_pairs(np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1]))
    assert dropped == 2 and pairs.tolist() == [[0, 1]]
    lay = _layout(64, 128)
    ring = Q.ring_mask(lay)
    assert ring.any() and not ring[64, 64] and ring[64, 2] and (ring <= lay.frame_mask).all()
    # the ring is the outer 5 % of the radius: about 10 % of the disk's area
    assert 0.08 < ring.sum() / lay.frame_mask.sum() < 0.12


def test_refinement_section_compares_the_refined_solver_with_its_start():
    import pandas as pd

    rows = []
    for im, (s0, s1, secs) in {"camera": (0.50, 0.53, 1.2), "moon": (0.60, 0.605, 1.6)}.items():
        rows.append(dict(image=im, lines=4000, solver=Q.REFINED_FROM, ssim=s0, l1=0.1, ssim_at_1=s0,
                         refine_seconds=np.nan))
        rows.append(dict(image=im, lines=4000, solver=Q.REFINED, ssim=s1, l1=0.102, ssim_at_1=s1 + 0.001,
                         refine_seconds=secs))
    text = "\n".join(Q.refinement_section(pd.DataFrame(rows), [4000]))
    assert "| camera | 0.500 / 0.100 | 0.530 / 0.102 | +0.0300 | +0.0020 | +0.0310 | 1.20 |" in text
    assert "on **1 of 2** images (smallest +0.0050); refinement 1.20-1.60 s" in text
    assert Q.refinement_section(pd.DataFrame(rows[:1]), [4000]) == []  # nothing to compare
