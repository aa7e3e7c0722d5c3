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
import itertools
import os
import sys
import time
from typing import TYPE_CHECKING, Callable, Sequence

from rendering import InputError, ThreadModel

from .executors import check_execution, exit_if_reimported_main, make_executor
from .plan import Study, plan_study
from .runner import cached_palette, cached_target, failed_row, first_line, study_table
from .storage import StudyFolder, command_line, environment

if TYPE_CHECKING:
    import numpy as np
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
              command: str | None = None, colors=None, board=None) -> pd.DataFrame:
    """Run a comparison study and return its table (one row per run of this study's grid).

    Parameters
    ----------
    solvers : names of registered solvers; None = every registered one
    images : built-in names, image files and/or folders; None = :data:`DEFAULT_STUDY`'s. A file in a
        folder that cannot be read gets one warning line on stderr and failed rows; a file named
        itself that cannot be read is bad input (InputError, before any output)
    pins, canvas : int; None = the study default (288 pins, 512 px)
    lines : line counts; each is its own run (no prefixes of a longer path)
    seeds : replicates per (solver, image, lines); deterministic solvers run one
    master_seed : int >= 0, the seed every run's seed is derived from
    min_gap : int or None (the layout's default)
    solver_options : ``{solver: {option: value}}`` config overrides
    quick : tiny smoke study (:data:`QUICK_STUDY`) with each solver's ``quick_options``
    study : name of the study (output folder ``results/<study>``); default the ``out`` folder's name,
        else ``default`` / ``quick``
    out : output folder, overrides ``results/<study>``
    workers : local processes; None = CPU count, 1 = in this process
    scheduler : Dask scheduler address (or a ``distributed.Client``): run on that cluster instead
    retry_errors : re-run the rows an earlier call recorded as failed (finished rows are always kept)
    timeout : seconds; a run still going after this long is stopped (its worker process killed and
        replaced) and recorded as failed. Runs then always go to worker processes, even with
        ``workers=1``. The clock starts once the run is ready (its image and chord table loaded, the
        solver prepared: JIT compilation, model loading); getting ready has a limit of its own,
        ``timeout`` + :data:`bench.executors.PREPARE_GRACE`. None: no limit. Not with ``scheduler``.
    progress : called with each finished row
    on_plan : called once with (the planned :class:`Study`, runs to do, runs already done) before any run
    colors, board : a colour study (``"auto:4"``, ``"black,red,#1e90ff"``; the board ``"white"``, ``"black"``,
        ``#rrggbb``): the colour solvers on the colour built-ins unless others are named (see
        :func:`bench.plan.plan_study`); None: the grey study, as before

    Returns
    -------
    pandas.DataFrame with the columns :data:`COLUMNS`, ordered by solver, image, lines, replicate;
    ``attrs["out"]`` is the study folder.

    Nothing is written before the inputs are checked and a Dask scheduler answered; the git state
    is read before the first file is written. A study with every run done rewrites nothing (not
    even ``meta.json``). Worker processes never import the caller's ``__main__`` (see
    :mod:`bench.executors`), so this works at the top level of a plain script.

    Examples
    --------
    >>> import tempfile
    >>> df = run_study(solvers=["random"], images=["camera"], pins=32, canvas=32, lines=[20, 40],
    ...                seeds=1, workers=1, out=tempfile.mkdtemp())
    >>> df[["solver", "lines", "error"]].values.tolist()
    [['random', 20, ''], ['random', 40, '']]
    """
    exit_if_reimported_main()  # a spawned worker running the caller's script again leaves here, quietly
    st = plan_study(solvers=solvers, images=images, pins=pins, lines=lines, canvas=canvas, seeds=seeds,
                    master_seed=master_seed, min_gap=min_gap, solver_options=solver_options, quick=quick,
                    study=study, out=out, thread=thread, colors=colors, board=board)
    workers, timeout = check_execution(workers, scheduler, timeout)
    targets, st.unreadable = _load_targets(st)
    unreadable = st.unreadable
    with make_executor(workers, scheduler, timeout) as executor:  # connects (Dask) before anything is written
        folder = StudyFolder(st.out)  # checked writable; the rows of an earlier call, to resume
        started, t0 = _now(), time.perf_counter()
        todo = folder.to_do(st, retry_errors)
        n_done = len({s.run_id for s in st.runs}) - len(todo)
        if on_plan:
            on_plan(st, len(todo), n_done)
        if not todo:  # a finished study: nothing is rewritten (the targets only where one is missing)
            folder.write_targets(targets)
            return folder.table(st)

        env = environment()  # before writing anything, or git would see this study's files as changes
        # targets (for the gallery) and the chord table, once, before the workers start
        folder.write_targets(targets)
        study_table(st)
        info = {"command": command or command_line(), "started": started, "to_run": len(todo), "skipped": n_done,
                "workers": workers, "scheduler": str(scheduler) if scheduler else None, "timeout": timeout}
        folder.write_meta(st, {**info, "finished": None}, env)
        folder.start_table()

        pin_files = {s.run_id: s.pin_file for s in todo}
        unread = [s for s in todo if s.image in unreadable]  # failed at once; the rest run
        to_run = [s for s in todo if s.image not in unreadable]
        rows = executor.run(to_run)
        n_failed = 0
        try:
            for row in itertools.chain((failed_row(s, unreadable[s.image]) for s in unread), rows):
                row = folder.add(row, pin_files.get(row["run_id"], ""))
                n_failed += bool(row["error"])
                if progress:
                    progress(row)
        finally:
            rows.close()  # stops the workers now, also when a progress callback raised (Ctrl-C)
            info.update(finished=_now(), wall_seconds=round(time.perf_counter() - t0, 2), failed=n_failed)
            folder.write_meta(st, info, env)
    return folder.table(st)


def _load_targets(st: Study) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The preprocessed target of each image (``{target file: image}``, for the gallery), and the images found in
    a folder that cannot be read (``{label: error of their runs}``, each with one warning line on stderr).

    An image named itself (a built-in name or a file) that cannot be read is bad input: InputError.
    """
    from rendering import picture_model

    targets, unreadable = {}, {}
    colors, board = st.problem_options.get("colors"), st.problem_options.get("board")
    for im in st.images:
        try:
            palette = cached_palette(im.source, st.canvas, colors, board)
            target = cached_target(im.source, st.canvas, colors is not None or board is not None)
            targets[st.target_file(im)] = picture_model(palette).picture(target)
        except Exception as e:
            if not im.in_folder:
                raise
            text = str(e).strip()
            reason = text.splitlines()[0] if isinstance(e, InputError) and text else first_line(e)
            unreadable[im.label] = f"ImageError: cannot read image file {im.source}: {reason}"
            print(f"warning: cannot read image file {im.source} ({reason}); its runs are recorded as failed",
                  file=sys.stderr, flush=True)
    return targets, unreadable
