"""The results tables and numbers of the README and the docs match their sources (``tools/docs_tables.py``).

The committed pages are checked against the committed result files; a page with one table cell or one inline
number changed fails, naming the file and the line; every marker kind is checked on a small handmade source
(a study folder with a ``runs.csv`` of the shape ``bench run`` writes, a Markdown results file, a CSV, a text
file), and bad markers fail in one line.
"""

from __future__ import annotations

import doctest
import importlib.util
import itertools
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import report, stats

REPO = Path(__file__).resolve().parents[1]


def _load_tool():
    spec = importlib.util.spec_from_file_location("docs_tables", REPO / "tools" / "docs_tables.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


dt = _load_tool()

SOLVERS = ["greedy", "fast", "slow"]
ORDER = ["slow", "greedy", "fast"]  # the study's order (meta.json), not the table's
IMAGES = ["a", "b", "c"]
LINES = [10, 20]


def handmade_runs(fail: str | None = None) -> pd.DataFrame:
    """A runs table of ``bench run``'s shape, with today's and the coming columns (blur2, trained_on)."""
    rng = np.random.default_rng(7)
    blank = {"a": 0.21, "b": 0.25, "c": 0.3}
    rows = []
    for k, (solver, image, n) in enumerate(itertools.product(SOLVERS, IMAGES, LINES)):
        rows.append({"run_id": f"r{k}", "solver": solver, "config": "{}", "image": image, "pins": 32, "lines": n,
                     "canvas": 64, "seed": k, "replicate": 0, "master_seed": 0,
                     "ssim": 0.2 + 0.6 * rng.random(), "l1": 0.3 * rng.random(), "psnr": 10 + rng.random(),
                     "seconds": 10 ** rng.uniform(-2, 0.5), "error": "", "thread_length_m": 1000 + 900 * rng.random(),
                     "trained_on": "", "ssim_blur2": rng.random(), "psnr_blur2": 12.0,
                     "blank_ssim": blank[image], "flat_ssim": blank[image] + 0.2, "blank_l1": 0.5, "flat_l1": 0.2,
                     "blank_ssim_blur2": 0.4})
    df = pd.DataFrame(rows)
    if fail:
        solver, lines = fail.split("@")
        df.loc[(df["solver"] == solver) & (df["lines"] == int(lines)) & (df["image"] == "a"), "error"] = "boom"
    return df


@pytest.fixture
def root(tmp_path):
    """A repository of handmade sources: a study, a Markdown results file, a CSV and a text file."""
    study = tmp_path / "results" / "s"
    study.mkdir(parents=True)
    handmade_runs().to_csv(study / "runs.csv", index=False)
    (study / "meta.json").write_text(json.dumps({"study": {"study": "s", "solvers": ORDER}}))
    (tmp_path / "results" / "x.md").write_text(
        "# Title\n\n| a | b |\n|---|---:|\n| 1 | 2 |\n\n## Part\n\nSome text: speed 1.25 s.\n\n### Sub\n\n"
        "| solver | score | note |\n|---|---:|---|\n| one | **0.5** | x |\n| two | +0.25 | |\n| *ref* | 0.1 | |\n\n"
        "## Other\n\nspeed 2.5 s; speed 4 s\n\n| k | v |\n|---|---|\n| z | 9 |\n")
    pd.DataFrame({"image": ["a", "a", "b"], "solver": ["one", "two", "one"], "lines": [10, 10, 10],
                  "score": [0.5, 0.25, 0.75], "error": [np.nan, np.nan, np.nan]}).to_csv(tmp_path / "results" / "y.csv",
                                                                                         index=False)
    (tmp_path / "results" / "z.txt").write_text("speed 1.25 s\nother 7\nspeed 2.5 s\n")
    (tmp_path / "docs").mkdir()
    return tmp_path


def value(root: Path, spec: str) -> str:
    """What an inline marker with ``spec`` gives."""
    new, _ = dt.render_page(f"x <!-- v: {spec} -->?<!-- /v --> y", dt.Sources(root), "docs/t.md")
    m = re.fullmatch(r"x <!-- v: .*? -->(.*)<!-- /v --> y", new)
    assert m, new
    return m.group(1)


def table(root: Path, spec: str) -> list[str]:
    """The lines a table marker with ``spec`` gives."""
    new, _ = dt.render_page(f"<!-- table: {spec} -->\n<!-- /table -->", dt.Sources(root), "docs/t.md")
    return new.split("\n")[1:-1]


def error(root: Path, text: str) -> str:
    with pytest.raises(dt.MarkerError) as e:
        dt.render_page(text, dt.Sources(root), "docs/t.md")
    msg = str(e.value)
    assert "\n" not in msg
    return msg


# --------------------------------------------------------------------------- the committed pages
def test_the_committed_pages_match_their_result_files():
    said = []
    assert dt.run(REPO, check=True, say=said.append) == 0, "\n".join(said)
    assert said == []


def test_the_pages_have_markers_and_serve_is_left_alone():
    texts = {p.relative_to(REPO).as_posix(): p.read_text(encoding="utf-8") for p in dt.pages(REPO)}
    assert "docs/serve.md" not in texts
    assert "<!-- table: pivot results/default metric=ssim" in texts["README.md"]
    assert sum(t.count("<!-- v: ") for t in texts.values()) > 100


def test_a_changed_table_cell_and_a_changed_inline_number_fail_naming_file_and_line():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("<!-- table: pivot"))
    row = next(i for i in range(start + 3, len(lines)) if re.search(r"\d\.\d{3}", lines[i]))
    old_cell = re.search(r"\d\.\d{3}", lines[row]).group(0)
    new_cell = f"{float(old_cell) + 0.001:.3f}"
    lines[row] = lines[row].replace(old_cell, new_cell, 1)
    inline = next(i for i, line in enumerate(lines) if "<!-- v: value" in line)
    m = re.search(r"<!-- v: value [^>]*-->([^<]*)<!-- /v -->", lines[inline])
    lines[inline] = lines[inline][:m.start(1)] + "12345" + lines[inline][m.end(1):]
    _, diffs = dt.render_page("\n".join(lines), dt.Sources(REPO), "README.md")
    said = sorted(str(d) for d in diffs)
    assert len(said) == 2, said
    assert any(s.startswith(f"README.md:{row + 1}: ") and new_cell in s and old_cell in s for s in said), said
    assert any(s.startswith(f"README.md:{inline + 1}: ") and "'12345'" in s and repr(m.group(1)) in s
               for s in said), said


