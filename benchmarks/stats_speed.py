"""How long the statistics of a study take: bench.stats over a runs table, tables and both figures.

Usage::

    python benchmarks/stats_speed.py results/default --vs greedy-view

Prints wall and CPU seconds of each stage in this (fresh) process: reading ``runs.csv``, importing
scipy.stats and matplotlib (the report pays them once), the tables of each metric, and each figure.
"""

from __future__ import annotations

import time

from _common import study_parser


def main(argv=None) -> int:
    ap = study_parser(__doc__, vs="greedy-view")
    ap.add_argument("--metrics", default="ssim,l1,psnr")
    args = ap.parse_args(argv)
    marks = [("start", time.perf_counter(), time.process_time())]

    def mark(name):
        marks.append((name, time.perf_counter(), time.process_time()))

    from bench import stats as S
    from bench.storage import read_runs

    df = read_runs(args.study)
    mark("read runs.csv")
    import matplotlib.pyplot  # noqa: F401  (timed on its own: the report imports it anyway)
    import scipy.stats  # noqa: F401

    mark("import scipy.stats, matplotlib")
    metrics = args.metrics.split(",")
    tables = {m: S.metric_tables(df, m, reference=args.vs) for m in metrics}
    mark(f"tables of {len(metrics)} metrics")
    md = "\n".join(S.stats_markdown(df, m, reference=args.vs, tables=tables[m]) for m in metrics)
    mark("markdown")
    S.png_bytes(S.pareto_figure(df, metrics[0], cells=tables[metrics[0]]["intervals"]))
    mark("Pareto figure")
    S.png_bytes(S.profile_figure(df, metrics[0]))
    mark("profile figure")
    for (_, w0, c0), (name, w1, c1) in zip(marks, marks[1:]):
        print(f"{name:34s} {w1 - w0:6.2f} s wall {c1 - c0:6.2f} s CPU")
    print(f"{'total':34s} {marks[-1][1] - marks[0][1]:6.2f} s wall {marks[-1][2] - marks[0][2]:6.2f} s CPU "
          f"({len(df)} runs, {df['solver'].nunique()} solvers, {len(md)} characters of Markdown)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
