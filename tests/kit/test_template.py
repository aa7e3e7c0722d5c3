"""The drill template: SVG pin marks where the layout puts the pins (within 0.1 mm), PDF tiles and pages."""

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from rendering import InputError, ThreadModel
from solvers import Problem, make_solver
from kit.geometry import Geometry
from kit.pages import count_pdf_pages, parse_paper
from kit.template import plan_tiles, template_items, template_pdf, template_svg

NS = {"svg": "http://www.w3.org/2000/svg"}


def _solution(shape="circle", pins=48, frame=300.0, jitter=0.0):
    p = Problem.create("camera", pins=pins, lines=40, canvas=64, shape=shape, jitter=jitter,
                       thread=ThreadModel(frame_mm=frame))
    return make_solver("random").solve(p, rng=0)


def _pins_in_svg(svg: bytes):
    root = ET.fromstring(svg)
    assert root.get("width").endswith("mm") and root.get("height").endswith("mm")
    w = float(root.get("width")[:-2])
    vb = [float(v) for v in root.get("viewBox").split()]
    assert vb == [0, 0, w, float(root.get("height")[:-2])]  # 1 user unit = 1 mm
    marks = {int(c.get("id").split("-")[1]): (float(c.get("cx")), float(c.get("cy")), float(c.get("r")))
             for c in root.iter("{http://www.w3.org/2000/svg}circle") if c.get("class") == "pin"}
    return root, marks


@pytest.mark.parametrize("shape", ["circle", "rect"])
def test_svg_pin_marks_are_at_the_layouts_coordinates(shape):
    sol = _solution(shape)
    geo = Geometry.from_solution(sol, 2.0)
    sheet = template_items(geo)
    root, marks = _pins_in_svg(template_svg(sheet))
    assert sorted(marks) == list(range(48))
    cx, cy = sheet.centre
    R = 150.0
    for k, (x, y, r) in marks.items():
        if shape == "circle":  # independently of the code: pin k at angle 2 pi k / n clockwise from 12 o'clock
            ex, ey = cx + R * math.sin(2 * math.pi * k / 48), cy - R * math.cos(2 * math.pi * k / 48)
        else:
            lay = sol.problem.layout
            ex, ey = (np.array(lay.positions[k]) - lay.center) * (300.0 / lay.span_px) + (cx, cy)
        assert abs(x - ex) < 0.1 and abs(y - ey) < 0.1, (k, x, y, ex, ey)
        assert r == pytest.approx(1.0)  # the pin's diameter
    texts = "".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "300 mm" in texts and "⌀0.2 mm" in texts and "48 pins, ⌀2 mm" in texts
    # the scale bar: ten 10 mm blocks
    blocks = [float(r.get("width")) for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("width") == "10"]
    assert sum(blocks) == 100


def test_jittered_pins_follow_the_layout():
    sol = _solution(jitter=0.4)
    geo = Geometry.from_solution(sol, 1.0)
    sheet = template_items(geo)
    _, marks = _pins_in_svg(template_svg(sheet))
    lay = sol.problem.layout
    exp = (lay.positions - lay.center) * (300.0 / lay.span_px) + sheet.centre
    got = np.array([marks[k][:2] for k in range(48)])
    assert np.abs(got - exp).max() < 0.1


def test_pdf_is_tiled_with_an_assembly_map_and_is_deterministic():
    geo = Geometry.from_solution(_solution(frame=600.0), 1.5)
    sheet = template_items(geo)
    plan = plan_tiles(sheet.width, sheet.height, "A4")
    assert (plan.rows, plan.cols, plan.n_pages) == (3, 4, 13)
    pdf = template_pdf(sheet, plan, title="t", geo=geo)
    assert pdf.startswith(b"%PDF") and count_pdf_pages(pdf) == 13
    assert pdf == template_pdf(sheet, plan, title="t", geo=geo)
    try:
        import pypdf
    except ImportError:
        return
    import io

    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 13
    w, h = float(reader.pages[1].mediabox.width), float(reader.pages[1].mediabox.height)
    assert (w, h) == pytest.approx((210 / 25.4 * 72, 297 / 25.4 * 72), abs=0.5)
    assert "B2" in reader.pages[6].extract_text() and "100 mm" in reader.pages[6].extract_text()


def test_tiles_cover_the_sheet_and_overlap():
    for paper in ("A4", "Letter", "A3", "300x200"):
        plan = plan_tiles(644.0, 680.0, paper)
        xs = [plan.window(0, c)[0] for c in range(plan.cols)]
        ys = [plan.window(r, 0)[1] for r in range(plan.rows)]
        assert xs[0] <= 0 and xs[-1] + plan.tile_w >= 644 and ys[0] <= 0 and ys[-1] + plan.tile_h >= 680
        assert all(b - a == pytest.approx(plan.tile_w - 15) for a, b in zip(xs, xs[1:]))
        assert plan.tile_w + 16 <= max(parse_paper(paper)[1:]) and plan.tile_w >= 112
    assert plan_tiles(100.0, 100.0, "A4").n_pages == 1  # one tile: no assembly map
    assert plan_tiles(644.0, 680.0, "A3").n_tiles < plan_tiles(644.0, 680.0, "A4").n_tiles


def test_paper_too_small_or_unknown_is_one_line():
    with pytest.raises(InputError, match=r"paper 100x100 mm \(100 x 100 mm\) is too small for one tile"):
        plan_tiles(644.0, 680.0, "100x100")
    with pytest.raises(InputError, match="unknown paper 'B9'"):
        plan_tiles(644.0, 680.0, "B9")
