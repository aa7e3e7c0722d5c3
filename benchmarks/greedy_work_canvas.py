"""Greedy solved on a coarser canvas, scored on the problem's: a finding for a later issue.

Usage::

    python benchmarks/greedy_work_canvas.py --images moon coins rocket --lines 2000 4000 --work 256 \
        --solvers greedy ae+greedy

For each image and line count, each solver (default ``greedy``) solves the 512 px
problem and the same problem at ``--work`` px (same pins and thread in mm, so the
same chords); both pin paths are rendered and scored on the 512 px problem
(viewing-scale metrics of ``rendering.metrics``). Seconds are the second of two solves
(JIT and table warm).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rendering.metrics import score
from rendering import render
from solvers import Problem, make_solver


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", nargs="+", default=["moon", "coins", "rocket"])
    ap.add_argument("--lines", nargs="+", type=int, default=[2000, 4000])
    ap.add_argument("--canvas", type=int, default=512)
    ap.add_argument("--work", type=int, default=256)
    ap.add_argument("--pins", type=int, default=288)
    ap.add_argument("--solvers", nargs="+", default=["greedy"])
    args = ap.parse_args(argv)
    solvers = {name: make_solver(name) for name in args.solvers}
    print("| lines | solver | solved at | SSIM | L1 | seconds |\n|---:|---|---:|---:|---:|---:|")
    for n in args.lines:
        rows = {(name, c): [] for name in solvers for c in (args.canvas, args.work)}
        for image in args.images:
            p = Problem.create(image, pins=args.pins, lines=n, canvas=args.canvas)
            work = Problem.create(image, pins=args.pins, lines=n, canvas=args.work)
            for (name, c), out in rows.items():
                q = p if c == args.canvas else work
                solvers[name].solve(q)
                sol = solvers[name].solve(q)
                img = render(p.table, p.chords.path_to_chords(sol.path), opacity=p.thread.opacity)
                m = score(img, p.target.image, p.mask)
                out.append((m["ssim"], m["l1"], sol.seconds))
        for (name, c), v in rows.items():
            v = np.array(v)
            print(f"| {n} | {name} | {c} px | {v[:, 0].mean():.4f} | {v[:, 1].mean():.4f} | {v[:, 2].mean():.3f} |")


if __name__ == "__main__":
    main()
