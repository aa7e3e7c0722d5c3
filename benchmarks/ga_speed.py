"""Benchmark of the genetic-algorithm solver (issue 4).

1. Evaluations per second at 288 pins / 4000 lines / 512 px (JIT warm, table cached),
   serial and parallel kernels, from a greedy seed and from random paths.
2. ``greedy+ga`` against its ``greedy`` seed on built-in images: the GA's fitness
   (squared error) and the viewing-scale SSIM and L1 of :func:`rendering.metrics.score`.
3. ``ga`` from random paths against ``greedy`` and ``random`` at equal wall time
   (the GA gets greedy's seconds as its ``seconds`` budget).

Run::

    STRINGART_CACHE_DIR=/tmp/sacache python benchmarks/ga_speed.py            # everything
    python benchmarks/ga_speed.py --images camera astronaut --skip-speed      # a subset
    python benchmarks/ga_speed.py --quick                                     # tiny sizes, a smoke run

The machine is shared and noisy: compare numbers from one run, as ratios.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from _common import git_commit
from rendering.metrics import score
from rendering import BUILTIN_IMAGES
from solvers import Problem, get_entry, make_solver
from solvers.ga import GAConfig, GARefiner, _Population, path_fitness, random_paths


def speed(problem: Problem, seed_path: np.ndarray | None, label: str, generations: int) -> None:
    """Evaluations per second of the default config (breed + select), serial and parallel."""
    import numba

    for parallel in (False, True):
        cfg = GAConfig(parallel=parallel)
        paths = np.stack([seed_path] * cfg.population) if seed_path is not None else \
            random_paths(problem, cfg.population, 0)
        t0 = time.perf_counter()
        pop = _Population(problem, paths, cfg)
        t_init = time.perf_counter() - t0
        rng = np.random.default_rng(0)
        for _ in range(3):  # warm the JIT and the caches
            pop.generation(rng, cfg.offspring)
        t0 = time.perf_counter()
        for _ in range(generations):
            pop.generation(rng, cfg.offspring)
        dt = time.perf_counter() - t0
        n_eval = generations * cfg.offspring
        threads = numba.get_num_threads() if parallel else 1
        print(f"  {label:>7} start, {threads} thread(s): {n_eval / dt:9.0f} evaluations/s "
              f"({dt / n_eval * 1e6:6.1f} us each; population {cfg.population} built in {t_init:.2f} s)")


def compare(images, pins: int, lines: int, canvas: int, seed: int, ga_budget: dict, views=()) -> None:
    rows = []
    for name in images:
        problem = Problem.create(name, pins=pins, lines=lines, canvas=canvas)
        _ = problem.table  # build/load the table outside the timings
        runs = {}
        runs["random"] = make_solver("random").solve(problem, rng=seed)
        runs["greedy"] = make_solver("greedy").solve(problem, rng=seed)
        pre = GARefiner.prefix  # greedy+ga names the GA's options with this prefix
        seeded = {pre + k: v for k, v in ga_budget.items()}
        runs["greedy+ga"] = make_solver("greedy+ga", **seeded).solve(problem, rng=seed)
        for v in views:
            runs[f"g+ga@v{v}"] = make_solver("greedy+ga", **seeded, **{pre + "view": v}).solve(problem, rng=seed)
        wall = runs["greedy"].seconds
        runs["ga@wall"] = make_solver("ga", generations=10**9, seconds=wall, **{
            k: v for k, v in ga_budget.items() if k not in ("generations", "evaluations", "seconds")}
        ).solve(problem, rng=seed)
        for solver, sol in runs.items():
            m = score(sol.render(), problem.target.image, problem.mask)
            rows.append(dict(image=name, solver=solver, seconds=sol.seconds, sse=path_fitness(problem, sol.path),
                             ssim=m["ssim"], l1=m["l1"], evals=sol.extra.get("evaluations", 0),
                             gens=sol.extra.get("generations", 0)))
        for r in rows[-len(runs):]:
            print(f"  {r['image']:>12} {r['solver']:>10} {r['seconds']:7.2f} s  SSE {r['sse']:10.2f}  "
                  f"SSIM {r['ssim']:.4f}  L1 {r['l1']:.4f}  evals {r['evals']:7d}  gens {r['gens']:5d}", flush=True)
    by = {(r["image"], r["solver"]): r for r in rows}
    print("\n  greedy+ga vs greedy (its seed):")
    lower = 0
    for name in images:
        g, gg = by[(name, "greedy")], by[(name, "greedy+ga")]
        lower += gg["sse"] < g["sse"]
        print(f"  {name:>12}: SSE {100 * (gg['sse'] - g['sse']) / g['sse']:+.3f} %  "
              f"SSIM {gg['ssim'] - g['ssim']:+.4f}  L1 {gg['l1'] - g['l1']:+.4f}  "
              f"({gg['seconds'] - g['seconds']:+.2f} s)")
    print(f"  greedy+ga lowered greedy's error on {lower}/{len(images)} images")
    for v in views:
        print(f"\n  greedy+ga with view={v} (fitness between {v}x{v} block means) vs greedy:")
        for name in images:
            g, gv = by[(name, "greedy")], by[(name, f"g+ga@v{v}")]
            print(f"  {name:>12}: SSE {100 * (gv['sse'] - g['sse']) / g['sse']:+.3f} %  "
                  f"SSIM {gv['ssim'] - g['ssim']:+.4f}  L1 {gv['l1'] - g['l1']:+.4f}")
    print("\n  at equal wall time (ga gets greedy's seconds): mean SSIM / L1")
    for solver in ("random", "ga@wall", "greedy"):
        ss = [by[(n, solver)]["ssim"] for n in images]
        ll = [by[(n, solver)]["l1"] for n in images]
        print(f"  {solver:>10}: SSIM {np.mean(ss):.4f}  L1 {np.mean(ll):.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", nargs="+", default=list(BUILTIN_IMAGES))
    ap.add_argument("--pins", type=int, default=288)
    ap.add_argument("--lines", type=int, default=4000)
    ap.add_argument("--canvas", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--speed-generations", type=int, default=100)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-compare", action="store_true")
    ap.add_argument("--views", nargs="*", type=int, default=[4],
                    help="also run greedy+ga with these fitness view scales (default: 4)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes and budgets (a smoke run)")
    args = ap.parse_args()
    ga_budget: dict = {}
    if args.quick:
        args.pins, args.lines, args.canvas, args.speed_generations = 64, 300, 128, 5
        args.images = args.images[:2]
        ga_budget = dict(get_entry("ga").cls.quick_options)
    commit = git_commit()
    print(f"# ga benchmark  commit {commit}  {platform.processor() or platform.machine()}  "
          f"pins {args.pins} lines {args.lines} canvas {args.canvas}  defaults {GAConfig()}")
    if not args.skip_speed:
        problem = Problem.create("camera", pins=args.pins, lines=args.lines, canvas=args.canvas)
        _ = problem.table
        print("\n## evaluations per second (camera)")
        speed(problem, make_solver("greedy").solve(problem, rng=0).path, "greedy", args.speed_generations)
        speed(problem, None, "random", args.speed_generations)
    if not args.skip_compare:
        print("\n## solvers on built-in images (viewing-scale SSIM and L1 from rendering.metrics.score; "
              "SSE = the GA's weighted squared error)")
        compare(args.images, args.pins, args.lines, args.canvas, args.seed, ga_budget, args.views)


if __name__ == "__main__":
    main()
