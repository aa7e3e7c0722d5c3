"""Colour solvers: several continuous threads, one per palette colour, in build order.

Registered names
----------------
``colour-greedy``
    The joint colour greedy: at each line the best (colour, chord) pair, each colour continuing its own
    thread from its own pin, scored by the exact decrease of the squared error of the colour picture
    under the colour thread model (:mod:`rendering.colour`: ``C <- C (1 - a) + c a`` per channel). The
    current colour keeps the frame for at least ``min_run`` lines (default 100), so a builder switches
    spools a few dozen times in 4000 lines; the order of the lines is the build order. Kernels:
    :mod:`solvers._colour_kernels` (every chord's score in every colour kept up to date through the
    pixel-major table, as the grey greedy's).
``colour-dither``
    The common approach, as a baseline: the picture Floyd-Steinberg dithered into the palette and the
    board, one grey target per colour (dark where the picture took that colour), each solved on its own
    by the grey ``greedy`` with a share of the lines proportional to its pixels, the colours interleaved
    in blocks of ``min_run`` lines for the build (round robin, in palette order).

The error is a squared error in a perceptual-ish space: ``sum_p w_p |M (C_p - T_p)|^2`` inside the frame
(``w``: the frame mask times the problem's importance map), where ``M`` (:data:`rendering.colour.LAB_FIT`)
is the least-squares linear fit of CIELAB to sRGB values, so the distance approximates CIE76 colour
differences (the benchmark scores CIEDE2000). The model composites affinely in sRGB, hence affinely after
any linear map, so the gain of a line stays exact and incremental (two numbers per pixel and colour);
in CIELAB itself (cube roots) it would be neither. ``space="rgb"`` takes the plain sRGB squared error.
Measured on the four colour built-ins (288 pins, 4000 lines, 512 px, ``auto:4``): the Lab fit lowers the
mean CIEDE2000 from 11.43 (rgb) to 10.09, and the luminance SSIM from 0.610 to 0.572 (both well ahead of
the dithering baseline's 14.37 and 0.394); halving the fit's chroma rows gave 10.82 / 0.612.

One black thread on white is the one-colour case: both solvers then return one thread like the grey
solvers (``colour-greedy`` draws the grey ``greedy``'s chords exactly). Where the palette's threads, the
board and the picture are all grey the error is taken on one channel (the same numbers, a third of the work).

Examples
--------
>>> from solvers import Problem, make_solver
>>> p = Problem.create("astronaut", pins=64, lines=60, canvas=64, colors="black,red,#1e90ff")
>>> sol = make_solver("colour-greedy", min_run=10).solve(p)
>>> sol.n_lines, len(sol.paths), sol.render().shape
(60, 3, (64, 64, 3))
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from rendering import InputError, Target
from rendering.derived import pixel_table
from rendering.errors import check_int
from rendering.lazy import lazy_import

K = lazy_import("solvers._colour_kernels")  # numba: loaded when a kernel runs
from .base import Solver  # noqa: E402
from .greedy import REFRESH_EVERY, SCORE_TOLERANCE, GreedySolver, greedy_path, kernel_pins, kernel_table  # noqa: E402
from .hints import Hint  # noqa: E402
from .problem import Problem, error_weights  # noqa: E402
from .registry import register  # noqa: E402
from .solution import Output, runs_from_lines  # noqa: E402

#: the run a colour keeps the frame for before another may take it (lines)
MIN_RUN = 100
_STOPS = ("budget", "no gain", "dead end")


SPACES = ("lab", "rgb")


def colour_arrays(problem: Problem, space: str = "lab") -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """The colour error's arrays: ``(channels, target (n_pixels, ch) float32, colours (n, ch) float64,
    board (ch,) float32)`` in the error's space: sRGB values (``"rgb"``), or those values through
    :data:`rendering.colour.LAB_FIT` (``"lab"``: a linear fit of CIELAB). One channel (sRGB) where the
    palette, the board and the picture are all grey: the grey greedy's numbers."""
    if space not in SPACES:
        raise InputError(f"space must be one of {', '.join(SPACES)}, got {space!r}")
    pal = problem.palette
    rgb = problem.target.colour.reshape(-1, 3)
    grey = pal.grey and bool(np.array_equal(rgb[:, 0], rgb[:, 1]) and np.array_equal(rgb[:, 0], rgb[:, 2]))
    nch = 1 if grey else 3
    T = np.ascontiguousarray(rgb[:, :nch], dtype=np.float32)
    cols = np.ascontiguousarray(pal.colours[:, :nch], dtype=np.float64)
    board = np.asarray(pal.board_rgb[:nch], dtype=np.float32)
    if nch == 3 and space == "lab":
        from rendering.colour import LAB_FIT

        T = np.ascontiguousarray(T.astype(np.float64) @ LAB_FIT.T, dtype=np.float32)
        cols = np.ascontiguousarray(cols @ LAB_FIT.T)
        board = np.asarray(board.astype(np.float64) @ LAB_FIT.T, dtype=np.float32)
    return nch, T, cols, board


