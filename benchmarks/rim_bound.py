"""How light can the rim be? The outer ring of a thread made of near-diameters only, against each photo's ring.

Run from the repository root::

    STRINGART_CACHE_DIR=/tmp/sa_cache python benchmarks/rim_bound.py --out results/quality/rim_bound.md

Every chord ends at the rim, so every line crosses the outer ring ``0.95 R <= r <= R`` (the ring
``benchmarks/quality.py`` reports) twice. A near-diameter crosses it along the shortest path (0.05 R at each
end), so a thread of near-diameters spread evenly over the pins is the lightest ring a thread of that many lines
can leave without piling its chord ends onto a few pins. This script draws such a thread (``random`` at a
``--min-gap`` close to half the pins: every chord a near-diameter) and prints its ring brightness at a few
opacities beside each built-in photo's ring brightness.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import git_commit, publish  # noqa: E402
from quality import RIM, ring_mask  # noqa: E402


def main(argv=None) -> int:
    from rendering import BUILTIN_IMAGES, load_target, render
    from solvers import Problem, make_solver

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pins", type=int, default=288)
    ap.add_argument("--canvas", type=int, default=512)
    ap.add_argument("--lines", nargs="*", type=int, default=[2000, 4000])
    ap.add_argument("--min-gap", type=int, default=110, help="pins apart: 110 of 288 is 137 degrees (near-diameters)")
    ap.add_argument("--opacities", nargs="*", type=float, default=[1.0, 0.9, 0.8])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown report here")
    args = ap.parse_args(argv)

    problem = Problem.create("camera", pins=args.pins, lines=max(args.lines), canvas=args.canvas,
                             min_gap=args.min_gap)
    ring = ring_mask(problem.layout)
    out = ["# The lightest rim", "",
           f"{args.pins} pins, {args.canvas} px, the default thread; ring `{RIM} R <= r <= R` inside the frame. A "
           f"random thread with min gap {args.min_gap} (every chord a near-diameter, the least thread in the ring "
           "per line) at each opacity, against the photos' own rings (`benchmarks/quality.py` reports the solvers' "
           "rims at their best-L1 opacity).", "",
           "| lines | " + " | ".join(f"ring at opacity {o:g}" for o in args.opacities) + " |",
           "|---:|" + "---:|" * len(args.opacities)]
    for n in sorted(args.lines):
        sol = make_solver("random").solve(problem.with_lines(n), rng=args.seed)
        chords = problem.chords.path_to_chords(sol.path)
        cells = [f"{render(problem.table, chords, opacity=o)[ring].mean():.3f}" for o in args.opacities]
        out.append(f"| {n} | " + " | ".join(cells) + " |")
    out += ["", "| photo | ring brightness |", "|---|---:|"]
    for image in BUILTIN_IMAGES:
        t = load_target(image, args.canvas)
        out.append(f"| {image} | {float(np.mean(t.image[ring])):.3f} |")
    out += ["", f"- commit {git_commit()}; command: python benchmarks/rim_bound.py"
            + (f" --out {args.out}" if args.out else ""), ""]
    text = "\n".join(out)
    publish(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
