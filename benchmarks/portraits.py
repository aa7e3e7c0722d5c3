"""Portraits that read: today's default against face weights and auto-crop, on every portrait this checkout has.

Run from the repository root (needs the faces extra: ``pip install -e '.[faces]'``)::

    STRINGART_CACHE_DIR=/tmp/sa_cache python benchmarks/portraits.py --out results/portraits
    python benchmarks/portraits.py --images ~/photos --out /tmp/mine      # your own pictures too

Portraits: ``benchmarks/_portraits.py`` (3 photos and 15 synthetic variants, hand-checked face boxes) and the
pictures of ``--images`` (face box: the detector's). For each, at 288 pins, 512 px, and each ``--lines``:

* ``default``: ``greedy-view`` (the toolkit's default solver) on the centre crop, as ``bench solve`` does;
* ``faces``: the same with :func:`rendering.faces.face_weights` of the detected faces as the problem's
  per-pixel error weights (what ``--faces on`` will do);
* ``crop``: ``greedy-view`` on :func:`rendering.faces.auto_crop`'s square, scored against its own crop;
* ``crop+faces``: both.

Each chord set is scored at its own best opacity, as ``benchmarks/quality.py`` does (rendered at opacities
0.05 .. 1.00, then every 0.01 near each metric's best; each metric keeps its best): the whole picture's
viewing-scale SSIM and L1 (:func:`rendering.metrics.score`) and the viewing-scale SSIM inside the face box
(:func:`rendering.metrics.box_ssim`; the hand-checked box mapped onto the canvas). Writes ``portraits.csv``
(one row per portrait, lines and method), ``portraits.md``, ``<portrait>.png`` (target, default, faces,
auto-crop target, auto crop; each preview at its L1 opacity, at the largest ``--lines``) and
``<portrait>_viewed.png`` (the same box-averaged 4x, as the metric sees them).

Tuning: the weights' default shape and strength were chosen with ``--sweep`` on the tuning split only
(astronaut and its 5 variants; ``_portraits.TUNING_PHOTOS``), written to ``tuning.md``; the report gives the
test split (camera, grace_hopper, their variants, ``--images``) apart.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, provenance
from _portraits import portraits
from quality import best_opacities

PINS, CANVAS = 288, 512
METHODS = ("default", "faces", "crop", "crop+faces")
#: the targets of issue 25 (4000 lines): mean face-SSIM gain of ``faces`` over ``default``, and the most the
#: whole picture's SSIM may drop and its L1 rise
FACE_GAIN, WHOLE_SLACK = 0.05, 0.005


def _pool():
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max(1, min(2, os.cpu_count() or 1)))


def scored(problem, chords, box, pool) -> dict:
    """Whole-picture SSIM and L1 and the face box's SSIM, each at its best opacity; plus the face SSIM at the
    whole picture's SSIM opacity (one picture for both)."""
    from rendering import render
    from rendering.metrics import box_ssim, score

    target, mask, table = problem.target.original, problem.mask, problem.table

    def at(o):
        img = render(table, chords, opacity=o)
        s = score(img, target, mask, full=False)
        return dict(ssim=s["ssim"], l1=s["l1"], face_ssim=box_ssim(img, target, mask, box))

    best, seen = best_opacities(at, ("ssim", "l1", "face_ssim"), higher_is_better={"face_ssim": True},
                                map_fn=pool.map)
    row = {m: best[m][0] for m in best} | {f"{m}_opacity": best[m][1] for m in best}
    row["face_ssim_at_ssim_opacity"] = seen[row["ssim_opacity"]]["face_ssim"]
    return row


