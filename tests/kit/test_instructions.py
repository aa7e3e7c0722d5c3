"""Winding instructions: the TXT reads back as the thread; the PDF has the cover and whole blocks per page."""

import dataclasses
import io
import re

import numpy as np
import pytest

from solvers import Solution
from kit.geometry import Geometry
from kit.instructions import BLOCK, instructions_pdf, instructions_txt, page_count, plan_pages
from kit.pages import count_pdf_pages


def _rows(text: str):
    return [ln for ln in text.splitlines() if re.match(r"^\s+\d+ \| ", ln)]


def test_txt_lists_the_thread_in_blocks_with_running_lengths(small_solution):
    geo = Geometry.from_solution(small_solution, 1.5)
    text = instructions_txt(geo, title="t").decode()
    pins = [int(v) for ln in _rows(text) for v in ln.split("|")[1].split()]
    assert pins == small_solution.path[1:].tolist()
    firsts = [int(ln.split("|")[0]) for ln in _rows(text)]
    assert firsts == list(range(1, small_solution.n_lines + 1, 10))
    assert text.count("BLOCK ") == 2 and "BLOCK 2 of 2 · lines 101-150" in text
    assert f"Tie the thread on at pin {small_solution.path[0]} (at " in text
    assert f"tie off at pin {small_solution.path[-1]} (at " in text
    last = float(_rows(text)[-1].split("|")[2].split()[0])
    assert last == pytest.approx(geo.running_m[-1], abs=0.06)
    assert "MATERIALS" in text and "have at least" in text and "300 mm circle" in text


def test_chord_lists_are_listed_as_pairs(small_solution):
    loose = dataclasses.replace(small_solution.problem, continuous=False)  # lines that need not join
    sol = Solution.from_lines(loose, small_solution.pin_pairs()[:30:2], np.zeros(15))
    text = instructions_txt(Geometry.from_solution(sol, 1.5)).decode()
    pairs = [tuple(map(int, v.split("-"))) for ln in _rows(text) for v in ln.split("|")[1].split()]
    assert np.array_equal(np.array(pairs), sol.pin_pairs()) and "not one continuous thread" in text


def test_pdf_pages_hold_whole_blocks(result_dir):
    from kit import load_solution

    sol = load_solution(result_dir).solution
    geo = Geometry.from_solution(sol, 1.5)
    pdf = instructions_pdf(geo, paper="Letter", title="camera", preview=sol.render())
    _, _, per_page = plan_pages(geo, "Letter")
    assert per_page == 2 and page_count(geo, "Letter") == 1 + 2 == count_pdf_pages(pdf)  # 3 blocks of 100
    assert pdf == instructions_pdf(geo, paper="Letter", title="camera", preview=sol.render())
    try:
        import pypdf
    except ImportError:
        return
    pages = [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]
    assert "Materials" in pages[0] and f"pin {sol.path[0]}" in pages[0]
    for k in range(3):  # every block's header and its last row are on the same page
        page = pages[1 + k // per_page]
        assert f"Block {k + 1} of 3" in page and f"{k * BLOCK + 91}" in page
    assert "tie off" in pages[-1]
