"""One display list, two outputs: SVG text (written here) and matplotlib artists (for PDF pages).

Items are in millimetres, ``x`` to the right and ``y`` down. The template's SVG and its PDF tiles draw
the same items, so a mark is where the SVG says on every printed page too. Text sizes are font sizes
(the em) in millimetres; rotations are in degrees clockwise on the page (SVG's sense).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

import numpy as np

PT_PER_MM = 72.0 / 25.4


@dataclass(frozen=True)
class Circle:
    x: float
    y: float
    r: float
    stroke: str = "black"
    width: float = 0.2
    fill: str = "none"
    id: str | None = None
    cls: str | None = None


@dataclass(frozen=True, kw_only=True)
class _Stroked:
    """How a line or a rectangle's outline is drawn: colour, width (mm) and an optional dash (on, off mm)."""

    stroke: str = "black"
    width: float = 0.2
    dash: tuple[float, float] | None = None


@dataclass(frozen=True)
class Line(_Stroked):
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class Rect(_Stroked):
    x: float
    y: float
    w: float
    h: float
    fill: str = field(default="none", kw_only=True)


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    size: float = 3.0
    rotate: float = 0.0
    anchor: str = "middle"  # start, middle, end
    baseline: str = "middle"  # middle, top, bottom, baseline
    bold: bool = False
    fill: str = "black"


Item = Circle | Line | Rect | Text


def bounds(item: Item) -> tuple[float, float, float, float]:
    """A box that holds the item (generous for text): ``(x0, y0, x1, y1)``."""
    if isinstance(item, Circle):
        return item.x - item.r, item.y - item.r, item.x + item.r, item.y + item.r
    if isinstance(item, Line):
        return min(item.x1, item.x2), min(item.y1, item.y2), max(item.x1, item.x2), max(item.y1, item.y2)
    if isinstance(item, Rect):
        return item.x, item.y, item.x + item.w, item.y + item.h
    reach = item.size * (0.7 * len(item.text) + 1.0)
    return item.x - reach, item.y - reach, item.x + reach, item.y + reach


def _f(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))


def _stroke(stroke: str, width: float, dash) -> str:
    s = f'stroke="{stroke}" stroke-width="{_f(width)}"'
    if dash:
        s += f' stroke-dasharray="{_f(dash[0])} {_f(dash[1])}"'
    return s


_BASELINE = {"middle": "central", "top": "hanging", "bottom": "text-after-edge", "baseline": "alphabetic"}


def svg_item(item: Item) -> str:
    if isinstance(item, Circle):
        attrs = "".join(f" {k}={quoteattr(v)}" for k, v in (("id", item.id), ("class", item.cls)) if v)
        return (f'<circle{attrs} cx="{item.x:.3f}" cy="{item.y:.3f}" r="{_f(item.r)}" fill="{item.fill}" '
                f'{_stroke(item.stroke, item.width, None)}/>')
    if isinstance(item, Line):
        return (f'<line x1="{item.x1:.3f}" y1="{item.y1:.3f}" x2="{item.x2:.3f}" y2="{item.y2:.3f}" '
                f'{_stroke(item.stroke, item.width, item.dash)}/>')
    if isinstance(item, Rect):
        return (f'<rect x="{item.x:.3f}" y="{item.y:.3f}" width="{_f(item.w)}" height="{_f(item.h)}" '
                f'fill="{item.fill}" {_stroke(item.stroke, item.width, item.dash)}/>')
    rot = f' transform="rotate({_f(item.rotate)} {item.x:.3f} {item.y:.3f})"' if item.rotate else ""
    weight = ' font-weight="bold"' if item.bold else ""
    return (f'<text x="{item.x:.3f}" y="{item.y:.3f}" font-size="{_f(item.size)}" text-anchor="{item.anchor}" '
            f'dominant-baseline="{_BASELINE[item.baseline]}" fill="{item.fill}"{weight}{rot}>'
            f'{escape(item.text)}</text>')


def svg_document(items, width_mm: float, height_mm: float, *, title: str = "") -> bytes:
    """An SVG at physical size: 1 user unit = 1 mm."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(width_mm)}mm" height="{_f(height_mm)}mm" '
           f'viewBox="0 0 {_f(width_mm)} {_f(height_mm)}" font-family="DejaVu Sans, Arial, Helvetica, sans-serif">']
    if title:
        out.append(f"<title>{escape(title)}</title>")
    out.append(f'<rect width="{_f(width_mm)}" height="{_f(height_mm)}" fill="white"/>')
    out += [svg_item(it) for it in items]
    out.append("</svg>")
    return ("\n".join(out) + "\n").encode()


_VA = {"middle": "center", "top": "top", "bottom": "bottom", "baseline": "baseline"}
_HA = {"start": "left", "middle": "center", "end": "right"}


def _dashes(dash, width):
    if not dash:
        return "solid"
    w = max(width * PT_PER_MM, 1e-3)
    return (0, (dash[0] * PT_PER_MM / w, dash[1] * PT_PER_MM / w))


def draw(ax, items, *, window: tuple[float, float, float, float] | None = None, clip: bool = True) -> int:
    """Draw the items on a matplotlib axes whose data units are millimetres (y down).

    Only items that reach into ``window`` ``(x0, y0, x1, y1)`` are drawn. Returns how many were.
    """
    from matplotlib.collections import EllipseCollection, LineCollection
    from matplotlib.patches import Rectangle

    drawn = 0
    segs: dict[tuple, list] = {}
    rings: dict[tuple, list] = {}  # circles of one style: one collection (a patch each is 3x slower)
    for it in items:
        if window is not None:
            x0, y0, x1, y1 = bounds(it)
            if x1 < window[0] or x0 > window[2] or y1 < window[1] or y0 > window[3]:
                continue
        drawn += 1
        if isinstance(it, Line):
            segs.setdefault((it.stroke, it.width, it.dash), []).append([(it.x1, it.y1), (it.x2, it.y2)])
        elif isinstance(it, Circle):
            rings.setdefault((it.stroke, it.width, it.fill), []).append((it.x, it.y, 2 * it.r))
        elif isinstance(it, Rect):
            ax.add_patch(Rectangle((it.x, it.y), it.w, it.h, facecolor=it.fill if it.fill != "none" else "none",
                                   edgecolor=it.stroke if it.stroke != "none" else "none",
                                   linewidth=it.width * PT_PER_MM, linestyle=_dashes(it.dash, it.width),
                                   clip_on=clip))
        else:
            ax.text(it.x, it.y, it.text, fontsize=it.size * PT_PER_MM, rotation=-it.rotate, rotation_mode="anchor",
                    ha=_HA[it.anchor], va=_VA[it.baseline], fontweight="bold" if it.bold else "normal",
                    color=it.fill, clip_on=clip)
    for (stroke, width, fill), circles in rings.items():
        xyd = np.asarray(circles, dtype=np.float64)
        coll = EllipseCollection(xyd[:, 2], xyd[:, 2], np.zeros(len(xyd)), units="xy", offsets=xyd[:, :2],
                                 offset_transform=ax.transData, facecolors=fill if fill != "none" else "none",
                                 edgecolors=stroke if stroke != "none" else "none", linewidths=width * PT_PER_MM)
        coll.set_clip_on(clip)
        ax.add_collection(coll)
    for (stroke, width, dash), lines in segs.items():
        ax.add_collection(LineCollection(lines, colors=stroke, linewidths=width * PT_PER_MM,
                                         linestyles=_dashes(dash, width), clip_on=clip))
    return drawn
