"""``bench run`` (the comparison study) and ``bench report`` (redraw its tables and figures).

Both are thin layers over :func:`bench.harness.run_study` and
:func:`bench.report.write_report`.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from rendering import InputError

from .cli_common import Board, Colors, MinGap, Seed, parse_value, user_errors

OptInt = Optional[int]


def parse_lines(values: list[str] | None) -> list[int] | None:
    """``["1000,2000", "3000"]`` -> ``[1000, 2000, 3000]`` (repeatable option, comma lists allowed)."""
    if not values:
        return None
    out = []
    for v in values:
        for part in str(v).split(","):
            part = part.strip()
            if not part:
                continue
            try:
                out.append(int(part))
            except ValueError:
                raise InputError(f"--lines takes whole numbers, got '{part}'; use e.g. --lines 1000,2000") from None
    if not out:
        raise InputError("--lines is empty; use e.g. --lines 1000,2000")
    return out


def parse_options(values: list[str] | None) -> dict[str, dict]:
    """``["greedy+refine.refine_sweeps=2"]`` -> ``{"greedy+refine": {"refine_sweeps": 2}}``
    (values read as JSON, else text)."""
    out: dict[str, dict] = {}
    for v in values or []:
        head, eq, value = str(v).partition("=")
        solver, dot, key = head.partition(".")
        if not eq or not dot or not solver or not key:
            raise InputError(f"--option takes SOLVER.KEY=VALUE, got '{v}'; e.g. --option greedy+refine.refine_sweeps=2")
        out.setdefault(solver, {})[key] = parse_value(value)
    return out


def _describe(row: dict | None) -> str | None:
    """The progress bar's text for a finished run."""
    if not row:
        return None
    if row.get("error"):
        return f"{row['solver']} {row['image']} {row['lines']}: FAILED"
    return f"{row['solver']} {row['image']} {row['lines']}: SSIM {row['ssim']:.3f}, {row['seconds']:.1f} s"


def progress_line(row: dict, n: int, total: int) -> str:
    """One line per finished run, the progress shown where stderr is not a terminal.

    >>> progress_line(dict(solver="greedy", image="camera", lines=4000, ssim=0.5591, seconds=0.2712, error=""), 12, 512)
    '[12/512] greedy camera 4000: SSIM 0.559, 0.271 s'
    >>> progress_line(dict(solver="ga", image="moon", lines=100, error="Timeout: too long\\nmore"), 3, 4)
    '[3/4] ga moon 100: FAILED: Timeout: too long'
    """
    head = f"[{n}/{total}] {row['solver']} {row['image']} {row['lines']}"
    if row.get("error"):
        return f"{head}: FAILED: {str(row['error']).splitlines()[0]}"
    seen = row.get("trained_on")
    flag = f" (its model was trained on this picture: {seen})" if isinstance(seen, str) and seen else ""
    return f"{head}: SSIM {row['ssim']:.3f}, {row['seconds']:.3g} s{flag}"


@user_errors
def run_cmd(
    solver: Annotated[Optional[list[str]], typer.Option(
        "--solver", "-s", help="Solver to include (repeat for several) [default: every registered solver].")] = None,
    image: Annotated[Optional[list[str]], typer.Option(
        "--images", "--image", "-i", help="A folder of photos, an image file, a built-in name or a suite (see "
                                          "`bench images`); repeat for several [default: every built-in image].")]
    = None,
    pins: Annotated[OptInt, typer.Option("--pins", help="Number of pins [default: 288].")] = None,
    lines: Annotated[Optional[list[str]], typer.Option(
        "--lines", "-l", help="Line counts, comma-separated or repeated; each is its own run "
                              "[default: 1000,2000,3000,4000; quick: 100,200].")] = None,
    canvas: Annotated[OptInt, typer.Option("--canvas", help="Canvas side in px [default: 512; quick: 128].")] = None,
    seeds: Annotated[OptInt, typer.Option("--seeds", help="Seeds (replicates) per cell; deterministic solvers "
                                                          "run one [default: 1].")] = None,
    seed: Seed = 0,
    min_gap: MinGap = None,
    option: Annotated[Optional[list[str]], typer.Option(
        "--option", "-O", help="Solver option SOLVER.KEY=VALUE (repeatable), "
                               "e.g. greedy+refine.refine_sweeps=2.")] = None,
    workers: Annotated[OptInt, typer.Option("--workers", "-j", help="Local worker processes [default: CPU count; "
                                                                     "1 = in this process].")] = None,
    scheduler: Annotated[Optional[str], typer.Option(
        "--scheduler", help="Dask scheduler address (tcp://host:8786): run on that cluster instead "
                          "[default: none, local workers].")] = None,
    timeout: Annotated[Optional[float], typer.Option(
        "--timeout", help="Seconds per run: a run still going after this long is stopped and recorded as "
                          "failed (its worker process is replaced) [default: no limit].")] = None,
    study: Annotated[Optional[str], typer.Option("--study", help="Study name [default: the --out folder's name, else "
                                                                      "default; quick: quick].")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o",
                                                help="Output folder [default: results/<study>].")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Smoke run: tiny sizes, each solver's quick options "
                                                 "[default: off].")] = False,
    retry_errors: Annotated[bool, typer.Option(help="Re-run the runs recorded as failed.")] = True,
    report: Annotated[bool, typer.Option(help="Write summary.md and the figures at the end.")] = True,
    colors: Colors = None,
    board: Board = None,
):
    """Run the comparison study (solvers x images x line counts x seeds); resumable.

    Writes runs.csv (one row per run), each run's pin file, meta.json, then
    summary.md and the figures. Re-running the same command skips finished runs.
    With --colors (e.g. auto:4) it is a colour study: the colour solvers on the colour
    built-ins (astronaut, coffee, chelsea, rocket) unless -s / -i name others.
    Exit status: 0 when every run succeeded, 1 when some failed (see errors.log),
    2 for bad input, 130 when interrupted (the finished runs are kept).
    """
    from .harness import run_study

    state: dict = {"n": 0, "total": 0}
    tty = sys.stderr.isatty()  # a bar on a terminal; one line per run otherwise (logs, CI, pipes)

    with contextlib.ExitStack() as stack:
        def on_plan(st, todo: int, done: int) -> None:
            typer.echo(f"study '{st.name}': {len(st.solvers)} solvers x {len(st.images)} images x "
                       f"lines {','.join(map(str, st.lines))} x {st.seeds} seed(s), {st.pins} pins, "
                       f"{st.canvas} px -> {st.out}", err=True)
            typer.echo(f"{todo} runs to do, {done} already done", err=True)
            state["total"] = todo
            if tty and todo:
                state["bar"] = stack.enter_context(typer.progressbar(
                    length=todo, label="bench run", item_show_func=_describe, file=sys.stderr,
                    show_pos=True, width=24))

        def progress(row: dict) -> None:
            state["n"] += 1
            bar = state.get("bar")
            if bar is None:
                typer.echo(progress_line(row, state["n"], state["total"]), err=True)
                return
            bar.current_item = row  # shown by item_show_func on the next render
            bar.update(1)

        try:
            df = run_study(solvers=solver, images=image, pins=pins, lines=parse_lines(lines), canvas=canvas,
                           seeds=seeds, master_seed=seed, min_gap=min_gap, solver_options=parse_options(option),
                           quick=quick, study=study, out=out, workers=workers, scheduler=scheduler, timeout=timeout,
                           retry_errors=retry_errors, progress=progress, on_plan=on_plan, colors=colors, board=board,
                           command=shlex.join(["bench", *sys.argv[1:]]) if sys.argv[0].endswith("bench") else None)
            stack.close()  # the bar ends before the tables are printed
            n_failed = _finish(df, report)
        except KeyboardInterrupt:
            stack.close()
            typer.echo("interrupted; the finished runs are saved, re-run the same command to resume", err=True)
            raise typer.Exit(130) from None
    if n_failed:
        raise typer.Exit(1)


