"""The learned front end against the classical one: what greedy is fed, on held-out images.

Usage::

    python benchmarks/front_eval.py --out results/learned/front

Rows (288 pins, 512 px, 2000 and 4000 lines, held-out built-ins; every row is
``greedy-view`` at the end, scored against the untouched photo with the real
thread):

* ``greedy-view`` -- the classical default (no front end: what ``bench solve`` does);
* ``greedy-view --clahe`` / ``--exposure auto`` / ``--importance edges`` /
  ``--importance saliency`` -- the hand-made front-end options of ``bench solve``;
* ``search+greedy`` -- the per-picture search (the teacher, the ceiling);
* ``ae-target+greedy`` -- the shipped network's settings, one solve;
* ``ae-target-avg+greedy`` -- the same with the settings replaced by the training labels' mean (ablation);
* ``ae-target+greedy, predicted opacity too`` -- greedy also assumes the thread opacity the network predicts
  (``-O predict_opacity=true``; off in the shipped solver);
* ``ae-target+greedy (N labels)`` -- networks fitted on the first N of the shipped labels (``--labels``;
  data-size dependence; fitted here, in seconds);
* ``ae+greedy`` -- the earlier learned warm start.

Writes ``scores.csv``, ``table.md`` (means, per-image gains over the default,
the share of the search's gain captured, timings) and ``fit.png`` (the shipped
network's training curve) into ``--out``. Seconds: ``Solution.seconds`` after
an untimed warm-up solve of the same row (model loaded, kernels compiled), the
median of ``--repeats``; ``search+greedy`` is timed once.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import provenance
from solvers import Problem, make_solver

DEFAULT = "greedy-view"
CLASSICAL = {"greedy-view --clahe": dict(clahe=True), "greedy-view --exposure auto": dict(exposure="auto"),
             "greedy-view --importance edges": dict(importance="edges"),
             "greedy-view --importance saliency": dict(importance="saliency")}


def read_labels(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        blob = json.load(f)
    return blob["labels"] if isinstance(blob, dict) else blob


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", nargs="+", default=["camera", "astronaut", "grace_hopper", "coffee", "chelsea"])
    ap.add_argument("--lines", nargs="+", type=int, default=[2000, 4000])
    ap.add_argument("--pins", type=int, default=288)
    ap.add_argument("--canvas", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--labels", type=Path, default=Path("results/learned/front/labels.json.gz"),
                    help="the shipped network's training labels (bench train ae-target writes OUT/labels.json)")
    ap.add_argument("--subsets", nargs="*", type=int, default=[50, 100],
                    help="fit networks on the first N labels too (data-size dependence)")
    ap.add_argument("--no-search", action="store_true", help="skip search+greedy (slow)")
    ap.add_argument("--no-classical", action="store_true", help="skip the classical front-end options")
    ap.add_argument("--out", type=Path, default=Path("results/learned/front"))
    args = ap.parse_args(argv)

    from learned.front import FrontModel, fit_front, plot_fit
    from learned.models import default_checkpoint

    shipped = FrontModel.load(default_checkpoint("ae-target", args.pins))
    args.out.mkdir(parents=True, exist_ok=True)
    plot_fit(shipped.info, args.out / "fit.png")
    tmp = Path(tempfile.mkdtemp(prefix="front_eval_"))
    subsets = {}
    if args.labels.is_file():
        labels = read_labels(args.labels)
        for n in args.subsets:
            if n < len(labels):
                m = fit_front(labels[:n], seed=0)
                subsets[n] = (m.save(tmp / f"ae-target-{n}.pt"), m.info)
    # rows: (label, solver, solver options, problem options)
    rows_spec = [(DEFAULT, DEFAULT, {}, {})]
    if not args.no_classical:
        rows_spec += [(k, DEFAULT, {}, v) for k, v in CLASSICAL.items()]
    rows_spec += [("ae-target+greedy", "ae-target+greedy", {}, {}),
                  ("ae-target-avg+greedy", "ae-target-avg+greedy", {}, {})]
    rows_spec += [("ae-target+greedy, predicted opacity too", "ae-target+greedy", {"predict_opacity": True}, {})]
    rows_spec += [(f"ae-target+greedy ({n} labels)", "ae-target+greedy", {"checkpoint": str(p)}, {})
                  for n, (p, _) in subsets.items()]
    rows_spec += [("ae+greedy", "ae+greedy", {}, {})]
    if not args.no_search:
        rows_spec += [("search+greedy", "search+greedy", {}, {})]

    rows = []
    for image in args.images:
        for lines in args.lines:
            problems = {}
            for label, solver, sopts, popts in rows_spec:
                key = tuple(sorted(popts.items()))
                if key not in problems:
                    problems[key] = Problem.create(image, pins=args.pins, lines=lines, canvas=args.canvas, **popts)
                p = problems[key]
                s = make_solver(solver, **sopts)
                slow = solver == "search+greedy"
                if not slow:
                    s.solve(p, rng=0)
                secs = []
                for _ in range(1 if slow else max(1, args.repeats)):
                    sol = s.solve(p, rng=0)
                    secs.append(sol.seconds)
                m = sol.scores()
                front = sol.extra.get("front")
                rows.append(dict(row=label, image=image, lines=lines, seconds=float(np.median(secs)), **m,
                                 front=json.dumps(front) if front else ""))
                print(f"{label:34s} {image:12s} {lines:5d}  ssim {m['ssim']:.4f}  l1 {m['l1']:.4f}  "
                      f"{rows[-1]['seconds']:.2f} s {rows[-1]['front']}", flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(args.out / "scores.csv", index=False)
    img = Problem.create(args.images[0], pins=args.pins, lines=10, canvas=args.canvas).target.original
    shipped.predict(img)
    ts = []
    for _ in range(20):
        t = time.perf_counter()
        shipped.predict(img)
        ts.append(time.perf_counter() - t)
    timing = (f"The network's inference (features of a {args.canvas} px photo and the forward pass, one torch "
              f"thread): median {1000 * np.median(ts):.1f} ms of 20 on {args.images[0]}.")
    text = report(df, [r[0] for r in rows_spec], shipped.info, subsets, args) + "\n" + timing + "\n"
    (args.out / "table.md").write_text(text)
    print((args.out / "table.md").read_text())


def report(df: pd.DataFrame, order: list[str], info: dict, subsets: dict, args) -> str:
    rank = {n: i for i, n in enumerate(order)}
    base = df[df.row == DEFAULT][["image", "lines", "ssim", "l1", "seconds"]]
    df = df.merge(base, on=["image", "lines"], suffixes=("", "_default"))
    df["gain"] = df.ssim - df.ssim_default
    df["dl1"] = df.l1 - df.l1_default
    df["time_ratio"] = df.seconds / df.seconds_default
    out = ["# The learned front end (`ae-target+greedy`) against the classical one", "",
           f"Held-out images: {', '.join(args.images)}; {args.pins} pins, {args.canvas} px; every row is "
           f"`{DEFAULT}` at the end, drawn with the real thread (0.2 mm on 600 mm, opacity 1) and scored "
           "against the untouched photo at the viewing scale (`rendering.metrics.score`). Gain: SSIM minus the "
           f"default's (`{DEFAULT}`, no front end) on the same image and line count; L1 +: L1 minus the "
           "default's; time: seconds over the default's (median of repeated warm solves; `search+greedy` one "
           "solve).", "", provenance(), ""]
    for lines in sorted(df.lines.unique()):
        d = df[df.lines == lines]
        out += [f"## {lines} lines", "",
                "| front end | SSIM | L1 | mean gain | min gain | gain > 0 on | max L1 + | time x default |",
                "|---|---:|---:|---:|---:|---:|---:|---:|"]
        g = d.groupby("row")
        for name in sorted(g.groups, key=lambda n: rank.get(n, 99)):
            r = g.get_group(name)
            out.append(f"| {name} | {r.ssim.mean():.4f} | {r.l1.mean():.4f} | {r.gain.mean():+.4f} | "
                       f"{r.gain.min():+.4f} | {(r.gain > 0).sum()} of {len(r)} | {r.dl1.max():+.4f} | "
                       f"{r.time_ratio.mean():.2f} |")
        s, a = d[d.row == "search+greedy"], d[d.row == "ae-target+greedy"]
        if len(s) and len(a) and s.gain.mean() > 0:
            out += ["", f"`ae-target+greedy` captures {a.gain.mean() / s.gain.mean():.0%} of `search+greedy`'s "
                        f"mean gain ({a.gain.mean():+.4f} of {s.gain.mean():+.4f})."]
        out += ["", "| image | " + " | ".join(f"{n} gain / L1 +" for n in ("ae-target+greedy", "search+greedy",
                                                                          "ae-target-avg+greedy")) + " |",
                "|---|---|---|---|"]
        for image in args.images:
            cells = []
            for n in ("ae-target+greedy", "search+greedy", "ae-target-avg+greedy"):
                r = d[(d.row == n) & (d.image == image)]
                cells.append(f"{r.gain.iloc[0]:+.4f} / {r.dl1.iloc[0]:+.4f}" if len(r) else "")
            out.append(f"| {image} | " + " | ".join(cells) + " |")
        out.append("")
        fr = d[d.front != ""][["row", "image", "front"]]
        if len(fr):
            out += ["Settings chosen (local contrast, gamma, assumed opacity, edge strength):", "",
                    "| image | " + " | ".join(sorted(fr.row.unique(), key=lambda n: rank.get(n, 99))) + " |",
                    "|---|" + "---|" * fr.row.nunique()]
            for image in args.images:
                cells = []
                for n in sorted(fr.row.unique(), key=lambda n: rank.get(n, 99)):
                    r = fr[(fr.row == n) & (fr.image == image)]
                    if len(r):
                        p = json.loads(r.front.iloc[0])
                        cells.append(", ".join(f"{p[k]:.2f}" for k in ("local", "gamma", "opacity", "strength")))
                    else:
                        cells.append("")
                out.append(f"| {image} | " + " | ".join(cells) + " |")
            out.append("")
    out += ["## The network and its data", "",
            f"Shipped checkpoint: {info['n_labels']} searched crops ({info['n_train']} to train, {info['n_val']} to "
            f"validate) of the offline pool ({info.get('data', '?')}; no evaluated image in it), "
            f"{info.get('pins')} pins, {info.get('canvas')} px, {info.get('lines')} lines. The search's mean gain "
            f"on its crops: {info['search_gain']:+.4f} SSIM. Validation loss (squared error in units of each "
            f"setting's range): network {info['val_loss']:.4f}, the mean setting {info['val_loss_mean']:.4f} "
            f"(best epoch {info['best_epoch']} of {info['epochs']}; curve in `fit.png`).", ""]
    if subsets:
        out += ["| labels | validation loss (its own split) | the mean setting |", "|---:|---:|---:|"]
        for n, (_, i) in sorted(subsets.items()):
            out.append(f"| {n} | {i['val_loss']:.4f} | {i['val_loss_mean']:.4f} |")
        out.append(f"| {info['n_labels']} (shipped) | {info['val_loss']:.4f} | {info['val_loss_mean']:.4f} |")
        out.append("")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
