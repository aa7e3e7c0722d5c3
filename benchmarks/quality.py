"""Quality against the anchor: our solvers and Raveler (a C++ exact-gain greedy) on the built-in images.

Run from the repository root::

    STRINGART_CACHE_DIR=/tmp/sa_cache python benchmarks/quality.py --out results/quality

For each image and line count (288 pins, 512 px by default) every solver in ``--solvers`` solves the problem
as ``bench solve`` does (thread opacity 1.0), and Raveler (``benchmarks/_raveler.py`` builds it from its git
repository into a cache folder and runs it) gets the same preprocessed target (``rendering.load_target``),
the same pin count and line count, and our thread and frame (``-w 0.0002 -s 0.6`` for 0.2 mm on 600 mm).
Raveler's pins are mapped to ours geometrically (the identity at equal pin counts; checked in the report).

Every chord set is then scored the same way, with the project's metric (:func:`rendering.metrics.score`) **at
its own best opacity**: it is rendered with the shared renderer at opacities 0.05, 0.10, ..., 1.00, then at
steps of 0.01 around each metric's best, and each metric keeps its best value over the opacities and the
opacity that gave it (so SSIM and L1 may come from different opacities). Raveler deposits thread by its own
model and we by ours, so comparing both at opacity 1.0 would measure the thread models, not the choice of
chords. Raveler may draw chords shorter than our ``min_gap`` and repeat chords; every chord set is rendered
from a chord table with ``min_gap`` 1, which draws a chord exactly as the solvers' own table does.

Also per run: seconds (ours: ``Solution.seconds``, the solve with the chord table cached and kernels
compiled; Raveler: the wall time of its process, which includes building its line masks), the mean chord
length in pixels, the per-pin usage spread (max / mean of the number of chords touching each pin), and the
rim: the mean brightness of the outer 5 % ring of the disk (``0.95 R <= r <= R``, inside the frame) in the
preview at the L1 opacity, against the target's same ring.

Writes ``quality.csv`` (one row per image, lines and solver), ``quality.md`` and ``gallery_<image>.png``
into ``--out``; Raveler's pin files (its own numbering, pin 0 first) are kept in ``<out>/raveler/`` and reused
when the settings, target and Raveler commit match (``--no-cache`` runs it again).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _raveler  # noqa: E402
from _common import git_commit  # noqa: E402

RAVELER = "raveler"
METRIC_NAMES = ("ssim", "l1", "psnr", "ssim_full", "l1_full", "psnr_full")
HIGHER_IS_BETTER = {"ssim": True, "l1": False, "psnr": True, "ssim_full": True, "l1_full": False, "psnr_full": True}
COARSE = tuple(round(0.05 * i, 2) for i in range(1, 21))  # 0.05 .. 1.00
FINE_STEP, FINE_SPAN, LOWEST = 0.01, 0.04, 0.01
RIM = 0.95


# --------------------------------------------------------------------------------------------- pure helpers
def best_opacities(score_at, metrics=METRIC_NAMES, *, coarse=COARSE, fine_step=FINE_STEP, fine_span=FINE_SPAN,
                   lowest=LOWEST, highest=1.0, higher_is_better=None, map_fn=map):
    """Each metric's best value over opacities, and the opacity that gave it.

    ``score_at(opacity) -> dict`` is evaluated on the ``coarse`` grid, then every ``fine_step`` within
    ``fine_span`` of each metric's best so far (clipped to ``[lowest, highest]``); each opacity once
    (``map_fn``, e.g. a thread pool's ``map``, evaluates each batch).

    Returns ``(best, evaluated)``: ``best[m] = (value, opacity)``, ``evaluated`` = {opacity: scores}.

    >>> best, seen = best_opacities(lambda o: {"l1": abs(o - 0.33)}, ("l1",))
    >>> best["l1"]
    (0.0, 0.33)
    """
    hib = {**HIGHER_IS_BETTER, **(higher_is_better or {})}
    seen: dict[float, dict] = {}

    def get(opacities):
        todo = list(dict.fromkeys(round(float(o), 4) for o in opacities))
        todo = [o for o in todo if o not in seen]
        seen.update(zip(todo, map_fn(score_at, todo)))

    def argbest(m):
        key = (lambda o: seen[o][m]) if hib[m] else (lambda o: -seen[o][m])
        return max(sorted(seen), key=key)  # ties: the lowest opacity

    get(coarse)
    n = int(round(fine_span / fine_step))
    get(o for m in metrics for i in range(-n, n + 1) for o in [round(argbest(m) + i * fine_step, 4)]
        if lowest - 1e-9 <= o <= highest + 1e-9)
    best = {}
    for m in metrics:
        o1 = argbest(m)
        best[m] = (float(seen[o1][m]), o1)
    return best, seen


def ring_mask(layout, inner: float = RIM) -> np.ndarray:
    """(canvas, canvas) bool: pixels inside the frame whose centre is ``inner R <= r <= R`` from the centre."""
    yy, xx = np.mgrid[0:layout.canvas, 0:layout.canvas] + 0.5
    r = np.hypot(xx - layout.center, yy - layout.center)
    half = layout.span_px / 2.0
    return (r >= inner * half) & (r <= half) & layout.frame_mask


def pin_spread(pairs: np.ndarray, n_pins: int) -> float:
    """max / mean of the number of chords touching each pin (1.0 = every pin used equally).

    >>> pin_spread(np.array([[0, 1], [1, 2]]), 3)
    1.5
    """
    counts = np.bincount(np.asarray(pairs).ravel(), minlength=n_pins)
    return float(counts.max() / counts.mean()) if counts.sum() else float("nan")


def mean_chord_px(pairs: np.ndarray, positions: np.ndarray) -> float:
    pairs = np.asarray(pairs)
    return float(np.hypot(*(positions[pairs[:, 0]] - positions[pairs[:, 1]]).T).mean()) if len(pairs) else 0.0


def mapped_pairs(path: np.ndarray, mapping: np.ndarray) -> tuple[np.ndarray, int]:
    """Chords (pin pairs, our numbering) of a Raveler pin path; chords whose two ends map to one pin are
    dropped (their count is returned)."""
    ours = mapping[np.asarray(path)]
    pairs = np.stack([ours[:-1], ours[1:]], axis=1)
    keep = pairs[:, 0] != pairs[:, 1]
    return pairs[keep], int((~keep).sum())


def corr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    return float(np.corrcoef(np.asarray(a, np.float64)[mask], np.asarray(b, np.float64)[mask])[0, 1])


# --------------------------------------------------------------------------------------------- one chord set
_POOL = None


def _pool():
    """One thread pool for the opacity search (SSIM and the renderer release the GIL: ~1.6x on 2 cores)."""
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1)))
    return _POOL


class Scorer:
    """Scores chord sets of one image: renders through a ``min_gap`` 1 table (every chord Raveler may draw)."""

    def __init__(self, problem):
        from rendering import get_chord_table

        self.problem = problem
        self.layout = problem.layout
        self.table = get_chord_table(problem.layout, 1, problem.width_px)
        self.target = problem.target.image
        self.mask = problem.mask
        self.ring = ring_mask(problem.layout)
        self.rim_target = float(self.target[self.ring].mean())
        self.pool = _pool()

    def chord_ids(self, pairs) -> np.ndarray:
        return self.table.chords.pairs_to_chords(pairs)

    def render(self, ids, opacity: float) -> np.ndarray:
        from rendering import render

        return render(self.table, ids, opacity=opacity)

    def evaluate(self, pairs) -> dict:
        from rendering.metrics import score

        ids = self.chord_ids(pairs)
        best, seen = best_opacities(lambda o: score(self.render(ids, o), self.target, self.mask),
                                    map_fn=self.pool.map)
        row = {}
        for m in METRIC_NAMES:
            row[m], row[f"{m}_opacity"] = best[m]
        at_one = seen.get(1.0) or score(self.render(ids, 1.0), self.target, self.mask)
        row["ssim_at_1"], row["l1_at_1"] = at_one["ssim"], at_one["l1"]
        # full-resolution figures of the pictures the headline metrics chose (full-resolution SSIM alone
        # prefers the faintest picture: a blank canvas beats string art there, see rendering.metrics)
        row["ssim_full_at_ssim_opacity"] = seen[row["ssim_opacity"]]["ssim_full"]
        row["l1_full_at_l1_opacity"] = seen[row["l1_opacity"]]["l1_full"]
        # SSIM of the picture L1 chose (one opacity for both metrics: SSIM's own best is sometimes a faint picture)
        row["ssim_at_l1_opacity"] = seen[row["l1_opacity"]]["ssim"]
        preview = self.render(ids, row["l1_opacity"])
        row["rim_preview"] = float(preview[self.ring].mean())
        row["rim_target"] = self.rim_target
        row["rim_gap"] = row["rim_preview"] - self.rim_target
        row["disk_preview"] = float(preview[self.mask].mean())
        row["disk_target"] = float(self.target[self.mask].mean())
        row["mean_chord_px"] = mean_chord_px(pairs, self.layout.positions)
        row["pin_spread"] = pin_spread(pairs, self.layout.n_pins)
        keys = np.sort(np.asarray(pairs), axis=1)
        row["repeated_chords"] = int(len(keys) - len(np.unique(keys, axis=0)))
        row["short_chords"] = int((self.layout.circular_distance(keys[:, 0], keys[:, 1]) < self.problem.min_gap).sum())
        row["opacities_tried"] = len(seen)
        return row


# --------------------------------------------------------------------------------------------- Raveler, cached
def target_digest(image: np.ndarray) -> str:
    return hashlib.sha1(_raveler.to_stdin_bytes(image)).hexdigest()[:16]


def raveler_path(binary, commit, image_name, target, *, pins, lines, thread_m, frame_m, folder: Path,
                 use_cache: bool, log) -> tuple[np.ndarray, float, bool, list]:
    """Raveler's pin path (its numbering), its seconds, whether it came from the cache, and its command."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{image_name}-{pins}p-{target.shape[0]}px-{lines}-{thread_m * 1e6:g}um"
    key = dict(image=image_name, pins=pins, lines=lines, canvas=int(target.shape[0]), thread_m=thread_m,
               frame_m=frame_m, raveler_commit=commit, target_sha1=target_digest(target))
    meta_file, pins_file = stem.with_suffix(".json"), stem.with_suffix(".txt")
    if use_cache and meta_file.is_file() and pins_file.is_file():
        meta = json.loads(meta_file.read_text())
        if meta.get("key") == key:
            path = np.loadtxt(pins_file, dtype=np.int64, ndmin=1)
            if path.size == lines + 1:
                return path, float(meta["seconds"]), True, meta["command"]
    res = _raveler.run(binary, target, pins=pins, lines=lines, thread_m=thread_m, frame_m=frame_m)
    log(f"  raveler {image_name} {lines}: {res.seconds:.2f} s")
    for f, text in ((pins_file, "\n".join(str(int(p)) for p in res.path) + "\n"),
                    (meta_file, json.dumps(dict(key=key, seconds=res.seconds, command=res.command), indent=1))):
        tmp = f.with_name(f".{f.name}.{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, f)
    return res.path, res.seconds, False, res.command


# --------------------------------------------------------------------------------------------- verification
def rasterize_svg(svg: str, canvas: int) -> np.ndarray:
    """Raveler's SVG output drawn on our canvas without our chord table or our pin map: each line sampled
    every 0.25 px and its length added to the pixels it passes; returns the summed length per pixel."""
    import re

    box = re.search(r'viewbox="0 0 (\d+) (\d+)"', svg)
    size = float(box.group(1))
    seg = np.array([[float(v) for v in m] for m in
                    re.findall(r'x1="([-\d.e]+)" y1="([-\d.e]+)" x2="([-\d.e]+)" y2="([-\d.e]+)"', svg)])
    seg *= (canvas - 1) / size  # Raveler's pins span pixel indices 0 .. res-1
    seg += 0.5  # its pixel indices -> our pixel centres
    acc = np.zeros(canvas * canvas)
    for a in range(0, len(seg), 256):
        s = seg[a:a + 256]
        n = np.maximum(np.ceil(np.hypot(s[:, 2] - s[:, 0], s[:, 3] - s[:, 1]) * 4).astype(int), 1)
        owner = np.repeat(np.arange(len(s)), n)
        t = (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n) + 0.5) / np.repeat(n, n)
        x = s[owner, 0] + t * (s[owner, 2] - s[owner, 0])
        y = s[owner, 1] + t * (s[owner, 3] - s[owner, 1])
        inside = (x >= 0) & (x < canvas) & (y >= 0) & (y < canvas)
        np.add.at(acc, (y[inside].astype(int) * canvas + x[inside].astype(int)), 0.25)
    return acc.reshape(canvas, canvas)


def verify_mapping(binary, scorer: "Scorer", path: np.ndarray, mapping: np.ndarray, *, pins, lines, thread_m,
                   frame_m) -> dict:
    """Checks of the reading of Raveler's input and of the pin map (see the report)."""
    from rendering import view_scale

    out = {}
    t = scorer.target
    ref = _raveler.reference_path(t, pins=pins, steps=60, thread_m=thread_m, frame_m=frame_m)
    out["reference_steps"] = 60
    out["reference_match"] = bool(np.array_equal(ref, path[:61]))
    # Raveler's own picture (its SVG), drawn without our table or pin map, against our render of the mapped pins
    with tempfile.TemporaryDirectory() as tmp:
        import subprocess

        svg_file = Path(tmp) / "r.svg"
        subprocess.run([str(binary), "-k", str(pins), "-n", str(lines), "-w", repr(thread_m), "-s", repr(frame_m),
                        "-f", "svg", "-o", str(svg_file), "-"], input=_raveler.to_stdin_bytes(t), check=True,
                       capture_output=True)
        own = np.exp(-scorer.problem.width_px * rasterize_svg(svg_file.read_text(), t.shape[0]))
    pairs, _ = mapped_pairs(path, mapping)
    ours = scorer.render(scorer.chord_ids(pairs), 1.0)
    mv = view_scale(scorer.mask.astype(np.float32), 4) >= 0.5
    out["svg_vs_ours_corr"] = corr(view_scale(own, 4), view_scale(ours, 4), mv)
    # the mapped picture against the target, for the identity and the three other symmetric readings
    k = pins
    alt = {"as mapped": mapping, "mirrored (p -> -p)": mapping[(-np.arange(k)) % k],
           "upside down (p -> k/2 - p)": mapping[(k // 2 - np.arange(k)) % k],
           "rotated 180 (p -> p + k/2)": mapping[(np.arange(k) + k // 2) % k]}
    tv = view_scale(t, 4)
    for name, m in alt.items():
        pr, _ = mapped_pairs(path, m)
        out[f"target_corr[{name}]"] = corr(view_scale(scorer.render(scorer.chord_ids(pr), 1.0), 4), tv, mv)
    return out


# --------------------------------------------------------------------------------------------- report
BEST_RAVELER = "raveler*"
#: the refined solver and its starting point (the refinement section compares the two)
REFINED, REFINED_FROM = "greedy-view+refine", "greedy-view"
#: the refinement targets: SSIM gain over the starting point on every image, in at most this many seconds
REFINE_GAIN, REFINE_SECONDS = 0.01, 1.5


def refinement_section(df, lines_list) -> list[str]:
    """Per image and line count: what the refinement adds to its starting point, and what it costs."""
    if not {REFINED, REFINED_FROM} <= set(df.solver):
        return []
    out = ["## Refinement", "",
           f"`{REFINED}` against its starting point `{REFINED_FROM}` (the same thread before the refinement): SSIM "
           "and L1 each at its best opacity as above, the SSIM gain also at opacity 1.0 (what `bench solve` shows), "
           f"and the refinement's own seconds (`refine_seconds`; the greedy before it is extra). Targets: SSIM "
           f"+{REFINE_GAIN:g} on every image in <= {REFINE_SECONDS:g} s.", ""]
    for n in lines_list:
        d = df[df.lines == n].set_index(["solver", "image"])
        images = list(dict.fromkeys(df[df.lines == n].image))
        rows, gains = [], []
        for im in images:
            a, b = d.loc[(REFINED_FROM, im)], d.loc[(REFINED, im)]
            gain = b.ssim - a.ssim
            gains.append((gain, b.l1 - a.l1, b.ssim_at_1 - a.ssim_at_1, b.refine_seconds))
            rows.append(f"| {im} | {a.ssim:.3f} / {a.l1:.3f} | {b.ssim:.3f} / {b.l1:.3f} | {gain:+.4f} "
                        f"| {b.l1 - a.l1:+.4f} | {b.ssim_at_1 - a.ssim_at_1:+.4f} | {b.refine_seconds:.2f} |")
        g = np.array(gains, dtype=float)
        out += [f"### {n} lines", "",
                f"| image | {REFINED_FROM} SSIM / L1 | {REFINED} SSIM / L1 | SSIM gain | L1 change "
                "| SSIM gain at opacity 1 | refine s |", "|---|---|---|---:|---:|---:|---:|", *rows,
                f"| **mean** | | | {g[:, 0].mean():+.4f} | {g[:, 1].mean():+.4f} | {g[:, 2].mean():+.4f} "
                f"| {g[:, 3].mean():.2f} |", "",
                f"- SSIM gain >= {REFINE_GAIN:g} on **{int((g[:, 0] >= REFINE_GAIN).sum())} of {len(g)}** images "
                f"(smallest {g[:, 0].min():+.4f}); refinement {g[:, 3].min():.2f}-{g[:, 3].max():.2f} s "
                f"(target <= {REFINE_SECONDS:g} s); L1 change {g[:, 1].min():+.4f} to {g[:, 1].max():+.4f}", ""]
    return out


def sweep_name(thread_mm: float) -> str:
    return f"{RAVELER}@{thread_mm:g}mm"


def raveler_best(df):
    """``raveler*``: per image and line count, Raveler's best SSIM over its thread weights (and opacities) and
    its best L1 likewise; the other columns come from the run that gave the best L1."""
    import pandas as pd

    rv = df[df.solver.str.startswith(RAVELER) & (df.solver != BEST_RAVELER)]
    if rv.raveler_thread_mm.nunique() < 2:
        return df.iloc[0:0]
    out = []
    for _, g in rv.groupby(["image", "lines"], sort=False):
        by_l1 = g.loc[g.l1.idxmin()].copy()
        by_ssim = g.loc[g.ssim.idxmax()]
        by_l1["solver"] = BEST_RAVELER
        by_l1["ssim"], by_l1["ssim_opacity"] = by_ssim.ssim, by_ssim.ssim_opacity
        by_l1["ssim_at_1"], by_l1["ssim_full_at_ssim_opacity"] = by_ssim.ssim_at_1, by_ssim.ssim_full_at_ssim_opacity
        by_l1["ssim_thread_mm"], by_l1["l1_thread_mm"] = by_ssim.raveler_thread_mm, by_l1.raveler_thread_mm
        out.append(by_l1)
    return pd.DataFrame(out)


def _per_lines_header(first: str, left: str, right: str, lines_list, first_rule: str, cells: str = "---") -> list[str]:
    """A table's head: the ``first`` column, then ``left`` and ``right`` for each line count."""
    names = [f"{n}: {left}" for n in lines_list] + [f"{n}: {right}" for n in lines_list]
    return [f"| {first} | " + " | ".join(names) + " |", f"|{first_rule}|" + f"{cells}|" * len(names)]


def fmt(x, nd=3):
    return "" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{nd}f}"


def _wins(d, solvers, anchor) -> list[str]:
    rav = d[d.solver == anchor].set_index("image")
    out = []
    for s in solvers:
        mine = d[d.solver == s].set_index("image").reindex(rav.index)
        ws, wl = mine.ssim > rav.ssim, mine.l1 < rav.l1
        w1 = mine.ssim_at_l1_opacity > rav.ssim_at_l1_opacity
        out.append(f"- {s} beats {anchor} on SSIM and L1 in **{int((ws & wl).sum())} of {len(rav)}** images (on SSIM "
                   f"in {int(ws.sum())}, on L1 in {int(wl.sum())}; on SSIM at the L1 opacity in {int(w1.sum())}); "
                   f"mean difference SSIM {(mine.ssim - rav.ssim).mean():+.3f}, L1 {(mine.l1 - rav.l1).mean():+.3f}")
    return out


def summarize(runs, solvers, *, meta: dict) -> str:
    import pandas as pd

    df = pd.concat([runs, raveler_best(runs)], ignore_index=True)
    df = df.assign(rim_excess=df.rim_gap - (df.disk_preview - df.disk_target),
                   disk_gap=df.disk_preview - df.disk_target)
    has_star = (df.solver == BEST_RAVELER).any()
    anchors = [a for a in (RAVELER, BEST_RAVELER) if (df.solver == a).any()]
    order = [*solvers, *anchors]
    lines_list = sorted(df.lines.unique())
    sweep = sorted(runs.raveler_thread_mm.dropna().unique(), reverse=True)
    out = ["# Quality against Raveler", "",
           f"{meta['pins']} pins, {meta['canvas']} px, {meta['thread_mm']} mm thread on a {meta['frame_mm']:g} mm "
           f"frame; lines {', '.join(map(str, lines_list))}; images {', '.join(df.image.unique())}. Solvers: "
           f"{', '.join(solvers)} (ours, solved at opacity 1.0 as `bench solve` does); `raveler`: Raveler given our "
           f"thread and frame ({meta['thread_mm']} mm on {meta['frame_mm']:g} mm)"
           + (f"; `raveler*`: Raveler's best over thread weights {', '.join(f'{w:g}' for w in sweep)} mm, metric by "
              "metric and image by image (the most generous reading of it)" if has_star else "") + ".", "",
           "**How scored.** Every chord set is rendered with the shared multiplicative renderer at opacities "
           "0.05, 0.10, ..., 1.00 and then every 0.01 around each metric's best, and scored with "
           "`rendering.metrics.score`; **each metric is its best over the opacities** "
           "(SSIM the highest, L1 the lowest), "
           "so a chord set's SSIM and L1 may come from different opacities (both are in `quality.csv`). SSIM and L1 "
           "are at the viewing scale (4x box-averaged, inside the frame); full-resolution figures are further "
           "down. The renderer's opacity cannot exceed 1.0: where the L1 opacity sits at 1.0 the picture is still "
           "lighter than the target at full opacity (too little thread). SSIM's own best opacity is sometimes very "
           "low (a faint picture: on moon and rocket the faint canvas already scores high, see the reference rows), "
           "so the tables also give the SSIM of the picture the L1 search chose, one opacity for both metrics.", ""]
    for n in lines_list:
        d = df[df.lines == n]
        g = d.groupby("solver")
        out += [f"## {n} lines", "",
                "| solver | SSIM | L1 | opacity (SSIM / L1) | L1 opacity at the cap 1.0 | SSIM at the L1 opacity "
                "| at opacity 1: SSIM / L1 | seconds | mean chord px | pin spread | rim gap | disk tone gap |",
                "|---|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|"]
        best_ssim = max(g.get_group(s).ssim.mean() for s in order if s in g.groups)
        best_l1 = min(g.get_group(s).l1.mean() for s in order if s in g.groups)
        for s in order:
            if s not in g.groups:
                continue
            r = g.get_group(s)
            ssim, l1 = fmt(r.ssim.mean()), fmt(r.l1.mean())
            ssim = f"**{ssim}**" if np.isclose(r.ssim.mean(), best_ssim) else ssim
            l1 = f"**{l1}**" if np.isclose(r.l1.mean(), best_l1) else l1
            out.append(f"| {s} | {ssim} | {l1} | {fmt(r.ssim_opacity.mean(), 2)} / {fmt(r.l1_opacity.mean(), 2)} "
                       f"| {int((r.l1_opacity >= 1.0).sum())} of {len(r)} | {fmt(r.ssim_at_l1_opacity.mean())} "
                       f"| {fmt(r.ssim_at_1.mean())} / "
                       f"{fmt(r.l1_at_1.mean())} | {r.seconds.mean():.2f} | {r.mean_chord_px.mean():.0f} "
                       f"| {r.pin_spread.mean():.2f} | {r.rim_gap.mean():+.3f} | {r.disk_gap.mean():+.3f} |")
        refs = meta.get("references", {})
        for ref in ("blank", "flat"):
            vals = [v[ref] for k, v in refs.items() if k in set(d.image)]
            if vals:
                label = "blank canvas" if ref == "blank" else "flat mean tone"
                out.append(f"| *{label} (reference)* | {np.mean([v['ssim'] for v in vals]):.3f} | "
                           f"{np.mean([v['l1'] for v in vals]):.3f} |  |  |  |  |  |  |  |  |  |")
        out.append("")
        for a in anchors:
            out += _wins(d, solvers, a)
        if has_star:
            st = d[d.solver == BEST_RAVELER]
            out.append("- raveler*'s thread weights (mm, per image): by SSIM "
                       + ", ".join(f"{w:g} in {c}" for w, c in st.ssim_thread_mm.value_counts().sort_index().items())
                       + "; by L1 " + ", ".join(f"{w:g} in {c}" for w, c in
                                                st.l1_thread_mm.value_counts().sort_index().items()))
        out.append("")
        wide = d.pivot_table(index="image", columns="solver", values=["ssim", "l1"], sort=False)
        cols = [s for s in order if ("ssim", s) in wide.columns]
        out += ["| image | " + " | ".join(f"{s} SSIM / L1" for s in cols) + " |", "|---|" + "---|" * len(cols)]
        for image, r in wide.iterrows():
            out.append(f"| {image} | " + " | ".join(f"{r[('ssim', s)]:.3f} / {r[('l1', s)]:.3f}" for s in cols) + " |")
        out.append("")
    if has_star:
        out += ["## Raveler's thread weight", "",
                "Raveler chooses chords by its own model (additive darkness, no early stop), so its thread weight "
                "decides where its later lines go; each weight's chord set is scored as above (best opacity). Mean "
                "SSIM / L1 over the images, mean chord length, and chords closer than our min gap or repeated "
                "(mean per run):", "",
                *_per_lines_header("thread mm", "SSIM / L1", "chord px, short, repeated", lines_list, "---:")]
        rv = df[df.solver.str.startswith(RAVELER) & (df.solver != BEST_RAVELER)]
        for w in sweep:
            cells, extra = [], []
            for n in lines_list:
                r = rv[(rv.raveler_thread_mm == w) & (rv.lines == n)]
                cells.append(f"{r.ssim.mean():.3f} / {r.l1.mean():.3f}")
                extra.append(f"{r.mean_chord_px.mean():.0f}, {r.short_chords.mean():.0f}, "
                             f"{r.repeated_chords.mean():.0f}")
            tag = " (ours)" if np.isclose(w, meta["thread_mm"]) else ""
            out.append(f"| {w:g}{tag} | " + " | ".join(cells + extra) + " |")
        out.append("")
    out += refinement_section(df, lines_list)
    out += ["## Rim (outer 5 % of the radius)", "",
            f"Mean brightness of the ring `{RIM} R <= r <= R` inside the frame in the preview at the L1 opacity, "
            "minus the target's same ring (positive: the rim is left lighter than the target's), mean over "
            f"images; the target's ring averages {df.rim_target.mean():.3f} (per image "
            f"{df.groupby('image').rim_target.first().min():.3f}-{df.groupby('image').rim_target.first().max():.3f}). "
            "Second half: the same gap less the whole disk's tone gap (the rim's own share).", "",
            *_per_lines_header("solver", "rim gap", "rim - disk", lines_list, "---", cells="---:")]
    rim = df.pivot_table(index="solver", columns="lines", values="rim_gap", aggfunc="mean")
    exc = df.pivot_table(index="solver", columns="lines", values="rim_excess", aggfunc="mean")
    for s in order:
        if s in rim.index:
            out.append(f"| {s} | " + " | ".join([f"{rim.loc[s, n]:+.3f}" for n in lines_list]
                                                 + [f"{exc.loc[s, n]:+.3f}" for n in lines_list]) + " |")
    out += ["", "## Full resolution", "",
            "Each at its own best opacity (mean opacity in brackets), then SSIM_full / L1_full of the pictures "
            "the viewing-scale SSIM and L1 chose. Full-resolution SSIM at its own best opacity goes to the "
            "faintest picture tried: a thread is a texture the photo does not have (see `rendering.metrics`).", "",
            *_per_lines_header("solver", "own best", "at the SSIM / L1 opacity", lines_list, "---")]
    for s in order:
        own, at = [], []
        for n in lines_list:
            r = df[(df.solver == s) & (df.lines == n)]
            if len(r):
                own.append(f"{r.ssim_full.mean():.3f} ({r.ssim_full_opacity.mean():.2f}) / "
                           f"{r.l1_full.mean():.3f} ({r.l1_full_opacity.mean():.2f})")
                at.append(f"{r.ssim_full_at_ssim_opacity.mean():.3f} / {r.l1_full_at_l1_opacity.mean():.3f}")
        if own:
            out.append(f"| {s} | " + " | ".join(own + at) + " |")
    out += ["", "## Timings", "",
            "Mean seconds per run. Ours: `Solution.seconds` (the solve alone: chord table cached, kernels "
            "compiled, as in the README's tables; numba on the machine's cores). Raveler: wall time of its process "
            "(one thread), which includes reading the target and building its k x k line masks "
            f"(a 1-line run takes {meta.get('raveler_setup_s', float('nan')):.2f} s here); cached runs keep the "
            "seconds of the run that made them; raveler*: the run that gave its L1.", "",
            "| solver | " + " | ".join(map(str, lines_list)) + " |", "|---|" + "---:|" * len(lines_list)]
    secs = df.pivot_table(index="solver", columns="lines", values="seconds", aggfunc="mean")
    for s in order:
        if s in secs.index:
            out.append(f"| {s} | " + " | ".join(f"{secs.loc[s, n]:.2f}" for n in lines_list) + " |")
    rv = df[df.solver == RAVELER]
    allr = runs[runs.solver.str.startswith(RAVELER)]
    if len(rv):
        out += ["", "## Raveler", "",
                f"- source: {meta.get('raveler_repo')} at commit {meta.get('raveler_commit')}, built with "
                f"`{meta.get('raveler_build')}` ({meta.get('compiler')})",
                f"- run as: `{meta.get('raveler_command')}` (`-w` thread and `-s` frame in metres; `raveler*`'s "
                "runs change `-w` only)",
                "- input: our 512 px target as raw 8-bit grey on stdin, flipped upside down (Raveler's own image "
                "loader flips it too), so its pin 0 is at 12 o'clock and its pins run clockwise as ours do; pin "
                "map: nearest of our pins by angle (" + meta.get("pin_map", "?") + ")",
                f"- with our thread, Raveler drew {int(rv.short_chords.sum())} chords (over its {len(rv)} runs) "
                f"joining pins closer than our min gap ({meta.get('min_gap')}) and {int(rv.repeated_chords.sum())} "
                f"repeating an earlier chord (ours: none; every chord set is drawn from a min-gap-1 table); runs "
                f"from the cache: {int(allr.cached.fillna(False).astype(bool).sum())} of {len(allr)}", ""]
    if meta.get("verify"):
        v = meta["verify"]
        out += [f"Checks (on {v.get('image')}, {v.get('lines')} lines, our thread):", "",
                f"- a NumPy re-implementation of Raveler's loop on the same input bytes gives the program's first "
                f"{v['reference_steps']} pins exactly: {v['reference_match']}",
                f"- Raveler's own SVG output, drawn without our chord table or pin map, against our render of the "
                f"mapped pins (viewing scale, inside the frame): correlation {v['svg_vs_ours_corr']:.4f}",
                "- our render of the mapped pins against the target (viewing scale, correlation of brightness): "
                + ", ".join(f"{k[len('target_corr['):-1]} {val:.3f}" for k, val in v.items()
                            if k.startswith("target_corr[")),
                f"- a shorter run is the prefix of a longer one (Raveler is online greedy): {v.get('prefix_ok')}", ""]
    out += ["## Provenance", "",
            f"- command: `python {meta['command']}`",
            f"- git commit {meta['commit']}"
            + (f" with uncommitted changes to {', '.join(meta['dirty'])}" if meta.get("dirty") else "")
            + f"; {meta['machine']}; Python {platform.python_version()}",
            f"- {meta['total_s']:.0f} s in all", ""]
    return "\n".join(out)


def gallery(path: Path, image: str, target: np.ndarray, panels: list[tuple[str, np.ndarray, str]], mask) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(panels) + 1
    fig, axes = plt.subplots(1, n, figsize=(4.0 * n, 4.75), constrained_layout=True)
    shown = [("target", target, f"{image}, 512 px\n ")] + panels
    for ax, (title, img, caption) in zip(axes, shown):
        ax.imshow(np.where(mask, img, 1.0), cmap="gray", vmin=0, vmax=1, interpolation="lanczos")
        ax.set_title(title, fontsize=12)
        ax.set_xlabel(caption, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.savefig(path, dpi=128)
    plt.close(fig)
    from PIL import Image

    with Image.open(path) as im:  # every panel is grey: an 8-bit grey PNG is a third of the RGBA one
        grey = im.convert("L")
    grey.save(path, optimize=True)


# --------------------------------------------------------------------------------------------- main
def _dirty_files() -> list[str]:
    """Tracked files of the checkout changed since its commit (other work in progress may move the numbers)."""
    import subprocess

    out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                         text=True)
    return [line[3:] for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


def main(argv=None) -> int:
    from rendering import BUILTIN_IMAGES
    from solvers import DEFAULT_SOLVER

    default_solvers = list(dict.fromkeys(["greedy", "greedy-view", DEFAULT_SOLVER, REFINED]))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", nargs="*", default=list(BUILTIN_IMAGES))
    ap.add_argument("--lines", nargs="*", type=int, default=[1000, 2000, 4000])
    ap.add_argument("--solvers", nargs="*", default=default_solvers,
                    help=f"our solvers (any registered name; default {' '.join(default_solvers)})")
    ap.add_argument("--pins", type=int, default=288)
    ap.add_argument("--canvas", type=int, default=512)
    ap.add_argument("--frame-mm", type=float, default=600.0)
    ap.add_argument("--thread-mm", type=float, default=0.2, help="our thread, and Raveler's in the `raveler` rows")
    ap.add_argument("--raveler-sweep-mm", nargs="*", type=float, default=[0.14, 0.1, 0.07, 0.05],
                    help="other thread weights Raveler also runs at (`raveler*` takes its best); none: no sweep")
    ap.add_argument("--seed", type=int, default=0, help="seed of the stochastic solvers")
    ap.add_argument("--no-raveler", action="store_true", help="our solvers only")
    ap.add_argument("--raveler-dir", type=Path, default=None,
                    help="where Raveler's binary is built and kept (default $STRINGART_CACHE_DIR/raveler)")
    ap.add_argument("--no-cache", action="store_true", help="run Raveler again even where its pins are kept")
    ap.add_argument("--gallery", nargs="*", default=["camera", "astronaut"], help="images drawn in galleries")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "quality")
    args = ap.parse_args(argv)
    command = " ".join([str(Path(sys.argv[0]).resolve().relative_to(ROOT)) if argv is None else
                        "benchmarks/quality.py", *(sys.argv[1:] if argv is None else argv)])

    import pandas as pd

    from rendering.metrics import reference_scores
    from rendering import ThreadModel, load_target
    from solvers import Problem, make_solver

    t_start = time.perf_counter()
    log = lambda s: print(s, flush=True)  # noqa: E731
    args.out.mkdir(parents=True, exist_ok=True)
    thread = ThreadModel(frame_mm=args.frame_mm, thread_mm=args.thread_mm)
    frame_m = args.frame_mm / 1000.0
    weights_mm = list(dict.fromkeys([args.thread_mm, *args.raveler_sweep_mm]))
    meta = dict(pins=args.pins, canvas=args.canvas, thread_mm=args.thread_mm, frame_mm=args.frame_mm,
                command=command, commit=git_commit(), dirty=_dirty_files(),
                machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                        f"{platform.system()} {platform.release()}")
    solvers = {name: make_solver(name) for name in args.solvers}
    binary = None
    if not args.no_raveler:
        binary = _raveler.build(args.raveler_dir, log=log)
        build_info = json.loads((binary.parent / "build.json").read_text())
        meta.update(raveler_commit=build_info["commit"], raveler_repo=build_info["repo"],
                    compiler=build_info["compiler"],
                    raveler_build="git archive | tar -x; make " + " ".join(f"'{c}'" if " " in c else c
                                                                          for c in build_info["command"]))
        t0 = time.perf_counter()
        _raveler.run(binary, load_target(args.images[0], args.canvas).image, pins=args.pins, lines=1,
                     thread_m=args.thread_mm / 1000.0, frame_m=frame_m)
        meta["raveler_setup_s"] = time.perf_counter() - t0
    rows, keep = [], {}
    lines_sorted = sorted(args.lines)
    for image in args.images:
        target = load_target(image, args.canvas)
        problem = Problem.create(target, pins=args.pins, lines=max(lines_sorted), canvas=args.canvas, thread=thread)
        meta["min_gap"] = problem.min_gap
        scorer = Scorer(problem)
        meta.setdefault("references", {})[image] = {
            k: {m: float(v[m]) for m in ("ssim", "l1")}
            for k, v in reference_scores(target.image, problem.mask).items()}
        mapping = None
        raveler_paths = {}
        if binary is not None:
            mapping = _raveler.pin_map(args.pins, args.canvas, problem.layout.positions, problem.layout.center)
            meta["pin_map"] = "the identity" if np.array_equal(mapping, np.arange(args.pins)) else "not the identity"
        for n in lines_sorted:
            sub = problem.with_lines(n)
            runs = []
            for name, solver in solvers.items():
                sol = solver.solve(sub, rng=args.seed)
                runs.append((name, sol.pin_pairs(), sol.seconds,
                             dict(lines_drawn=sol.n_lines, refine_seconds=sol.extra.get("refine_seconds", np.nan))))
            for w in (weights_mm if binary is not None else []):
                name = RAVELER if w == args.thread_mm else sweep_name(w)
                path, secs, cached, cmd = raveler_path(binary, meta["raveler_commit"], image, target.image,
                                                       pins=args.pins, lines=n, thread_m=w / 1000.0, frame_m=frame_m,
                                                       folder=args.out / "raveler", use_cache=not args.no_cache,
                                                       log=log)
                if name == RAVELER:
                    meta["raveler_command"] = " ".join(cmd)
                    raveler_paths[n] = path
                pairs, dropped = mapped_pairs(path, mapping)
                runs.append((name, pairs, secs, dict(lines_drawn=len(pairs), cached=cached, dropped=dropped,
                                                     raveler_thread_mm=w)))
            for name, pairs, secs, extra in runs:
                row = dict(image=image, lines=n, solver=name, seconds=secs, **extra, **scorer.evaluate(pairs))
                rows.append(row)
                if image in args.gallery and n == max(lines_sorted):
                    keep[(image, name)] = (pairs, row)
            log(f"{image} {n}: " + ", ".join(f"{r['solver']} {r['ssim']:.3f}/{r['l1']:.3f}"
                                             for r in rows[-len(runs):]))
        if binary is not None and "verify" not in meta and image in args.gallery:
            n = 2000 if 2000 in raveler_paths else max(raveler_paths)
            meta["verify"] = dict(image=image, lines=n, **verify_mapping(
                binary, scorer, raveler_paths[n], mapping, pins=args.pins, lines=n,
                thread_m=args.thread_mm / 1000.0, frame_m=frame_m))
            lo, hi = min(raveler_paths), max(raveler_paths)
            meta["verify"]["prefix_ok"] = bool(np.array_equal(raveler_paths[lo], raveler_paths[hi][:lo + 1]))
            log(f"checks: {meta['verify']}")
        if image in args.gallery:
            panels = []
            for name in solvers:
                pairs, row = keep[(image, name)]
                panels.append((name, scorer.render(scorer.chord_ids(pairs), row["l1_opacity"]),
                               f"shown at opacity {row['l1_opacity']:.2f} (best L1)\n"
                               f"SSIM {row['ssim']:.3f}, L1 {row['l1']:.3f}"))
            rav = {k: v for k, v in keep.items() if k[0] == image and k[1].startswith(RAVELER)}
            if rav:
                for label, key in ((f"{RAVELER} ({args.thread_mm:g} mm)", (image, RAVELER)),
                                   (None, min(rav, key=lambda k: rav[k][1]["l1"]))):
                    pairs, row = rav[key]
                    if label is None:  # Raveler at its best weight for L1, if that is not ours
                        if key[1] == RAVELER:
                            continue
                        label = f"{RAVELER} ({row['raveler_thread_mm']:g} mm, its best L1)"
                    panels.append((label, scorer.render(scorer.chord_ids(pairs), row["l1_opacity"]),
                                   f"shown at opacity {row['l1_opacity']:.2f} (best L1)\n"
                                   f"SSIM {row['ssim']:.3f}, L1 {row['l1']:.3f}"))
            gallery(args.out / f"gallery_{image}.png", image, target.image, panels, problem.mask)
    df = pd.DataFrame(rows)
    for col in ("cached", "raveler_thread_mm"):
        if col not in df:
            df[col] = np.nan
    df.to_csv(args.out / "quality.csv", index=False, float_format="%.6g")
    meta["total_s"] = time.perf_counter() - t_start
    md = summarize(df, list(solvers), meta=meta)
    (args.out / "quality.md").write_text(md)
    (args.out / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
