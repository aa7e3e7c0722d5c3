"""Refining a continuous thread on the viewing-scale error (``greedy+refine``).

:func:`refine_path` re-chooses the pins of a thread one at a time while the
block-scale error (:class:`solvers.view.BlockError`) falls, keeping the line
count and the thread in one piece. Kernels: :mod:`solvers._greedy_kernels`
(``_refine_state``, ``_refine_range``).
"""

from __future__ import annotations

import time

import numpy as np

from rendering import VIEW_SCALE, InputError
from rendering.errors import check_float, check_int
from rendering.jit import lazy_import

K = lazy_import("solvers._greedy_kernels")  # numba: loaded when a kernel runs
from .base import Problem
from .view import BlockError


def refine_path(problem: Problem, path, *, scale: int = VIEW_SCALE, once: bool = True, sweeps: int = 3,
                seconds: float | None = None, shortlist: int = 8, chunk: int = 64) -> tuple[np.ndarray, dict]:
    """Improve a continuous thread by re-choosing its pins, one at a time, while the error falls.

    The error is the weighted squared error between the rendered thread and
    the target, both box-averaged over ``scale x scale`` blocks (the viewing
    scale; ``scale=1`` is the pixel error that ``greedy`` lowers). Each move
    takes a pin ``b`` of the path with neighbours ``a`` and ``c`` and puts
    there the pin ``b'`` whose chords ``(a, b')`` and ``(b', c)`` give the
    lowest error (``min_gap`` and, with ``once``, chords not drawn elsewhere);
    the end pins have one chord each. The ``shortlist`` candidates that rank
    best with each pixel's brightness taken as its block's mean (a table of
    chord coverage per block, ~4x smaller) are measured exactly (0: every
    candidate), and the move is kept only if it lowers the exact error.
    The line count never changes and the thread stays one thread. Sweeps run
    over the whole path until one gains nothing, after ``sweeps`` sweeps, or
    once ``seconds`` have passed (checked every ``chunk`` pins).

    This is the continuous-thread form of Birsak et al. (2018)'s alternation
    of best removal and best addition: removing ``b`` and adding ``b'`` in one
    move keeps the thread in one piece.

    Parameters
    ----------
    problem : Problem
    path : (n_lines + 1,) int, a valid pin sequence for ``problem``
    scale : int >= 1, block side of the error
    shortlist : int >= 0, candidates measured exactly per move (0: all)

    Returns
    -------
    path : (n_lines + 1,) int64, the refined pin sequence
    info : dict, ``refine_sweeps``, ``refine_moves``, ``refine_error_before``,
        ``refine_error_after``, ``refine_seconds``, ``refine_history`` (error after each sweep),
        ``refine_out_of_time``
    """
    t0 = time.perf_counter()
    scale = check_int("refine scale", scale, low=1, hint="use 1 (pixels) or the viewing scale, e.g. 4")
    check_int("sweeps", sweeps, low=1)
    shortlist = check_int("shortlist", shortlist, low=0, hint="e.g. 8, or 0 to measure every candidate")
    if seconds is not None:
        check_float("seconds", seconds, low=0.0, low_open=True)
    path = np.array(path, dtype=np.int64)
    chords = problem.chords.path_to_chords(path).astype(np.int64)
    table = problem.table
    count = np.bincount(chords, minlength=table.n_chords).astype(np.int64)
    if once and count.max(initial=0) > 1:
        raise InputError("the path draws a chord more than once but once=True; pass once=False to refine it")
    err_b = BlockError.of(problem, scale)
    blk, nblocks, Ts, Wb, inv = err_b.blk, err_b.nblocks, err_b.Ts, err_b.Wb, err_b.inv
    o = float(problem.thread.opacity)
    B = np.empty(table.n_pixels, dtype=np.float64)
    Bs = np.empty(nblocks, dtype=np.float64)
    K._refine_state(table.indptr, table.pixel, table.coverage, chords, B, o, blk, Bs)
    err = err0 = K._block_error(Bs, Ts, Wb, inv)
    dsum = np.zeros(nblocks, dtype=np.float64)
    mark = np.zeros(nblocks, dtype=np.bool_)
    touched = np.zeros(nblocks, dtype=np.int64)
    bt = err_b.shortlist_table(problem, shortlist)
    stats = np.zeros(3, dtype=np.int64)  # slots K.REFINE_TRIED, K.REFINE_MOVES, K.REFINE_EXACT
    hist = [err]
    done = 0
    out_of_time = False
    L = path.size - 1
    for _ in range(sweeps):
        gain = 0.0
        for m0 in range(0, L + 1, chunk):
            gain += K._refine_range(table.indptr, table.pixel, table.coverage, problem.chords.id_of, path, count,
                                    once, B, Bs, Ts, Wb, inv, o, blk, bt[0], bt[1], bt[2], shortlist,
                                    dsum, mark, touched, m0, min(m0 + chunk, L + 1), stats)
            if seconds is not None and time.perf_counter() - t0 > seconds:
                out_of_time = True
                break
        err -= gain
        hist.append(err)
        done += 1
        if out_of_time or gain <= 1e-9 * err0:
            break
    info = dict(refine_sweeps=done, refine_moves=int(stats[K.REFINE_MOVES]), refine_tried=int(stats[K.REFINE_TRIED]),
                refine_exact=int(stats[K.REFINE_EXACT]),
                refine_scale=scale, refine_error_before=float(err0), refine_error_after=float(err),
                refine_seconds=time.perf_counter() - t0, refine_history=[float(h) for h in hist],
                refine_out_of_time=out_of_time)
    return path, info
