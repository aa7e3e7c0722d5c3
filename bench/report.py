"""Tables and figures of a study, drawn from its ``runs.csv`` alone.

:func:`write_report` reads a study folder written by :func:`bench.harness.run_study`
and writes, next to ``runs.csv``:

* ``summary.md`` -- SSIM, L1 and PSNR against line count per solver (viewing
  scale, and SSIM at full resolution), runtime, a per-image table, blank and
  flat-canvas reference rows, failures, and the environment from ``meta.json``;
* ``ssim_vs_lines.png``, ``l1_vs_lines.png`` -- mean over images and seeds;
* ``stats.md`` and the statistics' CSV tables and figures (:mod:`bench.stats`): bootstrap intervals,
  paired comparisons with a reference solver, ranks, ``pareto_<metric>.png`` (score against seconds and
  the Pareto front) and ``profile_<metric>.png`` (performance profiles);
* ``gallery.png`` -- rows = solvers, columns = line counts, rendered from the
  saved pin files (and the saved target, as the first column).

Every solver keeps one colour-blind-safe (colour, marker, line style) in every
figure (:func:`solver_styles`); legends sit right of the axes, grouped by family
(:func:`solver_family`), and the gallery's rows follow the same order. The same
``runs.csv`` gives the same PNG bytes.

When the table holds several set-ups (pin count, canvas), each gets its own
section and the figures show the largest one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from rendering import InputError, view_scale
from rendering.fileio import prepare_out_dir, write_files_atomically

from .storage import read_runs

FIGURES = ("ssim_vs_lines.png", "l1_vs_lines.png", "pareto_ssim.png", "profile_ssim.png", "gallery.png")
#: the reference rows: the bare board (white for one black thread) and a flat canvas of the photo's mean tone
#: (or colour)
REFERENCE_LABELS = {"blank": "bare board (reference)", "flat": "flat mean picture (reference)"}
_ALL_REFERENCES = tuple(REFERENCE_LABELS.values())


def reference_labels(df: pd.DataFrame) -> dict:
    """The reference rows' labels (:data:`REFERENCE_LABELS`)."""
    return REFERENCE_LABELS


# --------------------------------------------------------------------------- tables
def _load_meta(out: Path) -> dict:
    try:
        meta = json.loads((out / "meta.json").read_text())
        return meta if isinstance(meta, dict) else {}
    except (OSError, ValueError):
        return {}


