"""Quality of ``greedy``, ``greedy-sum`` (at its best weight), ``greedy-view`` and ``greedy+refine`` on the built-in images.

Run from the repository root::

    STRINGART_CACHE_DIR=/tmp/sacache python benchmarks/greedy_quality.py --out results/greedy

Scores are the project's metrics (:func:`rendering.metrics.score`): SSIM, L1 and
PSNR at the viewing scale (both images box-averaged 4x), the headline ones,
with the full-resolution figures in the CSV. 288 pins, 512 px, the default
thread (0.2 mm on a 600 mm frame).

Greedy decides each line from the lines before it, so the first ``L`` lines of
a 4000-line run are exactly the ``L``-line run (early stop is off): one run per
rule gives every line count. ``greedy-sum`` runs at each ``--weights`` value
(in 1/255 units, the seed's is 20) and each metric takes its best weight, the
most generous reading for it. ``greedy-view`` is greedy on the viewing-scale
error (also online, so prefixes hold). ``greedy+refine`` refines the ``L``-line greedy
thread for each ``L`` (what ``make_solver("greedy+refine")`` does), ``greedy-view+refine`` the ``L``-line
greedy-view thread (on the SSIM objective, as ``make_solver("greedy-view+refine")``).

Writes ``greedy_quality.csv`` (one tidy row per image, lines, solver, weight)
and ``greedy_quality.md`` (the tables) into ``--out``.
"""  # noqa: E501  (the first line is argparse's description: kept whole)

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import git_commit  # noqa: E402
from rendering.metrics import score  # noqa: E402
from rendering import BUILTIN_IMAGES, render  # noqa: E402
from solvers import Problem, get_entry  # noqa: E402
from rendering.derived import pixel_table  # noqa: E402
from solvers.greedy import greedy_path  # noqa: E402
from solvers.refine import refine_path  # noqa: E402

METRICS = ("ssim", "l1", "psnr")
HIGHER_IS_BETTER = {"ssim": True, "l1": False, "psnr": True}


def evaluate(problem: Problem, path: np.ndarray) -> dict:
    chords = problem.chords.path_to_chords(path)
    return score(render(problem.table, chords, opacity=problem.thread.opacity), problem.target.image, problem.mask)


