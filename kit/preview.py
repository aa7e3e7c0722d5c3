"""A realistic preview at physical scale: opaque thread of its real width on the board's colour, with the pins.

The solvers' preview (``preview.png``) is the multiplicative thread model at the canvas: the picture as
the solver saw it, at the viewing scale. This one is how the wound frame looks up close: every line is
drawn as an opaque strip ``thread_mm`` wide at ``k`` times the output resolution (the union of opaque
threads: where they cross it is simply black, as Birsak et al. 2018 model it), then box-averaged down
(:meth:`PIL.Image.Image.reduce`), and the coverage mixes the thread's colour into the board's. ``k`` is
and the resolution are chosen so the strip is a whole number of fine pixels (Pillow draws whole-pixel
widths): the thread's width is exact.
The PNG records its resolution (``dpi``), so it prints at 1:1.
"""

from __future__ import annotations

import io

import numpy as np

from rendering import InputError
from rendering.errors import check_float

#: output resolution at most (px per mm) and the longest side at most (px)
PX_PER_MM = 4.0
MAX_SIDE = 2400
#: the supersampled drawing's side at most (px): 10 000 px is 100 MB
MAX_FINE = 10000
PIN = "#8a8a8a"


def parse_colour(text: str, name: str = "colour") -> tuple[int, int, int]:
    """``#rrggbb`` (or ``rrggbb``) -> (r, g, b).

    >>> parse_colour("#ff8000")
    (255, 128, 0)
    """
    s = str(text).strip().lstrip("#")
    if len(s) == 6:
        try:
            return int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16)
        except ValueError:
            pass
    raise InputError(f"{name} must be a colour like #f2ede3, got {text!r}")


def choose_scale(thread_mm: float, target_px_per_mm: float, *, k_max: int = 4) -> tuple[float, int, int]:
    """``(px_per_mm, k, strip)``: the finest resolution up to ``target_px_per_mm`` at which the thread is a
    whole number ``strip`` of fine pixels at ``k``-times supersampling (``k <= k_max``), so Pillow's
    whole-pixel line widths draw the thread's real width exactly.

    >>> choose_scale(0.2, 3.87)
    (3.75, 4, 3)
    """
    best = None
    for k in range(2, max(2, k_max) + 1):
        strip = int(thread_mm * target_px_per_mm * k + 1e-9)
        if strip < 1:
            continue
        ppm = strip / (k * thread_mm)
        if best is None or ppm > best[0] + 1e-9:
            best = (ppm, k, strip)
    if best is None:  # a thread far below a pixel: one fine pixel at the largest k
        k = max(2, k_max)
        return target_px_per_mm, k, 1
    return best


def _draw_strips(draw, a: np.ndarray, b: np.ndarray, width: float, fill=255) -> None:
    """Each line ``a[i] -> b[i]`` as a strip ``width`` fine px across, opaque (``fill``: 255, or a colour).

    A strip is drawn as 1-px lines stacked along the minor axis: a line at angle θ off its major axis is
    ``width / cos θ`` px thick along the minor axis, rounded with the remainder carried on to the next
    line, so the threads' total area is right (Pillow's own wide lines err by up to 30 % with the angle,
    and draw 5x slower).
    """
    carry = 0.0
    for (ax, ay), (bx, by) in zip(a.tolist(), b.tolist()):
        dx, dy = bx - ax, by - ay
        major = max(abs(dx), abs(dy))
        if major == 0:
            continue
        n = width * (dx * dx + dy * dy) ** 0.5 / major + carry
        m = max(0, int(n + 0.5)) if width >= 1 else int(n)
        carry = n - m
        ox, oy = (0.0, 1.0) if abs(dx) >= abs(dy) else (1.0, 0.0)
        for i in range(m):
            o = i - (m - 1) / 2.0
            draw.line([(ax + o * ox, ay + o * oy), (bx + o * ox, by + o * oy)], fill=fill, width=1)


def real_preview(geo, *, px_per_mm: float | None = None, board: str | None = None, thread: str | None = None,
                 max_side: int = MAX_SIDE) -> tuple[bytes, dict]:
    """The PNG and what it is (``px_per_mm``, ``size``, ``supersample``, ``width_px``).

    Parameters
    ----------
    geo : :class:`~kit.geometry.Geometry`
    px_per_mm : output resolution; default: :data:`PX_PER_MM`, lowered so the side stays <= ``max_side``
    board, thread : ``#rrggbb`` in place of the board's colour and of every spool's (None: the palette's);
        the threads are drawn in build order (a later thread lies over an earlier one)
    """
    from PIL import Image, ImageDraw

    board_rgb = parse_colour(board or geo.board_hex, "board colour")
    spool_rgb = [parse_colour(thread or h, "thread colour") for h in geo.colour_hex]
    extent = geo.frame_mm + 2 * max(4.0 * geo.pin_mm, 10.0)  # the frame and a rim of board round it
    if px_per_mm is None:
        px_per_mm = min(PX_PER_MM, max_side / extent)
    px_per_mm = check_float("real_px_per_mm", px_per_mm, low=0.0, low_open=True,
                            hint="the realistic preview's resolution, e.g. 4 px per mm")
    if extent * px_per_mm > MAX_FINE / 2:
        raise InputError(f"the realistic preview would be {extent * px_per_mm:.0f} px wide; lower its resolution "
                         f"(px per mm)")
    px_per_mm, k, strip = choose_scale(geo.thread_mm, px_per_mm,
                                       k_max=max(2, min(4, int(MAX_FINE // (extent * px_per_mm)))))
    side = int(round(extent * px_per_mm))
    fine = side * k
    s = px_per_mm * k  # fine px per mm
    c = fine / 2.0
    pts = geo.pins * s + c
    board = np.asarray(board_rgb, np.float32)
    one = len(set(spool_rgb)) == 1  # one thread colour: the order of the runs cannot show
    im = Image.new("L", (fine, fine), 0) if one else Image.new("RGB", (fine, fine), board_rgb)
    d = ImageDraw.Draw(im)
    for spool, a, b in geo.runs:  # in build order: later threads over earlier ones
        pr = geo.pairs[a:b + 1]
        _draw_strips(d, pts[pr[:, 0]], pts[pr[:, 1]], float(strip), fill=255 if one else spool_rgb[spool])
    if one:  # drawn as a coverage mask (a third of the pixels to draw and average), then coloured
        cover = np.asarray(im.reduce(k), dtype=np.float32)[..., None] / np.float32(255.0)
        drawn = board * (1.0 - cover) + np.asarray(spool_rgb[0], np.float32) * cover
    else:
        drawn = np.asarray(im.reduce(k), dtype=np.float32)
    o = np.float32(geo.opacity)
    rgb = board * (1.0 - o) + drawn * o
    out = Image.fromarray(np.clip(np.round(rgb), 0, 255).astype(np.uint8), "RGB")
    # the pins, on top
    d = ImageDraw.Draw(out)
    r = geo.pin_mm / 2 * px_per_mm
    pin_rgb = parse_colour(PIN)
    for x, y in geo.pins * px_per_mm + side / 2.0:
        d.ellipse([x - r, y - r, x + r, y + r], fill=pin_rgb)
    buf = io.BytesIO()
    dpi = px_per_mm * 25.4
    out.save(buf, "PNG", dpi=(dpi, dpi), compress_level=3)  # level 6 is 2.5x slower and no smaller here
    return buf.getvalue(), dict(px_per_mm=px_per_mm, size=side, supersample=k, width_px=strip / k)
