"""`bench` end to end with typer's CliRunner on tiny sizes, and each bad input."""

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from bench.cli import app

runner = CliRunner()
TINY = ["--pins", "48", "--lines", "60", "--canvas", "48"]


def test_solve_random_writes_every_output(tmp_path):
    out = tmp_path / "out"
    res = runner.invoke(app, ["solve", "camera", "--solver", "random", *TINY, "--out", str(out)])
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"camera-random-60.{ext}" for ext in ("csv", "json", "png", "svg", "txt")]
    assert "SSIM" in res.output and "bare board" in res.output and "flat picture" in res.output
    doc = json.loads((out / "camera-random-60.json").read_text())
    assert len(doc["pins"]) == 61 and doc["solver"] == "random"


def test_same_seed_same_pins(tmp_path):
    for d in ("a", "b"):
        assert runner.invoke(app, ["solve", "coins", "-s", "random", *TINY, "--seed", "5",
                              "--out", str(tmp_path / d)]).exit_code == 0
    a = (tmp_path / "a" / "coins-random-60.txt").read_text()
    assert a == (tmp_path / "b" / "coins-random-60.txt").read_text()


def test_images_and_solvers_lists():
    res = runner.invoke(app, ["images"])
    assert res.exit_code == 0 and "camera" in res.output and "grace_hopper" in res.output
    res = runner.invoke(app, ["solvers"])
    assert res.exit_code == 0 and "random" in res.output


def _bad_inputs(tmp_path):
    notimg = tmp_path / "notes.png"
    notimg.write_text("not an image")
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(tiny)
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    return {
        "missing file": (["solve", str(tmp_path / "nope.jpg"), *TINY], "not found"),
        "not an image": (["solve", str(notimg), *TINY], "is not an image"),
        "tiny image": (["solve", str(tiny), *TINY], "expected at least 8x8"),
        "n_pins < 3": (["solve", "camera", "--pins", "2", "--lines", "5", "--canvas", "48"],
                       "--pins must be at least 3"),
        "lines < 1": (["solve", "camera", "--pins", "48", "--lines", "0", "--canvas", "48"],
                      "--lines must be at least 1"),
        "min_gap too large": (["solve", "camera", *TINY, "--min-gap", "30"], "--min-gap must be at most 24"),
        "canvas < 16": (["solve", "camera", "--pins", "48", "--lines", "5", "--canvas", "8"],
                        "--canvas must be at least 16"),
        "thread width <= 0": (["solve", "camera", *TINY, "--thread-mm", "0"], "--thread-mm must be greater than 0"),
        "unknown solver": (["solve", "camera", *TINY, "--solver", "magic"], "unknown solver 'magic'"),
        "unwritable out": (["solve", "camera", *TINY, "--out", str(blocker / "sub")], "cannot be created: "),
    }


@pytest.mark.parametrize("case", ["missing file", "not an image", "tiny image", "n_pins < 3", "lines < 1",
                                  "min_gap too large", "canvas < 16", "thread width <= 0", "unknown solver",
                                  "unwritable out"])
def test_bad_input_is_one_line_with_no_output(case, tmp_path):
    args, expected = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out"
    if "--out" not in args:
        args = [*args, "--out", str(out)]
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], res.stderr
    assert "Traceback" not in res.output
    assert not out.exists()  # no output folder, let alone partial files