def _labelled(df: pd.DataFrame, order: list[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Add a ``label`` column: the solver name, plus a config hash when one solver ran with several configs."""
    df = df.copy()
    n_cfg = df.groupby("solver")["config"].nunique()
    def lab(r):
        if n_cfg.get(r["solver"], 1) > 1:
            return f"{r['solver']} #{hashlib.sha1(str(r['config']).encode()).hexdigest()[:4]}"
        return r["solver"]
    df["label"] = [lab(r) for r in df.to_dict("records")] if len(df) else []
    seen = list(dict.fromkeys(df["label"]))
    rank = {s: i for i, s in enumerate(order or [])}
    labels = sorted(seen, key=lambda lab_: (rank.get(lab_.split(" #")[0], len(rank)), seen.index(lab_)))
    return df, labels


def setups(df: pd.DataFrame) -> list[tuple[int, int]]:
    """The distinct (pins, canvas) set-ups of a table, largest first."""
    pairs = df[["pins", "canvas"]].drop_duplicates().astype(int).itertuples(index=False)
    return sorted({(int(p), int(c)) for p, c in pairs}, key=lambda t: (t[1], t[0]), reverse=True)


def pivot(df: pd.DataFrame, metric: str, *, order: list[str] | None = None, agg: str = "mean",
          references: bool = True) -> pd.DataFrame:
    """Solvers (rows) x line counts (columns) of ``metric``, averaged over images and seeds of finished runs.

    With ``references`` the blank and flat-canvas rows are appended (their
    scores do not depend on the line count; averaged over the same images).
    """
    dfl, labels = _labelled(df, order)
    ok = dfl[dfl["error"] == ""]
    lines = sorted(df["lines"].astype(int).unique())
    table = pd.DataFrame(np.nan, index=labels, columns=lines, dtype=float)
    if len(ok):
        got = ok.pivot_table(index="label", columns="lines", values=metric, aggfunc=agg)
        table.update(got.astype(float))
    if references and metric in _REF_METRICS:
        for ref, name in reference_labels(df).items():
            col = f"{ref}_{metric}"
            if col not in df.columns:
                continue
            vals = {}
            for n in lines:
                sub = df[df["lines"] == n].drop_duplicates(subset=["image", "pins", "canvas"])
                v = sub[col].astype(float)
                vals[n] = float(v.mean()) if v.notna().any() else np.nan
            table.loc[name] = pd.Series(vals)
    table.columns.name = "lines"
    table.index.name = "solver"
    return table


_REF_METRICS = ("ssim", "l1", "psnr", "ssim_full", "l1_full", "psnr_full", "de2000", "de2000_full")


#: the tables of a summary: ``(metric, title, digits, best)``, each made when the runs hold that metric (CIEDE2000
#: only where threads other than one black thread on white were drawn; SSIM, L1 and PSNR are then the luminance's)
METRIC_TABLES = (
    ("de2000", "Mean CIEDE2000 (viewing scale)", 2, "min"),
    ("ssim", "SSIM (viewing scale)", 3, "max"),
    ("l1", "L1 (viewing scale)", 3, "min"),
    ("psnr", "PSNR (dB, viewing scale)", 2, "max"),
    ("de2000_full", "Mean CIEDE2000 at full resolution", 2, "min"),
    ("ssim_full", "SSIM at full resolution", 3, "max"),
)


#: what a summary says of a metric when its runs hold it
METRIC_NOTES = {
    "de2000": ("**Threads on a board**: each run draws one continuous thread per colour under the colour thread "
               "model; *CIEDE2000* is the mean colour difference (scikit-image's `deltaE_ciede2000`, lower is "
               "better) at the viewing scale inside the frame, and SSIM, L1 and PSNR are those of the "
               "**luminance** (Rec. 709 luma of the sRGB values)."),
}
#: the figures of a metric against lines, each drawn when the runs hold its metric
METRIC_FIGURES = (("ssim", "SSIM (viewing scale)", "ssim_vs_lines.png"),
                  ("l1", "L1 (viewing scale)", "l1_vs_lines.png"),
                  ("de2000", "mean CIEDE2000 (viewing scale)", "de2000_vs_lines.png"))


def measured(df: pd.DataFrame, metric: str) -> bool:
    """Whether the runs of ``df`` hold ``metric`` (a finished run with a value)."""
    return metric in df.columns and bool(df[metric].notna().any())


def _fmt(v, digits: int) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "—"
    if isinstance(v, float) and np.isinf(v):
        return "inf"
    if digits is None:  # three significant figures (runtimes span orders of magnitude)
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return f"{v:.{digits}f}"


def incomplete_cells(df: pd.DataFrame, order: list[str] | None = None) -> set:
    """(solver label, lines) cells where some runs failed: their mean covers fewer images or seeds."""
    dfl, _ = _labelled(df, order)
    g = dfl.assign(ok=dfl["error"] == "").groupby(["label", "lines"])["ok"].agg(["sum", "count"])
    return {(lab, int(n)) for (lab, n), r in g.iterrows() if 0 < r["sum"] < r["count"]}


def markdown_table(table: pd.DataFrame, *, digits: int | None = 3, best: str | None = None,
                   flags: set | None = None, ci: pd.DataFrame | None = None, marks: dict | None = None) -> str:
    """A pivot as a Markdown table; ``best`` = "max" or "min" bolds each column's best solver (not references);
    cells in ``flags`` ((row, column) pairs) get a dagger; ``ci`` (same shape) adds each cell's 95 % interval
    as ``±`` half its width; ``marks`` (``{(row, column): mark}``) adds a mark after a cell."""
    cols = list(table.columns)
    head = "| " + " | ".join([str(table.index.name or "")] + [str(c) for c in cols]) + " |"
    sep = "|" + "---|" + "---:|" * len(cols)
    best_of = {}
    if best:
        solv = table.loc[[i for i in table.index if i not in _ALL_REFERENCES]]
        for c in cols:
            s = solv[c].astype(float).dropna()
            if len(s) > 1:
                best_of[c] = s.idxmax() if best == "max" else s.idxmin()
    lines = [head, sep]
    for idx, row in table.iterrows():
        cells = []
        for c in cols:
            text = _fmt(row[c], digits)
            text = f"**{text}**" if best_of.get(c) == idx else text
            if ci is not None and idx in ci.index and c in ci.columns and np.isfinite(ci.loc[idx, c]):
                text += f" ±{ci.loc[idx, c]:.{digits if digits is not None else 3}f}"
            text += (marks or {}).get((idx, c), "")
            cells.append(text + "†" if flags and (idx, c) in flags else text)
        name = f"*{idx}*" if idx in _ALL_REFERENCES else str(idx)
        lines.append("| " + " | ".join([name] + cells) + " |")
    return "\n".join(lines)


def interval_halfwidths(df: pd.DataFrame, metric: str, order: list[str] | None = None,
                        cells: pd.DataFrame | None = None) -> pd.DataFrame:
    """Solvers x line counts: half the width of each cell's 95 % bootstrap interval over images
    (:func:`bench.stats.cell_intervals`, or its ``cells`` already computed; NaN for a cell with one image)."""
    from . import stats

    dfl, labels = _labelled(df, order)
    ok = dfl[dfl["error"] == ""]
    lines = sorted(df["lines"].astype(int).unique())
    out = pd.DataFrame(np.nan, index=labels, columns=lines, dtype=float)
    if cells is None and len(ok) and ok[metric].notna().any():
        cells = stats.cell_intervals(ok, metric, by="label", n_resamples=REPORT_RESAMPLES)
    for r in ([] if cells is None else cells.to_dict("records")):
        if r["solver"] in out.index:
            out.loc[r["solver"], int(r["lines"])] = (r["ci_high"] - r["ci_low"]) / 2
    return out


#: bootstrap resamples of the report's intervals and paired differences: 2999 (against 9999 the bounds
#: move by about 0.001 SSIM, in a third of the time; ``bench.stats`` defaults to 9999 for other uses)
REPORT_RESAMPLES = 2999


def tuned_marks(df: pd.DataFrame, families: dict | None = None) -> dict:
    """``{(solver, image): "‡"}`` where a default of the solver was tuned on the picture (``Solver.tuned_on``),
    and ``"§"`` where a learned solver's model was trained on it (the ``trained_on`` column of the runs)."""
    marks = {}
    for solver in df["solver"].unique():
        try:
            from solvers import get_entry

            tuned = set(get_entry(str(solver)).cls.tuned_on)
        except Exception:  # noqa: BLE001  (a solver this install does not know: nothing to mark)
            tuned = set()
        for image in tuned & set(df.loc[df["solver"] == solver, "image"]):
            marks[(solver, image)] = "‡"
    if "trained_on" in df.columns:
        seen = df[df["trained_on"].astype("string").fillna("").str.len() > 0]
        for solver, image in zip(seen["solver"], seen["image"]):
            marks[(solver, image)] = marks.get((solver, image), "") + "§"
    return marks


def _marks_note(marks: dict) -> str:
    tuned = sorted({f"{s} on {i}" for (s, i), m in marks.items() if "‡" in m})
    trained = sorted({f"{s} on {i}" for (s, i), m in marks.items() if "§" in m})
    out = []
    if tuned:
        out.append(f"‡ a default of the solver was tuned on this picture ({'; '.join(tuned)}): read its row there "
                   f"with care, or compare on the `test` suite (`bench run --images test`), which no default saw.")
    if trained:
        out.append(f"§ a learned solver was scored on a picture its model was trained on ({'; '.join(trained)}).")
    return " ".join(out)


def threads_per_image(df: pd.DataFrame) -> pd.DataFrame:
    """``image, palette``: the threads each image was drawn with, where they are not the default one black
    thread (``auto:K`` resolves per image); empty otherwise."""
    rows = df[df["error"] == ""].drop_duplicates(subset=["image"]).reindex(columns=["image", "palette"])
    return rows[~rows["palette"].fillna("").isin(["", "black"])]


def _per_image(df: pd.DataFrame, lines: int, order, metric: str = "ssim") -> pd.DataFrame:
    dfl, labels = _labelled(df, order)
    ok = dfl[(dfl["error"] == "") & (dfl["lines"] == lines)]
    if ok.empty:
        return pd.DataFrame()
    t = ok.pivot_table(index="label", columns="image", values=metric, aggfunc="mean").reindex(labels)
    for ref, name in reference_labels(df).items():
        sub = df[df["lines"] == lines].drop_duplicates(subset=["image"]).set_index("image")
        if f"{ref}_{metric}" in sub.columns:
            t.loc[name] = sub[f"{ref}_{metric}"].astype(float).reindex(t.columns)
    t.index.name, t.columns.name = "solver", None
    return t


def summary_markdown(df: pd.DataFrame, meta: dict | None = None, *, figures: dict | None = None, stats: str = "",
                     reference: str | None = None, intervals: dict | None = None) -> str:
    """The text of ``summary.md`` for a runs table (and its ``meta.json`` when there is one)."""
    meta = meta or {}
    order = list((meta.get("study") or {}).get("solvers") or [])
    name = (meta.get("study") or {}).get("study") or "study"
    n_fail = int((df["error"] != "").sum())
    out = [f"# String-art comparison: {name}", ""]
    out.append(f"{len(df)} runs ({n_fail} failed) of {df['solver'].nunique()} solvers on "
               f"{df['image'].nunique()} images ({', '.join(map(str, dict.fromkeys(df['image'])))}), "
               f"line counts {', '.join(str(n) for n in sorted(df['lines'].astype(int).unique()))}, "
               f"{int(df['replicate'].max()) + 1 if 'replicate' in df.columns else 1} seed(s) per cell "
               f"(derived from master seed "
               f"{', '.join(str(s) for s in df['master_seed'].unique()) if 'master_seed' in df.columns else '?'}).")
    for metric, note in METRIC_NOTES.items():
        if measured(df, metric):
            out += ["", note]
    out += ["", "Metrics compare the rendered preview with the preprocessed target inside the frame. "
            "SSIM, L1 and PSNR are taken at the *viewing scale* (both images box-averaged 4x, as string art "
            "is seen from a distance); `full` = canvas resolution. Higher SSIM and PSNR are better, lower L1 "
            "is better. Each cell is the mean over images and seeds of the finished runs; **bold** marks "
            "the best solver of a column. Reference rows: a blank white canvas and a flat canvas of the "
            "target's mean tone (or colour). Seconds are the solver's own time (the cached chord table is built "
            "before the clock starts, and each worker warms every solver up once, untimed, so JIT "
            "compilation and model loading are not counted). Every line count is its own run.", ""]
    for pins, canvas in setups(df):
        sub = df[(df["pins"] == pins) & (df["canvas"] == canvas)]
        top = int(sub["lines"].max())
        if len(setups(df)) > 1:
            out += [f"## {pins} pins, {canvas} px", ""]
        h = "###" if len(setups(df)) > 1 else "##"
        fl = incomplete_cells(sub, order)
        note = ["", "† some runs of this cell failed: its mean covers fewer images or seeds."] if fl else []
        for metric, title, digits, best in METRIC_TABLES:
            if measured(sub, metric):
                out += [f"{h} {title} vs lines (mean ± half the 95 % bootstrap interval over images)", "",
                        markdown_table(pivot(sub, metric, order=order), digits=digits, best=best, flags=fl,
                                       ci=interval_halfwidths(sub, metric, order, (intervals or {}).get(metric))),
                        *note, ""]
        out += [f"{h} Runtime (seconds) vs lines", "",
                markdown_table(pivot(sub, "seconds", order=order, references=False), digits=None, best="min",
                               flags=fl), *note, ""]
        marks = tuned_marks(sub)
        for metric, title, digits, best in METRIC_TABLES[:3]:
            per = _per_image(sub, top, order, metric) if measured(sub, metric) else pd.DataFrame()
            if not per.empty and per.shape[1] > 1:
                out += [f"{h} {title.split(' (')[0]} per image at {top} lines", "",
                        markdown_table(per, digits=digits, best=best, marks=marks), ""]
        if marks:
            out += [_marks_note(marks), ""]
        pal = threads_per_image(sub)
        if len(pal):
            out += [f"{h} Threads per image", "", "| image | threads |", "|---|---|"]
            out += [f"| {r['image']} | {r['palette']} |" for r in pal.to_dict("records")] + [""]
    if stats:
        out += [f"## Which gaps are real: intervals, paired comparisons with {reference}, ranks", "",
                "The tables above give each cell's mean over images (each image counts once: its mean over seeds) "
                "and half the width of its 95 % percentile bootstrap interval over images (`scipy.stats.bootstrap`). "
                f"Below, for each metric: the intervals in full, every solver paired with `{reference}` on the same "
                "images (the mean difference, its interval, and wins / ties / losses over images, a tie within the "
                "stated tolerance), and mean ranks. The CSVs beside this file keep every bound "
                "(`intervals_*.csv`, `paired_*.csv`, `ranks_*.csv`).", "",
                stats.replace("## Statistics over images\n", "").replace("\n### ", "\n### ").strip(), ""]
    fails = df[df["error"] != ""]
    if len(fails):
        out += ["## Failures", "", "| solver | image | lines | seed | error |", "|---|---|---:|---:|---|"]
        for r in fails.to_dict("records"):
            err = str(r["error"]).replace("|", "\\|")[:200]
            out.append(f"| {r['solver']} | {r['image']} | {r['lines']} | {r['seed']} | {err} |")
        out += ["", "Tracebacks: `errors.log`.", ""]
    if figures:
        out += ["## Figures", ""]
        captions = {"ssim_vs_lines.png": "SSIM vs lines", "l1_vs_lines.png": "L1 vs lines",
                    "de2000_vs_lines.png": "CIEDE2000 vs lines", "gallery.png": "Gallery"}
        captions.update({f: f"{f.split('_', 1)[1][:-4]} against seconds, the Pareto front marked, one panel per "
                            f"line count" for f in figures if f.startswith("pareto_")})
        captions.update({f: f"performance profile of {f.split('_', 1)[1][:-4]}: the share of images on which each "
                            f"solver is within tau of the best" for f in figures if f.startswith("profile_")})
        for fname in figures:
            out += [f"![{captions.get(fname, fname)}]({fname})", ""]
    if meta:
        git = meta.get("git") or {}
        out += ["## Environment", ""]
        commit = git.get("commit") or "unknown"
        out.append(f"- commit: `{commit}`" + (" (with uncommitted changes)" if git.get("dirty") else ""))
        out.append(f"- CPU: {meta.get('cpu', '?')} x {meta.get('cpu_count', '?')}; GPU: {meta.get('gpu') or 'none'}")
        out.append(f"- Python {meta.get('python', '?')}; " + ", ".join(
            f"{k} {v}" for k, v in (meta.get("versions") or {}).items()))
        if meta.get("command"):
            out.append(f"- command: `{meta['command']}`")
        inv = meta.get("invocations") or []
        walls = [i.get("wall_seconds") for i in inv if i.get("wall_seconds") is not None]
        if walls:
            out.append(f"- wall time of the last invocation: {walls[-1]:.0f} s "
                       f"({inv[-1].get('to_run', '?')} runs, {inv[-1].get('workers', '?')} workers)")
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- solver styles
#: Okabe & Ito's colour-blind-safe palette (https://jfly.uni-koeln.de/color/): blue, vermillion, bluish
#: green, reddish purple, orange, sky blue, black, yellow. Yellow, the faintest on white, comes last.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")

#: Solver families in legend order: (markers, line style). The marker sets do not overlap, so two
#: solvers of different families never look alike; a family's 9th to 16th members take its second marker.
FAMILIES = {
    "greedy": (("o", "p"), "-"),
    "colour": (("h", "d"), (0, (3, 1))),
    "learned": (("s", "D"), "--"),
    "genetic": (("^", "v"), "-."),
    "other": (("<", ">"), (0, (5, 1.5, 1, 1.5, 1, 1.5))),
    "baseline": (("X", "P"), ":"),
}
FAMILY_TITLES = {"greedy": "greedy family", "colour": "colour threads", "learned": "learned", "genetic": "genetic (GA)",
                 "other": "other", "baseline": "baseline"}
#: Markers for the (rare) pairs the family scheme runs out of: a family of more than 16 solvers.
_SPARE_MARKERS = ("*", "8", "H", "1", "2", "3", "4", "+", "x")
_REF_STYLE = {"blank": "--", "flat": ":"}  # grey reference lines
_REF_COLOUR = "0.45"


def solver_family(label: str, families: dict | None = None) -> str:
    """The family a solver declares (``Solver.family``) of a solver name or ``"name #config-hash"`` label.

    ``families`` maps solver names to families as a study's ``runs.csv`` records them (its ``family``
    column); a name not in it is looked up in the registry, and one the registry does not know is
    ``"other"``. Never read from the name.

    >>> solver_family("greedy+ga"), solver_family("ae+greedy #1a2b"), solver_family("mine", {"mine": "greedy"})
    ('genetic', 'learned', 'greedy')
    """
    name = label.split(" #")[0].strip()
    if families and isinstance(families.get(name), str) and families[name] in FAMILIES:
        return families[name]
    try:
        from solvers import get_entry

        fam = get_entry(name).cls.family
    except Exception:  # noqa: BLE001  (an unknown or unavailable solver)
        return "other"
    return fam if fam in FAMILIES else "other"


def families_of(df: pd.DataFrame) -> dict:
    """``{solver: family}`` as a runs table records them (empty for a table without the column)."""
    if "family" not in df.columns:
        return {}
    sub = df[["solver", "family"]].dropna().drop_duplicates(subset=["solver"])
    return {str(a): str(b) for a, b in zip(sub["solver"], sub["family"]) if str(b)}


def legend_order(labels, families: dict | None = None) -> list[str]:
    """``labels`` grouped by family (in :data:`FAMILIES` order), each family in the order given."""
    rank = {f: i for i, f in enumerate(FAMILIES)}
    return sorted(dict.fromkeys(labels), key=lambda lab: rank[solver_family(lab, families)])


def solver_styles(labels, families: dict | None = None) -> dict[str, dict]:
    """``{label: {"color", "marker", "linestyle", "family"}}``: one look per solver, shared by every figure.

    Colours run through :data:`PALETTE` in legend order and markers and line styles come from
    the family, so every label gets its own (colour, marker) pair: inside a family the members
    are consecutive (distinct colours for up to 8, then the family's second marker), and
    families do not share markers.
    """
    out: dict[str, dict] = {}
    used: set[tuple[str, str]] = set()
    within: dict[str, int] = {}
    for i, lab in enumerate(legend_order(labels, families)):
        fam = solver_family(lab, families)
        j = within[fam] = within.get(fam, -1) + 1
        markers, ls = FAMILIES[fam]
        pair = (PALETTE[i % len(PALETTE)], markers[j // len(PALETTE) % len(markers)])
        if pair in used:  # only past 16 members of one family
            spare = [(c, m) for m in _SPARE_MARKERS for c in PALETTE if (c, m) not in used]
            pair = spare[0] if spare else pair
        used.add(pair)
        out[lab] = {"color": pair[0], "marker": pair[1], "linestyle": ls, "family": fam}
    return out


# --------------------------------------------------------------------------- figures
def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig, *, tight: bool = True) -> bytes:
    """The figure as PNG bytes, then closed. Agg writes no time stamp; dropping ``Software`` leaves
    no metadata at all, so the same table gives the same bytes. ``tight=False`` for a figure laid out by hand
    (drawn once, not twice)."""
    buf = io.BytesIO()
    kw = dict(bbox_inches="tight", pad_inches=0.08) if tight else {}
    fig.savefig(buf, format="png", dpi=fig.dpi, metadata={"Software": None},
                pil_kwargs={"compress_level": 3}, **kw)  # level 6: 2x the time, 10 % smaller
    _plt().close(fig)
    return buf.getvalue()


def _handle(style: dict, size: float = 5.0):
    from matplotlib.lines import Line2D

    return Line2D([], [], color=style["color"], marker=style["marker"], linestyle=style["linestyle"], lw=1.3,
                  markersize=size, markeredgecolor="white", markeredgewidth=0.5)


def _legend(ax, labels: list[str], styles: dict, extra=()):
    """The legend, right of the axes (never over the data): solvers under bold family headers, in
    legend order, then each ``(title, [(handle, text), ...])`` of ``extra``."""
    from matplotlib.lines import Line2D

    groups: dict[str, list[str]] = {}
    for lab in legend_order(labels):
        groups.setdefault(styles[lab]["family"], []).append(lab)
    sections = [(FAMILY_TITLES[f], [(_handle(styles[lab]), lab) for lab in labs]) for f, labs in groups.items()]
    handles, texts, headers = [], [], []
    for title, entries in [*sections, *extra]:
        if not entries:
            continue
        headers.append(len(texts))
        handles.append(Line2D([], [], linestyle="none"))
        texts.append(title)
        for h, t in entries:
            handles.append(h)
            texts.append(t)
    leg = ax.legend(handles, texts, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=7,
                    handlelength=2.8, ncols=1 if len(texts) <= 30 else 2)
    for k in headers:
        leg.get_texts()[k].set_fontweight("bold")
    return leg


def metric_figure(df: pd.DataFrame, metric: str, ylabel: str, order=None, styles: dict | None = None):
    """``metric`` against line count, one curve per solver (mean over images and seeds), with the
    blank and flat-canvas references as grey lines; a matplotlib Figure (Agg)."""
    plt = _plt()
    table = pivot(df, metric, order=order)
    refs = {name: ref for ref, name in reference_labels(df).items()}
    labels = legend_order(lab for lab in table.index if lab not in refs)
    styles = styles or solver_styles(labels)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for lab in labels:
        st, s = styles[lab], table.loc[lab].astype(float)
        ax.plot(s.index, s.values, color=st["color"], marker=st["marker"], linestyle=st["linestyle"], lw=1.3,
                markersize=5, markeredgecolor="white", markeredgewidth=0.5, zorder=3)
    ref_entries = []
    for name, ref in refs.items():
        if name in table.index:
            v = table.loc[name].astype(float).mean()
            if np.isfinite(v):
                h = ax.axhline(v, color=_REF_COLOUR, ls=_REF_STYLE[ref], lw=1.1, zorder=2, label=name)
                ref_entries.append((h, name.replace(" (reference)", "")))  # under the "references" header
    ax.set_xlabel("lines")
    ax.set_ylabel(ylabel)
    ax.set_xticks(list(table.columns))
    ax.grid(alpha=0.3)
    _legend(ax, labels, styles, [("references", ref_entries)])
    ax.set_title(f"{ylabel} vs lines (mean over images and seeds)", fontsize=9)
    return fig


def render_row(row: dict, out: Path) -> np.ndarray:
    """Re-render one finished run from its saved pin file and the set-up in its row (read through
    :func:`kit.results.load_solution`, the one reader of results).

    Raises :class:`~rendering.InputError` for a missing or broken pin file, or one whose
    chords the row's layout does not allow.
    """
    from kit.results import load_solution

    shape = row.get("shape")
    doc = dict(n_pins=int(row["pins"]), canvas_px=int(row["canvas"]),
               shape=shape if isinstance(shape, str) and shape else "circle", min_gap=int(row["min_gap"]),
               frame_mm=float(row["frame_mm"]), thread_mm=float(row["thread_mm"]), opacity=float(row["opacity"]),
               image=str(row.get("image", "")), solver=str(row.get("solver", "")))
    return load_solution(out / str(row["pin_file"]), doc=doc).solution.render()


def _for_display(img: np.ndarray, max_side: int = 256) -> np.ndarray:
    k = max(1, int(np.ceil(img.shape[0] / max_side)))
    if k > 1 and img.ndim == 3:
        return np.stack([view_scale(img[..., i], k) for i in range(img.shape[2])], axis=-1)
    return view_scale(img, k) if k > 1 else img


def _two_lines(label: str, width: int = 26) -> str:
    """A long row label broken once, after a ``+`` or before a `` #``, near its middle."""
    if len(label) <= width:
        return label
    cuts = [i + 1 for i, ch in enumerate(label) if ch == "+"] + [i for i, ch in enumerate(label) if ch == " "]
    cut = min(cuts, key=lambda i: abs(i - len(label) / 2)) if cuts else width
    return label[:cut].rstrip() + "\n" + label[cut:].lstrip()


def gallery_figure(df: pd.DataFrame, out: Path, image: str, order=None):
    """Rows = solvers (legend order), columns = line counts, each cell re-rendered from its pin file,
    the target top left; a matplotlib Figure (Agg) laid out in inches so no text meets another.

    The cells are pasted into one picture drawn once (a single image and its labels: 68 axes of their own took
    most of a report's time)."""
    from PIL import Image

    plt = _plt()
    sub = df[df["image"] == image]
    ok, labels = _labelled(sub, order)
    labels = legend_order(labels)
    lines = sorted(sub["lines"].astype(int).unique())
    canvas = int(sub["canvas"].iloc[0])
    target_png = out / "targets" / f"{image}-{canvas}.png"
    has_target = target_png.is_file()
    # inches: cells, the gaps between them, a gap left of the first rendered column for the (vertical)
    # row labels, and a top margin holding the title above the column headers
    cell, gap, label_gap, top, margin, dpi = 1.8, 0.1, 0.42, 0.62, 0.05, 110
    x0 = margin + (cell + label_gap if has_target else label_gap)
    width = x0 + len(lines) * cell + (len(lines) - 1) * gap + margin
    height = top + len(labels) * cell + (len(labels) - 1) * gap + margin
    W, H, C = int(round(width * dpi)), int(round(height * dpi)), int(round(cell * dpi))
    mosaic = np.full((H, W, 3), 255, np.uint8)  # uint8 RGB: drawn without a float pass
    fig = plt.figure(figsize=(width, height), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    texts: list[tuple] = []  # (x px, y px, text, kwargs)

    def origin(x_in: float, row: int) -> tuple[int, int]:
        return int(round(x_in * dpi)), int(round((top + row * (cell + gap)) * dpi))

    def paste(img: np.ndarray, x: int, y: int) -> None:
        arr = np.clip(np.asarray(img, np.float32), 0, 1)
        pic = Image.fromarray((arr * 255 + 0.5).astype(np.uint8), "RGB" if arr.ndim == 3 else "L")
        pic = pic.convert("RGB").resize((C, C), Image.BOX)
        mosaic[y:y + C, x:x + C] = np.asarray(pic)
        frame(x, y)

    def frame(x: int, y: int) -> None:  # a thin frame, as the axes had
        mosaic[y, x:x + C] = mosaic[y + C - 1, x:x + C] = 204
        mosaic[y:y + C, x] = mosaic[y:y + C, x + C - 1] = 204

    if has_target:
        x, y = origin(margin, 0)
        with Image.open(target_png) as im:
            paste(np.asarray(im.convert("RGB" if im.mode == "RGB" else "L"), np.float32) / 255.0, x, y)
        texts.append((x + C / 2, y - 4, "target", dict(ha="center", va="bottom", fontsize=8)))
    for r, lab in enumerate(labels):
        for c, n in enumerate(lines):
            x, y = origin(x0 + c * (cell + gap), r)
            cand = ok[(ok["label"] == lab) & (ok["lines"] == n)].sort_values("replicate")
            done = cand[(cand["error"] == "") & (cand["pin_file"] != "")]
            text = "not run"
            if len(cand) and done.empty:
                text = "failed"
            img = None
            if len(done):
                rec = done.iloc[0].to_dict()
                try:
                    img = render_row(rec, out)
                except (OSError, ValueError, InputError) as e:
                    text = f"pin file: {type(e).__name__}"
                if img is not None:
                    paste(_for_display(img), x, y)
                    de = float(rec.get("de2000", np.nan))
                    score_text = (f"ΔE {de:.2f} · " if np.isfinite(de) else "") + f"SSIM {rec['ssim']:.3f}"
                    texts.append((x + 3, y + C - 3, score_text, dict(fontsize=6, color="k", va="bottom",
                                                                    bbox=dict(fc="w", ec="none", alpha=0.7, pad=1))))
            if img is None:
                frame(x, y)
                texts.append((x + C / 2, y + C / 2, text, dict(ha="center", va="center", fontsize=8, color="0.4")))
            if r == 0:
                texts.append((x + C / 2, y - 4, f"{n} lines", dict(ha="center", va="bottom", fontsize=8)))
            if c == 0:
                texts.append((x - 3, y + C / 2, _two_lines(lab), dict(ha="center", va="bottom", fontsize=8,
                                                                    rotation=90, rotation_mode="anchor",
                                                                    multialignment="center")))
    ax.imshow(mosaic, extent=(0, W, H, 0), interpolation="none")
    ax.set_xlim(0, W)
    ax.set_ylim(H, 0)
    for x, y, t, kw in texts:
        ax.text(x, y, t, **kw)
    ax.text(W / 2, 0.06 * dpi, f"{image}: rows = solvers, columns = line counts", ha="center", va="top", fontsize=9)
    return fig


def merge_studies(folders, out: str | os.PathLike) -> pd.DataFrame:
    """Several study folders as one: their ``runs.csv`` rows, pin files and targets copied into ``out``.

    Studies merge when they share their settings (pins, canvas, frame, thread, opacity, min gap, threads and
    board, quick or not); otherwise one :class:`~rendering.InputError` line says which setting differs. A run
    in several studies (the same ``run_id``) is kept once.
    """
    import shutil

    folders = [Path(f) for f in folders]
    frames = []
    for f in folders:
        if not f.is_dir():
            raise InputError(f"study folder '{f}' not found; pass folders written by `bench run`")
        frames.append(read_runs(f))
    first = frames[0]
    for f, df in zip(folders[1:], frames[1:]):
        for col in SETTINGS:
            a = set(map(str, first[col].dropna().unique())) if col in first.columns else set()
            b = set(map(str, df[col].dropna().unique())) if col in df.columns else set()
            if a != b:
                raise InputError(f"studies '{folders[0]}' and '{f}' differ in {col} ({', '.join(sorted(a)) or '-'} "
                                 f"vs {', '.join(sorted(b)) or '-'}); merge only studies run with the same settings")
    dest = prepare_out_dir(out)
    for f, df in zip(folders, frames):
        for rel in df.get("pin_file", pd.Series(dtype=str)).fillna(""):
            if rel and (f / rel).is_file() and f.resolve() != dest.resolve():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f / rel, dest / rel)
        if (f / "targets").is_dir() and f.resolve() != dest.resolve():
            shutil.copytree(f / "targets", dest / "targets", dirs_exist_ok=True)
    merged = pd.concat(frames, ignore_index=True).drop_duplicates(subset=["run_id"], keep="last")
    write_files_atomically(dest, {"runs.csv": merged.to_csv(index=False).encode()})
    meta = _load_meta(folders[0])
    if meta:
        meta.setdefault("study", {})["merged_from"] = [str(f) for f in folders]
        write_files_atomically(dest, {"meta.json": (json.dumps(meta, indent=1) + "\n").encode()})
    return merged


#: the settings two studies must share to merge (:func:`merge_studies`)
SETTINGS = ("pins", "canvas", "frame_mm", "thread_mm", "opacity", "min_gap", "palette", "board", "quick")


def default_reference(df: pd.DataFrame) -> str | None:
    """The solver the paired comparison is against: the default solver when the study has it, else its first."""
    from solvers import DEFAULT_COLOUR_SOLVER, DEFAULT_SOLVER

    names = list(dict.fromkeys(df["solver"]))
    for name in (DEFAULT_SOLVER, DEFAULT_COLOUR_SOLVER):
        if name in names:
            return name
    return names[0] if names else None


def write_report(out_dir: str | os.PathLike, *, gallery_image: str | None = None, figures: bool = True,
                 vs: str | None = None, metrics: str = "view") -> dict[str, Path]:
    """Redraw ``summary.md``, the statistics and the figures of a study folder from its ``runs.csv``.

    Parameters
    ----------
    out_dir : the study folder (holds ``runs.csv``; ``meta.json``, ``pins/`` and ``targets/`` when present)
    gallery_image : image shown in the gallery; default the study's first image
    figures : draw the PNG figures too (else only ``summary.md`` and the tables)
    vs : the solver every other is paired with (:func:`bench.stats.paired`); default
        :func:`default_reference`
    metrics : the metric set of the statistics: ``view`` (viewing-scale SSIM, L1, PSNR: the toolkit's),
        ``blur2`` (the published protocol: SSIM and PSNR after a sigma = 2 px Gaussian blur), ``full`` or
        ``colour`` (:data:`bench.stats.METRIC_SETS`)

    Returns
    -------
    dict ``{file name: path}`` of what was written
    """
    from . import stats

    out = Path(out_dir)
    if not out.is_dir():
        raise InputError(f"study folder '{out}' not found; pass a folder written by `bench run`")
    df = read_runs(out)
    if df.empty:
        raise InputError(f"'{out / 'runs.csv'}' has no runs yet; run the study first (bench run --out {out})")
    prepare_out_dir(out)
    meta = _load_meta(out)
    order = list((meta.get("study") or {}).get("solvers") or [])
    pins, canvas = setups(df)[0]
    main = df[(df["pins"] == pins) & (df["canvas"] == canvas)]
    ok = main[main["error"] == ""]
    names = list(dict.fromkeys(ok["solver"]))  # a solver that failed every run cannot be the reference
    if vs is not None and vs not in names:
        raise InputError(f"--vs '{vs}' is not a solver of this study with a finished run; "
                         f"choose one of: {', '.join(names) or '(none finished)'}")
    vs = vs or default_reference(ok)
    chosen = stats.metric_set(metrics, ok if len(ok) else main)
    files: dict[str, bytes] = {}
    styles = solver_styles(_labelled(main, order)[1], families_of(main))  # one look per solver in every figure
    tables: dict = {}
    if len(ok):
        ordered = ok.assign(_o=ok["solver"].map({n: i for i, n in enumerate(legend_order(names))}))
        ordered = ordered.sort_values("_o", kind="stable").drop(columns="_o")
        tables = {m: stats.metric_tables(ordered, m, reference=vs, n_resamples=REPORT_RESAMPLES) for m in chosen}
        files.update(stats.stats_files(ordered, chosen, reference=vs, figures=figures, styles=styles,
                                       n_resamples=REPORT_RESAMPLES, tables=tables))
    if figures:
        images = list(dict.fromkeys(main["image"]))
        study_images = list(((meta.get("study") or {}).get("images") or {}).keys())
        if gallery_image is None:
            gallery_image = next((i for i in study_images if i in images), images[0])
        elif gallery_image not in images:
            raise InputError(f"image '{gallery_image}' is not in the study ({', '.join(images)}); "
                             f"pick one of those for the gallery")
        if len(ok):
            for metric, label, fname in METRIC_FIGURES:
                if measured(main, metric):
                    files[fname] = _png(metric_figure(main, metric, label, order, styles))
        files["gallery.png"] = _png(gallery_figure(main, out, gallery_image, order), tight=False)
    figs = {k: None for k in files if k.endswith(".png")}
    stats_md = files.get("stats.md", b"").decode()
    intervals = {m: t["intervals"] for m, t in tables.items()} if len(setups(df)) == 1 else {}
    files["summary.md"] = summary_markdown(df, meta, figures=figs, stats=stats_md, reference=vs,
                                           intervals=intervals).encode()
    return write_files_atomically(out, files)