def colour_error(problem: Problem, image: np.ndarray, space: str = "lab") -> float:
    """The weighted squared error ``sum_p w_p |M (image_p - target_p)|^2`` the colour greedy lowers (``M``:
    :func:`colour_arrays`' space; a grey problem's, or an all-grey one's, on one channel)."""
    nch, T, _, _ = colour_arrays(problem, space)
    img = np.asarray(image, dtype=np.float64).reshape(problem.target.image.size, -1)[:, :nch]
    if nch == 3 and space == "lab":
        from rendering.colour import LAB_FIT

        img = img @ LAB_FIT.T
    d = img - T.astype(np.float64)
    return float(np.sum(error_weights(problem) * np.sum(d * d, axis=1)))


def _threads(colours: np.ndarray, frm: np.ndarray, to: np.ndarray, n_colours: int) -> tuple:
    """Each colour's pin path from the lines in build order (each continues from where its colour stopped)."""
    paths = []
    for k in range(n_colours):
        sel = np.flatnonzero(colours == k)
        if sel.size == 0:
            paths.append(np.zeros(0, np.int64))
            continue
        path = np.concatenate([[frm[sel[0]]], to[sel]])
        if not np.array_equal(frm[sel[1:]], to[sel[:-1]]):  # pragma: no cover  (the kernel's invariant)
            raise RuntimeError(f"colour {k}'s thread is not continuous")
        paths.append(path)
    return tuple(paths)


class _ColourSolver(Solver):
    """What the colour solvers share: their flags and a precompile that also compiles the colour kernels."""

    family = "colour"
    continuous = True
    stochastic = False
    colours = True
    quick_options = {"min_run": 5}

    def specimen_problems(self, *, pins: int, min_gap: int, shape: str, thread) -> list:
        """The grey specimen (one channel), then three colours on the same stand-in table (the usual kernels:
        three channels, four colour lanes)."""
        rgb = np.zeros((64, 64, 3), np.float32)
        rgb[..., 0] = 0.8
        rgb[:, 32:, 2] = 0.6
        return [*super().specimen_problems(pins=pins, min_gap=min_gap, shape=shape, thread=thread),
                Problem.create(rgb, pins=pins, lines=8, canvas=64, shape=shape, thread=thread, min_gap=min_gap,
                               colors="black,red,#1e90ff")]


def _output(paths: tuple, colours: np.ndarray, history, extra: dict) -> Output:
    """The Output of threads given as one pin path per colour and the colour of each line in build order."""
    return Output(threads=runs_from_lines(paths, colours), history=history, extra=extra)


