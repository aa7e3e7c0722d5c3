"""Batched GA fitness on the GPU (numba.cuda). Private: used by :mod:`solvers.ga` when ``device="cuda"``.

The GA's fitness of a pin path is the weighted squared error of its
multiplicative render, the brightness a float64 product of the floored
per-pass factors :func:`rendering.derived.pass_factors` floored as the GA's (:func:`solvers.ga.path_fitness`).
Here a whole population is scored at once, one block per individual
(:func:`rendering.device.sse_batch_cuda`): each pixel's product is taken in
the same order as the CPU kernel's, so the fitness agrees to float64 rounding
(the final sum is a tree reduction). :mod:`numba.cuda` is imported on first use.
"""

from __future__ import annotations

import numpy as np

from rendering import InputError

from .problem import Problem, error_weights


def path_chords(problem: Problem, paths) -> np.ndarray:
    """Chord ids of many continuous paths at once.

    Parameters
    ----------
    problem : Problem
    paths : (P, n + 1) int pin sequences, ``n >= 1``

    Returns
    -------
    chords : (P, n) int64

    Raises
    ------
    InputError
        when a pin is out of range or two consecutive pins do not form an allowed chord.
    """
    paths = np.asarray(paths)
    if paths.ndim != 2 or paths.shape[1] < 2 or not np.issubdtype(paths.dtype, np.integer):
        raise InputError(f"paths must be a (population, n_lines + 1) integer array of pins, got shape "
                         f"{paths.shape} and dtype {paths.dtype}")
    n_pins = problem.layout.n_pins
    if paths.min() < 0 or paths.max() >= n_pins:
        raise InputError(f"pins must lie in [0, {n_pins - 1}], got [{paths.min()}, {paths.max()}]")
    chords = problem.chords.id_of[paths[:, :-1], paths[:, 1:]].astype(np.int64)
    bad = np.argwhere(chords < 0)
    if bad.size:
        i, s = bad[0]
        raise InputError(f"path {i} steps from pin {paths[i, s]} to pin {paths[i, s + 1]}, which is not an allowed "
                         f"chord (min_gap {problem.min_gap}); repair the path first")
    return chords


def population_fitness(problem: Problem, paths) -> np.ndarray:
    """:func:`solvers.ga.path_fitness` of every path, on the GPU.

    Parameters
    ----------
    problem : Problem
    paths : (P, n + 1) int pin sequences

    Returns
    -------
    fitness : (P,) float64, weighted squared error of each render (lower is better)
    """
    return chord_fitness(problem, path_chords(problem, paths))


def chord_fitness(problem: Problem, chord_lists) -> np.ndarray:
    """The GA's fitness of chord lists (continuous or not), on the GPU.

    Parameters
    ----------
    problem : Problem
    chord_lists : (P, n) int array or a sequence of P 1-D int arrays of chord ids

    Returns
    -------
    fitness : (P,) float64
    """
    from rendering.derived import pass_factors
    from rendering.device import sse_batch_cuda

    from ._ga_kernels import FACTOR_FLOOR

    target = np.ascontiguousarray(problem.target.image.ravel(), dtype=np.float64)
    factors = pass_factors(problem.table, problem.thread.opacity, floor=FACTOR_FLOOR)
    return sse_batch_cuda(problem.table, chord_lists, target, error_weights(problem).astype(np.float64),
                          factors=factors)
