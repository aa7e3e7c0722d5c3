"""bench.stats on small synthetic runs tables whose answers are known."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from bench import stats as S
from rendering import InputError

FAST = dict(n_resamples=999)


def table(values: dict[str, list[float]], *, lines=(1000,), seeds: int = 1, noise: float = 0.0, seconds=None,
          metric: str = "ssim", seed: int = 0) -> pd.DataFrame:
    """A runs table: ``values[solver][i]`` is the solver's mean on image i (the same at every line count); each
    seed adds ``noise`` times a fixed, zero-sum offset, so the per-image mean over seeds is exactly the value."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in lines:
        for s, vals in values.items():
            for i, v in enumerate(vals):
                offs = np.zeros(seeds) if seeds == 1 else np.linspace(-1, 1, seeds) * rng.uniform(0.5, 1.0)
                for k in range(seeds):
                    rows.append({"solver": s, "config": "{}", "image": f"img{i}", "lines": n, "pins": 64,
                                 "canvas": 128, "seed": 100 + k, "replicate": k, metric: v + noise * offs[k],
                                 "seconds": (seconds or {}).get(s, 1.0), "error": ""})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- nesting and intervals
def test_seeds_are_averaged_inside_each_image_first():
    df = table({"a": [0.2, 0.4, 0.9]}, seeds=3, noise=0.05)
    im = S.image_means(df, "ssim")
    np.testing.assert_allclose(im["value"], [0.2, 0.4, 0.9])
    assert im["n_runs"].tolist() == [3, 3, 3]
    # an image with more seeds does not weigh more: the cell mean is the mean of the image means
    extra = table({"a": [0.9]}, seeds=1).assign(image="img2", seed=999, replicate=3)
    cells = S.cell_intervals(pd.concat([df, extra, extra.assign(seed=1000)]), "ssim", **FAST)
    assert cells["mean"].iloc[0] == pytest.approx(np.mean([0.2, 0.4, 0.9]))
    assert cells["n_images"].iloc[0] == 3 and cells["n_runs"].iloc[0] == 11


def test_intervals_contain_the_mean_and_shrink_with_more_images():
    rng = np.random.default_rng(1)
    few = table({"a": list(rng.normal(0.5, 0.1, 6))})
    many = table({"a": list(rng.normal(0.5, 0.1, 60))})
    c_few = S.cell_intervals(few, "ssim", **FAST).iloc[0]
    c_many = S.cell_intervals(many, "ssim", **FAST).iloc[0]
    for c in (c_few, c_many):
        assert c["ci_low"] < c["mean"] < c["ci_high"]
    assert (c_many["ci_high"] - c_many["ci_low"]) < 0.6 * (c_few["ci_high"] - c_few["ci_low"])
    assert list(S.cell_intervals(few, "ssim", **FAST).columns) == ["solver", "lines", "mean", "ci_low", "ci_high",
                                                                    "n_images", "n_runs"]


def test_the_interval_resamples_images_not_seeds():
    """Seed noise that averages out inside each image leaves the interval unchanged: images are the unit."""
    vals = {"a": [0.3, 0.5, 0.45, 0.6, 0.55]}
    quiet = S.cell_intervals(table(vals, seeds=1), "ssim", **FAST).iloc[0]
    noisy = S.cell_intervals(table(vals, seeds=4, noise=0.2), "ssim", **FAST).iloc[0]
    assert (noisy["ci_low"], noisy["ci_high"]) == pytest.approx((quiet["ci_low"], quiet["ci_high"]), abs=1e-12)


def test_the_interval_is_scipys_percentile_bootstrap_and_deterministic():
    from scipy import stats

    vals = [0.31, 0.52, 0.47, 0.66, 0.58, 0.40, 0.49, 0.71]
    c = S.cell_intervals(table({"a": vals}), "ssim", n_resamples=2000, seed=7).iloc[0]
    ref = stats.bootstrap((np.array(vals),), np.mean, n_resamples=2000, method="percentile",
                          rng=np.random.default_rng(7)).confidence_interval
    assert (c["ci_low"], c["ci_high"]) == pytest.approx((ref.low, ref.high), abs=1e-12)
    again = S.cell_intervals(table({"a": vals}), "ssim", n_resamples=2000, seed=7).iloc[0]
    assert again.equals(c)
    # a cell's interval does not depend on the other cells of the table
    both = S.cell_intervals(table({"b": [0.1] * 3 + [0.9] * 5, "a": vals}), "ssim", n_resamples=2000, seed=7)
    assert both.set_index("solver").loc["a", "ci_low"] == pytest.approx(c["ci_low"], abs=1e-15)


