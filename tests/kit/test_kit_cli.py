"""`bench kit` and `bench solve --kit` end to end, and each bad input: one line, exit 2, no partial files."""

import json
import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from bench.cli import app
from kit.pages import count_pdf_pages

runner = CliRunner()
KIT = {"template.svg", "template.pdf", "instructions.pdf", "instructions.txt", "replay.gif", "stages.png",
       "preview.png", "preview_real.png"}


def _has_mp4() -> bool:
    from kit.replay import mp4_encoder

    return mp4_encoder() is None


def _check_kit(out, *, pins: int):
    names = {p.name for p in out.iterdir()}
    assert KIT <= names
    assert ("replay.mp4" in names) == _has_mp4()
    assert not [n for n in names if n.startswith(".")]  # no temporary files left
    for name in ("template.pdf", "instructions.pdf"):
        data = (out / name).read_bytes()
        assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF") and count_pdf_pages(data) >= 2
    root = ET.fromstring((out / "template.svg").read_bytes())
    assert len([c for c in root.iter("{http://www.w3.org/2000/svg}circle") if c.get("class") == "pin"]) == pins
    gif = Image.open(out / "replay.gif")
    gif.seek(gif.n_frames - 1)
    preview = np.asarray(Image.open(out / "preview.png"))
    assert np.array_equal(np.asarray(gif.convert("L"))[:preview.shape[0]], preview)  # canvas <= 256: no scaling
    assert Image.open(out / "preview_real.png").mode == "RGB"


def test_bench_kit_writes_every_file_and_again_the_same_bytes(result_copy, tmp_path):
    out = tmp_path / "kit"
    res = runner.invoke(app, ["kit", str(result_copy), "--out", str(out), "--paper", "Letter"])
    assert res.exit_code == 0, res.output
    _check_kit(out, pins=64)
    assert "kit of camera · greedy · 300 lines: " in res.stdout
    if not _has_mp4():
        assert res.stderr.count("\n") == 1 and "note: replay.mp4 not written: no MP4 encoder" in res.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert runner.invoke(app, ["kit", str(result_copy / "camera-greedy-300.json"), "--out", str(out),
                               "--paper", "Letter"]).exit_code == 0
    assert before == {p.name: p.read_bytes() for p in out.iterdir()}  # the same bytes again


def test_the_default_output_folder_is_the_results(result_copy):
    res = runner.invoke(app, ["kit", str(result_copy), "--no-mp4", "--frames", "10", "--stages", "50,300"])
    assert res.exit_code == 0, res.output
    assert KIT <= {p.name for p in result_copy.iterdir()} and "replay.mp4" not in res.stderr


def test_solve_with_kit_in_one_go(tmp_path):
    out = tmp_path / "kit"
    res = runner.invoke(app, ["solve", "camera", "--pins", "64", "--lines", "200", "--canvas", "96",
                              "--frame-mm", "400", "--kit", "--out", str(out)])
    assert res.exit_code == 0, res.output
    _check_kit(out, pins=64)
    from solvers import DEFAULT_SOLVER

    stem = f"camera-{DEFAULT_SOLVER}-200"
    assert {f"{stem}.{e}" for e in ("png", "txt", "csv", "json", "svg")} <= {p.name for p in out.iterdir()}
    assert (out / "preview.png").read_bytes() == (out / f"{stem}.png").read_bytes()
    doc = json.loads((out / f"{stem}.json").read_text())
    txt = (out / "instructions.txt").read_text()
    assert f"Tie the thread on at pin {doc['pins'][0]} " in txt and f"tie off at pin {doc['pins'][-1]} " in txt


def _bad(tmp_path, result_dir):
    src = result_dir / "camera-greedy-300.json"
    empty = tmp_path / "empty"
    empty.mkdir()
    corrupt = tmp_path / "c" / "r.json"
    corrupt.parent.mkdir()
    corrupt.write_text(src.read_text()[:300])
    doc = json.loads(src.read_text())
    doc["n_pins"] = 32
    other = tmp_path / "o" / "r.json"
    other.parent.mkdir()
    other.write_text(json.dumps(doc))
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    r = str(result_dir)
    return {
        "no pin file": ([str(empty)], "no result in folder"),
        "corrupt json": ([str(corrupt)], "is not valid JSON"),
        "another pin count": ([str(other)], "the pins come from another pin count"),
        "unwritable out": ([r, "--out", str(blocker / "sub")], "cannot be created: "),
        "paper too small": ([r, "--paper", "100x120"], "is too small for one tile"),
        "pins too wide": ([r, "--pin-mm", "20"], "pin spacing too small: 64 pins on a 300 mm circle"),
        "bad pin size": ([r, "--pin-mm", "0"], "--pin-mm must be greater than 0"),
        "bad stages": ([r, "--stages", "a,b"], "--stages takes line counts"),
    }


@pytest.mark.parametrize("case", ["no pin file", "corrupt json", "another pin count", "unwritable out",
                                  "paper too small", "pins too wide", "bad pin size", "bad stages"])
def test_bad_input_is_one_line_exit_2_and_no_files(case, tmp_path, result_dir):
    args, expected = _bad(tmp_path, result_dir)[case]
    out = tmp_path / "out"
    if "--out" not in args:
        args = [*args, "--out", str(out)]
    before = sorted(os.listdir(result_dir))
    res = runner.invoke(app, ["kit", *args])
    assert res.exit_code == 2, res.output
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], res.stderr
    assert not out.exists() and sorted(os.listdir(result_dir)) == before


def test_solve_kit_refuses_wide_pins_before_solving(tmp_path):
    out = tmp_path / "o"
    res = runner.invoke(app, ["solve", "camera", "--pins", "288", "--lines", "50", "--canvas", "64",
                              "--frame-mm", "100", "--kit", "--out", str(out)])
    assert res.exit_code == 2 and "pin spacing too small: 288 pins on a 100 mm circle" in res.stderr
    assert "solving" not in res.stderr and not out.exists()


def test_mp4_missing_is_one_note_and_the_rest_is_written(small_solution, tmp_path, monkeypatch):
    from kit import KitOptions, build_kit
    from kit import replay

    monkeypatch.setattr(replay, "mp4_encoder", lambda: "replay.mp4 not written: no MP4 encoder installed (test)")
    res = build_kit(small_solution, tmp_path / "k", KitOptions(frames=10))
    assert res.notes == ["replay.mp4 not written: no MP4 encoder installed (test)"]
    assert set(res.files) == KIT and not (tmp_path / "k" / "replay.mp4").exists()


def test_bench_help_does_not_load_the_kit():
    import subprocess
    import sys

    code = ("import sys; from bench.cli import app; "
            "bad = [m for m in ('matplotlib', 'solvers', 'PIL', 'numpy', 'solvers.kit') if m in sys.modules]; "
            "print(bad)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "[]", r.stdout + r.stderr
