"""Thread calibration: the sheet, and the fit on synthetic photos (rendered, warped, lit, noised)."""

import io
import re

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from bench.cli import app
from rendering import InputError
from kit import calibrate as cal
from kit.pages import count_pdf_pages

runner = CliRunner()


def _save(photo, path):
    Image.fromarray(np.clip(np.round(photo * 255), 0, 255).astype(np.uint8)).save(path)
    return path


def test_the_pattern_is_four_stars_from_pin_0():
    path = cal.pattern_path()
    assert path.size == 4 * 72 + 1 and path[0] == 0 and path[-1] == 0
    steps = (np.diff(path) % 72).reshape(4, 72)
    assert [set(s) for s in steps] == [{11}, {17}, {23}, {29}]
    assert len(cal.ring_edges()) >= 6


def test_sheet_files(tmp_path):
    res = runner.invoke(app, ["calibrate", "sheet", "--out", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in (tmp_path / "c").iterdir())
    assert names == ["calibration-instructions.pdf", "calibration-instructions.txt", "calibration-preview.png",
                     "calibration.pdf", "calibration.svg"]
    assert count_pdf_pages((tmp_path / "c" / "calibration.pdf").read_bytes()) == 1  # one page, 1:1
    svg = (tmp_path / "c" / "calibration.svg").read_text()
    assert 'width="180mm"' in svg and svg.count('fill="black" stroke="none"') == 4  # the four marks
    txt = (tmp_path / "c" / "calibration-instructions.txt").read_text()
    assert "288 in 3 blocks" in txt and "Tie the thread on at pin 0 " in txt


@pytest.mark.parametrize("opacity,threads,seed", [(0.5, "table", 1), (0.85, "table", 2), (0.65, "strips", 3)])
def test_fit_recovers_the_opacity_within_0_02(opacity, threads, seed):
    photo = cal.synthetic_photo(opacity, rng=seed, threads=threads, warp=0.05, noise=0.03, light=0.3)
    photo = np.asarray(Image.open(io.BytesIO(_png(photo))), np.float32) / 255.0  # as a camera file: 8 bits
    fit = cal.fit_photo(photo, thread_mm=0.2)
    assert abs(fit.opacity - opacity) <= 0.02, (fit.opacity, fit.measured, fit.simulated)
    assert fit.rms < 0.01 and not fit.warnings and not fit.width_fitted
    assert fit.equivalent_thread_mm == pytest.approx(0.2 * fit.opacity)


def test_a_thread_darker_than_its_width_is_fitted_by_width():
    photo = cal.synthetic_photo(1.0, thread_mm=0.3, rng=4, threads="table")
    fit = cal.fit_photo(photo, thread_mm=0.2)
    assert fit.width_fitted and fit.opacity == 1.0 and fit.thread_mm == pytest.approx(0.3, abs=0.01)
    assert any(re.search(r"use: --thread-mm 0\.(29|30)\d --opacity 1", ln) for ln in fit.advice())


def test_fit_with_a_photo_of_the_bare_board(tmp_path):
    wound = cal.synthetic_photo(0.7, rng=5, light=0.4)
    bare = cal.synthetic_photo(0.0001, rng=5, light=0.4)  # the same sheet and light, (almost) no thread
    fit = cal.fit_photo(_save(wound, tmp_path / "w.png"), bare=_save(bare, tmp_path / "b.png"))
    assert abs(fit.opacity - 0.7) <= 0.02


def test_cli_prints_the_options_to_use(tmp_path):
    photo = _save(cal.synthetic_photo(0.8, rng=6), tmp_path / "p.png")
    res = runner.invoke(app, ["calibrate", "fit", str(photo)])
    assert res.exit_code == 0, res.output
    assert "frame found (4 marks)" in res.stdout and "use: --thread-mm 0.2 --opacity 0.8" in res.stdout


def test_a_photo_with_no_frame_is_one_line(tmp_path):
    rng = np.random.default_rng(0)
    noise = _save(np.clip(0.7 + 0.1 * rng.standard_normal((300, 400)), 0, 1), tmp_path / "noise.png")
    res = runner.invoke(app, ["calibrate", "fit", str(noise)])
    assert res.exit_code == 2
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and "no calibration frame found in" in err[0]
    photo = cal.synthetic_photo(0.8, rng=7)
    cropped = photo[:, : photo.shape[1] // 2]  # half the sheet: two marks
    with pytest.raises(InputError, match="no calibration frame found"):
        cal.fit_photo(cropped)
    res = runner.invoke(app, ["calibrate", "fit", str(tmp_path / "missing.jpg")])
    assert res.exit_code == 2 and "not found" in res.stderr


def _png(img):
    buf = io.BytesIO()
    Image.fromarray(np.clip(np.round(img * 255), 0, 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()
