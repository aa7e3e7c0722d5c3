"""A `bench solve` result read back (folder, JSON, TXT), and each bad result as one InputError line."""

import json

import numpy as np
import pytest

from rendering import InputError
from kit import find_result_json, load_solution


def test_folder_json_and_txt_give_the_same_thread(result_dir):
    a = load_solution(result_dir)
    b = load_solution(a.json_path)
    c = load_solution(a.json_path.with_suffix(".txt"))
    doc = json.loads(a.json_path.read_text())
    assert a.solution.path.tolist() == doc["pins"] == b.solution.path.tolist() == c.solution.path.tolist()
    assert a.solution.problem.layout.n_pins == 64 and a.solution.problem.thread.frame_mm == 300.0
    assert a.title == "camera · greedy · 300 lines"
    assert a.solution.thread_length_m() == pytest.approx(doc["thread_length_m"], abs=1e-3)


def test_a_chord_list_result_is_read(small_solution, tmp_path):
    from solvers import Solution
    from kit.results import json_bytes

    import dataclasses

    loose = dataclasses.replace(small_solution.problem, continuous=False)  # lines that need not join
    pairs = small_solution.pin_pairs()[::2]
    sol = Solution.from_lines(loose, pairs, np.zeros(len(pairs)), solver="x")
    (tmp_path / "r.json").write_bytes(json_bytes(sol))
    got = load_solution(tmp_path).solution
    assert got.path is None and np.array_equal(got.pin_pairs(), sol.pin_pairs())


def _err(path) -> str:
    with pytest.raises(InputError) as e:
        load_solution(path)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_bad_results_are_one_line_each(result_dir, tmp_path):
    src = find_result_json(result_dir)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no result in folder" in _err(empty)
    only_txt = tmp_path / "only_txt"
    only_txt.mkdir()
    (only_txt / "a.txt").write_text("1\n5\n")
    assert "its .txt pin file alone does not say the frame" in _err(only_txt)
    several = tmp_path / "several"
    several.mkdir()
    for name in ("a.json", "b.json"):
        (several / name).write_text(src.read_text())
    assert "several results" in _err(several) and "pass one of them" in _err(several)
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text(src.read_text()[:200])
    assert "is not valid JSON" in _err(corrupt)
    doc = json.loads(src.read_text())
    doc["runs"][0]["pins"] = [p + 64 if i == 5 else p for i, p in enumerate(doc["runs"][0]["pins"])]
    other = tmp_path / "other.json"
    other.write_text(json.dumps(doc))
    msg = _err(other)
    assert "names pin" in msg and "has 64 pins" in msg and "another pin count" in msg
    # a TXT pin file from another pin count than the JSON beside it
    (tmp_path / "t.json").write_text(src.read_text())
    (tmp_path / "t.txt").write_text("3\n70\n12\n")
    assert "another pin count" in _err(tmp_path / "t.txt")
    doc = json.loads(src.read_text())
    del doc["frame_mm"]
    (tmp_path / "nof.json").write_text(json.dumps(doc))
    assert "has no 'frame_mm'" in _err(tmp_path / "nof.json")
    assert "not found" in _err(tmp_path / "nope")


def test_progress_files_are_not_results(result_copy):
    (result_copy / "x.wind.json").write_text("{}")
    assert find_result_json(result_copy).name == "camera-greedy-300.json"
