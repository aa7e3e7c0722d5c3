"""Comparisons a reviewer would accept: intervals, paired differences, ranks, fronts and profiles.

Pure functions over a runs table (one row per run, as ``bench run`` writes
``runs.csv``: ``solver``, ``image``, ``lines``, ``seed``/``replicate``, the
metrics, ``seconds``, ``error``). The report calls them; scripts can too.

The unit of evidence is the image
---------------------------------
A study runs every solver on a few images (8 in ``results/default``), some of
them with several seeds. The question a table answers is "how does this solver
do on pictures like these", so the **image** is the sampling unit and seeds are
nested inside it. Every function here first averages a solver's finished runs
*within* an image (over its seeds: :func:`image_means`) and then works on those
per-image means:

* :func:`cell_intervals` -- per (solver, lines) cell the mean over images and a
  bootstrap confidence interval that resamples **images** (with replacement),
  each carrying its mean over seeds. This is the first stage of a two-stage
  (cluster) bootstrap only: resampling the seeds inside each image as well
  would add the within-image variance a second time, because it is already in
  the spread of the per-image means, and overstates the interval (Davison and
  Hinkley 1997, sec. 3.8; Ren et al. 2010, "Nonparametric bootstrapping for
  hierarchical data"). With one or two seeds per image, and deterministic
  solvers that have one run per image whatever the seed, a second stage would
  have next to nothing to resample anyway. The interval is therefore about the
  images: it says how much the cell's mean could move on another draw of
  pictures like these, seeds included in each picture's value.
* :func:`paired` -- every solver against a reference solver on the *same*
  images: the per-image differences (each side averaged over its seeds first),
  their mean with a bootstrap interval over images, and wins / ties / losses.
  Pairing removes the image-to-image spread that both solvers share, so a
  paired interval is much narrower than two cell intervals side by side.
* :func:`ranks` -- the mean rank of each solver over images (1 = best, ties
  averaged), on the images every compared solver finished.
* :func:`pareto` -- the solvers no other solver beats on both mean seconds and
  mean quality, per line count.
* :func:`performance_profile` -- the share of images on which a solver is
  within ``tau`` (in the metric's units) of the best solver on that image.
* :func:`per_image` -- the image x solver table behind all of them.

Intervals are :func:`scipy.stats.bootstrap` percentile intervals (rliable's
choice; ``method="BCa"`` is available, its acceleration is a jackknife over as
few points as there are images) with a fixed seed, so a report is
reproducible. All cells with the same number of images go through one
vectorised call that draws the same resamples of image positions, so a cell's
interval depends on its own values and the seed only, not on the other cells.
A cell with one image has no interval (``NaN`` bounds; the Markdown says
"1 image"); a cell whose images all have the same value has the degenerate
interval ``[mean, mean]``.

Missing data: a failed run (``error`` not empty) and a non-finite value (an
identical picture's ``inf`` PSNR) are left out; an image keeps the seeds that
remain. Paired differences use the images both solvers finished; ranks use the
images every solver of that line count finished; a performance profile counts
an image a solver did not finish as "not within tau".

Tie tolerances (:data:`TIES`): 0.002 for SSIM and L1 (below the seed-to-seed
spread of the stochastic solvers in ``results/default``: a median of 0.004 SSIM
for ``ga``, 0.0075 for ``random``; and below what one sees), 0.05 dB for PSNR,
0.1 for mean CIEDE2000 (a tenth of a just-noticeable difference).

The figures (:func:`pareto_figure`, :func:`profile_figure`) are drawn with
matplotlib's Agg backend and saved by :func:`png_bytes` without metadata, so the
same table gives the same PNG bytes.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from rendering import InputError

#: resamples per bootstrap interval: the Monte Carlo error of a 95 % percentile bound is then ~1 % of the
#: interval's width; the tables of one metric of ``results/default`` (68 cells, 64 pairs, ranks) take ~0.2 s
N_RESAMPLES = 9999
#: the metrics of each set the report can show (``bench report --metrics``)
METRIC_SETS = {"view": ("ssim", "l1", "psnr"), "full": ("ssim_full", "l1_full", "psnr_full"),
               "blur2": ("ssim_blur2", "psnr_blur2"), "colour": ("de2000", "ssim", "l1")}
#: default tie tolerance of a metric family (a metric's family is its name before ``_``): |difference| <= tie
TIES = {"ssim": 0.002, "l1": 0.002, "psnr": 0.05, "de2000": 0.1}
#: families where a lower value is better (all others listed in :data:`TIES` are "higher is better")
LOWER_IS_BETTER = ("l1", "de2000", "seconds", "wall_seconds")
HIGHER_IS_BETTER = ("ssim", "psnr")
#: names of the metrics in figure and table captions
LABELS = {"ssim": "SSIM (viewing scale)", "l1": "L1 (viewing scale)", "psnr": "PSNR dB (viewing scale)",
          "ssim_full": "SSIM (full resolution)", "l1_full": "L1 (full resolution)",
          "psnr_full": "PSNR dB (full resolution)", "ssim_blur2": "SSIM after a 2 px blur",
          "psnr_blur2": "PSNR dB after a 2 px blur", "de2000": "mean CIEDE2000 (viewing scale)",
          "de2000_full": "mean CIEDE2000 (full resolution)"}

_NEEDED = ("image", "lines")


# --------------------------------------------------------------------------- input
def _family(metric: str) -> str:
    return metric if metric in ("seconds", "wall_seconds") else metric.split("_")[0]


def is_higher_better(metric: str, override: bool | None = None) -> bool:
    """Whether a higher value of ``metric`` is better (SSIM, PSNR) or a lower one (L1, CIEDE2000, seconds).

    >>> is_higher_better("ssim_blur2"), is_higher_better("l1_full")
    (True, False)
    """
    if override is not None:
        return bool(override)
    fam = _family(metric)
    if fam in HIGHER_IS_BETTER:
        return True
    if fam in LOWER_IS_BETTER:
        return False
    raise InputError(f"no direction known for metric '{metric}' (known: {', '.join(HIGHER_IS_BETTER)} higher is "
                     f"better, {', '.join(LOWER_IS_BETTER)} lower); pass higher_is_better=True or False")


def tie_tolerance(metric: str, tie: float | None = None) -> float:
    """The tie tolerance of ``metric``: ``tie`` when given, else its family's default from :data:`TIES`.

    >>> tie_tolerance("ssim_full"), tie_tolerance("psnr_blur2")
    (0.002, 0.05)
    """
    if tie is not None:
        t = float(tie)
        if not (np.isfinite(t) and t >= 0):
            raise InputError(f"the tie tolerance must be a number >= 0, got {tie!r}; use e.g. --tie 0.002")
        return t
    fam = _family(metric)
    if fam not in TIES:
        raise InputError(f"no default tie tolerance for metric '{metric}' (defaults: "
                         f"{', '.join(f'{k} {v:g}' for k, v in TIES.items())}); pass tie=...")
    return TIES[fam]


def _check_frame(df, metric: str, by: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"expected a runs table (a pandas DataFrame as read from runs.csv), got "
                         f"{type(df).__name__}; read it with bench.storage.read_runs")
    if df.empty:
        raise InputError("the runs table is empty; run the study first (bench run) or pass a table with runs")
    missing = [c for c in (by, *_NEEDED, metric) if c not in df.columns]
    if missing:
        have = [c for c in df.columns if c in LABELS or c in ("seconds", "wall_seconds")]
        if metric in missing and len(missing) == 1:
            raise InputError(f"metric '{metric}' is not in the runs table (it has {', '.join(have) or 'no metric'}); "
                             f"pick one of those or re-score the study")
        raise InputError(f"the runs table lacks the columns {', '.join(missing)}; expected a table written by "
                         f"`bench run`")
    if "pins" in df.columns and "canvas" in df.columns:
        setups = df[["pins", "canvas"]].drop_duplicates()
        if len(setups) > 1:
            pairs = ", ".join(f"{int(p)} pins / {int(c)} px" for p, c in setups.itertuples(index=False))
            raise InputError(f"the table mixes {len(setups)} set-ups ({pairs}); compare one set-up at a time, "
                             f"e.g. df[(df.pins == P) & (df.canvas == C)]")


def finished(df: pd.DataFrame, metric: str, *, by: str = "solver") -> pd.DataFrame:
    """The finished runs with a finite ``metric``: columns ``solver, lines, image, value`` (+ ``seconds``).

    ``by`` names the column that tells solvers apart (``"label"`` for a table
    where one solver ran with several configs and the caller labelled them).
    """
    _check_frame(df, metric, by)
    ok = df["error"].fillna("").astype(str) == "" if "error" in df.columns else pd.Series(True, index=df.index)
    value = pd.to_numeric(df[metric], errors="coerce").astype(float)
    ok &= np.isfinite(value)
    out = pd.DataFrame({"solver": df[by].astype(str), "lines": pd.to_numeric(df["lines"]).astype(int),
                        "image": df["image"].astype(str), "value": value})
    if "seconds" in df.columns:
        out["seconds"] = pd.to_numeric(df["seconds"], errors="coerce").astype(float)
    out = out[ok.to_numpy()]
    if out.empty:
        raise InputError(f"no finished run has a finite '{metric}' ({len(df)} runs, "
                         f"{int((~ok).sum())} failed or non-finite); re-run the failed runs")
    return out


def _order(values: Iterable) -> list:
    return list(dict.fromkeys(values))


def image_means(df: pd.DataFrame, metric: str, *, by: str = "solver") -> pd.DataFrame:
    """The first stage of every comparison: each (solver, lines, image)'s mean over its finished seeds.

    Returns
    -------
    DataFrame with columns ``solver, lines, image, value, n_runs`` (and ``seconds``, the mean solver
    seconds, when the table has them), solvers in the table's order, then lines and images
    """
    ok = finished(df, metric, by=by)
    cols = ["value", "seconds"] if "seconds" in ok.columns else ["value"]
    g = ok.groupby(["solver", "lines", "image"], sort=False)
    out = g[cols].mean().reset_index()
    out["n_runs"] = g.size().to_numpy()
    rank = {s: i for i, s in enumerate(_order(ok["solver"]))}
    out = out.sort_values(["solver", "lines"], key=lambda s: s.map(rank) if s.name == "solver" else s,
                          kind="stable").reset_index(drop=True)
    return out[["solver", "lines", "image", *cols, "n_runs"]]


# --------------------------------------------------------------------------- the bootstrap
def _check_ci(confidence: float, n_resamples: int, method: str) -> None:
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        raise InputError(f"confidence must be between 0 and 1, got {confidence!r}; use e.g. 0.95")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 100:
        raise InputError(f"n_resamples must be an integer >= 100, got {n_resamples!r}; use e.g. {N_RESAMPLES}")
    if method not in ("percentile", "BCa", "basic"):
        raise InputError(f"method must be 'percentile', 'BCa' or 'basic', got {method!r}")


def mean_intervals(samples: Sequence[np.ndarray], *, confidence: float = 0.95, n_resamples: int = N_RESAMPLES,
                   seed: int = 0, method: str = "percentile") -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap confidence bounds of the mean of each 1-D sample (:func:`scipy.stats.bootstrap`).

    Samples of one length are resampled in one vectorised call with the same
    resampled positions, so each sample's bounds depend on its values and
    ``seed`` only. A sample of length 1 gets ``NaN`` bounds; one whose values
    are all equal gets ``(value, value)``. No warning escapes.

    Returns
    -------
    low, high : (len(samples),) float64
    """
    from scipy import stats

    _check_ci(confidence, n_resamples, method)
    low = np.full(len(samples), np.nan)
    high = np.full(len(samples), np.nan)
    groups: dict[int, list[int]] = {}
    for i, s in enumerate(samples):
        s = np.asarray(s, dtype=np.float64)
        if s.size < 2:
            continue
        if np.all(s == s[0]):
            low[i] = high[i] = s[0]
            continue
        groups.setdefault(s.size, []).append(i)
    for _n, idx in groups.items():
        data = np.stack([np.asarray(samples[i], dtype=np.float64) for i in idx])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BCa's jackknife on a tiny sample: its NaNs are handled below
            res = stats.bootstrap((data,), np.mean, axis=-1, vectorized=True, n_resamples=int(n_resamples),
                                  confidence_level=float(confidence), method=method,
                                  rng=np.random.default_rng(seed))
            lo, hi = np.atleast_1d(res.confidence_interval.low), np.atleast_1d(res.confidence_interval.high)
            bad = ~(np.isfinite(lo) & np.isfinite(hi))
            if bad.any():  # BCa could not be computed for these rows: the percentile interval instead
                res2 = stats.bootstrap((data,), np.mean, axis=-1, vectorized=True, n_resamples=int(n_resamples),
                                       confidence_level=float(confidence), method="percentile",
                                       rng=np.random.default_rng(seed))
                lo = np.where(bad, res2.confidence_interval.low, lo)
                hi = np.where(bad, res2.confidence_interval.high, hi)
        low[idx], high[idx] = lo, hi
    return low, high


