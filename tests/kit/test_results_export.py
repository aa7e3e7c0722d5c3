import json
import os

import numpy as np
import pytest
from PIL import Image

from rendering import InputError
from kit.results import write_result
from solvers import Problem, make_solver


@pytest.fixture(scope="module")
def solution():
    p = Problem.create("camera", pins=36, lines=25, canvas=48, min_gap=4)
    return make_solver("random").solve(p, rng=3)


def test_every_export(solution, tmp_path):
    files = write_result(solution, tmp_path, stem="art")
    assert sorted(files) == ["csv", "json", "png", "svg", "txt"]
    pins = [int(x) for x in files["txt"].read_text().split()]
    assert pins == solution.path.tolist()
    doc = json.loads(files["json"].read_text())
    assert doc["pins"] == pins and doc["n_pins"] == 36 and doc["n_lines"] == 25
    assert doc["thread_length_m"] == pytest.approx(solution.thread_length_m(), abs=1e-3)
    rows = files["csv"].read_text().splitlines()
    assert rows[0] == "step,colour,from_pin,to_pin,length_mm,colour_m,cumulative_m" and len(rows) == 26
    assert float(rows[-1].split(",")[-1]) == pytest.approx(solution.thread_length_m(), abs=1e-3)
    svg = files["svg"].read_text()
    assert 'width="600.00mm"' not in svg and "mm" in svg and "<polyline" in svg
    im = np.asarray(Image.open(files["png"]))
    assert im.shape == (48, 48) and im.min() < 255
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_svg_is_at_physical_size(solution, tmp_path):
    svg = write_result(solution, tmp_path, formats=("svg",))["svg"].read_text()
    p = solution.problem
    size = p.layout.canvas * p.thread.frame_mm / p.layout.span_px
    assert f'width="{size:.2f}mm"' in svg


def test_thread_length_is_the_sum_of_chord_lengths(solution):
    p = solution.problem
    pos = p.layout.positions
    px = sum(np.hypot(*(pos[a] - pos[b])) for a, b in zip(solution.path[:-1], solution.path[1:]))
    assert solution.thread_length_m() == pytest.approx(px * p.thread.frame_mm / p.layout.span_px / 1000)


def test_unwritable_folder_is_one_line_and_leaves_nothing(solution, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="exists and is not a folder; choose another --out"):
        write_result(solution, blocker)
    with pytest.raises(InputError, match=r"cannot write to output folder '.*sub' \(Not a directory\); choose"):
        write_result(solution, blocker / "sub")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # root ignores permission bits
            pytest.skip("running as root: permission bits are not enforced")
        with pytest.raises(InputError, match="cannot write to output folder"):
            write_result(solution, ro)
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


def test_unknown_format(solution, tmp_path):
    with pytest.raises(InputError, match="unknown export format 'gif'"):
        write_result(solution, tmp_path, formats=("gif",))
