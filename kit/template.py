"""The drill template: every pin a drill mark with its number, the frame outline, the sizes, a scale bar.

* :func:`template_items` builds the template once, as a display list in millimetres
  (:mod:`kit.drawing`).
* :func:`template_svg`: one sheet at 1:1 physical size (``width``/``height`` in mm, 1 user unit = 1 mm).
* :func:`template_pdf`: the same items tiled on A4, Letter or any paper: a first page with the
  assembly map (when there is more than one tile), then one page per tile, 1:1, each with a 15 mm
  overlap shared with its neighbours, a dashed trim line and ⊕ alignment marks in that overlap (the
  same marks print on both pages), its label (row letter, column number), and a 100 mm scale bar to
  check the printer's scaling.

Pin 0 is at 12 o'clock and numbers go clockwise as seen from the front (:mod:`rendering.layout`); the
template is seen from the front too (lay it on the board's front face).
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass

from rendering import InputError

from .drawing import Circle, Line, Rect, Text, draw, svg_document
from .pages import PRINTER_MARGIN_MM, add_window, new_page, parse_paper, pdf_bytes, style

#: room around the frame for the numbers and marks, and the band below for the sizes and scale bar (mm)
BORDER_MM = 22.0
INFO_MM = 36.0
#: overlap shared by neighbouring tiles (mm)
OVERLAP_MM = 15.0
#: the footer of a tile page: scale bar, label (mm)
FOOTER_MM = 17.0
#: the smallest printable area that holds a tile: the 100 mm scale bar and room for the drawing (mm)
MIN_TILE_MM = (112.0, 60.0)


@dataclass(frozen=True)
class Sheet:
    """The template's drawing: items in mm on a sheet ``width x height`` mm, the frame centred at ``centre``."""

    width: float
    height: float
    centre: tuple[float, float]
    marks: list  # drill marks and frame (drawn on the overview too)
    labels: list  # pin numbers
    info: list  # sizes, title, scale bar


