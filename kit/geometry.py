"""The frame in physical units: pin centres in millimetres, pin spacing, thread lengths.

Millimetre coordinates have their origin at the frame's centre, ``x`` to the right and ``y`` down, as
seen from the front (the layout's pixels scaled by ``frame_mm / span_px``): pin 0 at 12 o'clock,
numbered clockwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from rendering import InputError, PinLayout, ThreadModel
from rendering.errors import check_float

#: a common nail / panel pin (mm)
DEFAULT_PIN_MM = 1.5
#: thread per knot (tie on, tie off), metres
KNOT_M = 0.3
#: spare thread for handling and mistakes
SPARE = 0.10


def check_pin_mm(pin_mm) -> float:
    return check_float("pin_mm", pin_mm, low=0.0, low_open=True, hint="the pin (nail) diameter in mm, e.g. "
                                                                      "--pin-mm 1.5")


def pins_mm(layout: PinLayout, thread: ThreadModel) -> np.ndarray:
    """(n_pins, 2) float64 pin centres in mm from the frame's centre (x right, y down)."""
    return (np.asarray(layout.positions, dtype=np.float64) - layout.center) / thread.px_per_mm(layout.span_px)


def nominal_spacing_mm(layout: PinLayout, thread: ThreadModel) -> float:
    """The frame's circumference (circle) or perimeter (square) over the pin count."""
    perimeter = math.pi * thread.frame_mm if layout.shape == "circle" else 4.0 * thread.frame_mm
    return perimeter / layout.n_pins


def check_pin_spacing(layout: PinLayout, thread: ThreadModel, pin_mm: float) -> float:
    """The smallest centre-to-centre distance of neighbouring pins (mm); :class:`InputError` (one line) when
    it is smaller than the pin diameter, as the pins would not fit."""
    pin_mm = check_pin_mm(pin_mm)
    pos = pins_mm(layout, thread)
    gaps = np.hypot(*(np.roll(pos, -1, axis=0) - pos).T)
    k = int(np.argmin(gaps))
    smallest = float(gaps[k])
    if smallest < pin_mm:
        what = f"{layout.n_pins} pins on a {thread.frame_mm:g} mm {'circle' if layout.shape == 'circle' else 'square'}"
        if abs(smallest - nominal_spacing_mm(layout, thread)) > 0.01:  # a square's corner, or jitter
            where = f"{what}: pins {k} and {(k + 1) % layout.n_pins} are {smallest:.2f} mm apart"
        else:
            where = f"{what} are {smallest:.2f} mm apart"
        raise InputError(f"pin spacing too small: {where} (centre to centre), less than the {pin_mm:g} mm pin "
                         f"diameter; use fewer --pins, a larger --frame-mm or thinner pins (--pin-mm)")
    return smallest


def clock_position(x: float, y: float) -> str:
    """Where a point lies on a clock face seen from the front, e.g. ``'4:30'`` (12:00 is straight up)."""
    minutes = (math.degrees(math.atan2(x, -y)) % 360.0) / 360.0 * 720.0
    minutes = int(round(minutes)) % 720
    h, m = divmod(minutes, 60)
    return f"{h or 12}:{m:02d}"


