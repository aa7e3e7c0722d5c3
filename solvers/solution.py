"""A solver's answer: :class:`Output` (what :meth:`Solver.run` returns) and :class:`Solution` (what ``solve`` gives).

One shape for one thread and for several: the threads are **runs** ``(colour, pins)`` in build order, each a
stretch of one colour's continuous thread (the grey solution is one run of colour 0). The lines of colour
``k``, run after run, walk that colour's thread: a run starts at the pin where its colour's previous run
ended. Everything else (chord ids, the colour of each line, one pin path per colour, lengths, the render)
is derived from the runs, so code that reads a solution loops over them and never asks whether it is in
colour. ``Solution.path`` is kept as the convenience for one thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from rendering import picture_model

from .problem import Problem

Run = tuple[int, np.ndarray]


def runs_from_lines(paths, colours) -> tuple[Run, ...]:
    """Runs in build order from one pin path per colour and the colour of each line in build order.

    The ``j``-th line of colour ``k`` is the ``j``-th chord of ``paths[k]``.

    >>> runs_from_lines([np.array([0, 5, 9]), np.array([3, 7])], np.array([0, 1, 0]))
    ((0, array([0, 5], dtype=int32)), (1, array([3, 7], dtype=int32)), (0, array([5, 9], dtype=int32)))
    """
    colours = np.asarray(colours, dtype=np.int64).ravel()
    paths = [np.asarray(p, dtype=np.int32).ravel() for p in paths]
    if colours.size and (colours.min() < 0 or colours.max() >= len(paths)):
        raise ValueError(f"line colours must be in [0, {len(paths) - 1}]")
    for k, p in enumerate(paths):
        n_k = int(np.count_nonzero(colours == k))
        if n_k and p.size != n_k + 1:
            raise ValueError(f"colour {k} draws {n_k} lines but its path has {p.size} pins")
    starts = np.flatnonzero(np.r_[True, colours[1:] != colours[:-1]]) if colours.size else np.zeros(0, int)
    ends = np.r_[starts[1:], colours.size]
    at = np.zeros(len(paths), dtype=np.int64)
    out = []
    for s, e in zip(starts.tolist(), ends.tolist()):
        k = int(colours[s])
        n = e - s
        out.append((k, paths[k][at[k]:at[k] + n + 1]))
        at[k] += n
    return tuple(out)


def _check_runs(problem: Problem, runs) -> tuple[Run, ...]:
    n_colours = problem.palette.n
    out = []
    last: dict[int, int] = {}
    for item in runs:
        try:
            k, pins = item
        except (TypeError, ValueError):
            raise ValueError("threads must be (colour, pins) pairs") from None
        k = int(k)
        pins = np.ascontiguousarray(pins, dtype=np.int32).ravel()
        if not 0 <= k < n_colours:
            raise ValueError(f"thread colour {k} is not in the palette ({n_colours} colours)")
        if pins.size < 2:
            continue  # an empty stretch draws nothing
        if problem.continuous and k in last and last[k] != int(pins[0]):
            raise ValueError(f"a run of colour {k} starts at pin {int(pins[0])}, but that colour's thread is at "
                             f"pin {last[k]}: a colour's runs must continue its one thread")
        last[k] = int(pins[-1])
        out.append((k, pins))
    return tuple(out)


@dataclass(frozen=True, kw_only=True, eq=False)
class Output:
    """What a solver's :meth:`~solvers.Solver.run` returns: the threads, and what it learnt on the way.

    Give ``threads``, runs ``(colour, pins)`` in build order (:func:`runs_from_lines` builds them from one
    path per colour and the colour of each line); or, for one thread, ``path`` (``(n + 1,)`` pins; fewer
    than 2 pins is an empty thread); or ``chords`` (``(n,)`` chord ids, one thread that need not be
    continuous).

    Attributes
    ----------
    threads : tuple of (colour, (m,) int pins), or None
    path : (n + 1,) int pins, or None
    chords : (n,) int chord ids, or None
    history : optional (n_steps,) float, the solver's score per step (lower is better)
    extra : dict, anything else worth recording (JSON-able values)
    """

    threads: tuple | None = None
    path: np.ndarray | None = None
    chords: np.ndarray | None = None
    history: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    def runs(self, problem: Problem) -> tuple[Run, ...]:
        """The threads as runs ``(colour, pins)`` for ``problem`` (one run of colour 0 for ``path``)."""
        if self.threads is not None:
            return tuple(self.threads)
        if self.path is not None:
            return ((0, np.asarray(self.path, dtype=np.int32)),)
        if self.chords is not None:
            cs = problem.chords
            ids = np.asarray(self.chords, dtype=np.int64)
            return tuple((0, np.array([cs.pin_a[c], cs.pin_b[c]], dtype=np.int32)) for c in ids.tolist())
        raise TypeError("an Output gives threads, a path or chords")


@dataclass(frozen=True, kw_only=True, eq=False)
class Solution:
    """A solver's answer.

    Attributes
    ----------
    problem : Problem
    threads : tuple of runs ``(colour, (m,) int32 pins)`` in build order (colour: an index of
        ``problem.palette``); the grey solution is one run
    solver : str, registry name
    config : dict, the solver's config (``dataclasses.asdict``)
    seed : int or None, the seed the solver was given
    seconds : float, wall time of ``run`` (preparation excluded)
    history : optional (n_steps,) float64, the solver's score per step (lower is better)
    extra : dict, what the solver recorded (``stop``, timings of its steps, ...)

    Derived: :attr:`chords`, :attr:`colours`, :attr:`paths`, :attr:`path`, :meth:`pin_pairs`, :meth:`render`.
    """

    problem: Problem
    threads: tuple
    solver: str = ""
    config: dict = field(default_factory=dict)
    seed: int | None = None
    seconds: float = 0.0
    history: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "threads", _check_runs(self.problem, self.threads))
        self.chords  # noqa: B018  (every chord checked now: min gap, pins in range)

    @classmethod
    def from_path(cls, problem: Problem, path, **kw) -> "Solution":
        """A one-thread solution from its pin sequence."""
        return cls(problem=problem, threads=((0, np.asarray(path, dtype=np.int32)),), **kw)

    @classmethod
    def from_lines(cls, problem: Problem, pairs, colours, **kw) -> "Solution":
        """A solution from its lines in build order: ``(n, 2)`` pin pairs and each line's palette index.

        Consecutive lines of one colour that join (the next starts where the last ended) are one run.
        """
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        colours = np.asarray(colours, np.int64).ravel()
        if colours.shape != (len(pairs),):
            raise ValueError(f"give one colour per line ({len(pairs)}), got {colours.size}")
        n = len(pairs)
        # a run breaks where the colour changes or a line does not start where the last one ended
        breaks = np.flatnonzero((colours[1:] != colours[:-1]) | (pairs[1:, 0] != pairs[:-1, 1])) + 1
        starts = np.r_[0, breaks] if n else np.zeros(0, np.int64)
        ends = np.r_[breaks, n] if n else np.zeros(0, np.int64)
        runs = tuple((int(colours[a]), np.concatenate([pairs[a:b, 0], pairs[b - 1:b, 1]]).astype(np.int32))
                     for a, b in zip(starts.tolist(), ends.tolist()))
        return cls(problem=problem, threads=runs, **kw)

    # ------------------------------------------------------------------ derived
    @property
    def n_lines(self) -> int:
        return int(self.chords.size)

    @cached_property
    def chords(self) -> np.ndarray:
        """(n_lines,) int32 chord ids in build order."""
        cs = self.problem.chords
        parts = [cs.path_to_chords(pins) for _, pins in self.threads]
        return np.ascontiguousarray(np.concatenate(parts) if parts else np.zeros(0), dtype=np.int32)

    @cached_property
    def colours(self) -> np.ndarray:
        """(n_lines,) int8, the palette index of each line in build order."""
        parts = [np.full(pins.size - 1, k, np.int8) for k, pins in self.threads]
        return np.concatenate(parts) if parts else np.zeros(0, np.int8)

    @cached_property
    def paths(self) -> tuple | None:
        """One pin path per palette colour (its whole thread in order; ``(0,)``-shaped when a colour draws
        nothing), or None when a colour's lines do not join into one thread."""
        out = []
        for k in range(self.problem.palette.n):
            runs = [pins for c, pins in self.threads if c == k]
            if not runs:
                out.append(np.zeros(0, np.int32))
                continue
            if any(a[-1] != b[0] for a, b in zip(runs[:-1], runs[1:])):
                return None
            out.append(np.concatenate([runs[0]] + [r[1:] for r in runs[1:]]).astype(np.int32))
        return tuple(out)

    @property
    def path(self) -> np.ndarray | None:
        """The pin path of a solution with one continuous thread (None otherwise): the one-thread convenience."""
        paths = self.paths or ()
        return paths[0] if len(paths) == 1 and paths[0].size else None

    def lines_per_colour(self) -> np.ndarray:
        """(n_colours,) int64: how many lines each palette colour draws."""
        return np.bincount(self.colours.astype(np.int64), minlength=self.problem.palette.n)

    def runs(self) -> list[tuple[int, int, int]]:
        """The build order as ``(colour, first line, last line)`` (0-based, inclusive), one per run."""
        out, at = [], 0
        for k, pins in self.threads:
            out.append((int(k), at, at + pins.size - 2))
            at += pins.size - 1
        return out

    def pin_pairs(self) -> np.ndarray:
        """(n_lines, 2) int32: the pins of each line in build order, each from where its thread is."""
        parts = [np.stack([pins[:-1], pins[1:]], axis=1) for _, pins in self.threads]
        return np.concatenate(parts).astype(np.int32) if parts else np.zeros((0, 2), np.int32)

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
        last = int(self.threads[-1][1][-1]) if self.threads else None
        if stop is None and last is not None and not p.allow_repeats:
            row = p.chords.id_of[last]
            if np.isin(row[row >= 0], self.chords).all():  # every chord from the last pin is drawn
                stop = "dead end"
        if stop == "dead end":
            per_pin = int((p.chords.id_of[last] >= 0).sum()) if last is not None else None
            if last is None:
                where = "a pin whose chords are all drawn"
            elif per_pin == 1:
                where = f"pin {last}, whose only chord (min gap {p.min_gap}) is drawn"
            else:
                where = f"pin {last}, whose {per_pin} chords (min gap {p.min_gap}) are all drawn"
            why = (f"the thread reached {where}; a chord is drawn at most once, so lower --min-gap, add pins "
                   f"or ask for fewer lines")
        elif stop == "no gain":
            why = "no further line lowers the error (early stop)"
        else:
            why = "the solver stopped early"
        return f"{self.solver or 'the solver'} drew {drawn} of the {asked} lines asked: {why}"

    def render(self, *, model: str = "multiplicative", supersample: int = 4) -> np.ndarray:
        """The preview: (canvas, canvas) float32 in [0, 1] (1 = white) for one black thread on white, else
        (canvas, canvas, 3) sRGB (:func:`rendering.picture_model`: each line in its thread's colour, in build
        order). The default render is made once and kept (a solve, its scores, its files and its kit share it)."""
        if model == "multiplicative":
            return self.preview
        return self._render(model, supersample)

    @cached_property
    def preview(self) -> np.ndarray:
        """The multiplicative model's render, made on first use and kept (read-only)."""
        img = self._render("multiplicative", 4)
        img.flags.writeable = False
        return img

    def _render(self, model: str, supersample: int) -> np.ndarray:
        p = self.problem
        return picture_model(p.palette).render(p.table, self.chords, self.colours, p.palette, p.thread, model=model,
                                               supersample=supersample)

    def segment_lengths_m(self) -> np.ndarray:
        """(n_lines,) float64 length of each line in metres (pin to pin, straight), in build order."""
        pos = self.problem.layout.positions
        pairs = self.pin_pairs()
        px = np.hypot(*(pos[pairs[:, 0]] - pos[pairs[:, 1]]).T)
        return px / self.problem.thread.px_per_mm(self.problem.layout.span_px) / 1000.0

    def thread_lengths_m(self) -> np.ndarray:
        """(n_colours,) float64: each palette colour's thread length in metres (pin to pin, straight)."""
        return np.bincount(self.colours.astype(np.int64), weights=self.segment_lengths_m(),
                           minlength=self.problem.palette.n)

    def thread_length_m(self) -> float:
        """Thread length in metres, all threads (pin to pin, straight)."""
        pos = self.problem.layout.positions
        pairs = self.pin_pairs()
        px = np.hypot(*(pos[pairs[:, 0]] - pos[pairs[:, 1]]).T).sum()
        return float(px / self.problem.thread.px_per_mm(self.problem.layout.span_px) / 1000.0)

    def scores(self, *, blurred: bool = False) -> dict:
        """The solution's scores against its problem's photo before any tone edit
        (:meth:`rendering.PictureModel.score`: SSIM, L1, PSNR at the viewing scale and full resolution; with
        colours also CIEDE2000); with ``blurred`` also the published protocol's
        (:data:`rendering.metrics.BLUR_METRICS`: SSIM and PSNR after a 2 px blur, of the luminance)."""
        p = self.problem
        model = picture_model(p.palette)
        out = model.score(self.preview, p.target, p.mask, p.palette)
        if blurred:
            out.update(model.score_blurred(self.preview, p.target, p.mask, p.palette))
        return out

