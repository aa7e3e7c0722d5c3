"""Typed hints: what one step of a composed solver hands the next (a warm start, a lead).

A composed solver (:mod:`solvers.compose`) runs a *lead* step, then a solver, then refiners. The lead
looks at the problem and hands the solver a :class:`Hint`; the solver declares the hint types it takes
(``Solver.accepts``) and gets one through :meth:`solvers.Solver.run`'s ``hint`` argument. Hints are
plain frozen values, checked against the problem by the solver that reads them:

* :class:`WarmStart` -- a bonus on each chord's gain and/or each pin's short list of partner pins (greedy).
* :class:`solvers.guide.ChordGuide` -- a wanted thread density that leads greedy's first lines
  (``ae+greedy``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class Hint:
    """Base class of the typed inputs a lead step hands a solver."""


@dataclass(frozen=True, eq=False)
class WarmStart(Hint):
    """Greedy's warm start: a bonus on each chord's gain, and/or each pin's short list of partner pins.

    Parameters
    ----------
    prior : optional (n_chords,) float, added to every candidate chord's score when greedy picks (its
        ``error`` or ``sum`` units; indexed by the problem's chord ids; the caller scales it)
    partners : optional (n_pins, m) int, -1 padded: from pin ``i`` greedy scores only the chords to
        ``partners[i]`` (see :func:`solvers.warm_start.warm_start_inputs`)
    """

    prior: np.ndarray | None = None
    partners: np.ndarray | None = None