def test_one_image_has_no_interval_and_equal_values_a_point_without_warnings():
    df = pd.concat([table({"one": [0.4]}), table({"flat": [0.7, 0.7, 0.7]})])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cells = S.cell_intervals(df, "ssim", **FAST).set_index("solver")
        for method in ("BCa", "basic"):
            S.cell_intervals(df, "ssim", method=method, **FAST)
    assert np.isnan(cells.loc["one", "ci_low"]) and np.isnan(cells.loc["one", "ci_high"])
    assert cells.loc["one", "mean"] == 0.4 and cells.loc["one", "n_images"] == 1
    assert cells.loc["flat", "ci_low"] == cells.loc["flat", "ci_high"] == pytest.approx(0.7)
    md = S.intervals_markdown(cells.reset_index())
    assert "0.400 (1 image)" in md and "0.700 [0.700, 0.700]" in md


# ---------------------------------------------------------------------------- paired comparisons
def test_a_solver_against_itself_ties_everywhere_and_its_interval_holds_zero():
    vals = [0.3, 0.5, 0.45, 0.6, 0.55, 0.41]
    df = table({"ref": vals, "same": vals}, lines=(500, 1000))
    p = S.paired(df, "ssim", "ref", **FAST)
    assert p["solver"].tolist() == ["same", "same"] and p["lines"].tolist() == [500, 1000]
    for r in p.itertuples():
        assert r.ci_low <= 0 <= r.ci_high and r.delta == 0
        assert (r.wins, r.ties, r.losses) == (0, 6, 0)


def test_a_solver_worse_on_every_image_loses_every_pairing():
    vals = np.array([0.3, 0.5, 0.45, 0.6, 0.55, 0.41, 0.62, 0.38])
    bump = np.linspace(0.01, 0.05, 8)
    df = table({"ref": list(vals), "worse": list(vals - bump), "better": list(vals + bump)}, seeds=2, noise=0.03)
    p = S.paired(df, "ssim", "ref", **FAST).set_index("solver")
    assert (p.loc["worse", ["wins", "ties", "losses"]] == [0, 0, 8]).all()
    assert p.loc["worse", "ci_high"] < 0 and p.loc["worse", "delta"] == pytest.approx(-bump.mean())
    assert (p.loc["better", ["wins", "ties", "losses"]] == [8, 0, 0]).all() and p.loc["better", "ci_low"] > 0
    md = S.paired_markdown(p.reset_index())
    assert "| worse | **-0.030 [" in md and "0/0/8" in md and "| better | **+0.030 [" in md


def test_lower_is_better_metrics_and_the_tie_tolerance():
    ref = [0.20, 0.30, 0.25, 0.22]
    df = table({"ref": ref, "b": [0.19, 0.301, 0.26, 0.2215]}, metric="l1")
    p = S.paired(df, "l1", "ref", **FAST).iloc[0]
    # lower L1 wins: -0.01 is a win, +0.01 a loss, |0.001| and |0.0015| are ties within 0.002
    assert (p.wins, p.ties, p.losses, p.tie) == (1, 2, 1, 0.002)
    p2 = S.paired(df, "l1", "ref", tie=0.0, **FAST).iloc[0]
    assert (p2.wins, p2.ties, p2.losses) == (1, 0, 3)  # +0.001 and +0.0015 are now losses
    assert S.tie_tolerance("psnr_blur2") == 0.05 and S.tie_tolerance("ssim") == 0.002


def test_paired_uses_only_the_images_both_finished():
    df = table({"ref": [0.3, 0.5, 0.4], "b": [0.4, 0.6, 0.1]})
    df.loc[(df.solver == "b") & (df.image == "img2"), "error"] = "RuntimeError: boom"
    p = S.paired(df, "ssim", "ref", **FAST).iloc[0]
    assert p.n_images == 2 and p.delta == pytest.approx(0.1) and (p.wins, p.losses) == (2, 0)


