"""The comparison harness: a grid of solvers x images x line counts x seeds -> one tidy row per run.

:func:`run_study` plans the grid (:mod:`bench.plan`), skips the runs an earlier
call already finished (resume, from the study folder: :mod:`bench.storage`),
runs the rest (:mod:`bench.runner`, one run) on an executor
(:mod:`bench.executors`: in this process, a local process pool, or a Dask
distributed cluster) and stores each row as it comes back. The study folder
holds ``runs.csv`` (one row per run, see :data:`bench.runner.COLUMNS`), each
run's pin file, the preprocessed targets, ``errors.log`` and ``meta.json``
(see :mod:`bench.storage`); ``bench report`` (:mod:`bench.report`) draws the
tables and figures from it.

A failing run writes its error into its row and the study goes on; so does a
run whose worker process dies, or (with ``timeout``) one that runs too long:
its worker is killed and replaced. Each run gets a seed derived from the master
seed, the image, the line count and the replicate (not the solver: every solver
sees the same seeds), recorded in the row. Deterministic solvers
(``stochastic = False``) run one replicate only.

Every line count is its own run: a solver that plans for its budget must not
be judged on a prefix of a longer path.

The timed region is the solver's own :attr:`~solvers.Solution.seconds`; the
chord table is built (or loaded from its cache) before the solver starts, and
every solver is prepared (:meth:`solvers.Solver.prepare`, untimed) before its
first run in each process, so JIT compilation and model loading are not charged
to whichever run came first.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from typing import TYPE_CHECKING, Callable, Sequence

from rendering import ThreadModel

from .executors import check_execution, make_executor
from .plan import Study, plan_study
from .runner import cached_target, study_table
from .storage import StudyFolder, command_line

if TYPE_CHECKING:
    import pandas as pd


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def run_study(*, solvers: Sequence[str] | None = None, images: Sequence[str] | None = None,
              pins: int | None = None, lines: Sequence[int] | int | None = None, canvas: int | None = None,
              seeds: int | None = None, master_seed: int = 0, min_gap: int | None = None,
              solver_options: dict[str, dict] | None = None, quick: bool = False, study: str | None = None,
              out: str | os.PathLike | None = None, workers: int | None = None, scheduler=None,
              retry_errors: bool = True, thread: ThreadModel | None = None, timeout: float | None = None,
              progress: Callable[[dict], None] | None = None,
              on_plan: Callable[[Study, int, int], None] | None = None,
              command: str | None = None) -> pd.DataFrame:
    """Run a comparison study and return its table (one row per run of this study's grid).

    Parameters
    ----------
    solvers : names of registered solvers; None = every registered one
    images : built-in names, image files and/or folders; None = :data:`DEFAULT_STUDY`'s
    pins, canvas : int; None = the study default (288 pins, 512 px)
    lines : line counts; each is its own run (no prefixes of a longer path)
    seeds : replicates per (solver, image, lines); deterministic solvers run one
    master_seed : int >= 0, the seed every run's seed is derived from
    min_gap : int or None (the layout's default)
    solver_options : ``{solver: {option: value}}`` config overrides
    quick : tiny smoke study (:data:`QUICK_STUDY`) with each solver's ``quick_options``
    study : name of the study (output folder ``results/<study>``); default ``default`` / ``quick``
    out : output folder, overrides ``results/<study>``
    workers : local processes; None = CPU count, 1 = in this process
    scheduler : Dask scheduler address (or a ``distributed.Client``): run on that cluster instead
    retry_errors : re-run the rows an earlier call recorded as failed (finished rows are always kept)
    timeout : seconds; a run still going after this long is stopped (its worker process killed and
        replaced) and recorded as failed. Runs then always go to worker processes, even with
        ``workers=1``. The clock covers the whole run, including a fresh worker's one-time warm-up
        of the solver (JIT compilation, model loading). None: no limit. Not with ``scheduler``.
    progress : called with each finished row
    on_plan : called once with (the planned :class:`Study`, runs to do, runs already done) before any run

    Returns
    -------
    pandas.DataFrame with the columns :data:`COLUMNS`, ordered by solver, image, lines, replicate;
    ``attrs["out"]`` is the study folder.

    Examples
    --------
    >>> import tempfile
    >>> df = run_study(solvers=["random"], images=["camera"], pins=32, canvas=32, lines=[20, 40],
    ...                seeds=1, workers=1, out=tempfile.mkdtemp())
    >>> df[["solver", "lines", "error"]].values.tolist()
    [['random', 20, ''], ['random', 40, '']]
    """
    st = plan_study(solvers=solvers, images=images, pins=pins, lines=lines, canvas=canvas, seeds=seeds,
                    master_seed=master_seed, min_gap=min_gap, solver_options=solver_options, quick=quick,
                    study=study, out=out, thread=thread)
    workers, timeout = check_execution(workers, scheduler, timeout)
    executor = make_executor(workers, scheduler, timeout)
    folder = StudyFolder(st.out)  # checked writable; the rows of an earlier call, to resume
    started, t0 = _now(), time.perf_counter()
    todo = folder.to_do(st, retry_errors)
    n_done = len({s.run_id for s in st.runs}) - len(todo)
    if on_plan:
        on_plan(st, len(todo), n_done)

    # targets (for the gallery) and the chord table, once, before the workers start
    folder.write_targets({st.target_file(im): cached_target(im.source, st.canvas).image for im in st.images})
    study_table(st)
    info = {"command": command or command_line(), "started": started, "to_run": len(todo), "skipped": n_done,
            "workers": workers, "scheduler": str(scheduler) if scheduler else None, "timeout": timeout}
    folder.write_meta(st, {**info, "finished": None})
    folder.start_table()

    pin_files = {s.run_id: s.pin_file for s in todo}
    n_failed = 0
    try:
        for row in executor.run(todo):
            row = folder.add(row, pin_files.get(row["run_id"], ""))
            n_failed += bool(row["error"])
            if progress:
                progress(row)
    finally:
        info.update(finished=_now(), wall_seconds=round(time.perf_counter() - t0, 2), failed=n_failed)
        folder.write_meta(st, info)
    return folder.table(st)
