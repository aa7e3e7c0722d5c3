"""How good could a learned warm start for greedy be? Guided greedy with an oracle guide.

``ae+greedy`` is greedy whose candidates at each pin are cut to a guide's ``K``
most wanted open partners (``solve_greedy(guide=...)``). Its target: greedy's
SSIM and L1 within 0.005, in less time. This measures the ceiling of that
design: the same guided greedy with the best guide a model could ever
predict, greedy's own chords (weight 1 on each chord greedy draws for this
picture and line budget; the oracle costs nothing), next to the shipped
model's guide (its time includes the model's inference, as ``ae+greedy``'s does).

Usage::

    python benchmarks/guide_ceiling.py --images camera astronaut grace_hopper coffee chelsea \
        --lines 2000 4000 --candidates 16 32 --sigmas 0.5 1.0 --out results/learned

Writes ``ceiling.csv`` (one row per image x lines x guide x K x sigma) and
``ceiling.md`` (means over images, differences to greedy measured in the same
run, and for how many images the target is met) into ``--out``.
Seconds are wall times of one solve each, after a warm-up, on this machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import provenance
from learned.decode import scores_guide
from learned.inference import chordnet_scores, get_model, set_threads
from solvers import ChordGuide, Problem
from solvers.greedy import solve_greedy

TOL = 0.005  # the "within 0.005" on both metrics


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", nargs="+", default=["camera", "astronaut", "grace_hopper", "coffee", "chelsea"])
    ap.add_argument("--lines", nargs="+", type=int, default=[2000, 4000])
    ap.add_argument("--candidates", nargs="+", type=int, default=[16, 32])
    ap.add_argument("--sigmas", nargs="+", type=float, default=[0.5, 1.0])
    ap.add_argument("--pins", type=int, default=288)
    ap.add_argument("--canvas", type=int, default=512)
    ap.add_argument("--out", type=Path, default=Path("results/learned"))
    args = ap.parse_args(argv)
    set_threads()
    model = get_model("ae-chords", "", args.pins)
    rows = []
    for image in args.images:
        base = Problem.create(image, pins=args.pins, lines=args.lines[0], canvas=args.canvas)
        for lines in args.lines:
            p = base.with_lines(lines)
            solve_greedy(p)  # warm-up: JIT and the pixel-major table
            g = solve_greedy(p)
            mg = g.scores()
            rows.append(dict(image=image, lines=lines, guide="greedy", candidates=0, sigma=0.0, seconds=g.seconds,
                             ssim=mg["ssim"], l1=mg["l1"]))
            oracle = np.bincount(g.chords, minlength=p.chords.n_chords).astype(np.float64)
            chordnet_scores(model, p)  # warm-up: torch's first call is slow
            t0 = time.perf_counter()
            scores = chordnet_scores(model, p)
            model_s = time.perf_counter() - t0
            for k in args.candidates:
                for sigma in args.sigmas:
                    guides = {"oracle": (ChordGuide(oracle, sigma=sigma, candidates=k), 0.0)}
                    guides["model"] = (scores_guide(p.chords, scores, lines, temperature=model.config.temperature,
                                                    sigma=sigma, candidates=k), model_s)
                    for name, (guide, extra_s) in guides.items():
                        solve_greedy(p, guide=guide)  # warm-up
                        t0 = time.perf_counter()
                        sol = solve_greedy(p, guide=guide)
                        sec = time.perf_counter() - t0 + extra_s
                        m = sol.scores()
                        rows.append(dict(image=image, lines=lines, guide=name, candidates=k, sigma=sigma,
                                         seconds=sec, ssim=m["ssim"], l1=m["l1"]))
                        print(f"{image:12s} {lines:5d} {name:6s} K={k:3d} sigma={sigma:.2f}  ssim {m['ssim']:.4f} "
                              f"({m['ssim'] - mg['ssim']:+.4f})  l1 {m['l1']:.4f} ({m['l1'] - mg['l1']:+.4f})  "
                              f"{sec:.3f} s (greedy {g.seconds:.3f} s)", flush=True)
    df = pd.DataFrame(rows)
    ref = df[df.guide == "greedy"].set_index(["image", "lines"])[["ssim", "l1", "seconds"]]
    runs = df[df.guide != "greedy"].join(ref, on=["image", "lines"], rsuffix="_greedy")
    runs["d_ssim"] = runs.ssim - runs.ssim_greedy
    runs["d_l1"] = runs.l1 - runs.l1_greedy
    runs["time_ratio"] = runs.seconds / runs.seconds_greedy
    runs["met"] = (runs.d_ssim >= -TOL) & (runs.d_l1 <= TOL) & (runs.time_ratio < 1.0)
    args.out.mkdir(parents=True, exist_ok=True)
    runs.to_csv(args.out / "ceiling.csv", index=False)
    table = runs.groupby(["lines", "guide", "candidates", "sigma"]).agg(
        d_ssim=("d_ssim", "mean"), d_l1=("d_l1", "mean"), time_ratio=("time_ratio", "mean"),
        met=("met", "sum"), n=("met", "size")).reset_index()
    head = (f"# Guided greedy: the shipped model's guide against an oracle's\n\n"
            f"Images: {', '.join(args.images)}; {args.pins} pins, {args.canvas} px; viewing-scale SSIM and L1 "
            f"(rendering.metrics). Differences to greedy in the same run, means over images (SSIM: higher is better, "
            f"L1: lower). `met`: images where SSIM and L1 are within {TOL} of greedy's and the time is lower. "
            f"The oracle guide is greedy's own chords (free); the model's time includes its inference.\n\n"
            f"{provenance()}\n\n")
    lines = ["| lines | guide | K | sigma | d SSIM | d L1 | time / greedy's | met |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in table.itertuples():
        lines.append(f"| {r.lines} | {r.guide} | {r.candidates} | {r.sigma:g} | {r.d_ssim:+.4f} | {r.d_l1:+.4f} | "
                     f"{r.time_ratio:.2f} | {r.met}/{r.n} |")
    text = head + "\n".join(lines) + "\n"
    (args.out / "ceiling.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
