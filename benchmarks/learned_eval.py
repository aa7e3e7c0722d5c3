"""Evaluate the learned solvers against random, projection and greedy on held-out images.

Usage::

    python benchmarks/learned_eval.py --images camera astronaut grace_hopper --lines 1000 2000 4000 \
        --solvers random projection ae-seed ae-chords greedy --out results/learned

A solver may carry options in brackets, as its own row: ``"projection[refine_steps=2]"``
(the same solver with other options, e.g. an ablation).

Writes ``scores.csv`` (one row per solver x image x lines) and ``table.md``
(means over images) into ``--out``. Each timed solve follows ``--warm-runs``
untimed solves of the same solver and problem, so no solver pays for JIT
compilation, a table build or loading a model; ``seconds`` is the median of
``--repeats`` timed solves. It also times ``ae-chords`` inference
(median of repeated solves, after a warm-up) in the same run.
Metrics are the project's: :func:`rendering.metrics.score` at the viewing scale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import provenance
from bench.cli_common import parse_value
from solvers import Problem, make_solver


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", nargs="+", default=["camera", "astronaut", "grace_hopper", "coffee", "chelsea"])
    ap.add_argument("--lines", nargs="+", type=int, default=[1000, 2000, 4000])
    ap.add_argument("--solvers", nargs="+", default=["random", "projection", "ae-seed", "ae-chords", "greedy"])
    ap.add_argument("--pins", type=int, default=288)
    ap.add_argument("--canvas", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--option", action="append", default=[], help="solver:key=value (parsed as by bench -O)")
    ap.add_argument("--out", type=Path, default=Path("results/learned"))
    ap.add_argument("--timing-repeats", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=1,
                    help="timed solves per row; seconds is their median (the solution scored is the last)")
    ap.add_argument("--warm-runs", type=int, default=1,
                    help="untimed solves of the same solver and problem before the timed one (JIT, tables, model)")
    ap.add_argument("--threads", type=int, default=0,
                    help="numba threads (default: all cores); torch runs on one thread in every solve "
                         "(rendering.jit.set_threads)")
    args = ap.parse_args(argv)
    if args.threads:
        from rendering.jit import set_threads

        set_threads(args.threads)
    opts: dict = {}
    for o in args.option:
        name, kv = o.split(":", 1)
        k, v = kv.split("=", 1)
        opts.setdefault(name, {})[k] = parse_value(v)
    def parse(entry):  # "name[k=v,k=v]" -> (name, options)
        if "[" not in entry:
            return entry, dict(opts.get(entry, {}))
        name, rest = entry.split("[", 1)
        kw = dict(opts.get(name, {}))
        for kv in rest.rstrip("]").split(","):
            k, v = kv.split("=", 1)
            kw[k] = parse_value(v)
        return name, kw

    rows = []
    for image in args.images:
        base = Problem.create(image, pins=args.pins, lines=args.lines[0], canvas=args.canvas)
        for lines in args.lines:
            p = base.with_lines(lines)
            for name in args.solvers:
                try:
                    solver, kw = parse(name)
                    s = make_solver(solver, **kw)
                    for _ in range(args.warm_runs):  # so that seconds compare steady-state solves, not first calls
                        s.solve(p, rng=args.seed)
                    secs = []
                    for _ in range(max(1, args.repeats)):
                        sol = s.solve(p, rng=args.seed)
                        secs.append(sol.seconds)
                    m = sol.scores()
                    rows.append(dict(solver=name, image=image, lines=lines, seconds=float(np.median(secs)), **m,
                                     error=""))
                except Exception as e:  # noqa: BLE001 -- a failing run is a row, the sweep goes on
                    rows.append(dict(solver=name, image=image, lines=lines, error=f"{type(e).__name__}: {e}"))
                r = rows[-1]
                print(f"{name:12s} {image:12s} {lines:5d}  ssim {r.get('ssim', float('nan')):.4f}  "
                      f"l1 {r.get('l1', float('nan')):.4f}  {r.get('seconds', float('nan')):.2f} s {r['error']}",
                      flush=True)
    df = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "scores.csv", index=False)
    ok = df[df.error == ""]
    table = ok.groupby(["lines", "solver"])[["ssim", "l1", "seconds"]].mean().reset_index()
    order = {n: i for i, n in enumerate(args.solvers)}
    table = table.sort_values(["lines", "solver"], key=lambda c: c.map(order) if c.name == "solver" else c)
    timing = ""
    if "ae-chords" in args.solvers:
        p = Problem.create(args.images[0], pins=args.pins, lines=args.lines[-1], canvas=args.canvas)
        s = make_solver("ae-chords")
        s.solve(p)
        ts = [s.solve(p).seconds for _ in range(args.timing_repeats)]
        timing = (f"ae-chords inference at {args.lines[-1]} lines, {args.canvas} px: "
                  f"median {1000 * np.median(ts):.1f} ms (min {1000 * min(ts):.1f}) over {len(ts)} solves, "
                  f"torch threads {__import__('torch').get_num_threads()}")
        print(timing)
    head = (f"Held-out images: {', '.join(args.images)}; {args.pins} pins, {args.canvas} px; viewing-scale "
            f"SSIM (higher is better) and L1 (lower is better) from rendering.metrics.score; mean over images.\n\n"
            f"{provenance()}\n\n")
    lines = ["| lines | solver | SSIM | L1 | seconds |", "|---:|---|---:|---:|---:|"]
    for r in table.itertuples():
        lines.append(f"| {r.lines} | {r.solver} | {r.ssim:.4f} | {r.l1:.4f} | {r.seconds:.3f} |")
    errs = df[df.error != ""]
    text = head + "\n".join(lines) + "\n"
    if timing:
        text += f"\n{timing}\n"
    if len(errs):
        text += "\nFailed runs:\n" + "\n".join(f"- {r.solver} {r.image} {r.lines}: {r.error}"
                                             for r in errs.itertuples()) + "\n"
    (args.out / "table.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