def test_check_exits_1_and_a_rewrite_makes_it_pass(root):
    page = root / "README.md"
    page.write_text("Seconds <!-- v: value results/s col=image agg=nunique -->2<!-- /v -->.\n\n"
                    "<!-- table: pivot results/s metric=l1 -->\n| stale |\n<!-- /table -->\n")
    (root / "docs" / "serve.md").write_text("<!-- v: nonsense -->x<!-- /v -->\n")  # never read
    said = []
    assert dt.run(root, check=True, say=said.append) == 1
    assert said[0] == "README.md:1: the source gives '3', the page says '2'"
    assert any(s.startswith("README.md:4: the source gives '| solver | 10 | 20 |'") for s in said)
    assert page.read_text().count("stale") == 1  # --check rewrote nothing
    said.clear()
    assert dt.run(root, say=said.append) == 0
    assert said[0] == "README.md:1: '2' -> '3'"
    assert "stale" not in page.read_text()
    said.clear()
    assert dt.run(root, check=True, say=said.append) == 0 and said == []


def test_the_command_line(root, capsys):
    (root / "docs" / "p.md").write_text("A <!-- v: value results/s col=image agg=nunique -->3<!-- /v -->\n")
    assert dt.main(["--check", "--root", str(root), "docs/p.md"]) == 0
    assert dt.main(["--check", "--root", str(root), "docs/none.md"]) == 2
    assert "no page 'docs/none.md'" in capsys.readouterr().out


def test_the_module_doctests_pass():
    assert doctest.testmod(dt).failed == 0


# --------------------------------------------------------------------------- table kinds
def _expected_cells(df: pd.DataFrame, metric: str) -> dict:
    ok = df[df["error"] == ""]
    means = ok.groupby(["solver", "lines"])[metric].mean()
    cells = stats.cell_intervals(ok, metric, n_resamples=report.REPORT_RESAMPLES)
    half = {(r["solver"], r["lines"]): (r["ci_high"] - r["ci_low"]) / 2 for r in cells.to_dict("records")}
    return {k: (means[k], half[k]) for k in means.index}


def test_pivot_draws_the_study_as_its_summary_does(root):
    df = handmade_runs()
    got = table(root, "pivot results/s metric=ssim")
    assert got[:2] == ["| solver | 10 | 20 |", "|---|---:|---:|"]
    names = [line.split(" | ")[0][2:] for line in got[2:]]
    assert names == [*ORDER, f"*{report.REFERENCE_LABELS['blank']}*", f"*{report.REFERENCE_LABELS['flat']}*"]
    cells = _expected_cells(df, "ssim")
    best = {n: max(SOLVERS, key=lambda s: cells[(s, n)][0]) for n in LINES}
    for line in got[2:5]:
        solver = line.split(" | ")[0][2:]
        for n, text in zip(LINES, line.strip(" |").split(" | ")[1:]):
            mean, half = cells[(solver, n)]
            want = f"**{mean:.3f}**" if best[n] == solver else f"{mean:.3f}"
            assert text == f"{want} ±{half:.3f}", (solver, n, text)
    blank = df.drop_duplicates("image")["blank_ssim"].mean()
    assert got[5].endswith(f"| {blank:.3f} | {blank:.3f} |")


