"""The Solver interface: Problem in, Solution out.

* :class:`Problem` -- frozen: target, pin layout, thread model, line budget and
  constraints. It hands out the shared :class:`~rendering.ChordTable`.
* :class:`Solver` -- an ABC: :meth:`Solver.solve` is a template that owns the
  bookkeeping (rng, preparing outside the clock, timing, the Solution) around
  one abstract method, :meth:`Solver.run`, which returns an :class:`Output`; a
  frozen keyword-only ``Config`` dataclass, capability flags, and an optional
  :meth:`Solver.prepare` hook (models, JIT kernels, derived tables).
* :class:`Solution` -- chords in thread order (and the pin path when the thread
  is continuous), timings, history, config and seed; renders itself and exports
  (see :mod:`solvers.export`).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from rendering import (ChordTable, InputError, Palette, PinLayout, Target, ThreadModel, check_min_gap,
                       default_min_gap, get_chord_set, get_chord_table, load_target, render_model)
from rendering.chords import check_table_fits
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
    allow_repeats : bool, whether a chord may be used more than once (with colours: more than once in one
        colour; the same pins in two colours are two threads)
    importance : optional (canvas, canvas) float32 >= 0, per-pixel weight of the error
    palette : optional :class:`rendering.Palette`, colour threads on a board (``target.rgb`` is then the
        picture); None: one black thread on white, the grey problem
    """

    target: Target
    layout: PinLayout
    thread: ThreadModel = field(default_factory=ThreadModel)
    n_lines: int
    min_gap: int
    continuous: bool = True
    allow_repeats: bool = False
    importance: np.ndarray | None = None
    palette: Palette | None = None

    def __post_init__(self):
        check_int("lines", self.n_lines, low=1, hint="ask for at least one line, e.g. --lines 4000")
        if self.palette is not None:
            if not isinstance(self.palette, Palette):
                raise InputError(f"palette must be a rendering.Palette, got {type(self.palette).__name__}")
            if self.palette.n > self.n_lines:
                raise InputError(f"{self.palette.n} colours need at least {self.palette.n} lines, got "
                                 f"{self.n_lines}; ask for more lines or fewer colours")
            if self.target.rgb is None:  # a grey picture in colour threads: its three channels are equal
                t = self.target
                object.__setattr__(self, "target", Target(t.image, t.name, t.original, t.edits,
                                                          rgb=np.repeat(t.image[..., None], 3, axis=2),
                                                          original_rgb=np.repeat(t.original[..., None], 3, axis=2)))
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
            k = self.palette.n if self.palette is not None else 1  # a chord may be drawn once in each colour
            if self.n_lines > n * k:
                raise InputError(f"{self.n_lines} lines need repeated chords: only {n} chords exist for "
                                 f"{self.layout.n_pins} pins with min_gap {self.min_gap}"
                                 + (f" ({n * k} lines in {k} colours)" if k > 1 else "")
                                 + "; ask for fewer lines, more pins, or allow repeats")

    @classmethod
    def create(cls, image, *, pins: int = 288, lines: int = 4000, canvas: int = 512, min_gap: int | None = None,
               shape: str = "circle", jitter: float = 0.0, thread: ThreadModel | None = None,
               contrast: bool = False, gamma: float = 1.0, exposure: str = "off", clahe: bool = False,
               crop: str = "center", importance=None, importance_strength: float = 2.0, colors=None, board=None,
               **kw) -> "Problem":
        """A problem from an image (built-in name, file, PIL image or array) and the usual knobs.

        Colour threads: ``colors`` (``"auto:K"``, ``"black,red,#1e90ff"``, a list or a
        :class:`rendering.Palette`; see :func:`rendering.parse_palette`) on ``board`` (``"white"``,
        ``"black"``, a thread name or ``#rrggbb``). A board without colours gets one thread that shows on
        it (black on a light board, white on a dark one); neither: the grey problem.

        The front end (:mod:`rendering.frontend`): ``exposure``, ``clahe``, ``crop``
        (see :func:`rendering.load_target`) and ``importance``: None, an array of
        per-pixel weights, ``"edges"``, ``"saliency"`` or ``"both"``
        (:func:`rendering.frontend.importance_map`), or the path of a mask picture
        (white = important, :func:`rendering.frontend.mask_importance`), with
        ``importance_strength``.

        >>> p = Problem.create("camera", pins=64, lines=100, canvas=64)
        >>> p.layout.n_pins, p.n_lines, p.min_gap
        (64, 100, 4)
        """
        layout = PinLayout(n_pins=pins, canvas=canvas, shape=shape, jitter=jitter)
        gap = default_min_gap(pins) if min_gap is None else min_gap
        check_min_gap(gap, pins)
        thread = thread or ThreadModel()
        # a problem too big for this machine is refused now, before the image is loaded at that size
        check_table_fits(layout, gap, thread.width_px(layout.span_px))
        from rendering.colour import check_palette_spec, default_thread, parse_board, parse_palette

        if colors is None and board is not None and parse_board(board)[1] != (1.0, 1.0, 1.0):
            colors = default_thread(board)
        if colors is not None:
            k, _ = check_palette_spec(colors, board)  # bad colours fail before the picture is loaded
            if k > lines:
                raise InputError(f"{k} colours need at least {k} lines, got {lines}; ask for more lines or "
                                 f"fewer colours")
        colour = colors is not None
        target = image if isinstance(image, Target) else load_target(image, canvas, contrast=contrast, gamma=gamma,
                                                                     exposure=exposure, clahe=clahe, crop=crop,
                                                                     colour=colour)
        if isinstance(image, Target) and image.canvas != canvas:
            raise InputError(f"target has canvas {image.canvas} but canvas={canvas} was asked")
        if colour and "palette" not in kw:
            rgb = target.rgb if target.rgb is not None else np.repeat(target.image[..., None], 3, axis=2)
            kw["palette"] = parse_palette(colors, board, image=rgb, mask=layout.frame_mask)
        if importance is not None and "importance" not in kw:
            kw["importance"] = _importance(importance, target, layout, importance_strength)
        return cls(target=target, layout=layout, thread=thread, n_lines=lines, min_gap=gap, **kw)

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
        return get_chord_set(self.layout, self.min_gap)

    @property
    def mask(self) -> np.ndarray:
        """(canvas, canvas) bool, the inside of the frame."""
        return self.layout.frame_mask

    def with_lines(self, n_lines: int) -> "Problem":
        return dataclasses.replace(self, n_lines=n_lines)

    def describe(self) -> dict[str, Any]:
        """Flat dict of the problem's parameters (for result rows; ``colors`` and ``board`` with a palette)."""
        out = dict(image=self.target.name, pins=self.layout.n_pins, canvas=self.layout.canvas,
                   shape=self.layout.shape, lines=self.n_lines, min_gap=self.min_gap,
                   frame_mm=self.thread.frame_mm, thread_mm=self.thread.thread_mm, opacity=self.thread.opacity,
                   continuous=self.continuous, allow_repeats=self.allow_repeats)
        if self.palette is not None:
            out.update(colors=self.palette.spec, board=self.palette.board_name)
        return out

    @property
    def colour_palette(self) -> Palette:
        """The palette, or black on white for the grey problem."""
        if self.palette is not None:
            return self.palette
        return Palette(names=("black",), rgb=((0.0, 0.0, 0.0),))


