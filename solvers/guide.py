"""Chord-space guides: a wanted thread density over chords, followed into one thread.

Chord space is two-dimensional (pin ``i`` x pin ``j``), and chords close in it
are close on the canvas: ``(i+1, j-1)`` is ``(i, j)`` shifted sideways by about
one pin spacing, ``(i+1, j+1)`` is it turned about its middle. A
:class:`ChordGuide` says how much thread is wanted on each chord (``weights``,
summing to about the line budget; fractions allowed: 0.3 on each of ten
neighbouring chords asks for about three of them). Blurred over pin offsets
(``sigma`` pins), it becomes a residual map ``R``: drawing a chord subtracts
the blur kernel around it, so ``R`` is the thread still wanted near every chord.

* :func:`follow_guide` walks the thread from pin to pin, each time along the
  open chord with the most wanted density left. It needs no pixels (a few ms
  for 4000 lines) and, unlike taking the ``n`` best chords, does not pile
  threads onto one dark region: once a region's density is drawn, its chords
  stop being wanted. The learned solvers decode their chord weights with it.
* ``GreedySolver().solve(problem, hint=guide)`` (:mod:`solvers.greedy`) runs greedy with
  each step's candidates cut to the guide's ``candidates`` most wanted open
  partners of the current pin, scoring each exactly on the pixels, for the
  guide's ``lead`` lines; plain greedy finishes the thread: ``ae+greedy``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rendering import InputError
from rendering.errors import check_float, check_int
from rendering.lazy import lazy_import

from .hints import Hint

GK = lazy_import("solvers._guide_kernels")  # numba: loaded when a kernel runs


def check_guide_options(*, sigma, candidates, lead) -> None:
    """Check how a guide blurs and leads (:class:`ChordGuide`'s and the guided solvers' options)."""
    check_float("sigma", sigma, low=0.0, hint="pins, e.g. 1.0")
    check_int("candidates", candidates, low=1, hint="e.g. 16")
    if lead is not None:
        check_int("lead", lead, low=0,
                  hint="lines the guide leads, e.g. 1500, or None (null on the command line) for all")


@dataclass(frozen=True, eq=False)
class ChordGuide(Hint):
    """A wanted thread density over a problem's chords.

    Parameters
    ----------
    weights : (n_chords,) float >= 0, wanted thread per chord (indexed by chord id);
        usually summing to the line budget
    sigma : float >= 0, pins: the blur over pin offsets (0: each chord stands alone)
    candidates : int >= 1, for greedy: how many of the current pin's most wanted open
        partners are scored exactly at each step
    lead : int >= 0 or None, for greedy: how many lines the guide leads before greedy scores
        every candidate itself for the rest of the thread (None: the whole thread). With a lead,
        the guide also hands over early, at the first step where none of its candidates
        lowers the error. ``lead=0`` is plain greedy.
    """

    weights: np.ndarray
    sigma: float = 1.0
    candidates: int = 16
    lead: int | None = None

    def __post_init__(self):
        w = np.asarray(self.weights)
        if w.ndim != 1 or w.dtype.kind not in "fiu":
            raise InputError(f"guide weights must be a 1-D array of numbers, one per chord, got shape {w.shape} "
                             f"and dtype {w.dtype}")
        w = np.ascontiguousarray(w, dtype=np.float64)
        if not np.isfinite(w).all() or (w < 0).any():
            raise InputError("guide weights must be finite and >= 0; clip or rescale them (e.g. np.clip(w, 0, None))")
        object.__setattr__(self, "weights", w)
        check_guide_options(sigma=self.sigma, candidates=self.candidates, lead=self.lead)

    def check(self, chords) -> None:
        """Raise :class:`InputError` when the weights do not fit ``chords`` (a :class:`rendering.ChordSet`)."""
        if self.weights.shape != (chords.n_chords,):
            raise InputError(f"guide weights must have one value per chord ({chords.n_chords} for {chords.n_pins} "
                             f"pins), got {self.weights.size}; index them by problem.chords ids")

    def kernel(self) -> np.ndarray:
        """(2r+1, 2r+1) float64: the blur over pin offsets, a separable Gaussian summing to 1 (r = ceil(2.5 sigma))."""
        if self.sigma <= 0:
            return np.ones((1, 1))
        g = self._gauss()
        return np.outer(g, g)

    def _gauss(self) -> np.ndarray:
        r = max(1, int(np.ceil(2.5 * self.sigma)))
        x = np.arange(-r, r + 1, dtype=np.float64)
        g = np.exp(-0.5 * (x / self.sigma) ** 2)
        return g / g.sum()

    def residual(self, chords) -> np.ndarray:
        """(n_pins, n_pins) float64: the blurred wanted density before any chord is drawn (symmetric)."""
        from scipy.ndimage import convolve1d

        self.check(chords)
        n = chords.n_pins
        W = np.zeros((n, n), dtype=np.float64)
        W[chords.pin_a, chords.pin_b] = self.weights
        W[chords.pin_b, chords.pin_a] = self.weights
        if self.sigma <= 0:
            return W
        g = self._gauss()  # the kernel is separable: two 1-D passes
        return np.ascontiguousarray(convolve1d(convolve1d(W, g, axis=0, mode="wrap"), g, axis=1, mode="wrap"))

    def start_pin(self, chords) -> int:
        """The pin with the most wanted thread (lowest index on ties): where a free thread starts."""
        self.check(chords)
        deg = np.bincount(chords.pin_a, weights=self.weights, minlength=chords.n_pins) + \
            np.bincount(chords.pin_b, weights=self.weights, minlength=chords.n_pins)
        return int(np.argmax(deg))


def follow_guide(chords, guide: ChordGuide, n_lines: int, *, allow_repeats: bool = False,
                 start: int | None = None) -> np.ndarray:
    """One continuous thread of ``n_lines`` chords that follows a guide's density.

    At each pin the thread takes the open chord (allowed by ``min_gap``, not yet
    drawn unless ``allow_repeats``) with the most wanted density left; at a pin
    whose chords are all drawn (a dead end) the thread stops, shorter than asked.

    Parameters
    ----------
    chords : rendering.ChordSet
    guide : ChordGuide
    n_lines : int >= 1
    allow_repeats : bool
    start : optional start pin, default :meth:`ChordGuide.start_pin`

    Returns
    -------
    (n_drawn + 1,) int32 pin sequence, ``n_drawn <= n_lines``

    Examples
    --------
    >>> from rendering import ChordSet, PinLayout
    >>> cs = ChordSet.build(PinLayout(n_pins=8, canvas=32), min_gap=2)
    >>> path = follow_guide(cs, ChordGuide(np.arange(cs.n_chords, dtype=float), sigma=0), 3)
    >>> len(path), len(set(cs.path_to_chords(path).tolist()))
    (4, 3)
    """
    n_lines = check_int("lines", n_lines, low=1)
    R = guide.residual(chords)
    if start is None:
        start = guide.start_pin(chords)
    start = check_int("start", start, low=0, high=chords.n_pins - 1, hint="use a pin index or None")
    id_of = np.ascontiguousarray(chords.id_of, dtype=np.int32)
    used = np.zeros(chords.n_chords, dtype=np.bool_)
    path = np.empty(n_lines + 1, dtype=np.int32)
    drawn = GK._follow(id_of, R, guide.kernel(), n_lines, start, not allow_repeats, used, path)
    return path[:drawn + 1]
