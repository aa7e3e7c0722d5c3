"""Pin layouts: where the pins sit on the canvas.

Coordinates are in pixels, ``x`` to the right and ``y`` down; pixel ``(row, col)``
covers ``[col, col+1) x [row, row+1)`` so its centre is ``(col + 0.5, row + 0.5)``.
Maker convention: pin 0 sits at 12 o'clock and pins are numbered clockwise as
seen from the front (the side the picture is viewed from).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from .errors import InputError, check_float, check_int

SHAPES = ("circle", "rect")
#: other names of a shape: a square frame is ``rect``
SHAPE_ALIASES = {"square": "rect"}
MIN_CANVAS = 16
MAX_PINS = 4096


@dataclass(frozen=True, kw_only=True)
class PinLayout:
    """Pin positions for a square canvas.

    Parameters
    ----------
    n_pins : int, 3 <= n_pins <= 4096
    canvas : int, canvas side in pixels (>= 16)
    shape : {"circle", "rect"} (``"square"`` is read as ``"rect"``)
        ``circle``: pins on a circle of radius ``canvas/2 - margin``.
        ``rect``: pins evenly spaced along the border of the square
        ``[margin, canvas - margin]^2``, starting at the top centre.
    margin : float
        Distance in pixels between the canvas edge and the pin line.
    jitter : float in [0, 1)
        Each pin moves along the frame by a uniform random fraction of the
        pin spacing in ``[-jitter/2, jitter/2]`` (reduces moire).
    seed : int
        Seed for the jitter; the same seed gives the same layout.

    Examples
    --------
    >>> lay = PinLayout(n_pins=4, canvas=100)
    >>> lay.positions.round(1).tolist()  # 12, 3, 6 and 9 o'clock
    [[50.0, 1.0], [99.0, 50.0], [50.0, 99.0], [1.0, 50.0]]
    """

    n_pins: int
    canvas: int
    shape: str = "circle"
    margin: float = 1.0
    jitter: float = 0.0
    seed: int = 0

    def __post_init__(self):
        check_int("n_pins", self.n_pins, low=3, high=MAX_PINS, hint=f"use 3 to {MAX_PINS} pins, e.g. --pins 288")
        check_int("canvas", self.canvas, low=MIN_CANVAS, hint="use a canvas of 16 px or more, e.g. --canvas 512")
        if self.shape in SHAPE_ALIASES:
            object.__setattr__(self, "shape", SHAPE_ALIASES[self.shape])
        if self.shape not in SHAPES:
            raise InputError(f"shape must be circle or square (also called rect), got {self.shape!r}")
        check_float("margin", self.margin, low=0.0, high=self.canvas / 4)
        check_float("jitter", self.jitter, low=0.0, high=0.999, hint="jitter is a fraction of the pin spacing")
        check_int("seed", self.seed, low=0)

    # ------------------------------------------------------------------ geometry
    @property
    def center(self) -> float:
        return self.canvas / 2.0

    @property
    def span_px(self) -> float:
        """Frame size in pixels: the circle's diameter, or the square's side."""
        return self.canvas - 2.0 * self.margin

    @cached_property
    def positions(self) -> np.ndarray:
        """(n_pins, 2) float64 pin centres ``(x, y)`` in pixels."""
        n = self.n_pins
        t = np.arange(n, dtype=np.float64)
        if self.jitter > 0:
            rng = np.random.default_rng(self.seed)
            t = t + rng.uniform(-self.jitter / 2, self.jitter / 2, size=n)
        frac = t / n  # fraction of the way around, clockwise from 12 o'clock
        c, half = self.center, self.span_px / 2.0
        if self.shape == "circle":
            ang = 2.0 * math.pi * frac
            pos = np.stack([c + half * np.sin(ang), c - half * np.cos(ang)], axis=1)
        else:
            pos = _square_perimeter(frac % 1.0, c, half)
        pos.setflags(write=False)
        return pos

    @cached_property
    def frame_mask(self) -> np.ndarray:
        """(canvas, canvas) bool: pixels whose centre lies inside the frame."""
        yy, xx = np.mgrid[0:self.canvas, 0:self.canvas] + 0.5
        c, half = self.center, self.span_px / 2.0
        if self.shape == "circle":
            mask = (xx - c) ** 2 + (yy - c) ** 2 <= half * half
        else:
            mask = (np.abs(xx - c) <= half) & (np.abs(yy - c) <= half)
        mask.setflags(write=False)
        return mask

    def scaled(self, factor: int) -> "PinLayout":
        """The same layout on a canvas ``factor`` times larger (for supersampling)."""
        factor = check_int("factor", factor, low=1)
        return replace(self, canvas=self.canvas * factor, margin=self.margin * factor)

    def circular_distance(self, i, j):
        """Index distance around the frame: ``min(|i-j|, n-|i-j|)``."""
        d = np.abs(np.asarray(i) - np.asarray(j)) % self.n_pins
        return np.minimum(d, self.n_pins - d)

    def on_same_side(self) -> np.ndarray:
        """(n_pins, n_pins) bool: pins on the same straight edge of a rect frame.

        A thread between two such pins lies along the frame itself, so those
        chords are not allowed. Always False for a circle.
        """
        n = self.n_pins
        if self.shape == "circle":
            return np.zeros((n, n), dtype=bool)
        x, y = self.positions[:, 0], self.positions[:, 1]
        c, half = self.center, self.span_px / 2.0
        eps = 1e-6 * self.canvas
        sides = np.stack([np.abs(y - (c - half)) < eps, np.abs(x - (c + half)) < eps,
                          np.abs(y - (c + half)) < eps, np.abs(x - (c - half)) < eps], axis=1)
        # numpy's stubs type any(axis=...) as a bool or an array: an array here
        return (sides[:, None, :] & sides[None, :, :]).any(axis=2)  # type: ignore[return-value]


def _square_perimeter(frac: np.ndarray, c: float, half: float) -> np.ndarray:
    """Points at fraction ``frac`` of the perimeter, clockwise from top centre."""
    s = frac * 8.0 * half  # arc length, perimeter = 8 * half
    side = 2.0 * half
    # unroll: start at top centre going right
    s = (s + half) % (4 * side)  # distance from top-left corner, clockwise
    x = np.empty_like(s)
    y = np.empty_like(s)
    top = s < side
    right = (s >= side) & (s < 2 * side)
    bottom = (s >= 2 * side) & (s < 3 * side)
    left = s >= 3 * side
    x[top], y[top] = c - half + s[top], c - half
    x[right], y[right] = c + half, c - half + (s[right] - side)
    x[bottom], y[bottom] = c + half - (s[bottom] - 2 * side), c + half
    x[left], y[left] = c - half, c + half - (s[left] - 3 * side)
    return np.stack([x, y], axis=1)


def default_min_gap(n_pins: int) -> int:
    """The seed generator's min gap (20 at 288 pins), scaled with the pin count.

    >>> default_min_gap(288), default_min_gap(3)
    (20, 1)
    """
    return int(min(max(1, round(n_pins * 20 / 288)), n_pins // 2))
