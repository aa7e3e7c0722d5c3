"""The report's figures are readable: one look per solver, legends outside the data, no text over text,
the same bytes for the same table."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from bench import report, stats
from bench.harness import run_study
from bench.storage import read_runs

TINY = {"pins": 32, "canvas": 32}

#: The default study's solvers (results/default), in its order.
DEFAULT = ["random", "greedy", "greedy-sum", "greedy-view", "greedy+refine", "ga", "greedy+ga", "projection",
           "projection+refine", "ae-chords", "ae-seed", "ae+greedy", "projection+greedy"]
LINES = [1000, 2000, 3000, 4000]


def handmade_runs(solvers=DEFAULT, lines=LINES, images=("camera", "moon")) -> pd.DataFrame:
    """A runs table of the default study's shape (no pin files): scores and seconds made up, reproducibly."""
    rng = np.random.default_rng(0)
    rows = []
    for k, (solver, img, n) in enumerate(itertools.product(solvers, images, lines)):
        rows.append({"run_id": f"r{k}", "solver": solver, "config": "{}", "image": img, "pins": 288, "lines": n,
                     "canvas": 512, "seed": k, "replicate": 0, "master_seed": 0, "ssim": 0.1 + 0.5 * rng.random(),
                     "l1": 0.3 * rng.random(), "psnr": 10.0, "ssim_full": 0.1, "l1_full": 0.3, "psnr_full": 9.0,
                     "seconds": 10 ** rng.uniform(-2, 0.7), "error": "", "pin_file": "", "blank_ssim": 0.23,
                     "blank_l1": 0.5, "flat_ssim": 0.42, "flat_l1": 0.25})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    run_study(solvers=["random", "greedy"], images=["camera"], lines=[20, 40], workers=1, out=out, **TINY)
    return out


def _figures(df, out=None, order=None):
    """The three line/scatter figures and the gallery of a table, as matplotlib Figures."""
    figs = {"ssim_vs_lines": report.metric_figure(df, "ssim", "SSIM (viewing scale)", order),
            "l1_vs_lines": report.metric_figure(df, "l1", "L1 (viewing scale)", order),
            "pareto_ssim": stats.pareto_figure(df, "ssim", styles=report.solver_styles(report._labelled(df, order)[1]),
                                               n_resamples=199)}
    if out is not None:
        figs["gallery"] = report.gallery_figure(df, out, df["image"].iloc[0], order)
    return figs


def _close(figs):
    for fig in figs.values():
        report._plt().close(fig)


# --------------------------------------------------------------------------- styles
def test_every_registered_solver_has_a_family():
    from solvers import solver_names

    assert {n: report.solver_family(n) for n in solver_names() if report.solver_family(n) == "other"} == {}
    assert [report.solver_family(n) for n in ("greedy-fast", "ae+greedy", "projection+greedy", "greedy+ga",
                                              "random", "greedy #1a2b", "gallop", "mine")] == \
        ["other", "learned", "learned", "genetic", "baseline", "greedy", "other", "other"]
    # the family is what the solver declares (a study's runs.csv records it), never parsed from its name
    assert report.solver_family("greedy-ish", {"greedy-ish": "genetic"}) == "genetic"


@pytest.mark.parametrize("names", [
    DEFAULT,
    DEFAULT + [f"mine-{k}" for k in range(20)] + [f"greedy-{k}" for k in range(20)],  # families past 16
    [f"other-{k}" for k in range(30)],
])
def test_every_solver_gets_its_own_colour_and_marker(names):
    styles = report.solver_styles(names)
    pairs = [(s["color"], s["marker"]) for s in styles.values()]
    assert len(styles) == len(names) and len(set(pairs)) == len(pairs)
    assert {s["color"] for s in styles.values()} <= set(report.PALETTE)  # colour-blind-safe colours only
    # the first solvers of each family get the palette's first colours, in the order given
    assert [styles[n]["color"] for n in report.legend_order(names)][:8] == list(report.PALETTE)


def test_families_share_markers_and_line_styles_only_among_themselves():
    styles = report.solver_styles(DEFAULT)
    by_family = {}
    for s in styles.values():
        by_family.setdefault(s["family"], set()).add((s["marker"], str(s["linestyle"])))
    looks = list(by_family.values())
    assert all(a.isdisjoint(b) for a, b in itertools.combinations(looks, 2))
    assert len({s["color"] for s in styles.values()}) == len(report.PALETTE)  # the whole palette is used


def test_legend_groups_families_in_order():
    order = ["ga", "random", "ae-seed", "greedy", "mine", "projection", "greedy-view", "greedy+ga"]
    assert report.legend_order(order) == ["greedy", "greedy-view", "ae-seed", "projection", "ga", "greedy+ga",
                                          "mine", "random"]
    df = handmade_runs(order, lines=[10, 20])
    fig = report.metric_figure(df, "ssim", "SSIM", order)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    report._plt().close(fig)
    titles = report.FAMILY_TITLES
    assert texts == [titles["greedy"], "greedy", "greedy-view", titles["learned"], "ae-seed", "projection",
                     titles["genetic"], "ga", "greedy+ga", titles["other"], "mine", titles["baseline"], "random",
                     "references", "bare board", "flat mean picture"]