def test_unknown_reference_and_bad_input_are_one_line_input_errors():
    df = table({"greedy": [0.3, 0.4], "random": [0.1, 0.2]})
    with pytest.raises(InputError, match=r"--vs 'greedy-view' is not a solver of this table; choose one of: "
                                         r"greedy, random") as e:
        S.paired(df, "ssim", "greedy-view")
    checks = [(lambda: S.cell_intervals(df.iloc[:0], "ssim"), "the runs table is empty"),
              (lambda: S.cell_intervals(df, "ssim_blur2"), "metric 'ssim_blur2' is not in the runs table"),
              (lambda: S.cell_intervals(df.assign(error="x"), "ssim"), "no finished run has a finite 'ssim'"),
              (lambda: S.cell_intervals(df, "ssim", confidence=95), "confidence must be between 0 and 1"),
              (lambda: S.cell_intervals(df, "ssim", n_resamples=10), "n_resamples must be an integer >= 100"),
              (lambda: S.paired(df, "ssim", "greedy", tie=-1), "tie tolerance must be a number >= 0"),
              (lambda: S.ranks(df.assign(foo=1.0), "foo"), "no direction known for metric 'foo'"),
              (lambda: S.per_image(df, "ssim", 2000), "no finished run has 2000 lines; choose one of 1000"),
              (lambda: S.cell_intervals(pd.concat([df, df.assign(pins=128)]), "ssim"), "mixes 2 set-ups"),
              (lambda: S.metric_set("blur2", df), "--metrics blur2 needs the columns ssim_blur2, psnr_blur2"),
              (lambda: S.metric_set("nope"), "--metrics must be one of view, full, blur2"),
              (lambda: S.cell_intervals([1, 2], "ssim"), "expected a runs table")]
    errors = [e.value]
    for call, msg in checks:
        with pytest.raises(InputError, match=msg) as e:
            call()
        errors.append(e.value)
    assert all("\n" not in str(err) for err in errors)


# ---------------------------------------------------------------------------- ranks, fronts, profiles
def test_ranks_average_ties_and_use_the_images_every_solver_finished():
    df = table({"a": [0.9, 0.5, 0.7], "b": [0.8, 0.5, 0.6], "c": [0.1, 0.2, 0.8]})
    r = S.ranks(df, "ssim").set_index("solver")["mean_rank"]
    # img0: a1 b2 c3; img1: a,b tie 1.5, c3; img2: c1 a2 b3
    assert r.to_dict() == pytest.approx({"a": (1 + 1.5 + 2) / 3, "b": (2 + 1.5 + 3) / 3, "c": (3 + 3 + 1) / 3})
    df.loc[(df.solver == "c") & (df.image == "img2"), "error"] = "x"  # img2 drops out for everyone
    r2 = S.ranks(df, "ssim").set_index("solver")
    assert r2["n_images"].iloc[0] == 2 and r2.loc["c", "mean_rank"] == 3.0
    low = S.ranks(table({"a": [0.1, 0.2], "b": [0.3, 0.1]}, metric="l1"), "l1").set_index("solver")["mean_rank"]
    assert low.to_dict() == {"a": 1.5, "b": 1.5}
    assert "| a | 1.50 |" in S.ranks_markdown(low.reset_index().assign(lines=1000, n_images=2, n_solvers=2))


def test_pareto_front_of_a_constructed_table():
    vals = {"fast-bad": [0.2, 0.2], "mid": [0.5, 0.5], "slow-good": [0.8, 0.8], "dominated": [0.4, 0.4],
            "twin": [0.5, 0.5]}
    secs = {"fast-bad": 0.1, "mid": 1.0, "slow-good": 10.0, "dominated": 2.0, "twin": 1.0}
    front = S.pareto(table(vals, seconds=secs), "ssim")
    assert set(front.loc[front.on_front, "solver"]) == {"fast-bad", "mid", "twin", "slow-good"}
    assert front["seconds"].is_monotonic_increasing
    # with L1 (lower is better) the same numbers make the slowest the worst: only the fastest is on the front
    lf = S.pareto(table(vals, seconds=secs, metric="l1"), "l1")
    assert lf.loc[lf.on_front, "solver"].tolist() == ["fast-bad"]
    assert S.pareto_mask([1.0, 1.0], [0.5, 0.5]).tolist() == [True, True]