def _importance(spec, target: Target, layout: PinLayout, strength: float) -> np.ndarray:
    """Per-pixel error weights from an array, a map name or a mask picture's path."""
    from rendering import frontend

    if isinstance(spec, np.ndarray):
        return spec
    if isinstance(spec, str) and spec in frontend.IMPORTANCE_MODES:
        return frontend.importance_map(target.original, mode=spec, strength=strength, mask=layout.frame_mask)
    if isinstance(spec, (str, Path)):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise InputError(f"importance must be {', '.join(frontend.IMPORTANCE_MODES)} or a mask picture file, "
                             f"got '{spec}' (no such file)")
        mask = load_target(path, layout.canvas, crop="center").original
        return frontend.mask_importance(mask, strength=strength)
    raise InputError(f"importance must be an array, {', '.join(frontend.IMPORTANCE_MODES)} or a mask file, "
                     f"got {type(spec).__name__}")


def error_weights(problem: Problem) -> np.ndarray:
    """(canvas * canvas,) float32: the per-pixel weight of the error (the importance map inside the frame, 1
    without one; 0 outside). The weights of every solver's squared error."""
    w = problem.mask.astype(np.float32)
    if problem.importance is not None:
        w *= problem.importance
    return np.ascontiguousarray(w.ravel())


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
    colours : optional (n_lines,) int8, the palette index of each chord's thread (a colour solution:
        ``chords`` are then in build order, ``path`` is None)
    paths : optional tuple with one (n_k + 1,) int32 pin path per palette colour, its thread in order
        (``(0,)`` for a colour not used); the chords of colour ``k`` in build order walk ``paths[k]``
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
    colours: np.ndarray | None = None
    paths: tuple | None = None

    def __post_init__(self):
        chords = np.ascontiguousarray(self.chords, dtype=np.int32)
        object.__setattr__(self, "chords", chords)
        if self.path is not None:
            path = np.ascontiguousarray(self.path, dtype=np.int32)
            object.__setattr__(self, "path", path)
            if path.size != chords.size + 1:
                raise ValueError(f"path must have n_lines + 1 = {chords.size + 1} pins, got {path.size}")
        if (self.colours is None) != (self.paths is None):
            raise ValueError("a colour solution gives both colours and paths")
        if self.colours is not None:
            colours = np.ascontiguousarray(self.colours, dtype=np.int8)
            paths = tuple(np.ascontiguousarray(p, dtype=np.int32) for p in self.paths)
            object.__setattr__(self, "colours", colours)
            object.__setattr__(self, "paths", paths)
            if colours.shape != chords.shape:
                raise ValueError(f"colours must give one palette index per chord ({chords.size}), got {colours.size}")
            if len(paths) != self.problem.colour_palette.n:
                raise ValueError(f"paths must hold one pin path per palette colour "
                                 f"({self.problem.colour_palette.n}), got {len(paths)}")
            for k, p in enumerate(paths):
                n_k = int(np.count_nonzero(colours == k))
                if p.size != (n_k + 1 if n_k else p.size) or (n_k and p.size < 2) or (not n_k and p.size > 1):
                    raise ValueError(f"the path of colour {k} must have {n_k + 1 if n_k else '0 or 1'} pins, "
                                     f"got {p.size}")

    @classmethod
    def from_path(cls, problem: Problem, path, **kw) -> "Solution":
        """A continuous solution from its pin sequence."""
        path = np.asarray(path, dtype=np.int32)
        return cls(problem=problem, chords=problem.chords.path_to_chords(path), path=path, **kw)

    @property
    def n_lines(self) -> int:
        return int(self.chords.size)

    @property
    def is_colour(self) -> bool:
        """A colour solution: several threads (``colours`` and ``paths``)."""
        return self.colours is not None

    def pin_pairs(self) -> np.ndarray:
        """(n_lines, 2) int32: the pins of each chord in thread order (a colour solution: in build order,
        each line from the pin its colour's thread is at)."""
        if self.path is not None:
            return np.stack([self.path[:-1], self.path[1:]], axis=1)
        if self.colours is not None:
            out = np.empty((self.n_lines, 2), dtype=np.int32)
            for k, p in enumerate(self.paths):
                sel = self.colours == k
                if sel.any():
                    out[sel] = np.stack([p[:-1], p[1:]], axis=1)
            return out
        cs = self.problem.chords
        return np.stack([cs.pin_a[self.chords], cs.pin_b[self.chords]], axis=1)

    def shortfall(self) -> str | None:
        """None when the whole line budget was drawn; else one line saying how many lines and why fewer.

        The reason comes from ``extra["stop"]`` when the solver recorded one
        (``"dead end"``, ``"no gain"``).
        """
        asked, drawn = self.problem.n_lines, self.n_lines
        if drawn >= asked:
            return None
        p = self.problem
        stop = self.extra.get("stop")
        if stop is None and self.path is not None and self.path.size and not p.allow_repeats:
            row = p.chords.id_of[int(self.path[-1])]
            if np.isin(row[row >= 0], self.chords).all():  # every chord from the last pin is drawn
                stop = "dead end"
        if stop == "dead end":
            pin = int(self.path[-1]) if self.path is not None and self.path.size else None
            per_pin = int((p.chords.id_of[pin] >= 0).sum()) if pin is not None else None
            if pin is None:
                where = "a pin whose chords are all drawn"
            elif per_pin == 1:
                where = f"pin {pin}, whose only chord (min gap {p.min_gap}) is drawn"
            else:
                where = f"pin {pin}, whose {per_pin} chords (min gap {p.min_gap}) are all drawn"
            why = (f"the thread reached {where}; a chord is drawn at most once, so lower --min-gap, add pins "
                   f"or ask for fewer lines")
        elif stop == "no gain":
            why = "no further line lowers the error (early stop)"
        else:
            why = "the solver stopped early"
        return f"{self.solver or 'the solver'} drew {drawn} of the {asked} lines asked: {why}"

    def render(self, *, model: str = "multiplicative", supersample: int = 4) -> np.ndarray:
        """(canvas, canvas) float32 preview in [0, 1], 1 = white; for a problem with a palette (canvas, canvas, 3)
        sRGB (:func:`rendering.render_colour`: each chord in its thread's colour, in build order)."""
        p = self.problem
        if p.palette is not None:
            if model != "multiplicative":
                raise InputError(f"colour threads render with the multiplicative (compositing) model only, "
                                 f"not {model!r}")
            from rendering import render_colour

            colours = self.colours if self.colours is not None else np.zeros(self.n_lines, np.int8)
            return render_colour(p.table, self.chords, colours, p.palette, opacity=p.thread.opacity)
        return render_model(p.table, self.chords, p.thread, model=model, supersample=supersample)

    def runs(self) -> list[tuple[int, int, int]]:
        """The build order as runs of one colour: ``(colour, first line, last line)`` (0-based, inclusive).
        A grey solution is one run of colour 0."""
        if self.colours is None:
            return [(0, 0, self.n_lines - 1)] if self.n_lines else []
        c = self.colours
        starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]]) if c.size else np.zeros(0, int)
        ends = np.r_[starts[1:], c.size] - 1
        return [(int(c[s]), int(s), int(e)) for s, e in zip(starts, ends)]

    def segment_lengths_m(self) -> np.ndarray:
        """(n_lines,) float64 length of each line in metres (pin to pin, straight), in thread (build) order."""
        pos = self.problem.layout.positions
        pairs = self.pin_pairs()
        px = np.hypot(*(pos[pairs[:, 0]] - pos[pairs[:, 1]]).T)
        return px / self.problem.thread.px_per_mm(self.problem.layout.span_px) / 1000.0

    def thread_length_m(self, colour: int | None = None) -> float:
        """Thread length in metres (pin to pin, straight); of one palette colour when ``colour`` is given."""
        if colour is not None:
            sel = (self.colours == colour) if self.colours is not None else np.full(self.n_lines, colour == 0)
            return float(self.segment_lengths_m()[sel].sum())
        pos = self.problem.layout.positions
        pairs = self.pin_pairs()
        px = np.hypot(*(pos[pairs[:, 0]] - pos[pairs[:, 1]]).T).sum()
        return float(px / self.problem.thread.px_per_mm(self.problem.layout.span_px) / 1000.0)

    def save(self, out_dir, *, stem: str = "stringart", formats=("png", "txt", "csv", "json", "svg")) -> dict:
        """Write the exports atomically; see :func:`solvers.export.save_solution`."""
        from .export import save_solution

        return save_solution(self, out_dir, stem=stem, formats=formats)