def test_a_solver_looks_the_same_in_every_figure():
    df = handmade_runs()
    figs = _figures(df)
    looks = []
    for fig in figs.values():
        leg = _legend_of(fig)
        looks.append({t.get_text(): (h.get_color(), h.get_marker(), str(h.get_linestyle()))
                      for h, t in zip(leg.legend_handles, leg.get_texts()) if t.get_text() in DEFAULT})
    _close(figs)
    assert len(looks[0]) == len(DEFAULT) and looks[0] == looks[1] == looks[2]


# --------------------------------------------------------------------------- layout
def _overlap(a, b, tol=0.5) -> bool:
    """Whether two display boxes overlap by more than ``tol`` pixels both ways."""
    return min(a.x1, b.x1) - max(a.x0, b.x0) > tol and min(a.y1, b.y1) - max(a.y0, b.y0) > tol


def _in_view(axis, label) -> bool:
    """Whether a tick label's tick lies inside the axis's view (only those are drawn)."""
    loc = label.get_position()[0 if axis.axis_name == "x" else 1]
    lo, hi = axis.get_view_interval()
    t = axis.get_transform()
    a, b, x = (float(t.transform([v])[0]) for v in (lo, hi, loc))  # in scale space (log axes)
    return min(a, b) - 1e-9 * abs(b - a) <= x <= max(a, b) + 1e-9 * abs(b - a)


def _texts(fig):
    """(text, display box) of every text the figure draws: titles, axis and tick labels, legend, cells."""
    from matplotlib.text import Text

    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    axes = [a for ax in fig.axes if ax.axison for a in (ax.xaxis, ax.yaxis)]  # an axis turned off draws no ticks
    ticks = {id(t) for a in axes for k in a.majorTicks + a.minorTicks for t in (k.label1, k.label2)}
    drawn = [t for a in axes for t in a.get_ticklabels(which="both") if _in_view(a, t)]
    shown = [t for t in fig.findobj(Text) if id(t) not in ticks] + drawn
    return [(t.get_text(), t.get_window_extent(r)) for t in shown if t.get_visible() and t.get_text().strip()]


def _legend_of(fig):
    """The figure's legend: its axes' (one panel) or the figure's own (panels sharing one legend)."""
    return fig.axes[0].get_legend() or fig.legends[0]


def _assert_layout(figs):
    for name, fig in figs.items():
        texts = _texts(fig)
        clashes = [(a, b) for (a, ba), (b, bb) in itertools.combinations(texts, 2) if _overlap(ba, bb)]
        assert clashes == [], f"{name}: text over text {clashes[:5]}"
        if name != "gallery":
            r = fig.canvas.get_renderer()
            legend = _legend_of(fig).get_window_extent(r)
            for ax in fig.axes:
                if ax.get_visible():
                    data = ax.get_window_extent(r)
                    assert not _overlap(legend, data, tol=0), f"{name}: the legend covers the data area"
                    assert legend.x0 > data.x1  # to the right of the axes


def test_default_sized_figures_have_no_text_over_text_and_legends_outside(tmp_path):
    from PIL import Image

    df = handmade_runs()
    # a solver run with two configs gets two long labels ("projection+refine #abcd")
    extra = df[df["solver"] == "projection+refine"].assign(config='{"x": 1}')
    df = pd.concat([df, extra.assign(run_id=extra["run_id"] + "b")], ignore_index=True)
    (tmp_path / "targets").mkdir()
    Image.fromarray(np.full((64, 64), 128, np.uint8)).save(tmp_path / "targets" / "camera-512.png")
    figs = _figures(df, tmp_path, DEFAULT)
    try:
        _assert_layout(figs)
    finally:
        _close(figs)


def test_tiny_study_figures_have_no_text_over_text(tiny_study):
    df = read_runs(tiny_study)
    for solvers in (["random"], ["random", "greedy"]):
        figs = _figures(df[df["solver"].isin(solvers)], tiny_study)
        try:
            _assert_layout(figs)
        finally:
            _close(figs)


def test_one_line_count_without_target(tmp_path):
    df = handmade_runs(["greedy"], lines=[100], images=["camera"])
    figs = _figures(df, tmp_path)
    try:
        _assert_layout(figs)
    finally:
        _close(figs)


# --------------------------------------------------------------------------- determinism
def test_the_same_table_gives_the_same_bytes(tiny_study):
    files = report.write_report(tiny_study)
    first = {f: (tiny_study / f).read_bytes() for f in report.FIGURES}
    for f in report.FIGURES:
        (tiny_study / f).unlink()
    assert report.write_report(tiny_study) == files
    assert {f: (tiny_study / f).read_bytes() for f in report.FIGURES} == first
    from PIL import Image

    for f in report.FIGURES:  # no time stamp or version string in the PNG
        with Image.open(tiny_study / f) as im:
            assert set(im.info) <= {"dpi"}, (f, im.info)