# --------------------------------------------------------------------------- tables
def cell_intervals(df: pd.DataFrame, metric: str, *, confidence: float = 0.95, n_resamples: int = N_RESAMPLES,
                   seed: int = 0, method: str = "percentile", by: str = "solver") -> pd.DataFrame:
    """Per (solver, lines) cell: the mean of ``metric`` over images and its bootstrap interval over images.

    Each image counts once with its mean over seeds (:func:`image_means`); the
    interval resamples images (see the module's docstring for why not seeds).

    Parameters
    ----------
    df : runs table (one set-up: one pin count and canvas)
    metric : a metric column, e.g. ``"ssim"``
    confidence : the interval's coverage, in (0, 1)
    n_resamples : bootstrap resamples (>= 100)
    seed : the bootstrap's seed (the same seed, the same interval)
    method : ``"percentile"`` (default), ``"BCa"`` or ``"basic"``
    by : the column naming the solvers

    Returns
    -------
    DataFrame with columns ``solver, lines, mean, ci_low, ci_high, n_images, n_runs``: one row per cell,
    solvers in the table's order, lines ascending; ``ci_low = ci_high = NaN`` for a cell with one image
    """
    im = image_means(df, metric, by=by)
    rows, samples = [], []
    for (solver, lines), g in im.groupby(["solver", "lines"], sort=False):
        v = g["value"].to_numpy()
        samples.append(v)
        rows.append({"solver": solver, "lines": int(lines), "mean": float(v.mean()), "n_images": int(v.size),
                     "n_runs": int(g["n_runs"].sum())})
    low, high = mean_intervals(samples, confidence=confidence, n_resamples=n_resamples, seed=seed, method=method)
    out = pd.DataFrame(rows)
    out.insert(3, "ci_low", low)
    out.insert(4, "ci_high", high)
    return _sorted(out)


