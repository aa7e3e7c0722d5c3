"""``bench run`` and ``bench report`` end to end, on tiny sizes."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.run_cmd import parse_lines, parse_options
from rendering import InputError

runner = CliRunner()
TINY = ["--solver", "random", "--image", "camera", "--pins", "32", "--canvas", "32", "--workers", "1"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_run_then_resume_then_report(tmp_path):
    out = tmp_path / "study"
    res = invoke("run", *TINY, "--lines", "20,40", "--lines", "60", "--seeds", "2", "--seed", "5", "--out", out)
    assert res.exit_code == 0, res.output
    assert "6 runs to do, 0 already done" in res.output
    # no terminal (CliRunner): one progress line per finished run instead of the bar
    progress = [ln for ln in res.output.splitlines() if ln.startswith("[")]
    assert len(progress) == 6 and progress[-1].startswith("[6/6] random camera "), res.output
    assert all(": SSIM " in ln and ln.endswith(" s") for ln in progress), progress
    assert "SSIM (viewing scale)" in res.output and "flat mean picture (reference)" in res.output
    df = pd.read_csv(out / "runs.csv")
    assert len(df) == 6 and sorted(df["lines"].unique()) == [20, 40, 60]
    assert df["master_seed"].eq(5).all() and df["error"].isna().all()
    for f in ("summary.md", "ssim_vs_lines.png", "l1_vs_lines.png", "pareto_ssim.png", "gallery.png",
              "meta.json"):
        assert (out / f).is_file(), f
    assert len(list((out / "pins" / "random").glob("*.txt"))) == 6
    meta = json.loads((out / "meta.json").read_text())
    assert meta["study"]["lines"] == [20, 40, 60] and meta["study"]["seeds"] == 2

    res = invoke("run", *TINY, "--lines", "20,40,60", "--seeds", "2", "--seed", "5", "--out", out, "--no-report")
    assert res.exit_code == 0, res.output
    assert "0 runs to do, 6 already done" in res.output
    pd.testing.assert_frame_equal(pd.read_csv(out / "runs.csv"), df)

    (out / "summary.md").unlink()
    (out / "gallery.png").unlink()
    res = invoke("report", out)
    assert res.exit_code == 0, res.output
    assert (out / "summary.md").is_file() and (out / "gallery.png").is_file()
    assert "wrote" in res.output


def test_quick_smoke(tmp_path):
    res = invoke("run", "--quick", "--solver", "random", "--workers", "1", "--out", tmp_path / "q")
    assert res.exit_code == 0, res.output
    df = pd.read_csv(tmp_path / "q" / "runs.csv")
    assert df["quick"].all() and df["canvas"].eq(128).all() and len(df) == 2


def test_default_output_folder_is_results_study(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = invoke("run", *TINY, "--lines", "20", "--study", "mine", "--no-report")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "results" / "mine" / "runs.csv").is_file()


@pytest.mark.parametrize("args, needle", [
    (["--solver", "nope"], "unknown solver 'nope'"),
    (["--image", "no-such-picture"], "neither a built-in name"),
    (["--lines", "0"], "lines"),
    (["--lines", "abc"], "--lines takes whole numbers, got 'abc'"),
    (["--option", "random=1"], "--option takes SOLVER.KEY=VALUE"),
    (["--option", "random.bogus=1"], "'bogus'"),
    (["--pins", "2"], "pins"),
    (["--workers", "0"], "workers"),
])
def test_bad_input_is_one_line(tmp_path, args, needle):
    base = ["run", "--solver", "random", "--image", "camera", "--pins", "32", "--canvas", "32", "--lines", "20",
            "--workers", "1", "--out", str(tmp_path / "s")]
    res = invoke(*base, *args)
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], res.output
    assert "Traceback" not in res.output


def test_unwritable_out_and_bad_report_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = invoke("run", *TINY, "--lines", "20", "--out", blocker)
    assert res.exit_code == 2 and res.output.startswith("error: ") and "not a folder" in res.output
    res = invoke("report", tmp_path / "missing")
    assert res.exit_code == 2 and "not found" in res.output
    res = invoke("report", tmp_path)
    assert res.exit_code == 2 and "no runs.csv" in res.output


def test_parsers():
    assert parse_lines(["1000,2000", " 3000 "]) == [1000, 2000, 3000]
    assert parse_lines(None) is None
    assert parse_options(["ga.generations=5", "ga.name=x", "ae+greedy.a.b=[1, 2]"]) == {
        "ga": {"generations": 5, "name": "x"}, "ae+greedy": {"a.b": [1, 2]}}
    with pytest.raises(InputError, match="empty"):
        parse_lines([","])
