"""The Solver interface: Problem in, Solution out.

* :class:`Problem` -- frozen: target, pin layout, thread model, line budget and
  constraints. It hands out the shared :class:`~rendering.ChordTable`.
* :class:`Solver` -- an ABC with one abstract method, :meth:`Solver.solve`, a
  frozen keyword-only ``Config`` dataclass, and capability flags.
* :class:`Solution` -- chords in thread order (and the pin path when the thread
  is continuous), timings, history, config and seed; renders itself and exports
  (see :mod:`solvers.export`).
"""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from rendering import (ChordTable, InputError, PinLayout, Target, ThreadModel, check_min_gap, default_min_gap,
                       get_chord_table, load_target, render_model)
from rendering.errors import check_int

RngLike = np.random.Generator | int | None


def as_generator(rng: RngLike) -> np.random.Generator:
    """``numpy.random.default_rng`` on an int, None or Generator (called once per solve)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is not None and (isinstance(rng, bool) or not isinstance(rng, (int, np.integer)) or rng < 0):
        raise InputError(f"rng must be a numpy Generator, a non-negative int seed or None, got {rng!r}")
    return np.random.default_rng(rng)


@dataclass(frozen=True, kw_only=True, eq=False)
class Problem:
    """What to solve. Frozen; build with :meth:`Problem.create` for the usual case.

    Parameters
    ----------
    target : Target, image (canvas, canvas) in [0, 1], 1 = white
    layout : PinLayout, on the same canvas
    thread : ThreadModel
    n_lines : int >= 1, the line budget (number of chords)
    min_gap : int, chords join pins at least this far apart around the frame
    continuous : bool, the output must be one thread (each chord starts where the last ended)
    allow_repeats : bool, whether a chord may be used more than once
    importance : optional (canvas, canvas) float32 >= 0, per-pixel weight of the error
    """

    target: Target
    layout: PinLayout
    thread: ThreadModel = field(default_factory=ThreadModel)
    n_lines: int
    min_gap: int
    continuous: bool = True
    allow_repeats: bool = False
    importance: np.ndarray | None = None

    def __post_init__(self):
        check_int("lines", self.n_lines, low=1, hint="ask for at least one line, e.g. --lines 4000")
        check_min_gap(self.min_gap, self.layout.n_pins)
        if self.target.image.shape != (self.layout.canvas, self.layout.canvas):
            raise InputError(f"target is {self.target.image.shape} but the layout's canvas is {self.layout.canvas} px; "
                             f"load the target at the same canvas")
        if self.importance is not None:
            imp = np.asarray(self.importance, dtype=np.float32)
            if imp.shape != self.target.image.shape or not np.isfinite(imp).all() or (imp < 0).any():
                raise InputError(f"importance must be a finite, non-negative {self.target.image.shape} array, "
                                 f"got shape {imp.shape}")
            object.__setattr__(self, "importance", imp)
        if not self.allow_repeats:
            n = self.chords.n_chords
            if self.n_lines > n:
                raise InputError(f"{self.n_lines} lines need repeated chords: only {n} chords exist for "
                                 f"{self.layout.n_pins} pins with min_gap {self.min_gap}; ask for fewer lines, "
                                 f"more pins, or allow repeats")

    @classmethod
    def create(cls, image, *, pins: int = 288, lines: int = 4000, canvas: int = 512, min_gap: int | None = None,
               shape: str = "circle", jitter: float = 0.0, thread: ThreadModel | None = None,
               contrast: bool = False, gamma: float = 1.0, **kw) -> "Problem":
        """A problem from an image (built-in name, file, PIL image or array) and the usual knobs.

        >>> p = Problem.create("camera", pins=64, lines=100, canvas=64)
        >>> p.layout.n_pins, p.n_lines, p.min_gap
        (64, 100, 4)
        """
        layout = PinLayout(n_pins=pins, canvas=canvas, shape=shape, jitter=jitter)
        target = image if isinstance(image, Target) else load_target(image, canvas, contrast=contrast, gamma=gamma)
        if isinstance(image, Target) and image.canvas != canvas:
            raise InputError(f"target has canvas {image.canvas} but canvas={canvas} was asked")
        gap = default_min_gap(pins) if min_gap is None else min_gap
        return cls(target=target, layout=layout, thread=thread or ThreadModel(), n_lines=lines, min_gap=gap, **kw)

    @property
    def width_px(self) -> float:
        """Thread width in pixels on this canvas."""
        return self.thread.width_px(self.layout.span_px)

    @property
    def table(self) -> ChordTable:
        """The shared chord table (cached in memory and on disk)."""
        return get_chord_table(self.layout, self.min_gap, self.width_px)

    @property
    def chords(self):
        """The :class:`~rendering.ChordSet` (ids of allowed chords), without building the table."""
        return _chord_set(self.layout, self.min_gap)

    @property
    def mask(self) -> np.ndarray:
        """(canvas, canvas) bool, the inside of the frame."""
        return self.layout.frame_mask

    def with_lines(self, n_lines: int) -> "Problem":
        return dataclasses.replace(self, n_lines=n_lines)

    def describe(self) -> dict[str, Any]:
        """Flat dict of the problem's parameters (for result rows)."""
        return dict(image=self.target.name, pins=self.layout.n_pins, canvas=self.layout.canvas,
                    shape=self.layout.shape, lines=self.n_lines, min_gap=self.min_gap,
                    frame_mm=self.thread.frame_mm, thread_mm=self.thread.thread_mm, opacity=self.thread.opacity,
                    continuous=self.continuous, allow_repeats=self.allow_repeats)


