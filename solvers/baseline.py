"""The ``random`` baseline: a random continuous thread, the floor of every table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Solver
from .hints import Hint
from .problem import Problem
from .registry import register
from .solution import Output


def random_path(problem: Problem, rng: np.random.Generator, *, start: int | None = None) -> np.ndarray:
    """A random pin path of up to ``problem.n_lines`` chords.

    Each step picks uniformly among the allowed chords from the current pin
    (``min_gap``), and among the unused ones unless repeats are allowed. At a
    dead end (every chord from the current pin drawn, repeats not allowed) the
    thread stops there, shorter than asked.

    Returns
    -------
    (n_drawn + 1,) int32 pin sequence, ``n_drawn <= problem.n_lines``
    """
    cs = problem.chords
    n = problem.layout.n_pins
    path = np.empty(problem.n_lines + 1, dtype=np.int32)
    cur = int(rng.integers(n)) if start is None else int(start)
    used = np.zeros(cs.n_chords, dtype=bool)
    path[0] = cur
    for k in range(problem.n_lines):
        row = cs.id_of[cur]
        ok = row >= 0
        if not problem.allow_repeats:
            ok[ok] = ~used[row[ok]]
            if not ok.any():
                return path[:k + 1]
        nxt = int(rng.choice(np.flatnonzero(ok)))
        used[row[nxt]] = True
        path[k + 1] = cur = nxt
    return path


@register("random", description="random continuous thread (min_gap respected): the floor")
class RandomSolver(Solver):
    """Random continuous thread respecting min_gap: the floor of every table."""

    family = "baseline"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        pass

    def run(self, problem: Problem, rng: np.random.Generator, hint: Hint | None = None) -> Output:
        path = random_path(problem, rng)
        return Output(path=path, extra=dict(stop="budget" if path.size == problem.n_lines + 1 else "dead end"))