@dataclass(frozen=True, kw_only=True, eq=False)
class Output:
    """What a solver's :meth:`Solver.run` returns: the thread, and what it learnt on the way.

    Give ``path`` (a continuous thread, ``(n + 1,)`` pins; fewer than 2 pins is an
    empty thread) or ``chords`` (``(n,)`` chord ids in order, not continuous).

    Attributes
    ----------
    path : (n + 1,) int pins, or None
    chords : (n,) int chord ids, or None (derived from ``path`` when it is given)
    history : optional (n_steps,) float, the solver's score per step (lower is better)
    extra : dict, anything else worth recording (JSON-able values)
    paths : optional, colour threads: one pin path per palette colour (each continuous; fewer than 2 pins:
        unused), with ``colours``
    colours : optional (n,) int, the palette index of each line in build order; the ``k``-th line of
        colour ``c`` is the ``k``-th chord of ``paths[c]``
    """

    path: np.ndarray | None = None
    chords: np.ndarray | None = None
    history: np.ndarray | None = None
    extra: dict = field(default_factory=dict)
    paths: tuple | None = None
    colours: np.ndarray | None = None


def colour_chords(problem: Problem, paths, colours) -> tuple[np.ndarray, np.ndarray, tuple]:
    """The chords in build order of colour threads: ``(chords, colours, paths)`` checked.

    ``paths[k]`` is the pin path of colour ``k``'s thread, ``colours`` the colour of each line in build
    order; the ``j``-th line of colour ``k`` is the ``j``-th chord of ``paths[k]``.
    """
    n_colours = problem.colour_palette.n
    if colours is None or len(paths) != n_colours:
        raise TypeError(f"colour threads need one path per palette colour ({n_colours}) and the colour of each line")
    colours = np.asarray(colours, dtype=np.int64).ravel()
    if colours.size and (colours.min() < 0 or colours.max() >= n_colours):
        raise ValueError(f"colour indices must be in [0, {n_colours - 1}]")
    chords = np.zeros(colours.size, dtype=np.int32)
    out_paths = []
    for k in range(n_colours):
        p = np.asarray(paths[k], dtype=np.int32).ravel()
        sel = colours == k
        n_k = int(sel.sum())
        if n_k == 0:
            out_paths.append(p[:1] if p.size else np.zeros(0, np.int32))
            continue
        if p.size != n_k + 1:
            raise ValueError(f"colour {k} draws {n_k} lines but its path has {p.size} pins")
        chords[sel] = problem.chords.path_to_chords(p)
        out_paths.append(p)
    return chords, colours.astype(np.int8), tuple(out_paths)