def colour_greedy_path(problem: Problem, *, min_run: int = MIN_RUN, early_stop: bool = False,
                       once: bool = True, space: str = "lab") -> tuple[tuple, np.ndarray, np.ndarray, dict]:
    """The joint colour greedy's threads (the work behind ``colour-greedy``).

    Returns
    -------
    paths : one pin path per palette colour (empty for a colour not drawn)
    colours : (n_drawn,) int64, each line's colour in build order
    history : (n_drawn + 1,) float64, the weighted squared error (:func:`colour_error`) before the first
        line and after each
    extra : dict, ``stop``, ``switches`` (spool changes), ``forced_switches`` (a colour's run cut short by
        a dead end), ``exact_rescores``, ``channels``, ``colour_seconds``
    """
    t0 = time.perf_counter()
    min_run = check_int("min_run", min_run, low=1, hint="lines a colour keeps the frame for, e.g. 100")
    once = bool(once or not problem.allow_repeats)
    table = problem.table
    n_colours = problem.palette.n
    nch, T, cols, board = colour_arrays(problem, space)
    kp = K.width_for(n_colours)
    fill, greedy = K.KERNELS[(nch, kp)]
    S = np.empty((table.n_pixels, nch), dtype=np.float32)
    S[:] = board
    Wt = error_weights(problem)
    pt = pixel_table(table)
    o = np.float32(problem.thread.opacity)
    colsp = np.zeros((kp, nch), dtype=np.float64)
    colsp[:n_colours] = cols
    scores = np.empty((table.n_chords, kp), dtype=np.float32)
    fill(pt.indptr, pt.chord, pt.coverage, S, T, Wt, colsp, o, n_colours, scores)
    tol = SCORE_TOLERANCE * float(np.abs(scores[:, :n_colours]).max(initial=0.0))
    n = problem.n_lines
    used = np.zeros((table.n_chords, kp), dtype=np.bool_)
    cur = np.full(kp, -1, dtype=np.int64)
    line_colour = np.zeros(n, np.int64)
    frm = np.zeros(n, np.int64)
    to = np.zeros(n, np.int64)
    gains = np.zeros(n, np.float64)
    stats = np.zeros(K.N_CSTATS, np.int64)
    drawn = greedy(kernel_table(table), kernel_pins(problem),
                   K.ColourPicture(S, T, Wt, colsp, o, n_colours), K.ColourSettings(n, min_run, bool(early_stop), once),
                   K.ColourScores(pt.indptr, pt.chord, pt.coverage, scores, tol, REFRESH_EVERY),
                   K.Lines(used, cur, line_colour, frm, to, gains, stats))
    line_colour, frm, to = line_colour[:drawn], frm[:drawn], to[:drawn]
    d = (board.astype(np.float64)[None] - T.astype(np.float64))
    total0 = float(np.sum(Wt.astype(np.float64) * np.sum(d * d, axis=1)))
    history = total0 - np.concatenate([[0.0], np.cumsum(gains[:drawn])])
    extra = dict(stop=_STOPS[stats[K.C_STOP]], switches=int(stats[K.C_SWITCHES]),
                 forced_switches=int(stats[K.C_FORCED]), exact_rescores=int(stats[K.C_EXACT]), channels=nch,
                 colour_seconds=time.perf_counter() - t0)
    return _threads(line_colour, frm, to, n_colours), line_colour, history, extra


@register("colour-greedy", description="joint colour greedy: the best (colour, line) pair each step, one thread per "
                                       "colour, each colour kept >= 100 lines; exact colour error (Numba)")
class ColourGreedySolver(_ColourSolver):
    """Joint colour greedy: one continuous thread per palette colour, the best (colour, chord) pair each line.

    Config
    ------
    min_run : int >= 1, lines a colour keeps the frame for before another may take it (and no switch with
        fewer lines left), so a builder changes spools at most ``lines / min_run`` times
    early_stop : bool, stop when no line lowers the error
    once : bool, each chord at most once per colour (always on when the problem forbids repeats)
    space : {"lab", "rgb"}, where the squared error is taken: ``lab``, sRGB values through a linear fit
        of CIELAB (:data:`rendering.colour.LAB_FIT`, so it approximates CIE76 colour differences);
        ``rgb``, the sRGB values themselves
    """

    @dataclass(frozen=True, kw_only=True)
    class Config:
        min_run: int = MIN_RUN
        early_stop: bool = False
        once: bool = True
        space: str = "lab"

        def __post_init__(self):
            check_int("min_run", self.min_run, low=1, hint="lines a colour keeps the frame for, e.g. 100")
            if self.space not in SPACES:
                raise InputError(f"space must be one of {', '.join(SPACES)}, got {self.space!r}")
            for flag in ("early_stop", "once"):
                if not isinstance(getattr(self, flag), (bool, np.bool_)):
                    raise InputError(f"{flag} must be True or False, got {getattr(self, flag)!r}")

    def jit_kernels(self) -> tuple:
        """The kernels of the usual case (3 channels, up to 4 colours): the CLI's first-run notice."""
        return K.KERNELS[(3, 4)]

    def run(self, problem: Problem, rng: np.random.Generator, hint: Hint | None = None) -> Output:
        """Draw ``problem.n_lines`` lines (fewer only with ``early_stop`` or at a dead end). Deterministic."""
        cfg = self.config
        paths, colours, history, extra = colour_greedy_path(problem, min_run=cfg.min_run, early_stop=cfg.early_stop,
                                                            once=cfg.once, space=cfg.space)
        return _output(paths, colours, history, extra)


