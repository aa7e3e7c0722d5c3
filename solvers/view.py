"""The viewing-scale error of a problem, and the greedy that lowers it (``greedy-view``).

String art is judged from a distance: the benchmark compares pictures
box-averaged :data:`rendering.VIEW_SCALE` times down. :class:`BlockError`
holds a problem's side of that error (block sums of the target, block means
of the error weights); :func:`greedy_view_path` builds a greedy thread on it
(each step measures candidates exactly, in block sums, after a cheap
block-mean shortlist), and :mod:`solvers.refine` re-chooses pins on it.
Kernels: :mod:`solvers._greedy_kernels` (``_greedy_blocks``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from rendering.derived import block_index, block_major, block_table
from rendering.jit import lazy_import

K = lazy_import("solvers._greedy_kernels")  # numba: loaded when a kernel runs
from .base import Problem, error_weights

#: an empty block table, for ``shortlist=0`` (every candidate measured exactly)
NO_BLOCKS = (np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


@dataclass(frozen=True, eq=False)
class BlockError:
    """The block-scale error of a problem: ``sum_b Wb (inv * (Bs - Ts))^2`` for a picture's block sums ``Bs``.

    Attributes
    ----------
    blk : (n_pixels,) int64, block of each pixel (:func:`rendering.derived.block_index`)
    nblocks : int
    Ts : (nblocks,) float64, block sums of the target
    Wb : (nblocks,) float64, block means of the error weights
    inv : float, ``1 / scale^2``
    scale : int
    """

    blk: np.ndarray
    nblocks: int
    Ts: np.ndarray
    Wb: np.ndarray
    inv: float
    scale: int

    @classmethod
    def of(cls, problem: Problem, scale: int) -> "BlockError":
        blk, nblocks = block_index(problem.layout.canvas, scale)
        # outside the frame the target counts as white, as the metric (rendering.metrics.score) takes it: a rim
        # block is then asked for the tone the viewer sees, not for the photo's corner beyond the frame
        target = np.where(problem.mask, problem.target.image, 1.0).ravel().astype(np.float64)
        Ts = np.bincount(blk, weights=target, minlength=nblocks)
        Wb = np.bincount(blk, weights=error_weights(problem).astype(np.float64), minlength=nblocks) / scale ** 2
        return cls(blk, nblocks, Ts, Wb, 1.0 / scale ** 2, scale)

    def shortlist_table(self, problem: Problem, shortlist: int) -> tuple:
        """The block table the shortlist ranks with, as ``(indptr, block, coverage)`` (empty for ``shortlist=0``)."""
        if shortlist <= 0:
            return NO_BLOCKS
        bt = block_table(problem.table, self.scale)
        return bt.indptr, bt.block, bt.coverage


#: the incremental viewing-scale greedy recomputes its approximate scores from scratch every this many lines
VIEW_REFRESH = 1000


def greedy_view_path(problem: Problem, *, scale: int, shortlist: int, no_return: int, once: bool,
                     early_stop: bool, start_pin: int | None,
                     method: str = "incremental") -> tuple[np.ndarray, np.ndarray, dict]:
    """A greedy thread on the block-scale error (arguments checked by :class:`solvers.greedy.GreedySolver.Config`).

    ``method="incremental"`` keeps every chord's approximate gain (block means)
    up to date as chords are drawn and measures the ``shortlist`` best of the
    current pin's candidates exactly (:func:`solvers._greedy_kernels._greedy_view`,
    ~0.3 s at 288 pins, 4000 lines, 512 px); ``"scan"`` recomputes the
    approximate gain of every candidate at every step (the same picks, up to
    rounding; ~1 s).

    Returns ``(path, history, extra)`` as :func:`solvers.greedy.greedy_path`
    (history: the block error; ``extra["exact_measurements"]``: candidates measured exactly).
    """
    t0 = time.perf_counter()
    table = problem.table
    chords = problem.chords
    err = BlockError.of(problem, scale)
    B = np.ones(table.n_pixels, dtype=np.float64)
    Bs = np.bincount(err.blk, weights=B, minlength=err.nblocks)
    err0 = K._block_error(Bs, err.Ts, err.Wb, err.inv)
    bt = err.shortlist_table(problem, shortlist)
    used = np.zeros(table.n_chords, dtype=np.bool_)
    path = np.zeros(problem.n_lines + 1, dtype=np.int64)
    gains = np.zeros(problem.n_lines, dtype=np.float64)
    stats = np.zeros(K.N_STATS, dtype=np.int64)
    first = -1 if start_pin is None else int(start_pin)
    if method == "incremental":
        bt = block_table(table, scale)
        bm = block_major(table, scale)
        scores = np.empty(table.n_chords, dtype=np.float64)
        drawn = K._greedy_view(table.indptr, table.pixel, table.coverage, chords.id_of, chords.pin_a, chords.pin_b,
                               B, Bs, err.Ts, err.Wb, err.inv, float(problem.thread.opacity), err.blk,
                               bt.indptr, bt.block, bt.coverage, bm.indptr, bm.chord, bm.coverage, scores,
                               shortlist, VIEW_REFRESH, problem.n_lines, first, no_return, once, early_stop,
                               used, path, gains, stats)
    else:
        drawn = K._greedy_blocks(table.indptr, table.pixel, table.coverage, chords.id_of, chords.pin_a,
                                 chords.pin_b, B, Bs, err.Ts, err.Wb, err.inv, float(problem.thread.opacity),
                                 err.blk, bt[0], bt[1], bt[2], shortlist, problem.n_lines, first, no_return, once,
                                 early_stop, used, path, gains, stats)
    history = err0 - np.concatenate([[0.0], np.cumsum(gains[:drawn])])
    extra = dict(stop=K.STOP_REASONS[stats[K.STAT_STOP]], no_return_relaxed=int(stats[K.STAT_RELAXED]),
                 exact_measurements=int(stats[K.STAT_EXACT]), scale=scale, view_method=method,
                 greedy_seconds=time.perf_counter() - t0)
    return path[:drawn + 1], history, extra
