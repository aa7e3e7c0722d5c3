"""--crop auto and --faces: a portrait framed and weighted as a maker would, nothing changed without a face."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from bench.cli import app

pytest.importorskip("cv2")
runner = CliRunner()
SMALL = ["--pins", "96", "--lines", "300", "--canvas", "128"]


def _bench(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_crop_auto_prints_a_crop_that_repeats(tmp_path):
    r = _bench("solve", "astronaut", "--crop", "auto", *SMALL, "--out", tmp_path / "a")
    assert r.exit_code == 0, r.output
    crop = re.search(r"--crop auto chose --crop (\d+,\d+,\d+)", r.output).group(1)
    again = _bench("solve", "astronaut", "--crop", crop, *SMALL, "--out", tmp_path / "b")
    assert again.exit_code == 0
    a = (tmp_path / "a" / "astronaut-greedy-view-300.txt").read_bytes()
    assert a == (tmp_path / "b" / "astronaut-greedy-view-300.txt").read_bytes()


def test_faces_auto_weighs_a_face_and_leaves_a_picture_without_one_alone(tmp_path):
    r = _bench("solve", "astronaut", *SMALL, "--out", tmp_path / "on")
    assert r.exit_code == 0 and "faces: 1 found" in r.output
    off = _bench("solve", "astronaut", *SMALL, "--faces", "off", "--out", tmp_path / "off")
    assert off.exit_code == 0 and "faces:" not in off.output
    assert (tmp_path / "on" / "astronaut-greedy-view-300.txt").read_bytes() != \
        (tmp_path / "off" / "astronaut-greedy-view-300.txt").read_bytes()
    for mode in ("auto", "off"):  # coins has no face: bit for bit the same thread
        r = _bench("solve", "coins", *SMALL, "--faces", mode, "--out", tmp_path / mode)
        assert r.exit_code == 0 and "faces:" not in r.output
    assert (tmp_path / "auto" / "coins-greedy-view-300.txt").read_bytes() == \
        (tmp_path / "off" / "coins-greedy-view-300.txt").read_bytes()


def test_faces_on_without_the_extra_names_it_and_auto_goes_on(tmp_path, monkeypatch):
    from rendering import faces as F

    def missing(*a, **k):
        raise F.InputError(F.MISSING_EXTRA)

    monkeypatch.setattr(F, "detect_faces", missing)
    monkeypatch.setattr(F, "check_available", missing)
    for flag in (["--faces", "on"], ["--crop", "auto"]):  # checked before any work
        r = _bench("solve", "astronaut", *SMALL, *flag, "--out", tmp_path / "x")
        assert r.exit_code == 2 and r.output == "error: face detection needs the faces extra: pip install " \
            "'stringart-bench[faces]'\n"
    r = _bench("solve", "astronaut", *SMALL, "--out", tmp_path / "y")  # auto: as without faces
    assert r.exit_code == 0 and "faces:" not in r.output
    r = _bench("solve", "astronaut", "--faces", "sometimes", "--out", tmp_path / "z")
    assert r.exit_code == 2 and "--faces" in r.output
