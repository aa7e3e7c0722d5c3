"""Running one run of a study (in a worker process, on a Dask worker, or in this process).

:func:`run_one` turns a :class:`~bench.plan.RunSpec` into one row of
``runs.csv`` (see :data:`COLUMNS`) and never raises: a failing run writes its
error into its row. The timed region is the solver's own
:attr:`~solvers.Solution.seconds`; the chord table is built (or loaded from its
cache) and the solver is prepared (:meth:`solvers.Solver.prepare`: models
loaded, JIT kernels compiled, derived tables built, once per process, config
and table) before the solver starts, so set-up is never charged to whichever
run came first.

Targets, problems and reference scores are cached per process, so a worker
loads each image once.
"""

from __future__ import annotations

import datetime as _dt
import os
import socket
import time
import traceback
from functools import lru_cache
from typing import Callable

import numpy as np

from rendering import ChordTable, Target, ThreadModel, load_target
from solvers import Problem, make_solver
from solvers.export import txt_bytes

from .metrics import COLOUR_METRICS, METRICS, VIEW_SCALE, problem_references, score_solution
from .plan import RunSpec, Study, config_json

REFERENCES = ("blank", "flat")
#: The columns a colour run adds (a grey study's ``runs.csv`` has none of them): the thread colours it drew
#: (``palette``, as ``--colors`` takes them: ``auto:K`` resolved per image), the board, spool switches,
#: mean CIEDE2000 and the references' (its ``ssim``, ``l1``, ``psnr`` are the luminance's).
COLOUR_COLUMNS = (["palette", "board", "switches"] + list(COLOUR_METRICS)
                  + [f"{ref}_{m}" for ref in REFERENCES for m in COLOUR_METRICS])
#: problem options that are the colours, not the thread model
COLOUR_OPTIONS = ("colors", "board")
#: The columns of ``runs.csv``, in order.
COLUMNS = (
    ["run_id", "solver", "config", "image", "pins", "lines", "canvas", "seed", "replicate", "master_seed"]
    + list(METRICS)
    + ["seconds", "error", "n_lines", "thread_length_m", "min_gap", "shape", "frame_mm", "thread_mm", "opacity",
       "quick", "wall_seconds", "pin_file", "host", "finished_at"]
    + [f"{ref}_{m}" for ref in REFERENCES for m in METRICS]
)


@lru_cache(maxsize=16)
def cached_target(source: str, canvas: int, colour: bool = False) -> Target:
    """The preprocessed target of an image (with its colour picture when ``colour``), loaded once per process."""
    return load_target(source, canvas, colour=colour) if colour else load_target(source, canvas)


@lru_cache(maxsize=32)
def _references(source: str, canvas: int, pins: int, min_gap, thread_key: tuple) -> dict:
    opts = dict(thread_key)
    lines = 1
    if "colors" in opts:  # a palette needs a line per colour
        from rendering.colour import check_palette_spec

        lines = check_palette_spec(opts["colors"], opts.get("board"))[0]
    p = problem_for(source, canvas, pins, lines, min_gap, thread_key)
    return problem_references(p, factor=VIEW_SCALE)


@lru_cache(maxsize=16)
def cached_palette(source: str, canvas: int, colors: str, board: str):
    """The palette of an image in a colour study (``auto:K`` chosen for the picture once per process)."""
    from rendering import PinLayout, parse_palette

    frame = PinLayout(n_pins=3, canvas=canvas).frame_mask  # the frame does not depend on the pin count
    return parse_palette(colors, board, image=cached_target(source, canvas, True).rgb, mask=frame)


def problem_for(source: str, canvas: int, pins: int, lines: int, min_gap, thread_key: tuple) -> Problem:
    """The problem of one run; ``thread_key`` is the sorted items of the problem options: the thread model's,
    and for a colour run ``colors`` and ``board`` (the palette, ``auto:K`` chosen for the picture)."""
    opts = dict(thread_key)
    colour = {k: opts.pop(k) for k in COLOUR_OPTIONS if k in opts}
    thread = ThreadModel(**opts)
    if colour:
        palette = cached_palette(source, canvas, colour.get("colors"), colour.get("board"))
        return Problem.create(cached_target(source, canvas, True), pins=pins, lines=lines, canvas=canvas,
                              min_gap=min_gap, thread=thread, colors=palette)
    return Problem.create(cached_target(source, canvas), pins=pins, lines=lines, canvas=canvas, min_gap=min_gap,
                          thread=thread)