_chord_sets: dict = {}


def _chord_set(layout: PinLayout, min_gap: int):
    from rendering import ChordSet

    key = (layout.n_pins, layout.shape, layout.canvas, layout.margin, layout.jitter, layout.seed, min_gap)
    if key not in _chord_sets:
        if len(_chord_sets) > 16:
            _chord_sets.clear()
        _chord_sets[key] = ChordSet.build(layout, min_gap)
    return _chord_sets[key]


@dataclass(frozen=True, kw_only=True, eq=False)
class Solution:
    """A solver's answer.

    Attributes
    ----------
    problem : Problem
    chords : (n_lines,) int32 chord ids in thread order
    path : (n_lines + 1,) int32 pin sequence when the thread is continuous, else None
    solver : str, registry name
    config : dict, the solver's config (``dataclasses.asdict``)
    seed : int or None, the seed the solver was given
    seconds : float, wall time of ``solve``
    history : optional (n_steps,) float64, the solver's score per step (lower is better)
    """

    problem: Problem
    chords: np.ndarray
    path: np.ndarray | None = None
    solver: str = ""
    config: dict = field(default_factory=dict)
    seed: int | None = None
    seconds: float = 0.0
    history: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        chords = np.ascontiguousarray(self.chords, dtype=np.int32)
        object.__setattr__(self, "chords", chords)
        if self.path is not None:
            path = np.ascontiguousarray(self.path, dtype=np.int32)
            object.__setattr__(self, "path", path)
            if path.size != chords.size + 1:
                raise ValueError(f"path must have n_lines + 1 = {chords.size + 1} pins, got {path.size}")

    @classmethod
    def from_path(cls, problem: Problem, path, **kw) -> "Solution":
        """A continuous solution from its pin sequence."""
        path = np.asarray(path, dtype=np.int32)
        return cls(problem=problem, chords=problem.chords.path_to_chords(path), path=path, **kw)

    @property
    def n_lines(self) -> int:
        return int(self.chords.size)

    def pin_pairs(self) -> np.ndarray:
        """(n_lines, 2) int32: the pins of each chord in thread order."""
        if self.path is not None:
            return np.stack([self.path[:-1], self.path[1:]], axis=1)
        cs = self.problem.chords
        return np.stack([cs.pin_a[self.chords], cs.pin_b[self.chords]], axis=1)

    def render(self, *, model: str = "multiplicative", supersample: int = 4) -> np.ndarray:
        """(canvas, canvas) float32 preview in [0, 1], 1 = white."""
        return render_model(self.problem.table, self.chords, self.problem.thread, model=model,
                            supersample=supersample)

    def thread_length_m(self) -> float:
        """Total thread length in metres (pin to pin, straight)."""
        pos = self.problem.layout.positions
        pairs = self.pin_pairs()
        px = np.hypot(*(pos[pairs[:, 0]] - pos[pairs[:, 1]]).T).sum()
        return float(px / self.problem.thread.px_per_mm(self.problem.layout.span_px) / 1000.0)

    def save(self, out_dir, *, stem: str = "stringart", formats=("png", "txt", "csv", "json", "svg")) -> dict:
        """Write the exports atomically; see :func:`solvers.export.save_solution`."""
        from .export import save_solution

        return save_solution(self, out_dir, stem=stem, formats=formats)


class Solver(ABC):
    """Base class of every solver.

    Subclasses set ``Config`` (a frozen, keyword-only dataclass), the capability
    flags, and implement :meth:`solve`. Instances are built from keyword
    arguments, which go to ``Config``.
    """

    #: registry name, set by :func:`solvers.registry.register`
    name: ClassVar[str] = ""
    #: the solver returns one continuous thread (a pin path)
    continuous: ClassVar[bool] = True
    #: the solver's output depends on the rng (False: deterministic whatever the seed)
    stochastic: ClassVar[bool] = True
    #: config overrides for a quick run (contract tests, ``bench run --quick``): a small budget
    quick_options: ClassVar[dict] = {}

    @dataclass(frozen=True, kw_only=True)
    class Config:
        pass

    def __init__(self, config=None, **kwargs):
        if config is not None and kwargs:
            raise TypeError("pass either a config or keyword arguments, not both")
        if config is None:
            try:
                config = self.Config(**kwargs)
            except TypeError as e:
                names = ", ".join(f.name for f in dataclasses.fields(self.Config)) or "none"
                raise InputError(f"bad option for solver {self.name or type(self).__name__}: {e}; "
                                 f"its options are: {names}") from None
        self.config = config

    @abstractmethod
    def solve(self, problem: Problem, *, rng: RngLike = None) -> Solution:
        """Solve ``problem``. Same problem and same seed give the same Solution."""

    # ------------------------------------------------------------------ helpers
    def config_dict(self) -> dict:
        return dataclasses.asdict(self.config)

    def _solution(self, problem: Problem, *, path=None, chords=None, seed=None, start: float,
                  history=None, **extra) -> Solution:
        """Build the Solution with timing and config filled in (``start`` from ``time.perf_counter``)."""
        seconds = time.perf_counter() - start
        if path is not None:
            path = np.asarray(path, dtype=np.int32)
            chords = problem.chords.path_to_chords(path)
        return Solution(problem=problem, chords=chords, path=path, solver=self.name, config=self.config_dict(),
                        seed=seed, seconds=seconds, history=None if history is None else np.asarray(history),
                        extra=extra)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"
