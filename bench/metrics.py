"""Scoring solutions: :mod:`rendering.metrics` (the metrics themselves) applied to a Solution and its problem.

Every table and figure scores through :func:`score_solution`: the preview of the
solution against the photo before any tone edit (``target.original``), at the
viewing scale and at full resolution (see :mod:`rendering.metrics` for why a
viewing scale).
"""

from __future__ import annotations

from rendering import VIEW_SCALE
from rendering.metrics import (COLOUR_METRICS, METRICS, colour_reference_scores, reference_scores, score,
                               score_colour)

__all__ = ["COLOUR_METRICS", "METRICS", "VIEW_SCALE", "colour_reference_scores", "problem_references",
           "reference_scores", "score", "score_colour", "score_solution"]


def problem_references(problem, *, factor: int = VIEW_SCALE) -> dict[str, dict]:
    """The reference canvases' scores of a problem: grey (:func:`reference_scores`), or with a palette
    colour (:func:`colour_reference_scores` against the photo before any edit)."""
    if problem.palette is not None:
        return colour_reference_scores(problem.target.original_rgb, problem.mask, board=problem.palette.board_rgb,
                                       factor=factor)
    return reference_scores(problem.target.original, problem.mask, factor=factor)


def score_solution(solution, *, factor: int = VIEW_SCALE) -> dict:
    """:func:`score` of a Solution's preview against its problem's photo (``target.original``: before any tone edit).

    With a palette, :func:`score_colour` against the colour photo (``target.original_rgb``) on the board.
    """
    p = solution.problem
    if p.palette is not None:
        return score_colour(solution.render(), p.target.original_rgb, p.mask, board=p.palette.board_rgb,
                            factor=factor)
    return score(solution.render(), p.target.original, p.mask, factor=factor)