def test_pivot_chooses_rows_and_columns_and_leaves_out_failed_runs(root):
    handmade_runs(fail="fast@20").to_csv(root / "results" / "s" / "runs.csv", index=False)
    got = table(root, 'pivot results/s metric=l1 lines=20 solvers=fast,greedy refs=no ci=no label="L1 at {lines}"')
    df = handmade_runs(fail="fast@20")
    ok = df[df["error"] == ""]
    fast = ok[(ok.solver == "fast") & (ok.lines == 20)]["l1"].mean()
    greedy = ok[(ok.solver == "greedy") & (ok.lines == 20)]["l1"].mean()
    assert got[0] == "| solver | L1 at 20 |"
    assert got[2].startswith("| fast | ") and f"{fast:.3f}" in got[2] and got[2].endswith("† |")
    assert got[3].startswith("| greedy | ") and f"{greedy:.3f}" in got[3]
    assert len(got) == 4 and "±" not in "".join(got)
    seconds = table(root, "pivot results/s metric=seconds")
    assert len(seconds) == 2 + len(SOLVERS) and "±" not in "".join(seconds)  # no references, no intervals


def test_pivot_of_a_csv_of_runs(root):
    assert table(root, "pivot results/y.csv metric=score ci=no") == [
        "| solver | 10 |", "|---|---:|", "| one | 0.625 |", "| two | 0.250 |"]
    got = table(root, "pivot results/y.csv metric=score best=max")
    assert got[2].startswith("| one | **0.625** ±") and got[3] == "| two | 0.250 |"  # one image: no interval


def test_md_copies_a_table_under_a_heading_with_its_columns(root):
    assert table(root, 'md results/x.md heading="Part > Sub" columns="solver,score"') == [
        "| solver | score |", "|---|---:|", "| one | **0.5** |", "| two | +0.25 |", "| *ref* | 0.1 |"]
    assert table(root, "md results/x.md") == ["| a | b |", "|---|---:|", "| 1 | 2 |"]
    assert table(root, "md results/x.md table=2")[2] == "| one | **0.5** | x |"
    assert table(root, "md results/x.md table=2")[3] == "| two | +0.25 | |"
    assert "has no heading 'Nope'" in error(root, "<!-- table: md results/x.md heading=Nope -->\n<!-- /table -->")
    assert "no column score2" in error(root, '<!-- table: md results/x.md table=2 columns=score2 -->\n<!-- /table -->')


# --------------------------------------------------------------------------- value kinds
def test_value_aggregates_a_column_of_the_rows_kept(root):
    df = handmade_runs()
    sel = df[(df.solver == "greedy") & (df.lines == 20)]
    assert value(root, "value results/s col=ssim solver=greedy lines=20") == f"{sel['ssim'].mean():.3f}"
    assert value(root, "value results/s col=image agg=nunique") == "3"
    assert value(root, "value results/s col=ssim agg=count solver=greedy|fast") == str(2 * len(IMAGES) * len(LINES))
    km = df[df.solver == "slow"]["thread_length_m"] / 1000
    assert value(root, "value results/s col=thread_length_m solver=slow agg=range scale=0.001 fmt=.2f") == \
        f"{km.min():.2f}-{km.max():.2f}"
    means = df[df.solver == "slow"].groupby("lines")["seconds"].mean()
    assert value(root, "value results/s col=seconds solver=slow over=lines agg=range digits=3") == \
        f"{means.min():.3f}-{means.max():.3f}"
    assert value(root, "value results/x.md heading=\"Part > Sub\" col=score agg=sum fmt=.2f") == "0.85"