# ---------------------------------------------------------------------------- the dithering baseline
def dither(problem: Problem) -> np.ndarray:
    """(canvas, canvas) int64: each pixel's colour after Floyd-Steinberg dithering of the picture into the
    board (0) and the palette's threads (1..n), in RGB; -1 outside the frame."""
    pal = problem.palette
    img = np.array(problem.target.colour, dtype=np.float64)
    colours = np.vstack([pal.board[None], pal.colours])
    out = np.empty(img.shape[:2], dtype=np.int64)
    K._floyd_steinberg(img, np.ascontiguousarray(problem.mask), np.ascontiguousarray(colours), out)
    return out


def split_lines(counts, n_lines: int) -> np.ndarray:
    """``n_lines`` shared in proportion to ``counts`` (largest remainders; ties to the first).

    >>> split_lines([10, 30, 0], 7).tolist()
    [2, 5, 0]
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.sum() <= 0:
        out = np.zeros(counts.size, np.int64)
        out[0] = n_lines
        return out
    share = n_lines * counts / counts.sum()
    out = np.floor(share).astype(np.int64)
    rest = n_lines - int(out.sum())
    order = np.lexsort((np.arange(counts.size), -(share - out)))
    out[order[:rest]] += 1
    return out


def interleave(lengths, block: int) -> np.ndarray:
    """Build order of threads of these lengths wound in blocks of ``block`` lines, round robin: each line's colour.

    >>> interleave([3, 1, 2], 2).tolist()
    [0, 0, 1, 2, 2, 0]
    """
    left = [int(n) for n in lengths]
    out = []
    while any(left):
        for k, n in enumerate(left):
            take = min(block, n)
            out += [k] * take
            left[k] -= take
    return np.array(out, dtype=np.int64)


@register("colour-dither", description="the common colour approach, as a baseline: Floyd-Steinberg dithering "
                                       "into the palette, each colour solved alone by greedy, interleaved")
class ColourDitherSolver(_ColourSolver):
    """Dithering baseline: Floyd-Steinberg into per-colour targets, each solved by the grey greedy, interleaved.

    Config
    ------
    min_run : int >= 1, the colours are interleaved in blocks of this many lines (round robin)
    """

    @dataclass(frozen=True, kw_only=True)
    class Config:
        min_run: int = MIN_RUN

        def __post_init__(self):
            check_int("min_run", self.min_run, low=1, hint="lines wound per block, e.g. 100")

    def jit_kernels(self) -> tuple:
        return (K._floyd_steinberg, *GreedySolver().jit_kernels())

    def run(self, problem: Problem, rng: np.random.Generator, hint: Hint | None = None) -> Output:
        pal = problem.palette
        labels = dither(problem)
        counts = [int(np.count_nonzero(labels == k + 1)) for k in range(pal.n)]
        budget = split_lines(counts, problem.n_lines)
        cap = problem.chords.n_chords if not problem.allow_repeats else problem.n_lines
        while budget.max() > cap and budget.min() < cap:  # a colour with more lines than chords: share them out
            extra = budget - np.minimum(budget, cap)
            budget = np.minimum(budget, cap)
            room = np.where(budget < cap, np.maximum(counts, 1), 0)
            budget = budget + np.minimum(split_lines(room, int(extra.sum())), cap - budget)
        budget = np.minimum(budget, cap)
        paths, lengths = [], []
        stops = []
        for k in range(pal.n):
            if budget[k] == 0:
                paths.append(np.zeros(0, np.int64))
                lengths.append(0)
                continue
            image = np.where(labels == k + 1, 0.0, 1.0).astype(np.float32)
            sub = Problem(target=Target(image=image, name=f"{problem.target.name}:{pal.names[k]}",
                                        weights=problem.target.weights),
                          layout=problem.layout, thread=problem.thread, n_lines=int(budget[k]),
                          min_gap=problem.min_gap, continuous=True, allow_repeats=problem.allow_repeats)
            path, _, extra = greedy_path(sub, GreedySolver.Config())
            paths.append(path)
            lengths.append(max(0, len(path) - 1))
            stops.append(extra["stop"])
        colours = interleave(lengths, self.config.min_run)
        extra = dict(lines_per_colour=[int(n) for n in lengths], dithered_pixels=counts,
                     stop="dead end" if "dead end" in stops else "budget")
        return _output(tuple(paths), colours, None, extra)