def run_image(image: str, lines: list[int], weights: list[float], sweeps: int, seconds: float, pins: int,
              canvas: int, log) -> list[dict]:
    top = max(lines)
    problem = Problem.create(image, pins=pins, lines=top, canvas=canvas)
    rows = []
    pixel_table(problem.table)  # built once per table and kept: not part of the solve times below
    greedy_path(problem.with_lines(1), scale=4)  # likewise the block table of greedy-view and the refiner

    def add(solver, n, path, secs, weight=None, **extra):
        rows.append(dict(image=image, lines=n, solver=solver, weight=weight, seconds=secs,
                         **evaluate(problem.with_lines(n), path), **extra))

    t0 = time.perf_counter()
    g_path, _, _ = greedy_path(problem)
    g_secs = time.perf_counter() - t0
    for n in lines:
        add("greedy", n, g_path[:n + 1], g_secs * n / top)
    t0 = time.perf_counter()
    v_path, _, _ = greedy_path(problem, scale=4, shortlist=2)  # the registered greedy-view
    v_secs = time.perf_counter() - t0
    for n in lines:
        add("greedy-view", n, v_path[:n + 1], v_secs * n / top)
    for w in weights:
        t0 = time.perf_counter()
        s_path, _, _ = greedy_path(problem, score="sum", weight=w / 255.0, no_return=20)
        secs = time.perf_counter() - t0
        for n in lines:
            add("greedy-sum", n, s_path[:n + 1], secs * n / top, weight=w)
    for n in lines:
        sub = problem.with_lines(n)
        t0 = time.perf_counter()
        r_path, info = refine_path(sub, g_path[:n + 1], sweeps=sweeps, seconds=seconds)
        add("greedy+refine", n, r_path, g_secs * n / top + time.perf_counter() - t0,
            refine_sweeps=info["refine_sweeps"], refine_moves=info["refine_moves"])
        log(f"{image} {n}: refine {info['refine_sweeps']} sweeps, {info['refine_moves']} moves, "
            f"{time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        cfg = get_entry("greedy-view+refine").defaults  # as the registered solver refines
        r_path, info = refine_path(sub, v_path[:n + 1], objective="ssim", sweeps=cfg["refine_sweeps"],
                                   shortlist=cfg["shortlist"], max_pins=cfg["refine_pins"])
        add("greedy-view+refine", n, r_path, v_secs * n / top + time.perf_counter() - t0,
            refine_sweeps=info["refine_sweeps"], refine_moves=info["refine_moves"])
    return rows


SHOWN = ("sum*", "greedy", "greedy-view", "greedy+refine", "greedy-view+refine")
SHORT = {"sum*": "sum*", "greedy": "greedy", "greedy-view": "view", "greedy+refine": "refine",
         "greedy-view+refine": "view+refine"}


def best_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per image, lines and shown solver; ``sum*`` = greedy-sum at its best weight, metric by metric."""
    sm = df[df.solver == "greedy-sum"].groupby(["image", "lines"], sort=False).agg(
        ssim=("ssim", "max"), l1=("l1", "min"), psnr=("psnr", "max"), seconds=("seconds", "mean")).reset_index()
    sm["solver"] = "sum*"
    rest = df[df.solver.isin(SHOWN)][["image", "lines", "solver", *METRICS, "seconds"]]
    return pd.concat([sm, rest], ignore_index=True)


def summarize(df: pd.DataFrame) -> str:
    """Markdown: per image and line count the shown solvers side by side, means, and win counts."""
    bt = best_table(df)
    wide = bt.pivot_table(index=["image", "lines"], columns="solver", values=list(METRICS), sort=False)
    fmt = {"ssim": "{:.4f}", "l1": "{:.4f}", "psnr": "{:.2f}"}
    head = " | ".join(f"{SHORT[s]} {m}" for m in METRICS for s in SHOWN)
    out = ["Viewing-scale metrics (SSIM, PSNR: higher is better; L1: lower). `sum*` = greedy-sum at its best "
           "weight for that metric; `view` = greedy-view; `refine` = greedy+refine; `view+refine` = "
           "greedy-view+refine.", "",
           f"| image | lines | {head} |", "|---|---:|" + "---:|" * (len(METRICS) * len(SHOWN))]
    for (image, n), r in wide.iterrows():
        cells = [fmt[m].format(r[(m, s)]) for m in METRICS for s in SHOWN]
        out.append(f"| {image} | {n} | " + " | ".join(cells) + " |")
    out += ["", "Means over the images:", "", f"| lines | {head} |", "|---:|" + "---:|" * (len(METRICS) * len(SHOWN))]
    means = wide.groupby(level="lines").mean()
    for n, r in means.iterrows():
        out.append(f"| {n} | " + " | ".join(fmt[m].format(r[(m, s)]) for m in METRICS for s in SHOWN) + " |")
    out.append("")
    n_cases = len(wide)
    for a, b in [("greedy", "sum*"), ("greedy-view", "sum*"), ("greedy+refine", "greedy"),
                 ("greedy+refine", "sum*"), ("greedy-view", "greedy"), ("greedy-view+refine", "greedy-view")]:
        counts = []
        for m in METRICS:
            x, y = wide[(m, a)], wide[(m, b)]
            counts.append(f"{m.upper()} {int(((x > y) if HIGHER_IS_BETTER[m] else (x < y)).sum())}/{n_cases}")
        out.append(f"- {a} beats {'greedy-sum at its best weight' if b == 'sum*' else b} in " + ", ".join(counts))
    secs = bt[bt.lines == bt.lines.max()].groupby("solver").seconds.mean()
    out.append(f"- mean seconds per run at {bt.lines.max()} lines (solve only; greedy-sum: one weight): "
               + ", ".join(f"{k} {secs[k]:.2f}" for k in SHOWN))
    weights = df[df.solver == "greedy-sum"]
    best_w = weights.loc[weights.groupby(["image", "lines"]).ssim.idxmax()].weight.value_counts()
    out.append("- greedy-sum's best weight by SSIM (/255): " + ", ".join(f"{w:g} in {c}" for w, c in best_w.items()))
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", nargs="*", default=list(BUILTIN_IMAGES))
    ap.add_argument("--lines", nargs="*", type=int, default=[1000, 2000, 3000, 4000])
    ap.add_argument("--weights", nargs="*", type=float, default=[5, 10, 20, 40, 80],
                    help="greedy-sum weights in 1/255 units (the seed's is 20)")
    ap.add_argument("--sweeps", type=int, default=3, help="refine sweeps (greedy+refine's default is 3)")
    ap.add_argument("--refine-seconds", type=float, default=60.0)
    ap.add_argument("--pins", type=int, default=288)
    ap.add_argument("--canvas", type=int, default=512)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "greedy")
    ap.add_argument("--report-only", action="store_true", help="redraw the Markdown from the CSV in --out")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    if args.report_only:
        df = pd.read_csv(args.out / "greedy_quality.csv")
        args.images = list(df.image.unique())
        args.lines = sorted(int(n) for n in df.lines.unique())
        args.weights = sorted(float(w) for w in df.weight.dropna().unique())
    else:
        rows = []
        for image in args.images:
            rows += run_image(image, sorted(args.lines), args.weights, args.sweeps, args.refine_seconds, args.pins,
                              args.canvas, log=lambda s: print(s, flush=True))
        df = pd.DataFrame(rows)
        args.out.mkdir(parents=True, exist_ok=True)
        df.to_csv(args.out / "greedy_quality.csv", index=False)
    commit = git_commit()
    md = "\n".join([
        "# Greedy quality", "",
        f"{args.pins} pins, {args.canvas} px, lines {args.lines}, images {', '.join(args.images)}; greedy-sum weights "
        f"{args.weights} /255; refine {args.sweeps} sweeps.", "",
        summarize(df), "",
        f"- commit {commit}; Python {platform.python_version()}; {time.perf_counter() - t0:.0f} s in all; command: "
        f"python benchmarks/greedy_quality.py {' '.join(argv if argv is not None else sys.argv[1:])}", ""])
    (args.out / "greedy_quality.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
