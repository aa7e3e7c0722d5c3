import dataclasses

import numpy as np
import pytest

from rendering import InputError, ThreadModel, load_target
from solvers import Problem


def test_create_uses_the_seed_defaults():
    p = Problem.create("camera", pins=288, lines=100, canvas=64)
    assert p.min_gap == 20 and p.layout.n_pins == 288 and p.target.image.shape == (64, 64)
    assert p.width_px == pytest.approx(0.2 / 600 * p.layout.span_px)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.n_lines = 3


@pytest.mark.parametrize("kw, match", [
    (dict(lines=0), "lines must be at least 1, got 0"),
    (dict(pins=2), "n_pins must be at least 3, got 2"),
    (dict(min_gap=40, pins=64), "min_gap must be at most 32, got 40; with 64 pins use 1..32"),
    (dict(canvas=10), "canvas must be at least 16, got 10"),
    (dict(thread=None, lines=10**6), "1000000 lines need repeated chords"),
])
def test_bad_problems_say_what_is_wrong(kw, match):
    base = dict(pins=64, lines=10, canvas=32)
    with pytest.raises(InputError, match=match):
        Problem.create("camera", **{**base, **kw})


def test_thread_model_validation():
    with pytest.raises(InputError, match="thread_mm must be greater than 0, got 0"):
        ThreadModel(thread_mm=0)
    with pytest.raises(InputError, match="thread_mm must be greater than 0, got -0.1"):
        ThreadModel(thread_mm=-0.1)
    with pytest.raises(InputError, match="opacity must be at most 1"):
        ThreadModel(opacity=2)


def test_target_and_layout_must_share_the_canvas():
    from rendering import PinLayout

    with pytest.raises(InputError, match="load the target at the same canvas"):
        Problem(target=load_target("camera", 32), layout=PinLayout(n_pins=20, canvas=64), n_lines=5, min_gap=2)


def test_importance_is_checked():
    t = load_target("camera", 32)
    from rendering import PinLayout

    lay = PinLayout(n_pins=20, canvas=32)
    Problem(target=t.with_weights(np.ones((32, 32))), layout=lay, n_lines=5, min_gap=2)
    with pytest.raises(InputError, match="weights must be a finite, non-negative"):
        t.with_weights(-np.ones((32, 32)))
