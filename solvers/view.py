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

from rendering.derived import block_index, block_table
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
        Ts = np.bincount(blk, weights=problem.target.image.ravel().astype(np.float64), minlength=nblocks)
        Wb = np.bincount(blk, weights=error_weights(problem).astype(np.float64), minlength=nblocks) / scale ** 2
        return cls(blk, nblocks, Ts, Wb, 1.0 / scale ** 2, scale)

    def shortlist_table(self, problem: Problem, shortlist: int) -> tuple:
        """The block table the shortlist ranks with, as ``(indptr, block, coverage)`` (empty for ``shortlist=0``)."""
        if shortlist <= 0:
            return NO_BLOCKS
        bt = block_table(problem.table, self.scale)
        return bt.indptr, bt.block, bt.coverage


def greedy_view_path(problem: Problem, *, scale: int, shortlist: int, no_return: int, once: bool,
                     early_stop: bool, start_pin: int | None) -> tuple[np.ndarray, np.ndarray, dict]:
    """A greedy thread on the block-scale error (arguments checked by :class:`solvers.greedy.GreedySolver.Config`).

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
    drawn = K._greedy_blocks(table.indptr, table.pixel, table.coverage, chords.id_of, chords.pin_a, chords.pin_b,
                             B, Bs, err.Ts, err.Wb, err.inv, float(problem.thread.opacity), err.blk,
                             bt[0], bt[1], bt[2], shortlist, problem.n_lines, first, no_return, once, early_stop,
                             used, path, gains, stats)
    history = err0 - np.concatenate([[0.0], np.cumsum(gains[:drawn])])
    extra = dict(stop=K.STOP_REASONS[stats[K.STAT_STOP]], no_return_relaxed=int(stats[K.STAT_RELAXED]),
                 exact_measurements=int(stats[K.STAT_EXACT]), scale=scale,
                 greedy_seconds=time.perf_counter() - t0)
    return path[:drawn + 1], history, extra
