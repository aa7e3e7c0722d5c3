"""Greedy warm-started with per-pin partners: how much faster, and what it costs in quality.

Run from the repository root::

    STRINGART_CACHE_DIR=/tmp/sacache python benchmarks/greedy_warmstart.py            # camera, 288/4000/512
    STRINGART_CACHE_DIR=/tmp/sacache python benchmarks/greedy_warmstart.py --images camera astronaut --m 32 64

Each row is :func:`solvers.greedy.solve_greedy` on the same problem, with
``partners`` = each pin's top-``m`` partner pins ranked by

``projection``
    the mean target darkness along the chord (the ``projection`` baseline's
    scores, :func:`learned.inference.projection_scores`), or
``gain``
    greedy's exact first-step gain of each chord (:func:`solvers.greedy.chord_scores` on a white canvas),

against plain greedy, for the default ``incremental`` method and the ``scan``
method (whose cost is proportional to the number of candidates). Times are
the best of ``--repeat`` warm runs (JIT compiled, chord and pixel tables
cached); ranking the partners is timed apart (``rank s``). Quality is
:func:`rendering.metrics.score` at the viewing scale (SSIM higher, L1 lower).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from solvers import Problem  # noqa: E402
from solvers import error_weights  # noqa: E402
from solvers.greedy import GreedySolver, chord_scores, solve_greedy  # noqa: E402


def top_partners(problem: Problem, scores: np.ndarray, m: int) -> np.ndarray:
    """(n_pins, m) int32: each pin's ``m`` best-scoring partners."""
    ids = problem.chords.id_of
    s = np.where(ids >= 0, scores[np.maximum(ids, 0)], -np.inf)
    order = np.argsort(-s, axis=1, kind="stable")[:, :m]
    ok = np.take_along_axis(s, order, axis=1) > -np.inf
    return np.where(ok, order, -1).astype(np.int32)


def projection_scores(problem: Problem) -> np.ndarray:
    """Mean target darkness along each chord (the ``projection`` baseline's scores, without importing torch)."""
    import scipy.sparse as sp

    t = problem.table
    dark = 1.0 - np.where(problem.mask, problem.target.image, 1.0).astype(np.float64).ravel()
    m = sp.csr_matrix((t.coverage, t.pixel, t.indptr), shape=(t.n_chords, t.n_pixels))
    return (m @ dark) / np.maximum(t.coverage_sums(), 1e-12)


def gain_scores(problem: Problem) -> np.ndarray:
    """Greedy's exact gain of each chord drawn first (white canvas)."""
    t = problem.table
    return chord_scores(t, np.ones(t.n_pixels, np.float32), problem.target.image, error_weights(problem))


def best_of(fn, repeat: int):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", nargs="+", default=["camera"])
    ap.add_argument("--pins", type=int, default=288)
    ap.add_argument("--lines", type=int, default=4000)
    ap.add_argument("--canvas", type=int, default=512)
    ap.add_argument("--m", type=int, nargs="+", default=[64])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-scan", action="store_true", help="skip the (slow) scan rows")
    args = ap.parse_args(argv)
    methods = ["incremental"] if args.no_scan else ["incremental", "scan"]
    print(f"{'image':10s} {'method':11s} {'partners':14s} {'rank s':>7s} {'solve s':>8s} {'speed-up':>8s} "
          f"{'SSIM':>7s} {'L1':>7s} {'fallbk':>6s} {'chords':>7s}")
    for name in args.images:
        problem = Problem.create(name, pins=args.pins, lines=args.lines, canvas=args.canvas)
        solve_greedy(problem)  # JIT, pixel-major table
        rankers = {"projection": projection_scores, "gain": gain_scores}
        for method in methods:
            cfg = GreedySolver.Config(method=method)
            rep = args.repeat if method == "incremental" else 1
            base_s, base = best_of(lambda problem=problem, cfg=cfg: solve_greedy(problem, config=cfg), rep)
            q = base.scores()
            print(f"{name:10s} {method:11s} {'none':14s} {'':>7s} {base_s:8.3f} {1.0:8.2f} {q['ssim']:7.4f} "
                  f"{q['l1']:7.4f} {'':>6s} {problem.table.n_chords:7d}")
            for rname, ranker in rankers.items():
                for m in args.m:
                    t0 = time.perf_counter()
                    partners = top_partners(problem, ranker(problem), m)
                    rank_s = time.perf_counter() - t0
                    solve_greedy(problem, config=cfg, partners=partners)  # warm
                    s, sol = best_of(lambda problem=problem, cfg=cfg, partners=partners:
                                     solve_greedy(problem, config=cfg, partners=partners), rep)
                    q = sol.scores()
                    print(f"{name:10s} {method:11s} {f'{rname} top-{m}':14s} {rank_s:7.3f} {s:8.3f} "
                          f"{base_s / s:8.2f} {q['ssim']:7.4f} {q['l1']:7.4f} {sol.extra['partner_fallbacks']:6d} "
                          f"{sol.extra['partner_chords']:7d}")


if __name__ == "__main__":
    main()