def test_solver_options_and_device(tmp_path):
    out = tmp_path / "o"
    res = runner.invoke(app, ["solve", "camera", "--solver", "greedy-sum", *TINY, "-O", "weight=0.1",
                              "-O", "no_return=3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "camera-greedy-sum-60.json").read_text())
    assert doc["config"]["weight"] == 0.1 and doc["config"]["no_return"] == 3
    res = runner.invoke(app, ["solve", "camera", "--solver", "random", *TINY, "-O", "weight", "--out", str(out)])
    assert res.exit_code == 2 and "--option takes KEY=VALUE, got 'weight'" in res.stderr
    res = runner.invoke(app, ["solve", "camera", "--solver", "random", *TINY, "-O", "weight=1", "--out", str(out)])
    assert res.exit_code == 2 and "unknown option 'weight' for solver random" in res.stderr
    res = runner.invoke(app, ["solve", "camera", "--solver", "random", *TINY, "--device", "cuda", "--out", str(out)])
    assert res.exit_code == 2 and "runs on the CPU only" in res.stderr
    res = runner.invoke(app, ["solve", "camera", *TINY, "--device", "tpu", "--out", str(out)])
    assert res.exit_code == 2 and "--device must be one of auto, cpu, cuda, got 'tpu'" in res.stderr


def test_errors_name_the_option_typed_and_help_shows_defaults(tmp_path):
    res = runner.invoke(app, ["solve", "camera", "--pins", "5000", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--pins must be at most 4096, got 5000; use 3 to 4096 pins" in res.stderr
    res = runner.invoke(app, ["solve", "camera", "--solver", "greedy", "-O", "nonsense=1",
                              "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "unknown option 'nonsense' for solver greedy; its options are: score, weight" in res.stderr
    assert not (tmp_path / "o").exists()
    for cmd in (["solve", "--help"], ["run", "--help"], ["train", "--help"]):
        text = runner.invoke(app, cmd, env={"COLUMNS": "100"}).stdout
        entries, cur = [], None
        for ln in text.split("Options:")[1].splitlines():
            if ln.startswith("  -"):
                cur = [ln]
                entries.append(cur)
            elif cur is not None:
                cur.append(ln)
        entries = [" ".join(" ".join(e).split()) for e in entries]
        missing = [e for e in entries if "default" not in e and not e.startswith("--help")
                   and "repeatable" not in e]
        assert entries and not missing, f"options without a default in `bench {cmd[0]} --help`: {missing}"


def test_fewer_lines_than_asked_say_why_and_keep_the_asked_name(tmp_path):
    out = tmp_path / "o"
    for solver in ("greedy", "random"):
        res = runner.invoke(app, ["solve", "camera", "--solver", solver, "--pins", "32", "--canvas", "32",
                                  "--min-gap", "16", "--lines", "10", "--out", str(out)])
        assert res.exit_code == 0, res.output
        assert f"note: {solver} drew 1 of the 10 lines asked: the thread reached pin" in res.stderr
        pins = (out / f"camera-{solver}-10.txt").read_text().split()
        assert len(pins) == 2  # one line drawn, recorded as drawn


def test_square_frames_are_accepted(tmp_path):
    res = runner.invoke(app, ["solve", "camera", "--solver", "random", "--shape", "square", "--pins", "32",
                              "--canvas", "32", "--lines", "20", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert '"shape": "rect"' in (tmp_path / "o" / "camera-random-20.json").read_text()


def test_cache_lists_and_clears(tmp_path, monkeypatch):
    monkeypatch.setenv("STRINGART_CACHE_DIR", str(tmp_path / "cache"))
    from rendering import clear_memory_cache

    clear_memory_cache()
    assert runner.invoke(app, ["solve", "camera", "-s", "random", *TINY, "--out", str(tmp_path / "o")]).exit_code == 0
    res = runner.invoke(app, ["cache"])
    assert res.exit_code == 0 and str(tmp_path / "cache") in res.stdout
    assert "1 table(s)" in res.stdout and "48 pins, 48 px, circle" in res.stdout
    res = runner.invoke(app, ["cache", "--clear"])
    assert res.exit_code == 0 and "removed 1 cached table(s)" in res.stdout
    assert "0 table(s)" in runner.invoke(app, ["cache"]).stdout


def test_a_canvas_too_big_for_memory_is_refused_with_nothing_written(tmp_path, monkeypatch):
    monkeypatch.setenv("STRINGART_CACHE_DIR", str(tmp_path / "cache"))
    res = runner.invoke(app, ["solve", "camera", "--canvas", "10000", "--out", str(tmp_path / "o")],
                        env={"STRINGART_MAX_MEMORY_GB": "16"})
    assert res.exit_code == 2
    assert "a chord table for 288 pins at 10000 px would take about" in res.stderr
    assert "lower --canvas" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() and not (tmp_path / "cache").exists()


def test_the_default_solver_is_named_in_help_and_used():
    from solvers import DEFAULT_SOLVER

    text = " ".join(runner.invoke(app, ["solve", "--help"], env={"COLUMNS": "200"}).stdout.split())
    assert f"[default: {DEFAULT_SOLVER}," in text


def test_lines_auto_stops_where_no_line_helps(tmp_path):
    res = runner.invoke(app, ["solve", "camera", "--pins", "64", "--canvas", "64", "--lines", "auto", "--thread-mm",
                              "4", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "--lines auto: greedy-view drew" in res.stderr and "stopped where no further line lowers" in res.stderr
    assert (tmp_path / "o" / "camera-greedy-view-auto.txt").is_file()
    res = runner.invoke(app, ["solve", "camera", "-s", "random", "--pins", "48", "--canvas", "48", "--lines", "auto",
                              "--out", str(tmp_path / "o2")])
    assert res.exit_code == 2 and "--lines auto needs a solver that can stop" in res.stderr
    res = runner.invoke(app, ["solve", "camera", "--lines", "many", "--out", str(tmp_path / "o3")])
    assert res.exit_code == 2 and "--lines takes a whole number or auto, got 'many'" in res.stderr


def test_front_end_options(tmp_path):
    res = runner.invoke(app, ["solve", "camera", "-s", "greedy", *TINY, "--exposure", "force", "--clahe", "--crop",
                              "fit", "--importance", "edges", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["solve", "camera", *TINY, "--importance", "faces", "--out", str(tmp_path / "o2")])
    assert res.exit_code == 2 and "importance must be edges, saliency, both or a mask picture file" in res.stderr