def resolve_rng(rng: RngLike) -> tuple[np.random.Generator, int | None]:
    """The generator a solve draws from and the seed it records (an int seed, else None).

    >>> gen, seed = resolve_rng(7)
    >>> seed, isinstance(gen, np.random.Generator)
    (7, True)
    """
    gen = as_generator(rng)
    return gen, (int(rng) if isinstance(rng, (int, np.integer)) else None)


class Solver(ABC):
    """Base class of every solver: :meth:`solve` is a template around one method, :meth:`run`.

    A subclass sets ``Config`` (a frozen, keyword-only dataclass), the capability
    flags, and implements :meth:`run`; it may override :meth:`prepare`. The base
    class owns the bookkeeping every solver shares: it turns ``rng`` into a
    generator and the seed it records, prepares the solver outside the clock,
    times :meth:`run`, and builds the :class:`Solution` with the registered
    name and the config. Instances are built from keyword arguments, which go
    to ``Config`` over the registered defaults.
    """

    #: registry name, set by :func:`solvers.registry.register` (a named variant is a subclass with its own)
    name: ClassVar[str] = ""
    #: config defaults of the registered name (a named variant's options)
    defaults: ClassVar[dict] = {}
    #: the solver returns one continuous thread (a pin path)
    continuous: ClassVar[bool] = True
    #: the solver's output depends on the rng (False: deterministic whatever the seed)
    stochastic: ClassVar[bool] = True
    #: config overrides for a quick run (contract tests, ``bench run --quick``, :meth:`prepare`'s warm-up)
    quick_options: ClassVar[dict] = {}
    #: the solver draws colour threads (a problem with a palette; a grey problem is black on white); the
    #: others draw one black thread on white and refuse other palettes
    colour: ClassVar[bool] = False

    @dataclass(frozen=True, kw_only=True)
    class Config:
        pass

    def __init__(self, config=None, **kwargs):
        if config is not None and kwargs:
            raise TypeError("pass either a config or keyword arguments, not both")
        if config is None:
            names = [f.name for f in dataclasses.fields(self.Config) if f.init]
            unknown = [k for k in kwargs if k not in names]
            who = self.name or type(self).__name__
            if unknown:
                raise InputError(f"unknown option '{unknown[0]}' for solver {who}; its options are: "
                                 f"{', '.join(names) or 'none'}")
            try:
                config = self.Config(**{**self.defaults, **kwargs})
            except TypeError as e:
                raise InputError(f"bad option for solver {who}: {e}; its options are: "
                                 f"{', '.join(names) or 'none'}") from None
        self.config = config

    def solve(self, problem: Problem, *, rng: RngLike = None, **inputs) -> Solution:
        """Solve ``problem``. Same problem and same seed give the same Solution.

        Prepares the solver (:meth:`prepare`, not timed), then times :meth:`run`;
        ``Solution.seconds`` is the solve alone. ``inputs`` are solver-specific
        keyword inputs passed on to :meth:`run` (greedy's warm starts: ``prior``,
        ``partners``, ``guide``).
        """
        gen, seed = resolve_rng(rng)
        if problem.palette is not None and not problem.palette.plain and not type(self).colour:
            raise InputError(f"solver {self.name or type(self).__name__} draws one black thread on white; for "
                             f"colour threads ({problem.palette.describe()}) use a colour solver "
                             f"(colour-greedy, colour-dither; see bench solvers)")
        self.prepare(problem)
        start = time.perf_counter()
        out = self.run(problem, gen, **inputs)
        seconds = time.perf_counter() - start
        if not isinstance(out, Output):
            raise TypeError(f"{type(self).__name__}.run must return a solvers.Output, got {type(out).__name__}")
        path, chords = out.path, out.chords
        if out.paths is not None:
            chords, colours, paths = colour_chords(problem, out.paths, out.colours)
            return Solution(problem=problem, chords=chords, solver=self.name, config=self.config_dict(), seed=seed,
                            seconds=seconds, history=None if out.history is None else np.asarray(out.history),
                            extra=dict(out.extra), colours=colours, paths=paths)
        if path is not None:
            path = np.asarray(path, dtype=np.int32)
            # fewer than 2 pins: stopped before the first chord (e.g. early_stop), an empty thread
            chords = problem.chords.path_to_chords(path) if path.size >= 2 else np.zeros(0, dtype=np.int32)
        elif chords is None:
            raise TypeError(f"{type(self).__name__}.run returned neither a path nor chords")
        return Solution(problem=problem, chords=chords, path=path, solver=self.name, config=self.config_dict(),
                        seed=seed, seconds=seconds, history=None if out.history is None else np.asarray(out.history),
                        extra=dict(out.extra))

    @abstractmethod
    def run(self, problem: Problem, rng: np.random.Generator) -> Output:
        """Build the thread for ``problem``, drawing randomness from ``rng`` only: the solver's work.

        Called by :meth:`solve`, which times it; do the work here and nothing
        else (load models and compile kernels in :meth:`prepare`).
        """

    def prepare(self, problem: Problem) -> None:
        """Get ready to solve ``problem`` fast: everything that is not solving, done once.

        Loads models, compiles or loads JIT kernels, builds the tables derived from
        the chord table. :meth:`solve` calls it before starting its clock; the
        harness and the CLI call it first to report it apart. The default runs
        :meth:`run` once, untimed, on the same problem cut to a few lines with
        the solver's ``quick_options`` (which compiles every kernel it reaches
        and builds the derived tables of the problem's chord table), once per
        process, solver config and chord table. Errors are left for the real
        solve to report.
        """
        key = ("prepared", type(self), self.name, repr(self.config))
        problem.table.derived(key, lambda table: self._warm_up(problem))

    def precompile(self, *, pins: int = 288, min_gap: int | None = None, shape: str = "circle",
                   thread: ThreadModel | None = None) -> None:
        """Compile this solver's kernels into numba's on-disk cache, for a later process to load.

        Runs :meth:`run` on a tiny problem whose chord table is a stand-in with
        the types of a real one (:func:`rendering.chords.specimen_table`), so the
        kernels that build real tables are not compiled here: ``bench solve``
        runs this in a second process on a first run while the first process
        builds the table. The pin count, min gap, frame and thread are the real
        problem's (a learned solver's model checks them).
        """
        from rendering.chords import specimen_table

        thread = thread or ThreadModel()
        gap = default_min_gap(pins) if min_gap is None else min_gap
        layout = PinLayout(n_pins=pins, canvas=64, shape=shape)
        specimen_table(layout, gap, thread.width_px(layout.span_px))
        problem = Problem.create(np.full((64, 64), 0.5, np.float32), pins=pins, lines=8, canvas=64, min_gap=gap,
                                 shape=shape, thread=thread)
        self._warm_up(problem)

    def jit_kernels(self) -> tuple:
        """The numba kernels a run of this solver calls (with its config): the CLI checks whether they are
        compiled already, to say so on one line before a first run compiles them. Default: none."""
        return ()

    def _warm_up(self, problem: Problem) -> bool:
        try:
            cfg = dataclasses.replace(self.config, **self.quick_options) if self.quick_options else self.config
            tiny = type(self)(config=cfg)
            tiny.run(problem.with_lines(min(problem.n_lines, 8)), np.random.default_rng(0))
            return True
        except Exception:  # noqa: BLE001  (the real solve reports it)
            return False

    # ------------------------------------------------------------------ helpers
    def config_dict(self) -> dict:
        return dataclasses.asdict(self.config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"
