"""Quality of ``greedy``, ``greedy-sum`` (at its best weight) and ``greedy+refine`` on the built-in images.

Run from the repository root::

    STRINGART_CACHE_DIR=/tmp/sacache python benchmarks/greedy_quality.py --out results/greedy

Scores are the project's metrics (:func:`bench.metrics.score`): SSIM, L1 and
PSNR at the viewing scale (both images box-averaged 4x), the headline ones,
with the full-resolution figures in the CSV. 288 pins, 512 px, the default
thread (0.2 mm on a 600 mm frame).

Greedy decides each line from the lines before it, so the first ``L`` lines of
a 4000-line run are exactly the ``L``-line run (early stop is off): one run per
rule gives every line count. ``greedy-sum`` runs at each ``--weights`` value
(in 1/255 units, the seed's is 20) and each metric takes its best weight, the
most generous reading for it. ``greedy+refine`` refines the ``L``-line greedy
thread for each ``L`` (what ``make_solver("greedy+refine")`` does).

Writes ``greedy_quality.csv`` (one tidy row per image, lines, solver, weight)
and ``greedy_quality.md`` (the tables) into ``--out``.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.metrics import score  # noqa: E402
from rendering import BUILTIN_IMAGES, render  # noqa: E402
from solvers import Problem  # noqa: E402
from solvers.greedy import greedy_path, pixel_table, refine_path  # noqa: E402

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

    def add(solver, n, path, secs, weight=None, **extra):
        rows.append(dict(image=image, lines=n, solver=solver, weight=weight, seconds=secs,
                         **evaluate(problem.with_lines(n), path), **extra))

    t0 = time.perf_counter()
    g_path, _, _ = greedy_path(problem)
    g_secs = time.perf_counter() - t0
    for n in lines:
        add("greedy", n, g_path[:n + 1], g_secs * n / top)
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
    return rows


def summarize(df: pd.DataFrame) -> str:
    """Markdown: per image and line count, greedy vs the best greedy-sum vs greedy+refine; and win counts."""
    out = []
    pairs = [("greedy", "greedy-sum best"), ("greedy+refine", "greedy"), ("greedy+refine", "greedy-sum best")]
    wins = {pair: {m: 0 for m in METRICS} for pair in pairs}
    n_cases = 0
    lines_tbl = ["| image | lines | " + " | ".join(f"{s} {m}" for m in METRICS for s in ("sum*", "greedy", "refine"))
                 + " | sum* weights (SSIM) |",
                 "|---|---:|" + "---:|" * (3 * len(METRICS)) + "---|"]
    for (image, n), g in df.groupby(["image", "lines"], sort=False):
        n_cases += 1
        gr = g[g.solver == "greedy"].iloc[0]
        rf = g[g.solver == "greedy+refine"].iloc[0]
        sm = g[g.solver == "greedy-sum"]
        best = {}
        for m in METRICS:
            best[m] = sm[m].max() if HIGHER_IS_BETTER[m] else sm[m].min()
        w_ssim = sm.loc[sm.ssim.idxmax(), "weight"]
        cells = []
        for m in METRICS:
            better = (lambda a, b: a > b) if HIGHER_IS_BETTER[m] else (lambda a, b: a < b)
            wins[("greedy", "greedy-sum best")][m] += bool(better(gr[m], best[m]))
            wins[("greedy+refine", "greedy")][m] += bool(better(rf[m], gr[m]))
            wins[("greedy+refine", "greedy-sum best")][m] += bool(better(rf[m], best[m]))
            f = "{:.4f}" if m != "psnr" else "{:.2f}"
            cells += [f.format(best[m]), f.format(gr[m]), f.format(rf[m])]
        lines_tbl.append(f"| {image} | {n} | " + " | ".join(cells) + f" | {w_ssim:g}/255 |")
    out.append("Viewing-scale metrics (SSIM, PSNR: higher is better; L1: lower). `sum*` = greedy-sum at its best "
               "weight for that metric.\n")
    out += lines_tbl
    out.append("")
    means = df.groupby(["solver", "lines"])[list(METRICS)].mean()
    best_sum = df[df.solver == "greedy-sum"].groupby(["image", "lines"]).agg(
        ssim=("ssim", "max"), l1=("l1", "min"), psnr=("psnr", "max")).groupby("lines").mean()
    out.append("Means over the images:\n")
    out.append("| lines | " + " | ".join(f"{s} {m}" for m in METRICS for s in ("sum*", "greedy", "refine")) + " |")
    out.append("|---:|" + "---:|" * (3 * len(METRICS)))
    for n in sorted(df.lines.unique()):
        cells = []
        for m in METRICS:
            f = "{:.4f}" if m != "psnr" else "{:.2f}"
            cells += [f.format(best_sum.loc[n, m]), f.format(means.loc[("greedy", n), m]),
                      f.format(means.loc[("greedy+refine", n), m])]
        out.append(f"| {n} | " + " | ".join(cells) + " |")
    out.append("")
    for (a, b), w in wins.items():
        out.append(f"- {a} beats {b} in " + ", ".join(f"{m.upper()} {w[m]}/{n_cases}" for m in METRICS) + " cases")
    secs = df.groupby("solver").seconds.mean()
    out.append("- mean seconds per run: " + ", ".join(f"{k} {v:.2f}" for k, v in secs.items()))
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
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
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
