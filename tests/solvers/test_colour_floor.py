"""Quality floor of the colour greedy: it beats the dithering baseline (the common colour approach).

Measured when written (black, red and #1e90ff threads on white, ``Solution.scores``):

=========  ===========  ===================  ====================
picture    set-up       colour-greedy        colour-dither
=========  ===========  ===================  ====================
astronaut  96 / 1200    dE00 22.71, 0.527    dE00 24.03, 0.429
coffee     64 / 600     dE00 39.61, 0.339    dE00 41.47, 0.258
=========  ===========  ===================  ====================

(pins / lines at 128 px and 96 px; the second number is the luminance SSIM at the viewing scale). The floors
ask for half of each measured gap.
"""

import pytest

from solvers import Problem, make_solver

PALETTE = "black,red,#1e90ff"


@pytest.mark.parametrize("image, pins, lines, canvas, de_gap, ssim_gap", [
    ("astronaut", 96, 1200, 128, 0.65, 0.05),
    ("coffee", 64, 600, 96, 0.9, 0.04),
])
def test_colour_greedy_beats_colour_dither(image, pins, lines, canvas, de_gap, ssim_gap):
    p = Problem.create(image, pins=pins, lines=lines, canvas=canvas, colors=PALETTE)
    g = make_solver("colour-greedy").solve(p).scores()
    d = make_solver("colour-dither").solve(p).scores()
    assert g["de2000"] < d["de2000"] - de_gap, (g["de2000"], d["de2000"])  # CIEDE2000: lower is better
    assert g["ssim"] > d["ssim"] + ssim_gap, (g["ssim"], d["ssim"])
    assert g["l1"] < d["l1"]