def _sorted(out: pd.DataFrame, order: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows by solver (in ``order``, else first appearance), then by lines."""
    rank = {s: i for i, s in enumerate(order if order is not None else _order(out["solver"]))}
    return out.sort_values(["solver", "lines"], key=lambda s: s.map(rank) if s.name == "solver" else s,
                           kind="stable").reset_index(drop=True)


def paired(df: pd.DataFrame, metric: str, reference: str, *, tie: float | None = None,
           confidence: float = 0.95, n_resamples: int = N_RESAMPLES, seed: int = 0, method: str = "percentile",
           higher_is_better: bool | None = None, by: str = "solver") -> pd.DataFrame:
    """Every solver against ``reference`` on the same images, per line count.

    Per image, each side is first averaged over its seeds; ``delta`` is the
    mean over the images both finished of ``solver - reference`` (in the
    metric's units, so negative L1 is better), with a bootstrap interval over
    those images. A solver *wins* an image when it is better by more than
    ``tie`` (lower for L1 and CIEDE2000, higher for SSIM and PSNR), *loses*
    when worse by more than ``tie``, and ties otherwise.

    Parameters
    ----------
    df : runs table (one set-up)
    metric : a metric column
    reference : the solver every other one is compared with (``bench report --vs``)
    tie : the tie tolerance; default :func:`tie_tolerance` of the metric (0.002 SSIM and L1, 0.05 dB PSNR)
    confidence, n_resamples, seed, method : as :func:`cell_intervals`
    higher_is_better : override the metric's direction (:func:`is_higher_better`)
    by : the column naming the solvers

    Returns
    -------
    DataFrame with columns ``solver, lines, reference, n_images, delta, ci_low, ci_high, wins, ties,
    losses, tie``: one row per (other solver, lines) where the reference ran; ``n_images`` = 0 and NaN
    where the two share no image
    """
    im = image_means(df, metric, by=by)
    solvers = _order(im["solver"])
    if reference not in solvers:
        raise InputError(f"--vs '{reference}' is not a solver of this table; choose one of: {', '.join(solvers)}")
    tol = tie_tolerance(metric, tie)
    sign = 1.0 if is_higher_better(metric, higher_is_better) else -1.0
    wide = im.pivot_table(index=["lines", "image"], columns="solver", values="value", aggfunc="mean", sort=False)
    rows, samples = [], []
    for lines in sorted(im["lines"].unique()):
        sub = wide.loc[lines]
        if reference not in sub.columns or sub[reference].isna().all():
            continue
        ref = sub[reference]
        for s in solvers:
            if s == reference or s not in sub.columns or sub[s].isna().all():
                continue
            d = (sub[s] - ref).dropna().to_numpy()
            better = sign * d
            samples.append(d)
            rows.append({"solver": s, "lines": int(lines), "reference": reference, "n_images": int(d.size),
                         "delta": float(d.mean()) if d.size else np.nan, "wins": int((better > tol).sum()),
                         "ties": int((np.abs(d) <= tol).sum()), "losses": int((better < -tol).sum()), "tie": tol})
    cols = ["solver", "lines", "reference", "n_images", "delta", "ci_low", "ci_high", "wins", "ties", "losses",
            "tie"]
    if not rows:
        return pd.DataFrame(columns=cols)
    low, high = mean_intervals(samples, confidence=confidence, n_resamples=n_resamples, seed=seed, method=method)
    out = pd.DataFrame(rows)
    out["ci_low"], out["ci_high"] = low, high
    return _sorted(out[cols])


def ranks(df: pd.DataFrame, metric: str, *, higher_is_better: bool | None = None,
          by: str = "solver") -> pd.DataFrame:
    """Mean rank of each solver over images, per line count (1 = best; tied solvers share the mean rank).

    Only the images every solver of that line count finished are ranked (a
    complete block, as Demšar 2006 ranks classifiers over data sets), so a
    solver's failures cannot lift or sink the others.

    Returns
    -------
    DataFrame with columns ``solver, lines, mean_rank, n_images, n_solvers``
    """
    im = image_means(df, metric, by=by)
    hib = is_higher_better(metric, higher_is_better)
    rows = []
    for lines in sorted(im["lines"].unique()):
        wide = im[im["lines"] == lines].pivot_table(index="image", columns="solver", values="value", sort=False)
        wide = wide.dropna(axis=0, how="any")
        if wide.empty:
            continue
        r = wide.rank(axis=1, ascending=not hib, method="average")
        for s in r.columns:
            rows.append({"solver": s, "lines": int(lines), "mean_rank": float(r[s].mean()),
                         "n_images": int(len(r)), "n_solvers": int(r.shape[1])})
    out = pd.DataFrame(rows, columns=["solver", "lines", "mean_rank", "n_images", "n_solvers"])
    if out.empty:
        return out
    rank = {s: i for i, s in enumerate(_order(im["solver"]))}
    return out.sort_values(["solver", "lines"], key=lambda s: s.map(rank) if s.name == "solver" else s,
                           kind="stable").reset_index(drop=True)


def pareto_mask(seconds: np.ndarray, value: np.ndarray, *, higher_is_better: bool = True) -> np.ndarray:
    """Which points no other point dominates (no more seconds, no worse value, better in one of them).

    Points that are equal on both count as non-dominated, so both stay on the front.

    >>> pareto_mask(np.array([1.0, 2.0, 3.0, 0.5]), np.array([0.5, 0.4, 0.9, 0.1])).tolist()
    [True, False, True, True]
    """
    s = np.asarray(seconds, dtype=np.float64)
    v = np.asarray(value, dtype=np.float64)
    if not higher_is_better:
        v = -v
    ok = np.isfinite(s) & np.isfinite(v)
    le_s = s[None, :] <= s[:, None]  # [i, j]: j needs no more seconds than i
    ge_v = v[None, :] >= v[:, None]
    strict = (s[None, :] < s[:, None]) | (v[None, :] > v[:, None])
    dominated = (le_s & ge_v & strict & ok[None, :]).any(axis=1)
    return ok & ~dominated


def pareto(df: pd.DataFrame, metric: str, *, higher_is_better: bool | None = None,
           by: str = "solver") -> pd.DataFrame:
    """The Pareto front of (mean seconds, mean ``metric``) over solvers, per line count.

    Both means are over images of the per-image means over seeds. A solver is
    on the front when no other solver of that line count is at least as fast
    and at least as good, and strictly better in one.

    Returns
    -------
    DataFrame with columns ``solver, lines, seconds, value, n_images, on_front``; per line count sorted by seconds
    """
    im = image_means(df, metric, by=by)
    if "seconds" not in im.columns:
        raise InputError("the runs table has no 'seconds' column; a Pareto front needs each run's solver seconds")
    hib = is_higher_better(metric, higher_is_better)
    g = im.groupby(["lines", "solver"], sort=False)
    out = g[["seconds", "value"]].mean().reset_index()
    out["n_images"] = g.size().to_numpy()
    parts = []
    for _, sub in out.groupby("lines", sort=True):
        sub = sub.copy()
        sub["on_front"] = pareto_mask(sub["seconds"].to_numpy(), sub["value"].to_numpy(), higher_is_better=hib)
        parts.append(sub.sort_values(["seconds", "value"], ascending=[True, not hib], kind="stable"))
    return pd.concat(parts, ignore_index=True)[["solver", "lines", "seconds", "value", "n_images", "on_front"]]


def default_taus(df: pd.DataFrame, metric: str, *, n: int = 51, higher_is_better: bool | None = None,
                 by: str = "solver") -> np.ndarray:
    """``n`` evenly spaced tolerances from 0 to the largest gap to the best (over images and line counts) of the
    better half of the solvers (by mean gap): the curves of the better half all reach 1, the weak ones run off
    the right edge (they are not within that tau on every image)."""
    im = image_means(df, metric, by=by)
    hib = is_higher_better(metric, higher_is_better)
    best = im.groupby(["lines", "image"])["value"].transform("max" if hib else "min")
    gap = (best - im["value"]).abs()
    per = gap.groupby(im["solver"]).agg(["mean", "max"]).sort_values("mean", kind="stable")
    top = float(per["max"].iloc[: max(1, -(-len(per) // 2))].max())
    return np.linspace(0.0, top if top > 0 else 1.0, n)


def performance_profile(df: pd.DataFrame, metric: str, taus: Sequence[float] | None = None, *,
                        higher_is_better: bool | None = None, by: str = "solver") -> pd.DataFrame:
    """Share of images on which each solver is within ``tau`` of the best solver on that image, per line count.

    The gap is absolute, in the metric's units (``best - value`` for SSIM,
    ``value - best`` for L1): a Dolan-Moré profile with differences instead of
    ratios, since an SSIM ratio means little. At ``tau = 0`` a solver's share
    is the share of images where it is (one of) the best. The images of a line
    count are those any solver finished; an image a solver did not finish
    counts as not within tau.

    Parameters
    ----------
    taus : tolerances >= 0; default :func:`default_taus`

    Returns
    -------
    DataFrame with columns ``solver, lines, tau, share, n_images``
    """
    im = image_means(df, metric, by=by)
    hib = is_higher_better(metric, higher_is_better)
    taus = default_taus(df, metric, higher_is_better=hib, by=by) if taus is None else np.asarray(taus, float)
    if taus.ndim != 1 or taus.size == 0 or not np.all(np.isfinite(taus)) or (taus < 0).any():
        raise InputError(f"taus must be a non-empty list of numbers >= 0, got {taus.tolist()}; use e.g. [0, 0.01]")
    parts = []
    for lines in sorted(im["lines"].unique()):
        wide = im[im["lines"] == lines].pivot_table(index="image", columns="solver", values="value", sort=False)
        vals = wide.to_numpy(float)
        best = np.nanmax(vals, axis=1) if hib else np.nanmin(vals, axis=1)
        gap = (best[:, None] - vals) * (1.0 if hib else -1.0)  # NaN where a solver did not finish the image
        eps = 1e-12 * max(1.0, float(np.nanmax(np.abs(vals))))  # rounding of the best's own gap
        with np.errstate(invalid="ignore"):
            share = (gap[:, :, None] <= taus[None, None, :] + eps).sum(axis=0) / vals.shape[0]  # (solvers, taus)
        parts.append(pd.DataFrame({"solver": np.repeat(np.asarray(wide.columns, dtype=object), taus.size),
                                   "lines": int(lines), "tau": np.tile(taus, vals.shape[1]),
                                   "share": share.ravel(), "n_images": vals.shape[0]}))
    out = pd.concat(parts, ignore_index=True)
    rank = {s: i for i, s in enumerate(_order(im["solver"]))}
    return out.sort_values(["solver", "lines", "tau"], key=lambda s: s.map(rank) if s.name == "solver" else s,
                           kind="stable").reset_index(drop=True)


def per_image(df: pd.DataFrame, metric: str, lines: int, *, by: str = "solver") -> pd.DataFrame:
    """The image x solver table of ``metric`` at ``lines`` (each cell the mean over that image's seeds).

    Returns
    -------
    DataFrame: index ``image`` (the table's order), one column per solver (the table's order); NaN where a
    solver did not finish an image
    """
    im = image_means(df, metric, by=by)
    have = sorted(int(n) for n in im["lines"].unique())
    if int(lines) not in have:
        raise InputError(f"no finished run has {lines} lines; choose one of {', '.join(map(str, have))}")
    sub = im[im["lines"] == int(lines)]
    t = sub.pivot_table(index="image", columns="solver", values="value", sort=False)
    t = t.reindex(index=_order(sub["image"]), columns=[s for s in _order(im["solver"]) if s in t.columns])
    t.columns.name = None
    return t


# --------------------------------------------------------------------------- Markdown
def _num(v: float, digits: int) -> str:
    if v is None or not np.isfinite(v):
        return "—" if v is None or np.isnan(v) else ("inf" if v > 0 else "-inf")
    return f"{v:.{digits}f}"


def format_ci(mean: float, low: float, high: float, *, digits: int = 3, style: str = "brackets",
              n_images: int | None = None) -> str:
    """A mean and its interval in one compact cell.

    ``style="brackets"``: ``0.618 [0.600, 0.640]``; ``style="pm"``: ``0.618 ±0.020`` (half the interval's
    width; a percentile interval need not be symmetric, so brackets are the exact form). Without an
    interval (one image): ``0.618 (1 image)``.

    >>> format_ci(0.6181, 0.6003, 0.6399), format_ci(0.6181, 0.6003, 0.6399, style="pm", digits=2)
    ('0.618 [0.600, 0.640]', '0.62 ±0.02')
    >>> format_ci(0.5, float("nan"), float("nan"), n_images=1)
    '0.500 (1 image)'
    """
    m = _num(mean, digits)
    if mean is None or not np.isfinite(mean):
        return m
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return f"{m} ({n_images} image{'s' if n_images != 1 else ''})" if n_images is not None else f"{m} (no CI)"
    if style == "pm":
        return f"{m} ±{(high - low) / 2:.{digits}f}"
    if style != "brackets":
        raise InputError(f"style must be 'brackets' or 'pm', got {style!r}")
    return f"{m} [{_num(low, digits)}, {_num(high, digits)}]"


def _md(header: list[str], rows: list[list[str]], right: int = 1) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * right + "---:|" * (len(header) - right)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def intervals_markdown(cells: pd.DataFrame, *, digits: int = 3, style: str = "brackets",
                       best: str | None = None) -> str:
    """:func:`cell_intervals` as a Markdown table: solvers (rows) x line counts, each cell ``mean [low, high]``.

    ``best="max"`` or ``"min"`` bolds each column's best mean.
    """
    lines = sorted(int(n) for n in cells["lines"].unique())
    solvers = _order(cells["solver"])
    key = cells.set_index(["solver", "lines"])
    bold = {}
    if best in ("max", "min"):
        for n in lines:
            col = cells[cells["lines"] == n].set_index("solver")["mean"]
            if len(col) > 1:
                bold[n] = col.idxmax() if best == "max" else col.idxmin()
    rows = []
    for s in solvers:
        r = [s]
        for n in lines:
            if (s, n) not in key.index:
                r.append("—")
                continue
            c = key.loc[(s, n)]
            text = format_ci(c["mean"], c["ci_low"], c["ci_high"], digits=digits, style=style,
                             n_images=int(c["n_images"]))
            r.append(f"**{text}**" if bold.get(n) == s else text)
        rows.append(r)
    return _md(["solver", *map(str, lines)], rows)


def paired_markdown(table: pd.DataFrame, *, digits: int = 3, lines: int | None = None) -> str:
    """:func:`paired` as Markdown: per line count a table ``solver | Δ mean [CI] | W/T/L``.

    A Δ whose interval excludes 0 is bold. The heading of each table names the
    reference, the number of images and the tie tolerance.
    """
    if table.empty:
        return "_no solver shares an image with the reference_"
    out = []
    for n in ([int(lines)] if lines is not None else sorted(int(x) for x in table["lines"].unique())):
        sub = table[table["lines"] == n]
        if sub.empty:
            continue
        ref, tol = sub["reference"].iloc[0], float(sub["tie"].iloc[0])
        rows = []
        for r in sub.itertuples(index=False):
            text = format_ci(r.delta, r.ci_low, r.ci_high, digits=digits, n_images=r.n_images)
            if np.isfinite(r.delta):
                text = text if r.delta < 0 or text.startswith("+") else "+" + text
            sig = np.isfinite(r.ci_low) and np.isfinite(r.ci_high) and (r.ci_low > 0 or r.ci_high < 0)
            rows.append([str(r.solver), f"**{text}**" if sig else text, f"{r.wins}/{r.ties}/{r.losses}"])
        n_img = int(sub["n_images"].max())
        out.append(f"**{n} lines**, each solver minus {ref} on the same images (up to {n_img}); "
                   f"W/T/L = images better / within {tol:g} / worse")
        out.append("")
        out.append(_md(["solver", f"Δ mean [{ref}]", "W/T/L"], rows))
        out.append("")
    return "\n".join(out).rstrip()


def ranks_markdown(table: pd.DataFrame, *, digits: int = 2) -> str:
    """:func:`ranks` as a Markdown table: solvers (rows, best mean rank at the largest line count first) x lines."""
    if table.empty:
        return "_no image was finished by every solver_"
    lines = sorted(int(n) for n in table["lines"].unique())
    wide = table.pivot_table(index="solver", columns="lines", values="mean_rank", sort=False)
    wide = wide.sort_values(lines[-1], kind="stable")
    n_img = table.groupby("lines")["n_images"].first()
    rows = [[str(s), *(_num(wide.loc[s, n], digits) for n in lines)] for s in wide.index]
    return _md(["solver", *(f"{n} ({int(n_img[n])} img)" for n in lines)], rows)


# --------------------------------------------------------------------------- figures
#: colour-blind-safe colours (Okabe-Ito, then Paul Tol's muted) and markers, cycled for solvers without a style
_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
            "#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "*", "p")


def default_styles(labels: Sequence[str]) -> dict[str, dict]:
    """A distinct (colour, marker, line style) per solver in the given order; pass the report's own styles instead
    to match its other figures (any dict ``label -> {"color", "marker", "linestyle"}``)."""
    styles = ("-", "--", ":", "-.")
    return {lab: {"color": _COLOURS[i % len(_COLOURS)], "marker": _MARKERS[i % len(_MARKERS)],
                  "linestyle": styles[i % len(styles)]} for i, lab in enumerate(labels)}


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes, then closed. Agg writes no time stamp; with ``Software`` dropped the PNG holds
    no metadata, so the same figure gives the same bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, metadata={"Software": None},  # laid out by hand: one draw
                pil_kwargs={"compress_level": 3})
    _plt().close(fig)
    return buf.getvalue()


def _panels(n: int, *, width: float = 4.0, height: float = 3.1, legend: float = 2.3):
    """A figure of ``n`` panels, two a row, sharing the y axis, with ``legend`` inches on the right for the legend.

    The layout is fixed by hand (not matplotlib's constrained layout, which measures every tick label again and
    took 1.6 s of a 4-panel figure's 2 s)."""
    plt = _plt()
    cols = min(n, 2)
    rows = -(-n // cols)
    w, h = width * cols + legend, height * rows + 0.5
    fig, axes = plt.subplots(rows, cols, figsize=(w, h), dpi=100, squeeze=False, sharey=True)
    fig.subplots_adjust(left=0.7 / w, right=1 - (legend + 0.1) / w, bottom=0.55 / h, top=1 - 0.55 / h,
                        wspace=0.08, hspace=0.45 * rows / h * 2.2)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, list(axes.ravel()[:n])


def _style(styles: dict | None, labels: Sequence[str]) -> dict[str, dict]:
    base = default_styles(labels)
    return {s: {**base[s], **(styles or {}).get(s, {})} for s in labels}


def _legend(fig, labels, styles, extra=()):
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=styles[s]["color"], marker=styles[s]["marker"], ls=styles[s]["linestyle"],
                      lw=1.2, markersize=5, markeredgecolor="white", markeredgewidth=0.5) for s in labels]
    texts = list(labels)
    for h, t in extra:
        handles.append(h)
        texts.append(t)
    right = max(ax.get_position().x1 for ax in fig.axes if ax.get_visible())
    fig.legend(handles, texts, loc="upper left", bbox_to_anchor=(right + 0.01, 1 - 0.55 / fig.get_figheight()),
               fontsize=7, handlelength=2.6, ncols=1 if len(texts) <= 28 else 2, borderaxespad=0.0)


def pareto_figure(df: pd.DataFrame, metric: str, *, styles: dict | None = None, ylabel: str | None = None,
                  confidence: float = 0.95, n_resamples: int = N_RESAMPLES, seed: int = 0,
                  higher_is_better: bool | None = None, by: str = "solver", cells: pd.DataFrame | None = None):
    """Mean ``metric`` against mean solver seconds (log), one panel per line count: bars are the bootstrap
    intervals over images, the grey staircase is the Pareto front, whose solvers are listed in the panel's
    corner (fast and good: the corner no solver reaches) from fastest to best; a Figure (Agg).

    ``cells``: :func:`cell_intervals` of the same table and metric, when already computed.
    """
    from matplotlib.lines import Line2D

    hib = is_higher_better(metric, higher_is_better)
    front = pareto(df, metric, higher_is_better=hib, by=by)
    if cells is None:
        cells = cell_intervals(df, metric, confidence=confidence, n_resamples=n_resamples, seed=seed, by=by)
    key = cells.set_index(["solver", "lines"])
    labels = _order(cells["solver"])
    styles = _style(styles, labels)
    lines = sorted(int(n) for n in front["lines"].unique())
    name = ylabel or LABELS.get(metric, metric)
    fig, axes = _panels(len(lines))
    for ax, n in zip(axes, lines):
        sub = front[front["lines"] == n]
        x = np.maximum(sub["seconds"].to_numpy(float), 1e-4)
        ci = key.loc[[(s_, n) for s_ in sub["solver"]], ["ci_low", "ci_high"]].to_numpy(float)
        has = np.isfinite(ci).all(axis=1)
        ax.vlines(x[has], ci[has, 0], ci[has, 1], colors=[styles[s_]["color"] for s_ in sub["solver"][has]],
                  lw=0.8, alpha=0.9, zorder=2)
        for xi, r in zip(x, sub.itertuples(index=False)):
            st = styles[r.solver]
            ax.plot([xi], [r.value], color=st["color"], marker=st["marker"], markersize=5, markeredgecolor="white",
                    markeredgewidth=0.5, ls="none", zorder=3)
        f = sub[sub["on_front"]].sort_values("seconds")
        if len(f):
            ax.step(np.maximum(f["seconds"], 1e-4), f["value"], where="post", color="0.5", lw=4, alpha=0.3,
                    zorder=1, solid_capstyle="butt")
            # fast and good is the empty corner (up-left when higher is better): the front's names go there
            ax.text(0.02, 0.97 if hib else 0.03, "front:\n" + "\n".join(f["solver"]), transform=ax.transAxes,
                    ha="left", va="top" if hib else "bottom", fontsize=6, color="0.25",
                    bbox=dict(boxstyle="round,pad=0.25", fc="white", ec="0.8", alpha=0.85))
        ax.set_xscale("log")
        ax.minorticks_off()  # minor log ticks cost a quarter of the figure's time and crowd the axis
        ax.set_title(f"{n} lines", fontsize=9)
        ax.set_xlabel("solver seconds (log)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes[::2]:
        ax.set_ylabel(name, fontsize=8)
    pct = int(round(confidence * 100))
    _legend(fig, labels, styles, [(Line2D([], [], color="0.5", lw=4, alpha=0.3),
                                   "Pareto front (" + ("up" if hib else "down") + " and left is better)")])
    fig.suptitle(f"{name} vs runtime: means over images; bars: {pct} % bootstrap intervals over images",
                 fontsize=9, x=0.7 / fig.get_figwidth(), ha="left")
    return fig


def profile_figure(df: pd.DataFrame, metric: str, taus: Sequence[float] | None = None, *,
                   styles: dict | None = None, xlabel: str | None = None, higher_is_better: bool | None = None,
                   by: str = "solver"):
    """Performance profiles, one panel per line count: the share of images on which each solver is within tau of
    the best solver on that image, against tau (:func:`performance_profile`); a Figure (Agg).

    A solver's curve starts at the share of images where it is the best (marked) and reaches 1 at its
    largest gap; curves further up and left are better.
    """
    prof = performance_profile(df, metric, taus, higher_is_better=higher_is_better, by=by)
    labels = _order(prof["solver"])
    styles = _style(styles, labels)
    lines = sorted(int(n) for n in prof["lines"].unique())
    fig, axes = _panels(len(lines))
    for ax, n in zip(axes, lines):
        sub = prof[prof["lines"] == n]
        for s in labels:
            p = sub[sub["solver"] == s]
            if p.empty:
                continue
            st = styles[s]
            ax.step(p["tau"], p["share"], where="post", color=st["color"], ls=st["linestyle"], lw=1.2, alpha=0.9,
                    marker=st["marker"], markevery=[0], markersize=4.5, markeredgecolor="white",
                    markeredgewidth=0.4, clip_on=False)
        ax.set_title(f"{n} lines ({int(sub['n_images'].iloc[0])} images)", fontsize=9)
        ax.set_xlabel(xlabel or f"tau: gap to the best solver of the image ({metric})", fontsize=8)
        ax.set_xlim(float(sub["tau"].min()), float(sub["tau"].max()))
        ax.set_ylim(-0.03, 1.03)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes[::2]:
        ax.set_ylabel("share of images within tau", fontsize=8)
    _legend(fig, labels, styles)
    fig.suptitle(f"Performance profiles of {LABELS.get(metric, metric)} (higher and further left is better)",
                 fontsize=9, x=0.7 / fig.get_figwidth(), ha="left")
    return fig


# --------------------------------------------------------------------------- everything for one metric
def metric_set(name: str, df: pd.DataFrame | None = None) -> tuple[str, ...]:
    """The metrics of a set (``bench report --metrics``), checked against the table's columns when given."""
    if name not in METRIC_SETS:
        raise InputError(f"--metrics must be one of {', '.join(METRIC_SETS)}, got {name!r}")
    metrics = METRIC_SETS[name]
    if df is not None:
        missing = [m for m in metrics if m not in df.columns]
        if missing:
            raise InputError(f"--metrics {name} needs the columns {', '.join(missing)}, which the runs table lacks; "
                             f"re-score the study's runs or pick --metrics view")
    return metrics


def metric_tables(df: pd.DataFrame, metric: str, *, reference: str | None = None, confidence: float = 0.95,
                  n_resamples: int = N_RESAMPLES, seed: int = 0, by: str = "solver") -> dict[str, pd.DataFrame]:
    """The tables of one metric, computed once: ``{"intervals": cell_intervals, "paired": paired (with a
    reference), "ranks": ranks}``."""
    kw = dict(confidence=confidence, n_resamples=n_resamples, seed=seed, by=by)
    out = {"intervals": cell_intervals(df, metric, **kw)}
    if reference is not None:
        out["paired"] = paired(df, metric, reference, **kw)
    out["ranks"] = ranks(df, metric, by=by)
    return out


def stats_markdown(df: pd.DataFrame, metric: str, *, reference: str | None = None, digits: int = 3,
                   confidence: float = 0.95, n_resamples: int = N_RESAMPLES, seed: int = 0, by: str = "solver",
                   tables: dict[str, pd.DataFrame] | None = None) -> str:
    """A Markdown section for one metric: means with bootstrap intervals, the paired comparison with
    ``reference`` (when given) and mean ranks (``tables``: :func:`metric_tables` already computed)."""
    hib = is_higher_better(metric)
    name = LABELS.get(metric, metric)
    if tables is None:
        tables = metric_tables(df, metric, reference=reference, confidence=confidence, n_resamples=n_resamples,
                               seed=seed, by=by)
    pct = int(round(confidence * 100))
    out = [f"### {name}: mean [{pct} % CI] over images", "",
           f"Each image counts once (its mean over seeds); the interval is a percentile bootstrap over images "
           f"({n_resamples} resamples, seed {seed}). **Bold**: the best mean of a column.", "",
           intervals_markdown(tables["intervals"], digits=digits, best="max" if hib else "min"), ""]
    if reference is not None:
        out += [f"### {name}: paired with {reference}", "",
                f"Δ = solver minus {reference} per image, averaged over the images both finished, with its {pct} % "
                f"bootstrap interval; **bold** where the interval excludes 0. "
                f"{'Higher' if hib else 'Lower'} is better.", "", paired_markdown(tables["paired"], digits=digits), ""]
    out += [f"### {name}: mean rank over images (1 = best)", "", ranks_markdown(tables["ranks"]), ""]
    return "\n".join(out)


def stats_files(df: pd.DataFrame, metrics: Sequence[str], *, reference: str | None = None,
                figures: bool = True, styles: dict | None = None, confidence: float = 0.95,
                n_resamples: int = N_RESAMPLES, seed: int = 0, by: str = "solver",
                tables: dict[str, dict] | None = None) -> dict[str, bytes]:
    """Every table and figure of the comparison, as ``{file name: bytes}`` (ready for an atomic write).

    * ``stats.md`` -- :func:`stats_markdown` of each metric;
    * ``intervals_<metric>.csv`` (:func:`cell_intervals`), ``paired_<metric>.csv`` (:func:`paired`, with a
      reference), ``ranks_<metric>.csv`` (:func:`ranks`);
    * ``pareto_<metric>.png`` and ``profile_<metric>.png`` of the first metric (with ``figures``).

    ``tables``: ``{metric: metric_tables(...)}`` already computed (the report computes them once).
    """
    files: dict[str, bytes] = {}
    md = ["## Statistics over images", ""]
    kw = dict(confidence=confidence, n_resamples=n_resamples, seed=seed, by=by)
    first = None
    for m in metrics:
        got = (tables or {}).get(m) or metric_tables(df, m, reference=reference, **kw)
        first = first or got
        md.append(stats_markdown(df, m, reference=reference, tables=got, **kw))
        for name, t in got.items():
            files[f"{name}_{m}.csv"] = t.to_csv(index=False).encode()
    if figures and metrics:
        m = metrics[0]
        files[f"pareto_{m}.png"] = png_bytes(pareto_figure(df, m, styles=styles, cells=first["intervals"], **kw))
        files[f"profile_{m}.png"] = png_bytes(profile_figure(df, m, styles=styles, by=by))
    files["stats.md"] = "\n".join(md).encode()
    return files