def scale_bar(x: float, y: float, *, length: float = 100.0, height: float = 2.5, caption: bool = True) -> list:
    """A ``length`` mm scale bar from ``(x, y)`` (its top left): black and white 10 mm blocks, labelled."""
    items = []
    for k in range(int(length // 10)):
        items.append(Rect(x + 10 * k, y, 10.0, height, stroke="black", width=0.15,
                          fill="black" if k % 2 == 0 else "white"))
    for v in (0, length / 2, length):
        items.append(Text(x + v, y + height + 0.8, f"{v:g}", size=2.4, baseline="top"))
    if caption:
        items.append(Text(x + length + 3, y + height / 2, f"{length:g} mm: check it with a ruler", size=2.4,
                          anchor="start"))
    return items


def _outward(geo, x: float, y: float) -> tuple[float, float]:
    if geo.shape == "circle":
        r = math.hypot(x, y) or 1.0
        return x / r, y / r
    if abs(y) >= abs(x):
        return 0.0, math.copysign(1.0, y)
    return math.copysign(1.0, x), 0.0


def template_items(geo, *, title: str = "", budget: dict | None = None, border: float = BORDER_MM,
                   info_mm: float = INFO_MM, notes: bool = True) -> Sheet:
    """The template of a :class:`~kit.geometry.Geometry` as a :class:`Sheet`.

    ``border`` is the room round the frame, ``info_mm`` the band below it; ``notes=False`` leaves out the
    centre mark and the note by pin 0 (the calibration sheet keeps its inside bare).
    """
    f = geo.frame_mm
    width, height = f + 2 * border, f + 2 * border + info_mm
    cx, cy = width / 2.0, border + f / 2.0
    marks: list = []
    if geo.shape == "circle":
        marks.append(Circle(cx, cy, f / 2.0, stroke="#888888", width=0.25, id="frame", cls="frame"))
    else:
        marks.append(Rect(cx - f / 2.0, cy - f / 2.0, f, f, stroke="#888888", width=0.25))
    if notes:
        marks += [Line(cx - 6, cy, cx + 6, cy, width=0.15), Line(cx, cy - 6, cx, cy + 6, width=0.15),
                  Text(cx + 1.5, cy + 1.5, "centre", size=2.0, anchor="start", baseline="top", fill="#555555")]
    r = geo.pin_mm / 2.0
    tick = r + 1.2
    size = min(2.8, max(1.4, 0.55 * geo.spacing_mm))
    labels: list = []
    for k, (px, py) in enumerate(geo.pins):
        x, y = cx + float(px), cy + float(py)
        marks.append(Circle(x, y, r, stroke="black", width=0.15, id=f"pin-{k}", cls="pin"))
        marks += [Line(x - tick, y, x + tick, y, width=0.08), Line(x, y - tick, x, y + tick, width=0.08)]
        dx, dy = _outward(geo, float(px), float(py))
        gap = r + 1.6
        angle = math.degrees(math.atan2(dy, dx))
        anchor = "start"
        if dx < -1e-9 or (abs(dx) <= 1e-9 and dy > 0):
            angle, anchor = angle + 180.0, "end"
        labels.append(Text(x + gap * dx, y + gap * dy, str(k), size=size * (1.15 if k % 10 == 0 else 1.0),
                           rotate=round(angle, 3), anchor=anchor, bold=k % 10 == 0))
    if notes:
        x0, y0 = geo.pins[0]
        dx, dy = _outward(geo, float(x0), float(y0))
        labels.append(Text(cx + float(x0) + 12 * dx, cy + float(y0) + 12 * dy - 1.0, "pin 0 = 12 o'clock, "
                           "numbers go clockwise seen from the front", size=2.2, baseline="bottom"))
    top = border + f + border
    left = max(border, 5.0)
    info = [Text(left, top + 2, title or "string art template", size=4.0, anchor="start", baseline="top",
                 bold=True),
            Text(left, top + 8, f"Frame: {geo.shape_name} {geo.frame_mm:g} mm "
                 f"({'pin circle diameter' if geo.shape == 'circle' else 'side, pin to pin'}) · "
                 f"{geo.n_pins} pins, ⌀{geo.pin_mm:g} mm, {geo.spacing_mm:.2f} mm apart", size=3.0,
                 anchor="start", baseline="top"),
            Text(left, top + 13, f"Thread: ⌀{geo.thread_mm:g} mm"
                 + (f", opacity {geo.opacity:g}" if geo.opacity < 1 else "")
                 + (f" · {geo.n_lines} lines · about {budget['total_m']:.0f} m with spare" if budget else ""),
                 size=3.0, anchor="start", baseline="top"),
            Text(left, top + 18, "Drill at each cross; the circle is the pin's size.", size=3.0,
                 anchor="start", baseline="top")]
    info += scale_bar(left, top + 24)
    return Sheet(width, height, (cx, cy), marks, labels, info)


def template_svg(sheet: Sheet, *, title: str = "") -> bytes:
    """One sheet at 1:1: ``width`` and ``height`` in mm, 1 user unit = 1 mm."""
    return svg_document([*sheet.marks, *sheet.labels, *sheet.info], sheet.width, sheet.height, title=title)


# ---------------------------------------------------------------------------------------------------- tiling
@dataclass(frozen=True)
class TilePlan:
    """How the sheet is cut into pages: ``rows x cols`` tiles of ``tile_w x tile_h`` mm (the printable
    drawing area), neighbours overlapping by ``overlap`` mm; tile ``(r, c)`` shows the sheet from
    ``(x0 + c * (tile_w - overlap), y0 + r * (tile_h - overlap))``."""

    paper: str
    page_w: float
    page_h: float
    landscape: bool
    tile_w: float
    tile_h: float
    overlap: float
    rows: int
    cols: int
    x0: float
    y0: float

    @property
    def n_tiles(self) -> int:
        return self.rows * self.cols

    @property
    def n_pages(self) -> int:
        """The tiles, after the assembly map when there is more than one tile."""
        return self.n_tiles + (1 if self.n_tiles > 1 else 0)

    def window(self, r: int, c: int) -> tuple[float, float]:
        return self.x0 + c * (self.tile_w - self.overlap), self.y0 + r * (self.tile_h - self.overlap)

    def label(self, r: int, c: int) -> str:
        return f"{row_name(r)}{c + 1}"


def row_name(r: int) -> str:
    letters = string.ascii_uppercase
    return letters[r] if r < 26 else letters[r // 26 - 1] + letters[r % 26]


def _count(extent: float, tile: float, overlap: float) -> int:
    return 1 if extent <= tile else int(math.ceil((extent - overlap) / (tile - overlap) - 1e-9))


def plan_tiles(sheet_w: float, sheet_h: float, paper: str = "A4", *, overlap: float = OVERLAP_MM) -> TilePlan:
    """The fewest pages (portrait or landscape) that cover the sheet at 1:1 on ``paper``.

    Raises :class:`InputError` when the paper is too small for one tile.
    """
    name, pw, ph = parse_paper(paper)
    best = None
    for landscape in (False, True):
        w, h = (ph, pw) if landscape else (pw, ph)
        tw, th = w - 2 * PRINTER_MARGIN_MM, h - 2 * PRINTER_MARGIN_MM - FOOTER_MM
        if tw < MIN_TILE_MM[0] or th < MIN_TILE_MM[1] or overlap >= min(tw, th) / 3:
            continue
        rows, cols = _count(sheet_h, th, overlap), _count(sheet_w, tw, overlap)
        if best is None or rows * cols < best.rows * best.cols:
            cover_w, cover_h = cols * (tw - overlap) + overlap, rows * (th - overlap) + overlap
            best = TilePlan(name, w, h, landscape, tw, th, overlap, rows, cols, (sheet_w - cover_w) / 2,
                            (sheet_h - cover_h) / 2)
    if best is None:
        need_w = MIN_TILE_MM[0] + 2 * PRINTER_MARGIN_MM
        need_h = MIN_TILE_MM[1] + 2 * PRINTER_MARGIN_MM + FOOTER_MM
        raise InputError(f"paper {name} ({pw:g} x {ph:g} mm) is too small for one tile: a page must hold the "
                         f"100 mm scale bar and a {overlap:g} mm overlap inside {PRINTER_MARGIN_MM:g} mm margins "
                         f"(at least {need_w:g} x {need_h:g} mm); use --paper A4 or Letter")
    return best


def alignment_items(plan: TilePlan) -> list:
    """Dashed trim lines and ⊕ marks in the middle of every overlap (sheet coordinates: both pages print them)."""
    items: list = []
    step_w, step_h = plan.tile_w - plan.overlap, plan.tile_h - plan.overlap
    y_top, y_bot = plan.y0, plan.y0 + plan.rows * step_h + plan.overlap
    x_left, x_right = plan.x0, plan.x0 + plan.cols * step_w + plan.overlap
    xs = [plan.x0 + c * step_w + plan.overlap / 2 for c in range(1, plan.cols)]
    ys = [plan.y0 + r * step_h + plan.overlap / 2 for r in range(1, plan.rows)]
    col_mid = [plan.x0 + c * step_w + plan.tile_w / 2 for c in range(plan.cols)]
    row_mid = [plan.y0 + r * step_h + plan.tile_h / 2 for r in range(plan.rows)]
    dash = (3.0, 2.0)
    for x in xs:
        items.append(Line(x, y_top, x, y_bot, stroke="#777777", width=0.2, dash=dash))
    for y in ys:
        items.append(Line(x_left, y, x_right, y, stroke="#777777", width=0.2, dash=dash))
    points = [(x, y) for x in xs for y in row_mid + ys] + [(x, y) for y in ys for x in col_mid]
    for x, y in points:
        items += [Circle(x, y, 2.5, stroke="black", width=0.2, fill="white"),
                  Line(x - 4.5, y, x + 4.5, y, width=0.2), Line(x, y - 4.5, x, y + 4.5, width=0.2)]
    return items


def _overview_page(sheet: Sheet, plan: TilePlan, title: str, geo):
    from matplotlib.patches import Rectangle

    fig, ax = new_page(plan.page_w, plan.page_h)
    m = PRINTER_MARGIN_MM
    lines = [(title or "String art template", 5.0, True),
             (f"{plan.n_tiles} tiles on {plan.paper} {'landscape' if plan.landscape else 'portrait'} "
              f"({plan.rows} rows x {plan.cols} columns), then glued into one {sheet.width:.0f} x "
              f"{sheet.height:.0f} mm sheet.", 3.2, False),
             ("1. Print pages 2-" f"{plan.n_pages} at 100 % (no 'fit to page'); measure the 100 mm bar below.", 3.2,
              False),
             ("2. Trim each page along its dashed line where it overlaps a neighbour; lay it over the", 3.2, False),
             ("    neighbour so the ⊕ marks sit on each other; tape. Labels: row letter, column number.", 3.2, False),
             ("3. Lay the sheet on the board's FRONT face; drill or nail at every cross.", 3.2, False),
             (geo.describe() if geo is not None else "", 3.0, False)]
    y = m
    for text, size, bold in lines:
        ax.text(m, y, text, fontsize=size * 72 / 25.4, va="top", ha="left", fontweight="bold" if bold else "normal")
        y += size * 1.6
    top = y + 4
    avail_w, avail_h = plan.page_w - 2 * m, plan.page_h - top - m - FOOTER_MM
    s = min(avail_w / sheet.width, avail_h / sheet.height)
    w, h = sheet.width * s, sheet.height * s
    left = (plan.page_w - w) / 2
    ov = fig.add_axes((left / plan.page_w, 1 - (top + h) / plan.page_h, w / plan.page_w, h / plan.page_h))
    ov.set_xlim(0, sheet.width)
    ov.set_ylim(sheet.height, 0)
    ov.set_axis_off()
    ov.add_patch(Rectangle((0, 0), sheet.width, sheet.height, facecolor="none", edgecolor="#bbbbbb",
                           linewidth=0.5))
    draw(ov, [it for it in sheet.marks if not isinstance(it, (Line, Text))])
    for r in range(plan.rows):
        for c in range(plan.cols):
            x, y0 = plan.window(r, c)
            ov.add_patch(Rectangle((x, y0), plan.tile_w, plan.tile_h, facecolor="none", edgecolor="tab:blue",
                                   linewidth=0.8, alpha=0.8))
            ov.text(x + plan.tile_w / 2, y0 + plan.tile_h / 2, plan.label(r, c), ha="center", va="center",
                    fontsize=14, color="tab:blue", fontweight="bold")
    _footer(ax, plan, f"assembly map (not to scale) · page 1 of {plan.n_pages}", "")
    return fig


def _footer(ax, plan: TilePlan, left: str, big: str) -> None:
    m = PRINTER_MARGIN_MM
    y = plan.page_h - m - FOOTER_MM + 3.0
    draw(ax, scale_bar(m, y, caption=False), clip=False)
    ax.text(m + 103, y + 1.25, "100 mm: measure it (print at 100 %)", fontsize=2.4 * 72 / 25.4, va="center",
            ha="left")
    ax.text(m, plan.page_h - m, left, fontsize=2.8 * 72 / 25.4, va="bottom", ha="left")
    if big:
        ax.text(plan.page_w - m, plan.page_h - m, big, fontsize=9 * 72 / 25.4, va="bottom", ha="right",
                fontweight="bold")


def _tile_page(sheet: Sheet, plan: TilePlan, align: list, r: int, c: int, page: int, geo):
    fig, ax = new_page(plan.page_w, plan.page_h)
    m = PRINTER_MARGIN_MM
    wx, wy = plan.window(r, c)
    tile = add_window(fig, plan.page_w, plan.page_h, m, m, plan.tile_w, plan.tile_h, wx, wy)
    window = (wx, wy, wx + plan.tile_w, wy + plan.tile_h)
    draw(tile, align, window=window)
    draw(tile, [*sheet.marks, *sheet.labels, *sheet.info], window=window)
    # the tile's edge, and its neighbours' names at its edges
    draw(ax, [Rect(m, m, plan.tile_w, plan.tile_h, stroke="#cccccc", width=0.15)], clip=False)
    hint = 2.4 * 72 / 25.4
    qx, qy = m + plan.tile_w / 4, m + plan.tile_h / 4  # a quarter along each edge: clear of the ⊕ marks
    if r > 0:
        ax.text(qx, m + 1, f"↑ {plan.label(r - 1, c)}", fontsize=hint, ha="center", va="top",
                color="#555555")
    if r < plan.rows - 1:
        ax.text(qx, m + plan.tile_h - 1, f"↓ {plan.label(r + 1, c)}", fontsize=hint,
                ha="center", va="bottom", color="#555555")
    if c > 0:
        ax.text(m + 1, qy, f"← {plan.label(r, c - 1)}", fontsize=hint, ha="left", va="center",
                color="#555555")
    if c < plan.cols - 1:
        ax.text(m + plan.tile_w - 1, qy, f"{plan.label(r, c + 1)} →", fontsize=hint, ha="right",
                va="center", color="#555555")
    one = plan.n_tiles == 1
    info = f"page {page} of {plan.n_pages}" + ("" if one else f" · row {row_name(r)} of {plan.rows}, column "
                                                                f"{c + 1} of {plan.cols}")
    if geo is not None:
        info += f" · {geo.shape_name} {geo.frame_mm:g} mm, {geo.n_pins} pins ⌀{geo.pin_mm:g} mm, thread ⌀" \
                f"{geo.thread_mm:g} mm"
    _footer(ax, plan, info, "" if one else plan.label(r, c))
    return fig


def template_pdf(sheet: Sheet, plan: TilePlan, *, title: str = "", geo=None) -> bytes:
    """The assembly map, then one 1:1 page per tile (see the module's docstring)."""
    align = alignment_items(plan)
    with style():
        figs = [_overview_page(sheet, plan, title, geo)] if plan.n_tiles > 1 else []
        page = len(figs) + 1
        for r in range(plan.rows):
            for c in range(plan.cols):
                figs.append(_tile_page(sheet, plan, align, r, c, page, geo))
                page += 1
        return pdf_bytes(figs, title=title or "string art template", subject="drill template, 1:1 tiles")
