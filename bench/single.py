"""One image, one solver: the function behind ``bench solve``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rendering import ThreadModel
from solvers import Problem, Solution, make_solver
from solvers.export import FORMATS, prepare_out_dir

from .metrics import VIEW_SCALE, reference_scores, score_solution


@dataclass
class SolveResult:
    solution: Solution
    metrics: dict
    references: dict
    files: dict = field(default_factory=dict)


def solve(image, *, solver: str = "greedy", pins: int = 288, lines: int = 4000, canvas: int = 512,
          min_gap: int | None = None, seed: int | None = 0, shape: str = "circle", jitter: float = 0.0,
          frame_mm: float = 600.0, thread_mm: float = 0.2, opacity: float = 1.0, contrast: bool = False,
          gamma: float = 1.0, out: str | Path | None = None, formats=FORMATS, solver_options: dict | None = None,
          progress=None) -> SolveResult:
    """Solve one image with one registered solver, score it, and optionally write the exports.

    The output folder is checked before any work, and files are written
    atomically, so bad input leaves nothing behind.
    """
    thread = ThreadModel(frame_mm=frame_mm, thread_mm=thread_mm, opacity=opacity)
    solver_obj = make_solver(solver, **(solver_options or {}))
    problem = Problem.create(image, pins=pins, lines=lines, canvas=canvas, min_gap=min_gap, shape=shape,
                             jitter=jitter, thread=thread, contrast=contrast, gamma=gamma)
    out_dir = prepare_out_dir(out) if out is not None else None  # checked before the long work
    if progress:
        progress("building chord table")
    problem.table  # noqa: B018  (build or load the table before timing the solver)
    if progress:
        progress(f"solving with {solver}")
    solution = solver_obj.solve(problem, rng=seed)
    metrics = score_solution(solution, factor=VIEW_SCALE)
    refs = reference_scores(problem.target.image, problem.mask, factor=VIEW_SCALE)
    files = {}
    if out_dir is not None:
        stem = f"{Path(problem.target.name).stem}-{solver}-{lines}"
        files = solution.save(out_dir, stem=stem, formats=formats)
    return SolveResult(solution, metrics, refs, files)