def _finish(df, report: bool) -> int:
    """Print the SSIM table, write the report; the number of failed runs (with where their tracebacks are)."""
    folder = Path(df.attrs["out"])
    failed = df[df["error"] != ""] if len(df) else df
    ok = df[df["error"] == ""] if len(df) else df
    if len(ok):
        from .report import METRIC_TABLES, measured, pivot

        for metric, title, digits, best in METRIC_TABLES[:2]:  # CIEDE2000 where measured, and SSIM
            if measured(ok, metric):
                typer.echo(f"{title}, mean over images and seeds ({'higher' if best == 'max' else 'lower'} is "
                           f"better):")
                typer.echo(pivot(ok, metric).to_string(float_format=lambda v, d=digits: f"{v:.{d}f}"))
    if report:
        from .report import write_report

        for path in write_report(folder).values():
            typer.echo(f"wrote {path}")
    typer.echo(f"wrote {folder / 'runs.csv'}")
    if len(ok) and "trained_on" in ok.columns:
        seen = ok[ok["trained_on"].astype("string").fillna("") != ""]
        if len(seen):
            pairs = sorted({f"{s} on {i}" for s, i in zip(seen["solver"], seen["image"])})
            runs = f"{len(seen)} run{'s' if len(seen) > 1 else ''}"
            typer.echo(f"note: {runs} scored a learned solver on a picture its model was trained on "
                       f"({'; '.join(pairs)}); the tables mark them §, compare on pictures it never saw", err=True)
    if len(failed):
        typer.echo(f"{len(failed)} of {len(df)} runs failed; see {folder / 'errors.log'}", err=True)
    return len(failed)


@user_errors
def report_cmd(
    folders: Annotated[list[Path], typer.Argument(help="Study folder(s) (each holds runs.csv); several are merged "
                                                     "into --out when their settings agree.")],
    gallery_image: Annotated[Optional[str], typer.Option(
        "--gallery-image", help="Image shown in the gallery [default: the study's first].")] = None,
    vs: Annotated[Optional[str], typer.Option(
        "--vs", help="Pair every solver with this one: mean difference, its 95 % interval, wins/ties/losses over "
                     "images [default: the default solver].")] = None,
    metrics: Annotated[str, typer.Option(
        "--metrics", help="Metric set of the statistics: view (viewing-scale SSIM, L1, PSNR), blur2 (SSIM and "
                          "PSNR after a sigma-2 Gaussian blur, the published protocol), full or colour.")] = "view",
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="With several studies: the folder of the merged study [required then].")] = None,
):
    """Redraw summary.md, the statistics and the figures of a study from its runs.csv alone (or merge studies)."""
    from .report import merge_studies, write_report

    if len(folders) > 1:
        if out is None:
            raise InputError("several studies merge into one folder: give it with --out, e.g. --out results/merged")
        merge_studies(folders, out)
        folder = out
    else:
        folder = folders[0] if out is None else out
        if out is not None and out.resolve() != folders[0].resolve():
            merge_studies(folders, out)
    for path in write_report(folder, gallery_image=gallery_image, vs=vs, metrics=metrics).values():
        typer.echo(f"wrote {path}")