def test_diff_and_ratio_compare_two_solvers_group_by_group(root):
    df = handmade_runs()
    m = df.groupby(["solver", "lines"])["ssim"].mean()
    d = [m[("slow", n)] - m[("fast", n)] for n in LINES]
    lo, hi = f"{min(d):+.3f}", f"{max(d):+.3f}"
    assert value(root, "diff results/s col=ssim a=slow b=fast") == (lo if lo == hi else f"{lo} to {hi}")
    assert value(root, "diff results/s col=ssim a=slow b=fast agg=pos") == str(sum(x > 0 for x in d))
    assert value(root, "diff results/s col=ssim a=slow b=fast agg=groups") == "2"
    one = df[df.solver == "slow"]["ssim"].mean() - df[df.solver == "fast"]["ssim"].mean()
    assert value(root, "diff results/s col=ssim a=slow b=fast over=none fmt=+.4f") == f"{one:+.4f}"
    per = df.pivot_table(index=["image", "lines"], columns="solver", values="ssim")
    assert value(root, "diff results/s col=ssim a=slow b=fast over=image,lines agg=min fmt=+.4f") == \
        f"{(per['slow'] - per['fast']).min():+.4f}"
    s = df.groupby(["solver", "lines"])["seconds"].mean()
    r = [s[("slow", n)] / s[("greedy", n)] for n in LINES]
    lo, hi = f"{min(r):.2f}", f"{max(r):.2f}"
    assert value(root, "ratio results/s col=seconds a=slow b=greedy") == (lo if lo == hi else f"{lo}-{hi}")
    assert value(root, 'diff results/x.md heading="Part > Sub" col=score a=one b=two over=none') == "+0.250"
    nobody = error(root, "x <!-- v: diff results/s col=ssim a=nobody b=fast -->?<!-- /v -->")
    assert "no row with solver=nobody" in nobody


@pytest.mark.parametrize("spec, expected", [
    # cell: one cell of a Markdown table (under a heading) or of a CSV
    ('cell results/x.md heading="Part > Sub" col=score solver=one', "0.5"),
    ('cell results/x.md heading="Part > Sub" col=score solver=ref', "0.1"),
    ('cell results/x.md heading="Part > Sub" col=score solver=two fmt=+.2f', "+0.25"),
    ('cell results/x.md heading=Other col=v k=z', "9"),
    ("cell results/y.csv col=score image=b", "0.75"),
    # text: the numbers a pattern captures in a results file
    ('text results/z.txt pattern="speed ([0-9.]+) s"', "1.25"),
    ('text results/z.txt pattern="speed ([0-9.]+) s" match=-1', "2.5"),
    ('text results/z.txt pattern="speed ([0-9.]+) s" agg=range fmt=.2f', "1.25-2.50"),
    ('text results/z.txt pattern="speed ([0-9.]+) s" agg=count', "2"),
    ('text results/x.md heading=Other pattern="speed ([0-9.]+) s" agg=max fmt=.1f', "4.0"),
])
def test_cell_and_text_copy_one_value_of_a_results_file(root, spec, expected):
    assert value(root, spec) == expected


# --------------------------------------------------------------------------- bad markers
@pytest.mark.parametrize("text, says", [
    ("x <!-- v: valu results/s col=ssim -->?<!-- /v -->", "unknown value kind 'valu'; expected one of value, diff"),
    ("<!-- table: pivt results/s -->\n<!-- /table -->", "unknown table kind 'pivt'; expected one of pivot, md"),
    ("x <!-- v: value results/nowhere col=ssim -->?<!-- /v -->", "unknown source 'results/nowhere'"),
    ("x <!-- v: value results/s col=ssim solvr=greedy -->?<!-- /v -->", "has no column 'solvr'"),
    ("x <!-- v: value results/s ssim -->?<!-- /v -->", "expected KEY=VALUE after the source, got 'ssim'"),
    ("x <!-- v: value results/s col=ssim agg=mode -->?<!-- /v -->", "agg must be one of"),
    ("<!-- table: pivot results/s metric=ssim -->\n| x |", "has no closing '<!-- /table -->'"),
    ("a <!-- v: value results/s col=ssim -->?", "not closed on its line"),
    ("x <!-- v: md results/x.md -->?<!-- /v -->", "unknown value kind 'md'"),
    ("<!-- v: value results/s col=ssim -->?<!-- /v --> opens the line", "an inline marker opens the line"),
    ("x <!-- v: cell results/y.csv col=score image=a -->?<!-- /v -->", "2 rows of 'results/y.csv' match"),
    ('x <!-- v: text results/z.txt pattern="fast ([0-9]+)" -->?<!-- /v -->', "matches nothing"),
    ('x <!-- v: text results/z.txt pattern="(s)(p)" -->?<!-- /v -->', "exactly one"),
])
def test_a_bad_marker_is_one_line_with_file_and_line(root, text, says):
    msg = error(root, "intro\n" + text)
    assert msg.startswith("docs/t.md:2: ") and says in msg, msg


def test_a_bad_marker_makes_the_command_exit_2(root):
    (root / "README.md").write_text("A <!-- v: value results/nowhere col=ssim -->?<!-- /v -->\n")
    said = []
    assert dt.run(root, check=True, say=said.append) == 2
    assert said == [said[0]] and said[0].startswith("error: README.md:1: unknown source 'results/nowhere'")


def test_markers_in_fenced_code_are_left_alone(root):
    text = "```markdown\n<!-- v: nonsense -->x<!-- /v -->\n<!-- table: nonsense -->\n```\n"
    assert dt.render_page(text, dt.Sources(root), "docs/t.md") == (text, [])
