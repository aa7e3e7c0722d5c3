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

from kit.results import txt_bytes
from rendering import ChordTable, Target, ThreadModel, load_target
from rendering.metrics import BLUR_METRICS, COLOUR_METRICS, METRICS
from solvers import Problem, get_entry, make_solver, trained_on

from .plan import RunSpec, Study, config_json

REFERENCES = ("blank", "flat")
#: problem options that are the threads (the palette and the board), not the thread model
PALETTE_OPTIONS = ("colors", "board")
#: Every metric a row may hold: :data:`rendering.metrics.METRICS` and the published protocol's
#: :data:`rendering.metrics.BLUR_METRICS` for every run, and for a palette other than black on white also
#: :data:`rendering.metrics.COLOUR_METRICS` (empty otherwise; SSIM, L1, PSNR are then the luminance's)
ALL_METRICS = list(METRICS) + list(BLUR_METRICS) + list(COLOUR_METRICS)
#: The columns of ``runs.csv``, in order: ``family`` is the solver's declared family (``Solver.family``),
#: ``palette`` the threads drawn (as ``--colors`` takes them: ``auto:K`` resolved per image), ``board`` the
#: board's colour, ``switches`` the spool switches, ``trained_on`` the picture of a learned solver's training
#: that the image is (:func:`solvers.trained_on`; empty for the others).
COLUMNS = (
    ["run_id", "solver", "family", "config", "image", "pins", "lines", "canvas", "seed", "replicate", "master_seed"]
    + ALL_METRICS
    + ["seconds", "error", "n_lines", "thread_length_m", "min_gap", "shape", "frame_mm", "thread_mm", "opacity",
       "palette", "board", "switches", "quick", "trained_on", "wall_seconds", "pin_file", "host", "finished_at"]
    + [f"{ref}_{m}" for ref in REFERENCES for m in ALL_METRICS]
)


@lru_cache(maxsize=16)
def cached_target(source: str, canvas: int, colour: bool = False) -> Target:
    """The preprocessed target of an image (with its colour picture when ``colour``), loaded once per process."""
    return load_target(source, canvas, colour=colour)


@lru_cache(maxsize=16)
def cached_palette(source: str, canvas: int, colors, board):
    """The palette of an image's runs (``auto:K`` chosen for the picture once per process), from the study's
    ``colors`` and ``board`` (None: one black thread on white)."""
    from rendering import PinLayout, parse_palette
    from rendering.colour import threads_for

    spec = threads_for(colors, board)
    frame = PinLayout(n_pins=3, canvas=canvas).frame_mask  # the frame does not depend on the pin count
    return parse_palette(spec or "black", board, image=cached_target(source, canvas, spec is not None).colour,
                         mask=frame)


@lru_cache(maxsize=32)
def _references(source: str, canvas: int, pins: int, min_gap, thread_key: tuple) -> dict:
    opts = dict(thread_key)
    palette = cached_palette(source, canvas, opts.get("colors"), opts.get("board"))
    return problem_for(source, canvas, pins, palette.n, min_gap, thread_key).references(blurred=True)


def problem_for(source: str, canvas: int, pins: int, lines: int, min_gap, thread_key: tuple) -> Problem:
    """The problem of one run; ``thread_key`` is the sorted items of the problem options: the thread model's,
    ``colors`` and ``board`` (the palette, ``auto:K`` chosen for the picture)."""
    opts = dict(thread_key)
    threads = {k: opts.pop(k, None) for k in PALETTE_OPTIONS}
    palette = cached_palette(source, canvas, threads["colors"], threads["board"])
    target = cached_target(source, canvas, threads["colors"] is not None or threads["board"] is not None)
    return Problem.create(target, pins=pins, lines=lines, canvas=canvas, min_gap=min_gap,
                          thread=ThreadModel(**opts), palette=palette)


def study_table(study: Study) -> ChordTable:
    """Build (or load from its cache) the chord table every run of ``study`` shares, in this process.

    The table does not depend on the picture: it is made for a blank target, so an unreadable image
    of the study does not stop it.
    """
    thread = ThreadModel(**{k: v for k, v in study.problem_options.items() if k not in PALETTE_OPTIONS})
    blank = np.ones((study.canvas, study.canvas), np.float32)
    return Problem.create(blank, pins=study.pins, lines=1, canvas=study.canvas, min_gap=study.min_gap,
                          thread=thread).table


def _base_row(spec: RunSpec) -> dict:
    row = {c: np.nan for c in COLUMNS}
    try:
        family = get_entry(spec.solver).cls.family
    except Exception:  # noqa: BLE001  (an unknown solver fails its run below, with its own message)
        family = ""
    row.update(family=family, palette="", trained_on="", board=spec.problem_options.get("board") or "",
               run_id=spec.run_id, solver=spec.solver, config=spec.config, image=spec.image, pins=spec.pins,
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
        row.update(solution.scores(blurred=True))
        row.update(seconds=float(solution.seconds), n_lines=n, thread_length_m=solution.thread_length_m(),
                   config=config_json(solution.config) if solution.config else spec.config,
                   palette=problem.palette.spec, board=problem.palette.board_name,
                   switches=max(0, len(solution.threads) - 1), trained_on=trained_on(solver, problem))
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
