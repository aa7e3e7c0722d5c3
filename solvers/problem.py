"""What to solve: a :class:`Problem` -- the target, the pin layout, the thread model, the line budget, the threads.

A problem always has a :class:`~rendering.Palette`: the thread colours and the board's colour. The grey
problem is the one-colour case, one black thread on a white board (:meth:`rendering.Palette.default`), and
code that takes a problem loops over its threads instead of asking whether it is in colour; the kernels
pick their one-channel fast path from the palette (:attr:`rendering.Palette.grey`).

The per-pixel weights of the error belong to the :class:`~rendering.Target` (``Target.weights``: the
front end's importance map, the face weights), so every solver and the learned front end read them from
one place: :func:`error_weights`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rendering import (ChordTable, InputError, Palette, PinLayout, Target, ThreadModel, check_min_gap,
                       default_min_gap, get_chord_set, get_chord_table, load_target)
from rendering.chords import check_table_fits
from rendering.errors import check_int


@dataclass(frozen=True, kw_only=True, eq=False)
class Problem:
    """What to solve. Frozen; build with :meth:`Problem.create` for the usual case.

    Parameters
    ----------
    target : Target, image (canvas, canvas) in [0, 1], 1 = white; ``target.weights`` the error's per-pixel
        weights (None: even); ``target.rgb`` the colour picture when the palette has colours
    layout : PinLayout, on the same canvas
    thread : ThreadModel
    n_lines : int >= 1, the line budget (number of chords, all colours together)
    min_gap : int, chords join pins at least this far apart around the frame
    continuous : bool, each thread is one continuous thread (each chord starts where that colour's last ended)
    allow_repeats : bool, whether a chord may be used more than once in one colour (the same pins in two
        colours are two threads)
    palette : :class:`rendering.Palette`, the thread colours and the board (default: black on white)
    """

    target: Target
    layout: PinLayout
    thread: ThreadModel = field(default_factory=ThreadModel)
    n_lines: int
    min_gap: int
    continuous: bool = True
    allow_repeats: bool = False
    palette: Palette = field(default_factory=Palette.default)

    def __post_init__(self):
        check_int("lines", self.n_lines, low=1, hint="ask for at least one line, e.g. --lines 4000")
        if not isinstance(self.palette, Palette):
            raise InputError(f"palette must be a rendering.Palette, got {type(self.palette).__name__}")
        if self.palette.n > self.n_lines:
            raise InputError(f"{self.palette.n} colours need at least {self.palette.n} lines, got "
                             f"{self.n_lines}; ask for more lines or fewer colours")
        check_min_gap(self.min_gap, self.layout.n_pins)
        if self.target.image.shape != (self.layout.canvas, self.layout.canvas):
            raise InputError(f"target is {self.target.image.shape} but the layout's canvas is {self.layout.canvas} px; "
                             f"load the target at the same canvas")
        if not self.allow_repeats:
            n, k = self.chords.n_chords, self.palette.n  # a chord may be drawn once in each colour
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
               faces: str = "off", **kw) -> "Problem":
        """A problem from an image (built-in name, file, PIL image, array or :class:`~rendering.Target`).

        Threads: ``colors`` (``"auto:K"``, ``"black,red,#1e90ff"``, a list or a
        :class:`rendering.Palette`; see :func:`rendering.parse_palette`) on ``board`` (``"white"``,
        ``"black"``, a thread name or ``#rrggbb``). A board without colours gets one thread that shows on
        it (black on a light board, white on a dark one); neither: one black thread on white.

        The front end (:mod:`rendering.frontend`): ``exposure``, ``clahe``, ``crop``
        (see :func:`rendering.load_target`) and ``importance``: None, an array of
        per-pixel weights, ``"edges"``, ``"saliency"`` or ``"both"``
        (:func:`rendering.frontend.importance_map`), or the path of a mask picture
        (white = important, :func:`rendering.frontend.mask_importance`), with
        ``importance_strength``; it becomes the target's ``weights``. ``faces`` (``"off"``, ``"auto"``,
        ``"on"``: :meth:`rendering.Target.with_faces`) weighs the error more on faces, most on their eyes and
        mouth; ``crop="auto"`` frames the largest face as a maker would (both need the ``faces`` extra).

        >>> p = Problem.create("camera", pins=64, lines=100, canvas=64)
        >>> p.layout.n_pins, p.n_lines, p.min_gap, p.palette.describe()
        (64, 100, 4, 'black on white')
        """
        from rendering.colour import check_palette_spec, parse_board, parse_palette, threads_for

        layout = PinLayout(n_pins=pins, canvas=canvas, shape=shape, jitter=jitter)
        gap = default_min_gap(pins) if min_gap is None else min_gap
        check_min_gap(gap, pins)
        thread = thread or ThreadModel()
        # a problem too big for this machine is refused now, before the image is loaded at that size
        check_table_fits(layout, gap, thread.width_px(layout.span_px))
        spec = threads_for(colors, board)  # None: one black thread on white
        k, _ = check_palette_spec(spec or "black", board)  # bad colours fail before the picture is loaded
        check_int("lines", lines, low=1, hint="ask for at least one line, e.g. --lines 4000")
        if k > lines:
            raise InputError(f"{k} colours need at least {k} lines, got {lines}; ask for more lines or fewer colours")
        # a see-through picture lies on the board: its transparency takes the board's colour
        target = image if isinstance(image, Target) else load_target(image, canvas, contrast=contrast, gamma=gamma,
                                                                     exposure=exposure, clahe=clahe, crop=crop,
                                                                     colour=spec is not None,
                                                                     background=parse_board(board)[1])
        if isinstance(image, Target) and image.canvas != canvas:
            raise InputError(f"target has canvas {image.canvas} but canvas={canvas} was asked")
        kw["palette"] = kw.get("palette") or parse_palette(spec or "black", board, image=target.colour,
                                                           mask=layout.frame_mask)
        if importance is not None:
            target = target.with_weights(_importance(importance, target, layout, importance_strength))
        target = target.with_faces(faces, mask=layout.frame_mask)
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

    def references(self, *, blurred: bool = False) -> dict[str, dict]:
        """The scores of the two reference canvases (the bare board, the photo's mean tone or colour), as
        :meth:`solvers.Solution.scores` scores them (``blurred``: with the blurred metrics)."""
        from rendering import picture_model

        model = picture_model(self.palette)
        out = model.references(self.target, self.mask, self.palette)
        if blurred:
            for ref, scores in model.references_blurred(self.target, self.mask, self.palette).items():
                out[ref].update(scores)
        return out

    def with_lines(self, n_lines: int) -> "Problem":
        return dataclasses.replace(self, n_lines=n_lines)

    def describe(self) -> dict[str, Any]:
        """Flat dict of the problem's parameters (for result rows)."""
        return dict(image=self.target.name, pins=self.layout.n_pins, canvas=self.layout.canvas,
                    shape=self.layout.shape, lines=self.n_lines, min_gap=self.min_gap,
                    frame_mm=self.thread.frame_mm, thread_mm=self.thread.thread_mm, opacity=self.thread.opacity,
                    continuous=self.continuous, allow_repeats=self.allow_repeats,
                    colors=self.palette.spec, board=self.palette.board_name)


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
    """(canvas * canvas,) float32: the per-pixel weight of the error (the target's weights inside the frame, 1
    without any; 0 outside). The weights of every solver's squared error."""
    w = problem.mask.astype(np.float32)
    w *= problem.target.weight_map
    return np.ascontiguousarray(w.ravel())