def problems(p, faces, *, lines, strength, features):
    """method -> (Problem, face box on its canvas) for one portrait."""
    import dataclasses

    from rendering.faces import Face, auto_crop, crop_box, face_weights, faces_on_canvas
    from solvers import Problem

    base = Problem.create(p.rgb, pins=PINS, lines=lines, canvas=CANVAS)
    box = p.box if p.box is not None else faces[0].box
    ref = Face(box)
    centre = crop_box(p.rgb.shape, "center")
    w = face_weights(faces_on_canvas(faces, p.rgb.shape, CANVAS), CANVAS, strength=strength, features=features,
                     mask=base.mask)
    out = {"default": (base, ref.to_canvas(centre, CANVAS).box),
           "faces": (dataclasses.replace(base, target=base.target.with_weights(w)), ref.to_canvas(centre, CANVAS).box)}
    left, top, size = auto_crop(p.rgb, faces)
    crop = f"{left},{top},{size}"
    cropped = Problem.create(p.rgb, pins=PINS, lines=lines, canvas=CANVAS, crop=crop)
    wc = face_weights(faces_on_canvas(faces, p.rgb.shape, CANVAS, crop), CANVAS, strength=strength,
                      features=features, mask=cropped.mask)
    cbox = ref.to_canvas((left, top, size), CANVAS).box
    out["crop"] = (cropped, cbox)
    out["crop+faces"] = (dataclasses.replace(cropped, target=cropped.target.with_weights(wc)), cbox)
    return out, crop


def run_portrait(p, *, lines_list, methods, strength, features, pool, log) -> tuple[list, dict]:
    from rendering.faces import detect_faces
    from solvers import make_solver

    t0 = time.perf_counter()
    faces = detect_faces(p.rgb)
    detect_s = time.perf_counter() - t0
    if not faces:
        log(f"{p.name}: no face found")
        return [dict(run=provenance(), portrait=p.name, split=p.split, synthetic=p.synthetic, faces=0,
                     detect_s=detect_s)], {}
    rows, pictures = [], {}
    solver = make_solver("greedy-view")
    for lines in lines_list:
        probs, crop = problems(p, faces, lines=lines, strength=strength, features=features)
        for method in methods:
            problem, box = probs[method]
            sol = solver.solve(problem, rng=0)
            row = dict(run=provenance(), portrait=p.name, split=p.split, synthetic=p.synthetic, faces=len(faces),
                       detect_s=detect_s,
                       lines=lines, method=method, crop=crop if method.startswith("crop") else "center",
                       strength=strength, features=features, solve_s=sol.seconds,
                       face_box=",".join(f"{v:.0f}" for v in box))
            row.update(scored(problem, sol.chords, box, pool))
            rows.append(row)
            pictures[(lines, method)] = (problem, sol.chords, row["l1_opacity"])
        log(f"{p.name} {lines}: " + ", ".join(f"{r['method']} face {r['face_ssim']:.3f} ssim {r['ssim']:.3f} "
                                             f"l1 {r['l1']:.3f}" for r in rows if r["lines"] == lines))
    return rows, pictures


def save_picture(path: Path, pictures: dict, lines: int) -> None:
    """target | default | faces | auto-crop target | auto crop (each preview at its L1 opacity), with labels."""
    from PIL import Image, ImageDraw

    from rendering import render

    panels = []
    for label, key in (("target", "default"), ("default", "default"), ("faces on", "faces"),
                       ("auto crop: target", "crop"), ("auto crop", "crop")):
        if (lines, key) not in pictures:
            continue
        problem, chords, opacity = pictures[(lines, key)]
        img = problem.target.original if "target" in label else render(problem.table, chords, opacity=opacity)
        img = np.where(problem.mask, img, 1.0)
        panels.append((label, (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)))
    side, pad, head = CANVAS, 8, 22
    out = Image.new("L", (len(panels) * (side + pad) + pad, side + head + pad), 255)
    draw = ImageDraw.Draw(out)
    for i, (label, img) in enumerate(panels):
        x = pad + i * (side + pad)
        out.paste(Image.fromarray(img), (x, head))
        draw.text((x + 4, 5), f"{label} ({lines} lines)" if label != "target" else label, fill=0)
    out.save(path)


