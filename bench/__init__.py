"""bench: metrics, the comparison harness and the ``bench`` command line.

>>> from bench import solve
>>> result = solve("camera", solver="random", pins=64, lines=100, canvas=64, seed=0)
>>> sorted(result.metrics)[:3]
['l1', 'l1_full', 'psnr']
"""

from .metrics import METRICS, VIEW_SCALE, reference_scores, score, score_solution
from .solve import SolveResult, solve

__all__ = ["METRICS", "VIEW_SCALE", "SolveResult", "reference_scores", "score", "score_solution", "solve"]
