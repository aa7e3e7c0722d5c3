"""Colour threads through `bench`: solve, its exports, bad colour input, a colour study and its report, metrics."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.cli import app
from rendering.metrics import colour_reference_scores, score, score_colour

runner = CliRunner()
TINY = ["--pins", "48", "--lines", "120", "--canvas", "48"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_solve_in_colour_writes_every_export(tmp_path):
    out = tmp_path / "out"
    res = invoke("solve", "astronaut", "--colors", "black,red,#1e90ff", *TINY, "-O", "min_run=20", "--out", out)
    assert res.exit_code == 0, res.output
    stem = "astronaut-colour-greedy-120"  # colour-greedy is the default solver with colours
    assert sorted(p.name for p in out.iterdir()) == [f"{stem}.{e}" for e in ("csv", "json", "png", "svg", "txt")]
    assert "dE2000" in res.output and "bare board" in res.output and "flat picture" in res.output
    assert "black, red, #1e90ff on white" in res.output and "spool switches" in res.output
    doc = json.loads((out / f"{stem}.json").read_text())
    assert [c["name"] for c in doc["colors"]] == ["black", "red", "#1e90ff"] and doc["board"]["hex"] == "#ffffff"
    assert sum(c["lines"] for c in doc["colors"]) == 120 and doc["spool_switches"] == len(doc["runs"]) - 1
    assert sum(c["thread_length_m"] for c in doc["colors"]) == pytest.approx(doc["thread_length_m"], abs=0.01)
    txt = (out / f"{stem}.txt").read_text().splitlines()
    assert txt[:4] == ["board white #ffffff", "colour black #000000", "colour red #d0202e", "colour #1e90ff #1e90ff"]
    spools = [ln.split()[1] for ln in txt if ln.startswith("spool ")]
    assert len(spools) == len(doc["runs"]) and spools == [r["colour"] for r in doc["runs"]]
    csv = pd.read_csv(out / f"{stem}.csv")
    assert list(csv.columns) == ["step", "colour", "from_pin", "to_pin", "length_mm", "colour_m", "cumulative_m"]
    svg = ET.parse(out / f"{stem}.svg").getroot()
    strokes = {el.get("stroke") for el in svg.iter() if el.tag.endswith("polyline")}
    assert strokes <= {"#000000", "#d0202e", "#1e90ff"} and len(strokes) >= 2
    from PIL import Image

    with Image.open(out / f"{stem}.png") as im:
        assert im.mode == "RGB" and im.size == (48, 48)


def test_white_thread_on_a_black_board(tmp_path):
    res = invoke("solve", "camera", "--board", "black", *TINY, "--solver", "colour-greedy", "--out", tmp_path)
    assert res.exit_code == 0, res.output
    assert "white on black" in res.output
    doc = json.loads((tmp_path / "camera-colour-greedy-120.json").read_text())
    assert doc["board"] == {"name": "black", "hex": "#000000"} and doc["colors"][0]["name"] == "white"


@pytest.mark.parametrize("args, needle", [
    (["--colors", "black,fuchsia"], "unknown thread colour 'fuchsia'"),
    (["--colors", "auto:0"], "auto:K colours must be at least 1"),
    (["--colors", "black,red,blue", "--lines", "2"], "3 colours need at least 3 lines, got 2"),
    (["--colors", "white"], "thread colour white is the board's colour"),
    (["--colors", "red", "--board", "red"], "thread colour red is the board's colour"),
    (["--colors", "black,red", "--solver", "greedy"], "solver greedy draws one black thread on white"),
    (["--colors", "auto:2", "--gamma", "1.5"], "colour threads take the picture as it is"),
])
def test_bad_colour_input_is_one_line_exit_2_nothing_written(tmp_path, args, needle):
    out = tmp_path / "out"
    res = invoke("solve", "astronaut", "--pins", "48", "--lines", "120", "--canvas", "48", *args, "--out", out)
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip() and not ln.startswith("...")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], res.output
    assert not out.exists()


def test_a_colour_study_and_its_report(tmp_path):
    out = tmp_path / "study"
    res = invoke("run", "--colors", "auto:2", "-i", "astronaut", "--pins", "32", "--canvas", "32",
                 "--lines", "60,90", "--workers", "1", "-O", "colour-greedy.min_run=10", "-O",
                 "colour-dither.min_run=10", "--out", out)
    assert res.exit_code == 0, res.output
    assert "2 solvers x 1 images" in res.output and "Mean CIEDE2000" in res.output
    df = pd.read_csv(out / "runs.csv")
    assert sorted(df["solver"].unique()) == ["colour-dither", "colour-greedy"] and len(df) == 4
    assert df["de2000"].notna().all() and df["flat_de2000"].notna().all() and (df["switches"] >= 0).all()
    assert df["palette"].nunique() == 1 and len(df["palette"].iloc[0].split(",")) == 2
    summary = (out / "summary.md").read_text()
    assert ("## Mean CIEDE2000 (viewing scale) vs lines" in summary
            and "SSIM, L1 and PSNR are those of the **luminance**" in summary)
    assert "Threads per image" in summary
    from PIL import Image

    with Image.open(out / "targets" / "astronaut-32.png") as im:
        assert im.mode == "RGB"
    assert (out / "gallery.png").is_file()
    res = invoke("report", out)  # redrawn from runs.csv alone (pin files in colour)
    assert res.exit_code == 0, res.output
    res = invoke("run", "--colors", "auto:2", "-s", "greedy", "-i", "astronaut", "--out", tmp_path / "x")
    assert res.exit_code == 2 and "solver greedy draws one black thread on white" in res.output
    assert not (tmp_path / "x").exists()


def test_colour_metrics():
    rng = np.random.default_rng(0)
    t = rng.random((40, 40, 3))
    mask = np.zeros((40, 40), bool)
    mask[4:36, 4:36] = True
    same = score_colour(t, t, mask, factor=2)
    assert same["de2000"] == pytest.approx(0.0, abs=1e-9) and same["ssim"] == pytest.approx(1.0)
    worse = score_colour(np.clip(t + 0.2, 0, 1), t, mask, factor=2)
    assert worse["de2000"] > 1 and worse["ssim"] < 1
    refs = colour_reference_scores(t, mask, board=(0.0, 0.0, 0.0), factor=2)
    assert refs["flat"]["de2000"] < refs["blank"]["de2000"]
    # a grey picture: the luminance metrics are the grey metrics
    g = rng.random((40, 40))
    p = rng.random((40, 40))
    grey, col = score(p, g, mask, factor=2), score_colour(np.repeat(p[..., None], 3, 2), np.repeat(g[..., None], 3, 2),
                                                        mask, factor=2)
    for k in ("ssim", "l1", "psnr", "ssim_full"):
        assert col[k] == pytest.approx(grey[k], rel=1e-6, abs=1e-9)


def test_default_study_is_grey_and_a_colour_study_takes_the_study_solvers(colors='auto:4'):
    from bench.plan import COLOUR_IMAGES, plan_study, study_solvers

    st = plan_study()
    assert not set(st.solvers) & set(study_solvers(colors='auto:4'))
    assert all("colors" not in r.problem_options for r in st.runs)
    col = plan_study(colors="auto:4")
    assert col.solvers == study_solvers(colors='auto:4') == ["colour-greedy", "colour-dither"]
    assert [i.label for i in col.images] == list(COLOUR_IMAGES)
    assert col.runs[0].problem_options["colors"] == "auto:4" and col.runs[0].problem_options["board"] == "white"