def test_performance_profile_at_tau_zero_counts_the_best():
    df = table({"a": [0.9, 0.5, 0.7, 0.6], "b": [0.8, 0.5, 0.75, 0.1], "c": [0.1, 0.2, 0.3, 0.4]})
    prof = S.performance_profile(df, "ssim", [0.0, 0.05, 0.1, 1.0]).set_index(["solver", "tau"])["share"]
    assert prof[("a", 0.0)] == 0.75 and prof[("b", 0.0)] == 0.5 and prof[("c", 0.0)] == 0.0  # img1 a tie
    assert prof[("b", 0.05)] == 0.5 and prof[("b", 0.1)] == 0.75 and prof[("b", 1.0)] == 1.0
    assert prof[("c", 1.0)] == 1.0
    # an image a solver did not finish never counts for it; the others still count out of 4 images
    df.loc[(df.solver == "a") & (df.image == "img0"), "error"] = "x"
    p2 = S.performance_profile(df, "ssim", [0.0]).set_index("solver")
    assert p2.loc["a", "share"] == 0.5 and p2.loc["b", "share"] == 0.75 and (p2["n_images"] == 4).all()


def test_per_image_table():
    df = table({"a": [0.9, 0.5], "b": [0.8, 0.4]}, lines=(1000, 2000), seeds=2, noise=0.01)
    t = S.per_image(df, "ssim", 2000)
    assert t.index.tolist() == ["img0", "img1"] and t.columns.tolist() == ["a", "b"]
    np.testing.assert_allclose(t.to_numpy(), [[0.9, 0.8], [0.5, 0.4]])


def test_format_ci():
    assert S.format_ci(0.6181, 0.6003, 0.6399) == "0.618 [0.600, 0.640]"
    assert S.format_ci(0.6181, 0.6003, 0.6399, style="pm", digits=2) == "0.62 ±0.02"
    assert S.format_ci(0.5, np.nan, np.nan, n_images=1) == "0.500 (1 image)"
    assert S.format_ci(np.nan, np.nan, np.nan) == "—"


# ---------------------------------------------------------------------------- figures and files
def test_figures_are_deterministic_pngs_without_metadata():
    rng = np.random.default_rng(0)
    vals = {s: list(rng.uniform(0.2, 0.8, 5)) for s in ("a", "b", "c")}
    df = table(vals, lines=(1000, 2000, 3000), seconds={"a": 0.1, "b": 1.0, "c": 3.0})
    files = [S.png_bytes(S.pareto_figure(df, "ssim", **FAST)), S.png_bytes(S.profile_figure(df, "ssim"))]
    again = [S.png_bytes(S.pareto_figure(df, "ssim", **FAST)), S.png_bytes(S.profile_figure(df, "ssim"))]
    assert files == again
    for png in files:
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and b"tEXt" not in png and b"tIME" not in png


def test_stats_files_give_the_tables_and_figures():
    df = table({"greedy": [0.5, 0.6, 0.55], "random": [0.1, 0.2, 0.15]}, lines=(1000, 2000),
               seconds={"greedy": 1.0, "random": 0.1})
    df["l1"] = 1 - df["ssim"]
    files = S.stats_files(df, ["ssim", "l1"], reference="greedy", **FAST)
    assert set(files) == {"stats.md", "pareto_ssim.png", "profile_ssim.png", *(f"{k}_{m}.csv" for m in ("ssim", "l1")
                                                                                 for k in ("intervals", "paired",
                                                                                           "ranks"))}
    md = files["stats.md"].decode()
    assert "paired with greedy" in md and "| random | **-0.400 [" in md and "0/0/3" in md
    cells = pd.read_csv(pd.io.common.BytesIO(files["intervals_ssim.csv"]))
    assert cells.columns.tolist() == ["solver", "lines", "mean", "ci_low", "ci_high", "n_images", "n_runs"]