@dataclass(frozen=True, eq=False)
class Geometry:
    """A solution's frame, pins and threads in physical units.

    Attributes
    ----------
    shape : "circle" or "rect"
    frame_mm : the pin circle's diameter, or the square's side
    thread_mm, opacity : the thread model
    pin_mm : pin (nail) diameter
    pins : (n_pins, 2) float64 pin centres in mm from the frame's centre (x right, y down)
    pairs : (n_lines, 2) pins of each line in build order
    colours : (n_lines,) int spool (palette index) of each line
    colour_names, colour_hex : the spools' thread names and ``#rrggbb`` colours
    board_name, board_hex : the board's colour
    continuous : each spool's lines form one thread (each line starts where that spool's last one ended)
    """

    shape: str
    frame_mm: float
    thread_mm: float
    opacity: float
    pin_mm: float
    pins: np.ndarray
    pairs: np.ndarray
    colours: np.ndarray
    colour_names: tuple
    colour_hex: tuple
    board_name: str
    board_hex: str
    continuous: bool

    @classmethod
    def from_solution(cls, solution, pin_mm: float = DEFAULT_PIN_MM, *, check: bool = True) -> "Geometry":
        p = solution.problem
        pin_mm = check_pin_mm(pin_mm)
        if check:
            check_pin_spacing(p.layout, p.thread, pin_mm)
        pal = p.palette
        return cls(shape=p.layout.shape, frame_mm=float(p.thread.frame_mm), thread_mm=float(p.thread.thread_mm),
                   opacity=float(p.thread.opacity), pin_mm=pin_mm, pins=pins_mm(p.layout, p.thread),
                   pairs=np.asarray(solution.pin_pairs(), dtype=np.int64),
                   colours=np.asarray(solution.colours, dtype=np.int64), colour_names=pal.names,
                   colour_hex=tuple(pal.hex(k) for k in range(pal.n)), board_name=pal.board_name,
                   board_hex=pal.board_hex, continuous=solution.paths is not None)

    @property
    def n_pins(self) -> int:
        return int(self.pins.shape[0])

    @property
    def n_lines(self) -> int:
        return int(self.pairs.shape[0])

    @cached_property
    def runs(self) -> list[tuple[int, int, int]]:
        """``(spool, first line, last line)`` of each run of one spool in build order."""
        c = self.colours
        starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]]) if c.size else np.zeros(0, int)
        ends = np.r_[starts[1:], c.size] - 1
        return [(int(c[a]), int(a), int(b)) for a, b in zip(starts, ends)]

    @property
    def switches(self) -> int:
        """Spool switches in the build (0 for one spool)."""
        return max(0, len(self.runs) - 1)

    def spool(self, k: int) -> str:
        """The spool (thread colour's name) of line ``k`` (0-based)."""
        return self.colour_names[int(self.colours[k])]

    def spool_budget(self) -> list[dict]:
        """Per spool: ``name``, ``hex``, ``lines`` and :meth:`budget`'s lengths of that spool's thread (metres)."""
        out = []
        for i, name in enumerate(self.colour_names):
            sel = self.colours == i
            n = int(sel.sum())
            straight = float(self.line_mm[sel].sum()) / 1000.0
            wrap = n * self.wrap_mm / 1000.0
            knots = 2 * KNOT_M * sum(1 for c, _, _ in self.runs if c == i) if n else 0.0
            spare = SPARE * (straight + wrap)
            total = straight + wrap + knots + spare
            out.append(dict(name=name, hex=self.colour_hex[i], lines=n, straight_m=straight, wrap_m=wrap,
                            knots_m=knots, spare_m=spare, total_m=total,
                            buy_m=float(math.ceil(total / 10.0) * 10.0) if n else 0.0))
        return out

    @property
    def shape_name(self) -> str:
        return "circle" if self.shape == "circle" else "square"

    @property
    def spacing_mm(self) -> float:
        perimeter = math.pi * self.frame_mm if self.shape == "circle" else 4.0 * self.frame_mm
        return perimeter / self.n_pins

    @cached_property
    def line_mm(self) -> np.ndarray:
        """(n_lines,) straight length of each line, pin centre to pin centre (mm)."""
        a, b = self.pins[self.pairs[:, 0]], self.pins[self.pairs[:, 1]]
        return np.hypot(*(a - b).T)

    @property
    def wrap_mm(self) -> float:
        """Thread taken around a pin by each line: half the pin's circumference."""
        return math.pi * self.pin_mm / 2.0

    @cached_property
    def running_m(self) -> np.ndarray:
        """(n_lines,) thread used after each line (m): straight runs plus the turns around the pins."""
        return np.cumsum(self.line_mm + self.wrap_mm) / 1000.0

    def budget(self) -> dict:
        """The thread to have: straight runs, turns around pins, knots and a spare share (metres)."""
        straight = float(self.line_mm.sum()) / 1000.0
        wrap = self.n_lines * self.wrap_mm / 1000.0
        knots = 2 * KNOT_M * max(1, len(self.runs))  # a tie on and off at every spool switch
        spare = SPARE * (straight + wrap)
        total = straight + wrap + knots + spare
        return dict(straight_m=straight, wrap_m=wrap, knots_m=knots, spare_m=spare, total_m=total,
                    buy_m=float(math.ceil(total / 10.0) * 10.0))

    def where(self, pin: int) -> str:
        """Where a pin is, in words: its clock position seen from the front."""
        x, y = self.pins[int(pin)]
        return f"at {clock_position(x, y)} on a clock face seen from the front"

    def describe(self) -> str:
        """One line: frame, pins, thread."""
        frame = f"{'circle ⌀' if self.shape == 'circle' else 'square '}{self.frame_mm:g} mm"
        return (f"{frame} · {self.n_pins} pins ⌀{self.pin_mm:g} mm, {self.spacing_mm:.2f} mm apart · "
                f"thread ⌀{self.thread_mm:g} mm")


def thread_budget(solution, pin_mm: float = DEFAULT_PIN_MM) -> dict:
    """:meth:`Geometry.budget` of a solution."""
    return Geometry.from_solution(solution, pin_mm, check=False).budget()