def save_viewed(path: Path) -> Path:
    """``<name>_viewed.png``: the panels of a :func:`save_picture` file box-averaged 4x (each 512 px panel seen
    as 128 px, as the viewing-scale metric sees it), shown at 256 px: how the pictures were judged by eye."""
    from PIL import Image

    im = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    side, pad, head = CANVAS, 8, 22
    n = (im.shape[1] - pad) // (side + pad)
    small = 256
    out = Image.new("L", (n * (small + pad) + pad, small + 2 * pad), 255)
    for i in range(n):
        x = pad + i * (side + pad)
        v = im[head:head + side, x:x + side].reshape(side // 4, 4, side // 4, 4).mean(axis=(1, 3))
        out.paste(Image.fromarray((v + 0.5).astype(np.uint8)).resize((small, small), Image.BILINEAR),
                  (pad + i * (small + pad), pad))
    dest = path.with_name(path.stem + "_viewed.png")
    out.save(dest)
    return dest


def mean(rows, key, **where):
    vals = [r[key] for r in rows if all(r.get(k) == v for k, v in where.items())]
    return float(np.mean(vals)) if vals else float("nan")


def _pairs(ok: list[dict], lines: int, split: str) -> list[tuple[dict, dict]]:
    """``(default row, faces row)`` of each portrait of ``split`` (``"all"``: every one) at ``lines`` lines."""
    pairs = []
    for n in dict.fromkeys(r["portrait"] for r in ok):
        d = [r for r in ok if r["portrait"] == n and r["lines"] == lines and r["method"] == "default"]
        f = [r for r in ok if r["portrait"] == n and r["lines"] == lines and r["method"] == "faces"]
        if d and f and (split == "all" or d[0]["split"] == split):
            pairs.append((d[0], f[0]))
    return pairs


def _gains(pairs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What faces changed, portrait by portrait: the face SSIM, the whole SSIM and the L1 (faces - default)."""
    return tuple(np.array([f[k] - d[k] for d, f in pairs]) for k in ("face_ssim", "ssim", "l1"))  # type: ignore


def report(rows: list, lines_list, args, detect_times) -> list[str]:
    made = next((r["run"] for r in rows if r.get("run")), None)
    line = f"{made} (report redrawn: {provenance()})" if made and made != provenance() else provenance()
    out = ["# Portraits that read", "", f"{line}.", "",
           f"{PINS} pins, {CANVAS} px, `greedy-view`; face weights strength {args.strength:g}, features "
           f"{args.features:g} (`rendering.faces.face_weights`, normalised to mean 1 in the frame). Each metric at "
           "its own best opacity (`benchmarks/quality.py`'s search). face SSIM: viewing-scale SSIM averaged over "
           "the hand-checked face box (`rendering.metrics.box_ssim`); SSIM, L1: the whole picture at the viewing "
           "scale. `crop` is scored against its own crop. Tuning split: astronaut and its 5 synthetic variants "
           "(the weights were tuned there, `tuning.md`); test split: camera, grace_hopper and their variants"
           + (", and the pictures of `--images`" if args.images else "") + ".", ""]
    ok = [r for r in rows if "method" in r]
    for lines in lines_list:
        out += [f"## {lines} lines", "",
                "| portrait | split | default: face SSIM / SSIM / L1 | faces | faces - default: face SSIM / SSIM / "
                "L1 | crop | crop+faces |", "|---|---|---|---|---|---|---|"]
        names = list(dict.fromkeys(r["portrait"] for r in ok))
        for n in names:
            cell = {}
            for m in METHODS:
                rr = [r for r in ok if r["portrait"] == n and r["lines"] == lines and r["method"] == m]
                cell[m] = rr[0] if rr else None
            if cell["default"] is None:
                continue
            split = cell["default"]["split"]

            def fmt(r):
                return f"{r['face_ssim']:.3f} / {r['ssim']:.3f} / {r['l1']:.3f}" if r else "-"
            d, f = cell["default"], cell["faces"]
            delta = (f"{f['face_ssim'] - d['face_ssim']:+.3f} / {f['ssim'] - d['ssim']:+.3f} / "
                     f"{f['l1'] - d['l1']:+.3f}") if f else "-"
            out.append(f"| {n} | {split} | {fmt(d)} | {fmt(f)} | {delta} | {fmt(cell['crop'])} | "
                       f"{fmt(cell['crop+faces'])} |")
        out.append("")
        out += ["| split | n | face SSIM gain (mean, min) | faces better on | SSIM change (mean, worst) | "
                "L1 change (mean, worst) | face SSIM: default / faces / crop / crop+faces |",
                "|---|---:|---|---:|---|---|---|"]
        for split in ("tuning", "test", "all"):
            pairs = _pairs(ok, lines, split)
            if not pairs:
                continue
            g, s, l1 = _gains(pairs)
            sel = {d["portrait"] for d, _ in pairs}
            chosen = [r for r in ok if r["portrait"] in sel]
            means = " / ".join(f"{mean(chosen, 'face_ssim', lines=lines, method=m):.3f}" for m in METHODS)
            out.append(f"| {split} | {len(pairs)} | {g.mean():+.3f}, {g.min():+.3f} | {int((g > 0).sum())} of "
                       f"{len(g)} | {s.mean():+.4f}, {s.min():+.4f} | {l1.mean():+.4f}, {l1.max():+.4f} | {means} |")
        out.append("")
    out += ["## Against the targets (4000 lines, faces vs default, no crop change)", ""]
    for split in ("test", "tuning", "all"):
        pairs = _pairs(ok, 4000, split)
        if not pairs:
            continue
        g, s, l1 = _gains(pairs)
        out.append(f"- {split} ({len(pairs)}): face SSIM gain mean {g.mean():+.3f} (target >= +{FACE_GAIN}: "
                   f"{'met' if g.mean() >= FACE_GAIN else 'missed'}), higher on {int((g > 0).sum())} of {len(g)} "
                   f"({'met' if (g > 0).all() else 'missed'}); whole SSIM worst {s.min():+.4f} (>= -{WHOLE_SLACK}: "
                   f"{'met' if s.min() >= -WHOLE_SLACK else 'missed'}), L1 worst {l1.max():+.4f} (<= +{WHOLE_SLACK}: "
                   f"{'met' if l1.max() <= WHOLE_SLACK else 'missed'}); mean SSIM {s.mean():+.4f}, "
                   f"mean L1 {l1.mean():+.4f}")
    nf = [r for r in rows if r.get("faces", 1) == 0]
    names = list(dict.fromkeys(r["portrait"] for r in rows))
    slowest = names[int(np.argmax(detect_times))]
    out += ["", f"Detection: a face on {len(detect_times) - len(nf)} of {len(detect_times)} portraits; seconds per "
            f"detection (`rendering.faces.detect_faces`, one call each, this run, the 2 cores shared): median "
            f"{np.median(detect_times):.3f}, max {np.max(detect_times):.3f} ({slowest}; a run that did not warm up "
            "first loads the model in its first call, ~0.3 s). Repeated timings: `detectors.md`."]
    return out


def sweep(pics, args, pool, log) -> list[str]:
    """Face SSIM, SSIM and L1 of ``faces`` minus ``default`` on the tuning split, over a grid of strengths."""
    from rendering.faces import detect_faces
    from solvers import make_solver

    tuning = [p for p in pics if p.split == "tuning"]
    solver = make_solver("greedy-view")
    grid = [tuple(float(v) for v in g.split(",")) for g in args.sweep]
    base, table = {}, []
    for p in tuning:
        faces = detect_faces(p.rgb)
        for lines in args.lines:
            probs, _ = problems(p, faces, lines=lines, strength=0.0, features=0.0)
            problem, box = probs["default"]
            base[(p.name, lines)] = (faces, box, scored(problem, solver.solve(problem, rng=0).chords, box, pool))
    for strength, features in grid:
        for lines in args.lines:
            g, s, l1 = [], [], []
            for p in tuning:
                faces, box, d = base[(p.name, lines)]
                probs, _ = problems(p, faces, lines=lines, strength=strength, features=features)
                problem, _ = probs["faces"]
                f = scored(problem, solver.solve(problem, rng=0).chords, box, pool)
                g.append(f["face_ssim"] - d["face_ssim"])
                s.append(f["ssim"] - d["ssim"])
                l1.append(f["l1"] - d["l1"])
                log(f"  {p.name} {lines}: face {g[-1]:+.3f} ssim {s[-1]:+.4f} l1 {l1[-1]:+.4f}")
            row = (f"| {strength:g} | {features:g} | {lines} | {np.mean(g):+.3f} | {np.min(g):+.3f} | "
                   f"{np.mean(s):+.4f} | {np.min(s):+.4f} | {np.mean(l1):+.4f} | {np.max(l1):+.4f} |")
            log(row)
            table.append(row)
    return ["# Face weights: the tuning sweep", "", f"{provenance()}.", "",
            f"Tuning split only: {', '.join(p.name for p in tuning)}. `faces` minus `default` ({PINS} pins, "
            f"{CANVAS} px, greedy-view), each metric at its best opacity.", "",
            "| strength | features | lines | face SSIM gain mean | min | SSIM change mean | worst | L1 change mean "
            "| worst |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|", *table]


def read_rows(path: Path) -> list[dict]:
    """``portraits.csv`` back as rows with numbers and booleans."""
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            row = {}
            for k, v in r.items():
                if v in ("True", "False"):
                    row[k] = v == "True"
                elif k in ("run", "portrait", "split", "method", "crop", "face_box") or v == "":
                    row[k] = v
                else:
                    row[k] = float(v) if any(c in v for c in ".en") else int(v)
            rows.append(row)
    return rows


def main(argv=None) -> int:
    from rendering.faces import FACE_STRENGTH, FEATURE_STRENGTH

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "results" / "portraits"))
    ap.add_argument("--images", help="a folder of your own portraits (test split)")
    ap.add_argument("--lines", type=int, nargs="+", default=[2000, 4000])
    ap.add_argument("--only", nargs="*", help="portrait names (default: all)")
    ap.add_argument("--split", choices=("tuning", "test", "all"), default="all")
    ap.add_argument("--no-variants", action="store_true", help="the three photos only")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--strength", type=float, default=FACE_STRENGTH)
    ap.add_argument("--features", type=float, default=FEATURE_STRENGTH)
    ap.add_argument("--sweep", nargs="+", metavar="STRENGTH,FEATURES",
                    help="tune: evaluate these weight settings on the tuning split only, write tuning.md")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite portraits.md from <out>/portraits.csv and the _viewed pictures from the pictures")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        for picture in sorted(out.glob("*.png")):
            if not picture.stem.endswith(("_viewed",)):
                save_viewed(picture)
        rows = read_rows(out / "portraits.csv")
        detect_times = [next(r["detect_s"] for r in rows if r["portrait"] == n)
                        for n in dict.fromkeys(r["portrait"] for r in rows)]
        (out / "portraits.md").write_text("\n".join(report(rows, args.lines, args, detect_times)) + "\n")
        print(f"wrote {out / 'portraits.md'}")
        return 0
    pics = portraits(variants=not args.no_variants, folder=args.images)
    if args.only:
        pics = [p for p in pics if p.name in args.only]
    if args.split != "all":
        pics = [p for p in pics if p.split == args.split]

    def log(msg):
        print(msg, flush=True)

    pool = _pool()
    if args.sweep:
        (out / "tuning.md").write_text("\n".join(sweep(pics, args, pool, log)) + "\n")
        log(f"wrote {out / 'tuning.md'}")
        return 0
    rows, detect_times = [], []
    from rendering.faces import detect_faces

    detect_faces(np.zeros((64, 64)))  # load the model once, before any detection is timed
    for p in pics:
        r, pictures = run_portrait(p, lines_list=args.lines, methods=args.methods, strength=args.strength,
                                   features=args.features, pool=pool, log=log)
        rows += r
        detect_times.append(r[0]["detect_s"])
        if pictures:
            picture = out / f"{p.name.replace('/', '_').replace(':', '_')}.png"
            save_picture(picture, pictures, max(args.lines))
            save_viewed(picture)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(out / "portraits.csv", "w", newline="") as f:
        w = csv.DictWriter(f, keys)
        w.writeheader()
        w.writerows(rows)
    (out / "portraits.md").write_text("\n".join(report(rows, args.lines, args, detect_times)) + "\n")
    log(f"wrote {out / 'portraits.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
