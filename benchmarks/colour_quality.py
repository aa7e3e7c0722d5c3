"""Colour string art: the joint colour greedy against the dithering baseline, on the colour built-ins.

Run from the repository root::

    STRINGART_CACHE_DIR=/tmp/sacache python benchmarks/colour_quality.py --out results/colour
    STRINGART_CACHE_DIR=/tmp/sacache python benchmarks/colour_quality.py --quick      # small sizes, no files

For every image (astronaut, coffee, chelsea, rocket) the palette is chosen once (``--colors auto:4``, the
thread table's colours whose mixtures reach the picture; :func:`rendering.colour.auto_palette`), and both
colour solvers draw ``--lines`` lines in all with it: ``colour-dither`` (Floyd-Steinberg into the palette,
each colour solved alone by the grey greedy, interleaved in blocks of 100 lines) and ``colour-greedy``
(the joint greedy: the best (colour, line) pair each step, each colour kept >= 100 lines). Scores are
``bench``'s: the mean CIEDE2000 and the luminance SSIM at the viewing scale inside the frame, against the
photo, beside the bare board and the flat mean colour. Seconds are the solver's own (JIT warm, chord
table cached), the median of ``--repeat`` solves, and the grey ``greedy`` at the same pins, canvas and
lines is timed in the same process, interleaved with them, for the ratio.

Writes ``colour_quality.md`` (the table, the checks, the environment), ``colour_quality.csv`` (one row per
image and solver), ``gallery.png`` (rows = images; target, dithering baseline, joint greedy, at the
viewing scale), ``white_on_black.png`` (white thread on a black board) and the runs' pin files
(``pins/<image>-<solver>.txt``, the build order with spool switches).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import provenance  # noqa: E402
from rendering import view_scale  # noqa: E402
from solvers import Problem, make_solver  # noqa: E402
from kit.results import txt_bytes, write_files_atomically  # noqa: E402

IMAGES = ("astronaut", "coffee", "chelsea", "rocket")
SOLVERS = ("colour-dither", "colour-greedy")


def view_rgb(img: np.ndarray, k: int = 4) -> np.ndarray:
    return np.stack([view_scale(img[..., i], k) for i in range(3)], axis=-1)


def median_seconds(solver, problem, repeat: int):
    """The median solve seconds of ``repeat`` solves and the last solution."""
    times, sol = [], None
    for _ in range(repeat):
        sol = solver.solve(problem, rng=0)
        times.append(sol.seconds)
    return statistics.median(times), sol


def gallery_png(rows: list[tuple[str, list[tuple[str, np.ndarray]]]], title: str) -> bytes:
    """A grid of pictures (rows of (caption, RGB image)), as PNG bytes."""
    import io

    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    n_cols = max(len(r[1]) for r in rows)
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(2.7 * n_cols + 0.4, 2.85 * len(rows) + 0.4), dpi=110,
                             squeeze=False)
    for i, (label, cells) in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(cells):
                ax.axis("off")
                continue
            caption, img = cells[j]
            ax.imshow(np.clip(img, 0, 1), interpolation="lanczos")
            ax.set_title(caption, fontsize=7.5)
            if j == 0:
                ax.set_ylabel(label, fontsize=9)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", nargs="+", default=list(IMAGES))
    ap.add_argument("--pins", type=int, default=288)
    ap.add_argument("--canvas", type=int, default=512)
    ap.add_argument("--lines", type=int, default=4000)
    ap.add_argument("--colors", default="auto:4")
    ap.add_argument("--repeat", type=int, default=5, help="solves timed per solver and image (median)")
    ap.add_argument("--out", type=Path, default=None, help="folder for the table, gallery and pin files")
    ap.add_argument("--quick", action="store_true", help="96 pins, 128 px, 600 lines, 1 repeat, no files")
    a = ap.parse_args(argv)
    if a.quick:
        a.pins, a.canvas, a.lines, a.repeat, a.out = 96, 128, 600, 1, None

    grey = make_solver("greedy")
    rows, gallery, files = [], [], {}
    grey_times = []
    for image in a.images:
        t0 = time.perf_counter()
        problem = Problem.create(image, pins=a.pins, lines=a.lines, canvas=a.canvas, colors=a.colors)
        palette_s = time.perf_counter() - t0
        grey_problem = Problem.create(image, pins=a.pins, lines=a.lines, canvas=a.canvas)
        grey.prepare(grey_problem)
        refs = problem.references()
        photo = np.where(problem.mask[..., None], problem.target.original_rgb, problem.palette.board)
        cells = [("target (in the frame)", view_rgb(photo))]
        for name in SOLVERS:
            solver = make_solver(name)
            solver.prepare(problem)
            secs, sol = median_seconds(solver, problem, a.repeat)
            g_secs, _ = median_seconds(grey, grey_problem, a.repeat)  # interleaved: the same load on the machine
            grey_times.append(g_secs)
            m = sol.scores()
            per = np.bincount(sol.colours, minlength=problem.palette.n)
            rows.append(dict(image=image, palette=problem.palette.spec, solver=name, de2000=m["de2000"],
                             lum_ssim=m["ssim"], lum_l1=m["l1"], de2000_full=m["de2000_full"], seconds=secs,
                             grey_seconds=g_secs, switches=len(sol.runs()) - 1, lines=sol.n_lines,
                             lines_per_colour="/".join(map(str, per.tolist())),
                             thread_m=sol.thread_length_m(), blank_de2000=refs["blank"]["de2000"],
                             flat_de2000=refs["flat"]["de2000"], blank_ssim=refs["blank"]["ssim"],
                             flat_ssim=refs["flat"]["ssim"], palette_s=palette_s))
            cells.append((f"{name}: ΔE {m['de2000']:.2f}, SSIM {m['ssim']:.3f}", view_rgb(sol.render())))
            files[f"pins/{image}-{name}.txt"] = txt_bytes(sol)
            r = rows[-1]
            print(f"{image:10s} {name:14s} dE2000 {r['de2000']:6.2f}  lum SSIM {r['lum_ssim']:.3f}  "
                  f"{secs:.3f} s (grey greedy {g_secs:.3f} s)  {r['switches']} switches  {r['lines_per_colour']}",
                  flush=True)
        gallery.append((f"{image}\n{problem.palette.spec}", cells))

    # checks: a black-only palette draws the grey greedy's chords; white thread on a black board
    check_problem = Problem.create("camera", pins=a.pins, lines=a.lines, canvas=a.canvas, colors="black")
    black = make_solver("colour-greedy").solve(check_problem)
    grey_sol = grey.solve(Problem.create("camera", pins=a.pins, lines=a.lines, canvas=a.canvas))
    same_chords = bool(np.array_equal(black.chords, grey_sol.chords))
    same_render = bool(all(np.array_equal(black.render()[..., i], grey_sol.render()) for i in range(3)))
    wob_rows = []
    for image in ("camera", "astronaut"):
        p = Problem.create(image, pins=a.pins, lines=a.lines, canvas=a.canvas, colors="white", board="black")
        s = make_solver("colour-greedy").solve(p)
        m = s.scores()
        wob_rows.append((image, m, s))
    print(f"black-only palette = grey greedy's chords: {same_chords}; renders equal in every channel: {same_render}")

    by = {(r["image"], r["solver"]): r for r in rows}
    better_de = [by[(i, "colour-greedy")]["de2000"] < by[(i, "colour-dither")]["de2000"] for i in a.images]
    better_ss = [by[(i, "colour-greedy")]["lum_ssim"] > by[(i, "colour-dither")]["lum_ssim"] for i in a.images]
    mean = {s: {k: float(np.mean([by[(i, s)][k] for i in a.images])) for k in ("de2000", "lum_ssim", "seconds")}
            for s in SOLVERS}
    gap = mean["colour-dither"]["de2000"] - mean["colour-greedy"]["de2000"]
    g_med = statistics.median(grey_times)
    ratio = mean["colour-greedy"]["seconds"] / g_med
    print(f"mean dE2000: joint {mean['colour-greedy']['de2000']:.2f}, dither {mean['colour-dither']['de2000']:.2f} "
          f"(gap {gap:.2f}); joint better on dE {sum(better_de)}/{len(a.images)}, on SSIM "
          f"{sum(better_ss)}/{len(a.images)}; joint {mean['colour-greedy']['seconds']:.3f} s = {ratio:.2f}x grey "
          f"greedy {g_med:.3f} s")
    if a.out is None:
        return 0

    md = ["# Colour string art: joint greedy vs the dithering baseline", "",
          f"{a.pins} pins, {a.canvas} px, {a.lines} lines in all, `--colors {a.colors}` (the palette chosen per "
          f"image by the colours the threads can reach on a white board), 0.2 mm thread on a 600 mm frame. "
          f"Mean CIEDE2000 (lower is better) and the luminance's SSIM (higher is better) at the viewing scale "
          f"(4x box-averaged) inside the frame, against the photo. Seconds: the solver's own, JIT warm, chord "
          f"table cached, median of {a.repeat}; the grey `greedy` at the same pins, canvas and lines is timed "
          f"interleaved with them in the same process.", "",
          "| image | threads | solver | CIEDE2000 | lum. SSIM | seconds | spool switches | lines per colour |",
          "|---|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        other = by[(r["image"], "colour-greedy" if r["solver"] == "colour-dither" else "colour-dither")]
        de = f"{r['de2000']:.2f}"
        ss = f"{r['lum_ssim']:.3f}"
        de = f"**{de}**" if r["de2000"] < other["de2000"] else de
        ss = f"**{ss}**" if r["lum_ssim"] > other["lum_ssim"] else ss
        md.append(f"| {r['image']} | {r['palette']} | {r['solver']} | {de} | {ss} | {r['seconds']:.3f} | "
                  f"{r['switches']} | {r['lines_per_colour']} |")
    md += ["", "| mean of the images | CIEDE2000 | lum. SSIM | seconds |", "|---|---:|---:|---:|"]
    for s in SOLVERS:
        md.append(f"| {s} | {mean[s]['de2000']:.2f} | {mean[s]['lum_ssim']:.3f} | {mean[s]['seconds']:.3f} |")
    for ref, label in (("blank", "bare board (reference)"), ("flat", "flat mean colour (reference)")):
        md.append(f"| *{label}* | {np.mean([by[(i, SOLVERS[0])][ref + '_de2000'] for i in a.images]):.2f} | "
                  f"{np.mean([by[(i, SOLVERS[0])][ref + '_ssim'] for i in a.images]):.3f} | |")
    md += ["", f"- Joint greedy better than the dithering baseline on CIEDE2000 on {sum(better_de)}/{len(a.images)} "
               f"images (by {gap:.2f} on average) and on luminance SSIM on {sum(better_ss)}/{len(a.images)}.",
           f"- Time: joint greedy {mean['colour-greedy']['seconds']:.3f} s (mean of the images) against the grey "
           f"greedy's {g_med:.3f} s (median) at {a.lines} lines: {ratio:.2f}x.",
           f"- A black-only palette (camera) draws exactly the grey greedy's chords: {same_chords}; its colour render "
           f"equals the grey render in every channel: {same_render}.",
           "- White thread on a black board (`--colors white --board black`): " + "; ".join(
               f"{i} CIEDE2000 {m['de2000']:.2f}, lum. SSIM {m['ssim']:.3f}" for i, m, _ in wob_rows)
           + " (`white_on_black.png`).",
           "- Palette choice (`auto:4`, with loading the picture): "
           + ", ".join(f"{r['image']} {r['palette_s']:.2f} s" for r in rows if r["solver"] == SOLVERS[0]) + ".",
           "", "![gallery](gallery.png)", "", "![white on black](white_on_black.png)", "",
           f"Provenance: {provenance()}", ""]
    import csv
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    files["colour_quality.md"] = "\n".join(md).encode()
    files["colour_quality.csv"] = buf.getvalue().encode()
    files["gallery.png"] = gallery_png(gallery, f"{a.pins} pins, {a.canvas} px, {a.lines} lines, {a.colors}: "
                                                f"target, dithering baseline, joint greedy (viewing scale)")
    wob = [(i, [("target (in the frame)", view_rgb(np.where(s.problem.mask[..., None], s.problem.target.original_rgb,
                                                         s.problem.palette.board))),
                (f"white on black: ΔE {m['de2000']:.2f}, SSIM {m['ssim']:.3f}", view_rgb(s.render()))])
           for i, m, s in wob_rows]
    files["white_on_black.png"] = gallery_png(wob, f"white thread on a black board, {a.lines} lines")
    out = a.out
    (out / "pins").mkdir(parents=True, exist_ok=True)
    write_files_atomically(out / "pins", {k.split("/", 1)[1]: v for k, v in files.items() if k.startswith("pins/")})
    written = write_files_atomically(out, {k: v for k, v in files.items() if not k.startswith("pins/")})
    for p in written.values():
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