def study_table(study: Study) -> ChordTable:
    """Build (or load from its cache) the chord table every run of ``study`` shares, in this process.

    The table does not depend on the picture: it is made for a blank target, so an unreadable image
    of the study does not stop it.
    """
    thread = ThreadModel(**{k: v for k, v in study.problem_options.items() if k not in COLOUR_OPTIONS})
    blank = np.ones((study.canvas, study.canvas), np.float32)
    return Problem.create(blank, pins=study.pins, lines=1, canvas=study.canvas, min_gap=study.min_gap,
                          thread=thread).table


def _base_row(spec: RunSpec) -> dict:
    row = {c: np.nan for c in COLUMNS}
    if "colors" in spec.problem_options:
        row.update({c: np.nan for c in COLOUR_COLUMNS})
        row.update(palette="", board=spec.problem_options.get("board", ""))
    row.update(run_id=spec.run_id, solver=spec.solver, config=spec.config, image=spec.image, pins=spec.pins,
               lines=spec.lines, canvas=spec.canvas, seed=spec.seed, replicate=spec.replicate,
               master_seed=spec.master_seed, error="", quick=spec.quick, min_gap=spec.min_gap,
               pin_file="", **{k: spec.problem_options[k] for k in ("frame_mm", "thread_mm", "opacity")})
    return row


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def first_line(e: BaseException) -> str:
    """``"TypeName: first line of the message"``, the ``error`` column of a failed run."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def failed_row(spec: RunSpec, message: str) -> dict:
    """The row of a run that did not come back (its worker died or was stopped, or Dask lost it)."""
    row = _base_row(spec)
    row.update(error=message, finished_at=_now(), _pins=None, _traceback=None)
    return row


def run_one(spec: RunSpec, on_started: Callable[[], None] | None = None) -> dict:
    """Run one grid cell; never raises (except what ``on_started`` raises).

    ``on_started`` is called once the run is ready (its problem built, the chord table loaded, the solver
    prepared) and its timed part begins: a pool worker's cue to start the run's clock. It is called
    too when getting ready failed, just before the failed row comes back.

    Returns
    -------
    dict: the row (keys :data:`COLUMNS`), plus ``_pins`` (the pin file's text,
    or None) and ``_traceback`` (None unless the run failed).
    """
    t0 = time.perf_counter()
    row = _base_row(spec)
    row["host"] = f"{socket.gethostname()}:{os.getpid()}"
    pins_txt, tb = None, None
    thread_key = tuple(sorted(spec.problem_options.items()))
    started = False
    try:
        problem = problem_for(spec.source, spec.canvas, spec.pins, spec.lines, spec.min_gap, thread_key)
        row.update(min_gap=problem.min_gap, shape=problem.layout.shape)
        problem.table  # noqa: B018  (built or loaded outside the timed region)
        solver = make_solver(spec.solver, **spec.options)
        solver.prepare(problem)  # models, JIT kernels, derived tables: once per process, never timed
        started = True
        if on_started:
            on_started()
        solution = solver.solve(problem, rng=spec.seed)
        n = solution.n_lines
        if n > spec.lines:
            raise RuntimeError(f"solver returned {n} lines, over the budget of {spec.lines}")
        row.update(score_solution(solution, factor=VIEW_SCALE))
        row.update(seconds=float(solution.seconds), n_lines=n, thread_length_m=solution.thread_length_m(),
                   config=config_json(solution.config) if solution.config else spec.config)
        if problem.palette is not None:
            row.update(palette=problem.palette.spec, board=problem.palette.board_name,
                       switches=max(0, len(solution.runs()) - 1) if solution.is_colour else 0)
        pins_txt = txt_bytes(solution).decode()
    except Exception as e:  # noqa: BLE001  (a failing run is recorded, the study goes on)
        row["error"] = first_line(e)
        tb = traceback.format_exc()
        if not started and on_started:
            on_started()
    try:
        refs = _references(spec.source, spec.canvas, spec.pins, spec.min_gap, thread_key)
        for ref in REFERENCES:
            for m in refs[ref]:
                row[f"{ref}_{m}"] = refs[ref][m]
    except Exception as e:  # noqa: BLE001
        if not row["error"]:
            row["error"] = f"reference scores failed: {first_line(e)}"
            tb = traceback.format_exc()
    row["wall_seconds"] = time.perf_counter() - t0
    row["finished_at"] = _now()
    row["_pins"] = pins_txt
    row["_traceback"] = tb
    return row
