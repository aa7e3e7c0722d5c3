"""Thread calibration: a printable test pattern, and the fit of a photo of it wound.

How dark a thread looks depends on the thread, the board and the light; the solvers need it as the
thread model's width and opacity. The pattern makes it measurable:

* **The sheet** (:func:`calibration_sheet`): 72 pins on a 150 mm circle inside a 180 mm square with four
  black square marks (fiducials) at its corners, printed at 1:1 on one A4/Letter page. The thread is
  wound as four star polygons, one after the other, each pin to the pin ``k`` further on (``k`` = 11,
  17, 23, 29; 288 lines, about 30 m, one thread from pin 0). Star ``k`` covers the ring outside radius
  ``R cos(pi k / 72)`` with a density that falls with the radius, so the rings between those radii hold
  known, graded thread densities (darkening from about 10 % to 45 % with a 0.2 mm thread), and the
  middle of the circle stays bare, as do the corners outside it.
* **The fit** (:func:`fit_photo`): find the four marks in the photo (dark, solid, square blobs after an
  opening removes the threads), map the photo onto the sheet by the homography they give, divide by the
  bare board (a smooth quadratic light field fitted to the bare middle and corners, or a photo of the
  bare board, ``bare=``), take the mean brightness of 8 rings between the stars' edges, and find the
  opacity whose simulation (the same pattern drawn by :func:`rendering.render` on the shared chord table,
  at the given thread width) matches them best (least squares, bounded scalar search). When the thread is
  darker than the model can be at that width (opacity 1), the width is fitted instead.

The thread model's darkening depends on opacity x width (the coverage of a thread is proportional to its
width), so ``--opacity o`` at ``--thread-mm t`` and ``--thread-mm o*t`` at opacity 1 look alike; both are
printed. The fit compares brightness as the camera recorded it, as the solvers compare a preview with a
target photo.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from rendering import InputError, PinLayout, Target, ThreadModel, get_chord_table, render

N_PINS = 72
CIRCLE_MM = 150.0
BORDER_MM = 15.0
SHEET_MM = CIRCLE_MM + 2 * BORDER_MM
FAMILIES = (11, 17, 23, 29)
FID_MM = 10.0
FID_INSET_MM = 2.0
FIT_PX_PER_MM = 3.0
#: room left out either side of a star's inner edge, and near the pins, as a fraction of the radius
EDGE = 0.035
RIM = 0.94
RING = 0.05


def fiducial_centres_mm() -> np.ndarray:
    """(4, 2) centres of the marks on the sheet (mm from its top-left corner): TL, TR, BR, BL."""
    a, b = FID_INSET_MM + FID_MM / 2, SHEET_MM - FID_INSET_MM - FID_MM / 2
    return np.array([[a, a], [b, a], [b, b], [a, b]], dtype=np.float64)


def pattern_path() -> np.ndarray:
    """(289,) pins: from pin 0, four star polygons (+11, +17, +23, +29 pins a step), each back to pin 0."""
    path = [0]
    for k in FAMILIES:
        path += [(j * k) % N_PINS for j in range(1, N_PINS + 1)]
    return np.asarray(path, dtype=np.int32)


def inner_radii() -> np.ndarray:
    """Each star's inner edge as a fraction of the pin circle's radius: ``cos(pi k / n)``."""
    return np.cos(np.pi * np.asarray(FAMILIES) / N_PINS)


def ring_edges() -> list[tuple[float, float]]:
    """The measured rings ``(inner, outer)`` as fractions of the radius: between the stars' edges."""
    edges = sorted(inner_radii().tolist()) + [RIM + EDGE]
    rings = []
    for a, b in zip(edges[:-1], edges[1:]):
        lo, hi = a + EDGE, b - EDGE
        if hi - lo < 0.02:
            continue
        n = max(1, int(round((hi - lo) / RING)))
        cuts = np.linspace(lo, hi, n + 1)
        rings += list(zip(cuts[:-1].tolist(), cuts[1:].tolist()))
    return rings


def pattern_solution(*, px_per_mm: float = FIT_PX_PER_MM, thread_mm: float = 0.2, opacity: float = 1.0):
    """The pattern as a :class:`~solvers.Solution` on a canvas that is the whole 180 mm sheet."""
    from solvers import Problem, Solution

    canvas = int(round(SHEET_MM * px_per_mm))
    layout = PinLayout(n_pins=N_PINS, canvas=canvas, margin=BORDER_MM * canvas / SHEET_MM)
    thread = ThreadModel(frame_mm=CIRCLE_MM, thread_mm=thread_mm, opacity=opacity)
    problem = Problem(target=Target(image=np.ones((canvas, canvas), np.float32), name="calibration"),
                      layout=layout, thread=thread, n_lines=len(FAMILIES) * N_PINS, min_gap=min(FAMILIES))
    return Solution.from_path(problem, pattern_path(), solver="calibration")


def render_pattern(solution, *, opacity: float | None = None, thread_mm: float | None = None) -> np.ndarray:
    """(canvas, canvas) float32 brightness of the pattern (1 = bare board), on a chord table not cached on disk."""
    p = solution.problem
    t = p.thread if thread_mm is None else replace(p.thread, thread_mm=thread_mm)
    table = get_chord_table(p.layout, p.min_gap, t.width_px(p.layout.span_px), disk_cache=False)
    return render(table, solution.chords, opacity=p.thread.opacity if opacity is None else opacity)


# ---------------------------------------------------------------------------------------------- the sheet
def calibration_sheet(*, paper: str = "A4", thread_mm: float = 0.2, pin_mm: float = 1.5) -> dict[str, bytes]:
    """The files of the calibration sheet: ``calibration.svg`` / ``.pdf`` (1:1, one page), the winding list
    (``calibration-instructions.txt`` / ``.pdf``) and how it looks wound (``calibration-preview.png``)."""
    from .drawing import Rect, Text
    from .geometry import Geometry
    from .instructions import instructions_pdf, instructions_txt
    from .preview import real_preview
    from .template import plan_tiles, template_items, template_pdf, template_svg

    sol = pattern_solution(thread_mm=thread_mm)
    geo = Geometry.from_solution(sol, pin_mm)
    title = "Thread calibration sheet"
    sheet = template_items(geo, title=title, budget=geo.budget(), border=BORDER_MM, notes=False)
    marks = [Rect(x - FID_MM / 2, y - FID_MM / 2, FID_MM, FID_MM, stroke="none", width=0.0, fill="black")
             for x, y in fiducial_centres_mm()]
    how = Text(max(BORDER_MM, 5.0), SHEET_MM + 33.0, "Wind 4 stars from pin 0: +11 pins a step until back at 0, "
               "then +17, +23, +29. Photograph square-on, all 4 squares in view.", size=2.6, anchor="start",
               baseline="top")
    sheet = replace(sheet, marks=sheet.marks + marks, info=sheet.info + [how])
    plan = plan_tiles(sheet.width, sheet.height, paper)
    if plan.n_tiles != 1:
        raise InputError(f"paper {plan.paper} is too small for the calibration sheet ({sheet.width:g} x "
                         f"{sheet.height:g} mm on one page); use --paper A4 or Letter")
    note = ("Wind four stars from pin 0: +11 pins a step until back at 0, then +17, +23, +29. Photograph it "
            "square-on, evenly lit, all four black squares in view; then: bench calibrate fit PHOTO")
    files = {"calibration.svg": _with_note(template_svg(sheet, title=title), note),
             "calibration.pdf": template_pdf(sheet, plan, title=title, geo=geo),
             "calibration-instructions.txt": instructions_txt(geo, title=title + " (four stars)"),
             "calibration-instructions.pdf": instructions_pdf(geo, paper=paper, title=title + " (four stars)"),
             "calibration-preview.png": real_preview(geo, px_per_mm=4.0)[0]}
    return files


def _with_note(svg: bytes, note: str) -> bytes:
    from xml.sax.saxutils import escape

    return svg.replace(b"</svg>", f"<desc>{escape(note)}</desc>\n</svg>".encode())


# ----------------------------------------------------------------------------------------------- the fit
@dataclass
class CalibrationFit:
    """What :func:`fit_photo` found.

    Attributes
    ----------
    opacity : the opacity that matches, at ``thread_mm``
    thread_mm : the thread width the fit assumed (or fitted, when ``width_fitted``)
    equivalent_thread_mm : the width at opacity 1 that darkens as much
    width_fitted : True when the thread is darker than opacity 1 allows at the given width
    rms : root-mean-square difference of measured and simulated ring brightness
    radii : (n_rings,) ring middles, mm from the centre
    measured, simulated : (n_rings,) ring brightness (1 = bare board)
    corners : (4, 2) the marks' centres in the photo (x, y), TL, TR, BR, BL
    warnings : lines about the photo's quality
    """

    opacity: float
    thread_mm: float
    equivalent_thread_mm: float
    width_fitted: bool
    rms: float
    radii: np.ndarray
    measured: np.ndarray
    simulated: np.ndarray
    corners: np.ndarray
    warnings: list = field(default_factory=list)

    def advice(self) -> list[str]:
        """What to use, as lines to print."""
        lines = [f"frame found (4 marks); {len(self.radii)} rings measured, rms {self.rms:.4f}"]
        if self.width_fitted:
            lines.append(f"the thread darkens like a {self.thread_mm:.3f} mm thread at opacity 1")
            lines.append(f"use: --thread-mm {self.thread_mm:.3f} --opacity 1")
        else:
            lines.append(f"the thread darkens like opacity {self.opacity:.3f} at --thread-mm {self.thread_mm:g}")
            lines.append(f"use: --thread-mm {self.thread_mm:g} --opacity {self.opacity:.2f}   (or --thread-mm "
                         f"{self.equivalent_thread_mm:.3f} at opacity 1)")
        return lines + [f"warning: {w}" for w in self.warnings]


def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(3, 3) H with ``dst ~ H @ [src, 1]`` from 4 point pairs (x, y) (direct linear solve, h33 = 1)."""
    a, b = [], []
    for (x, y), (u, v) in zip(np.asarray(src, float), np.asarray(dst, float)):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b += [u, v]
    try:
        h = np.linalg.solve(np.asarray(a), np.asarray(b))
    except np.linalg.LinAlgError:
        raise InputError("the four marks found lie on one line; photograph the whole sheet square-on") from None
    return np.append(h, 1.0).reshape(3, 3)


def apply_homography(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    p = np.c_[np.asarray(pts, float), np.ones(len(pts))] @ h.T
    return p[:, :2] / p[:, 2:3]


def _disk(r: int) -> np.ndarray:
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return xx * xx + yy * yy <= r * r + r


def _order(points: np.ndarray) -> np.ndarray:
    """Four points (x, y) in image order: top-left first, then clockwise as seen in the image."""
    c = points.mean(axis=0)
    ang = np.arctan2(points[:, 1] - c[1], points[:, 0] - c[0])
    pts = points[np.argsort(ang)]
    start = int(np.argmin(pts.sum(axis=1)))
    return np.roll(pts, -start, axis=0)


def _quad_area(p: np.ndarray) -> float:
    x, y = p[:, 0], p[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def find_fiducials(image: np.ndarray, *, name: str = "the photo") -> np.ndarray:
    """(4, 2) centres (x, y) of the sheet's four black square marks in a photo, TL, TR, BR, BL.

    Dark pixels (below 35 % of the paper's brightness, its 95th percentile) are opened with a disk of
    0.3 % of the photo's side, which removes threads and text; solid, square-ish blobs not touching the
    photo's edge are candidates; the four of similar size that span the largest convex quadrilateral,
    with the size the sheet's marks have in it, are the marks. :class:`InputError` when there are none.
    """
    from itertools import combinations

    from scipy import ndimage
    from skimage.measure import regionprops

    img = np.asarray(image, dtype=np.float32)
    h, w = img.shape
    paper = float(np.percentile(img, 95))
    fail = (f"no calibration frame found in {name}: expected the four black square marks of the calibration "
            f"sheet; photograph the whole sheet square-on (bench calibrate sheet prints it)")
    if paper <= 0.05:
        raise InputError(fail)
    dark = ndimage.binary_opening(img < 0.35 * paper, structure=_disk(max(1, int(round(min(h, w) * 0.003)))))
    labels, n = ndimage.label(dark)
    if n < 4:
        raise InputError(fail)
    cands = []
    for rp in regionprops(labels):
        r0, c0, r1, c1 = rp.bbox
        if r0 == 0 or c0 == 0 or r1 == h or c1 == w or rp.area < 20:
            continue
        if rp.solidity < 0.88 or rp.extent < 0.45:
            continue
        minor = getattr(rp, "axis_minor_length", None)
        major = getattr(rp, "axis_major_length", None)
        if minor is None:  # scikit-image before 0.20
            minor, major = rp.minor_axis_length, rp.major_axis_length
        if minor < 0.5 * major:
            continue
        cands.append((float(rp.area), np.array(rp.centroid[::-1], dtype=np.float64) + 0.5))  # pixel centres at +0.5
    cands.sort(key=lambda t: -t[0])
    cands = cands[:12]
    expected = (FID_MM / (SHEET_MM - 2 * FID_INSET_MM - FID_MM)) ** 2  # a mark's area / the marks' square
    best, best_area = None, 0.0
    for combo in combinations(range(len(cands)), 4):
        areas = np.array([cands[i][0] for i in combo])
        if areas.max() > 2.5 * areas.min():
            continue
        pts = _order(np.stack([cands[i][1] for i in combo]))
        quad = _quad_area(pts)
        if quad <= 0 or not 0.25 * expected <= areas.mean() / quad <= 3.0 * expected:
            continue
        # convex, and no side much shorter than the others (a square seen with a little perspective)
        sides = np.hypot(*(np.roll(pts, -1, axis=0) - pts).T)
        e1, e2 = np.roll(pts, -1, axis=0) - pts, np.roll(pts, -2, axis=0) - np.roll(pts, -1, axis=0)
        cross = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        if sides.min() < 0.5 * sides.max() or not (np.all(cross > 0) or np.all(cross < 0)):
            continue
        if quad > best_area:
            best, best_area = pts, quad
    if best is None:
        raise InputError(fail)
    return best


def _read(photo, what: str) -> tuple[np.ndarray, str]:
    from rendering import read_image

    if isinstance(photo, np.ndarray):
        img = np.asarray(photo, dtype=np.float32)
        if img.ndim == 3:
            img = img[..., :3].mean(axis=2)
        if img.dtype != np.float32 or img.max() > 1.0:
            img = img / (255.0 if img.max() > 1.0 else 1.0)
        return img.astype(np.float32), what
    return read_image(Path(photo)), f"'{photo}'"


def rectify(image: np.ndarray, corners: np.ndarray, *, px_per_mm: float = FIT_PX_PER_MM) -> np.ndarray:
    """The sheet's square (``SHEET_MM`` a side) cut out of the photo at ``px_per_mm``, 1:1 with the pattern's
    canvas (pixel centres at ``(i + 0.5) / px_per_mm`` mm), bilinear, smoothed first where the photo is finer."""
    from scipy import ndimage

    canvas = int(round(SHEET_MM * px_per_mm))
    h = homography(fiducial_centres_mm() * px_per_mm, corners)
    # photo pixels per sheet pixel: smooth the photo so sampling it does not alias
    scale = np.sqrt(_quad_area(corners) / _quad_area(fiducial_centres_mm() * px_per_mm))
    img = ndimage.gaussian_filter(image, 0.45 * scale) if scale > 1.5 else image
    yy, xx = np.mgrid[0:canvas, 0:canvas].astype(np.float64) + 0.5
    src = apply_homography(h, np.c_[xx.ravel(), yy.ravel()])
    out = ndimage.map_coordinates(img, [src[:, 1] - 0.5, src[:, 0] - 0.5], order=1, mode="nearest")
    return out.reshape(canvas, canvas).astype(np.float32)


def _masks(canvas: int, px_per_mm: float):
    yy, xx = (np.mgrid[0:canvas, 0:canvas] + 0.5) / px_per_mm
    c = SHEET_MM / 2
    r = np.hypot(xx - c, yy - c) / (CIRCLE_MM / 2)  # in radii
    inner = r < 0.85 * inner_radii().min()
    outer = (np.hypot(xx - c, yy - c) > CIRCLE_MM / 2 + 12.0) & (xx > 4) & (yy > 4) & (xx < SHEET_MM - 4) & \
        (yy < SHEET_MM - 4)
    for fx, fy in fiducial_centres_mm():
        outer &= ~((np.abs(xx - fx) < FID_MM / 2 + 4) & (np.abs(yy - fy) < FID_MM / 2 + 4))
    rings = [(r >= a) & (r < b) for a, b in ring_edges()]
    return inner | outer, rings, xx, yy


def _light_field(img: np.ndarray, bare: np.ndarray, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """A quadratic surface fitted to the bare board's pixels (one pass of outlier rejection)."""
    x, y = (xx - SHEET_MM / 2) / SHEET_MM, (yy - SHEET_MM / 2) / SHEET_MM
    basis = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1)
    a, v = basis[bare], img[bare].astype(np.float64)
    keep = np.ones(v.shape, bool)
    for _ in range(2):
        coef, *_ = np.linalg.lstsq(a[keep], v[keep], rcond=None)
        resid = v - a @ coef
        keep = np.abs(resid) < 3.0 * max(float(np.std(resid[keep])), 1e-6)
    return (basis @ coef).astype(np.float32)


def fit_photo(photo, *, thread_mm: float = 0.2, bare=None) -> CalibrationFit:
    """Fit the thread's opacity (or width) to a photo of the wound calibration sheet.

    Parameters
    ----------
    photo : image file, or (H, W) array in [0, 1] (or uint8)
    thread_mm : the thread's diameter (mm): the width the opacity is fitted at
    bare : optional photo of the bare board (the same sheet before winding) to divide by
    """
    from scipy.optimize import minimize_scalar

    from rendering.errors import check_float

    thread_mm = check_float("thread_mm", thread_mm, low=0.0, low_open=True, hint="the thread's diameter in mm")
    img, name = _read(photo, "the photo")
    corners = find_fiducials(img, name=name)
    q = FIT_PX_PER_MM
    rect = rectify(img, corners, px_per_mm=q)
    bare_mask, rings, xx, yy = _masks(rect.shape[0], q)
    warnings = []
    if bare is not None:
        bimg, bname = _read(bare, "the bare-board photo")
        brect = rectify(bimg, find_fiducials(bimg, name=bname), px_per_mm=q)
        from scipy import ndimage

        brect = ndimage.gaussian_filter(brect, 2.0 * q)  # the light, not the paper's grain
        rect = rect / np.maximum(brect, 1e-3)
    light = _light_field(rect, bare_mask, xx, yy)
    if float(light[bare_mask].min()) <= 0.02:
        raise InputError(f"the bare board in {name} is black: the photo is too dark or not of the calibration "
                         f"sheet; photograph it evenly lit")
    norm = rect / light
    spread = float(np.std(norm[bare_mask]))
    if spread > 0.08:
        warnings.append(f"the bare board varies by {spread:.2f} after removing the light: uneven light, "
                        f"shadows or glare make the fit less sure")
    measured = np.array([float(norm[m].mean()) for m in rings])
    radii = np.array([(a + b) / 2 * CIRCLE_MM / 2 for a, b in ring_edges()])
    sol = pattern_solution(px_per_mm=q, thread_mm=thread_mm)

    def sim(opacity: float, width: float = thread_mm) -> np.ndarray:
        img_ = render_pattern(sol, opacity=opacity, thread_mm=width)
        return np.array([float(img_[m].mean()) for m in rings])

    def loss_o(o: float) -> float:
        return float(np.sum((sim(o) - measured) ** 2))

    res = minimize_scalar(loss_o, bounds=(0.01, 1.0), method="bounded", options={"xatol": 1e-4})
    opacity, width_fitted, width = float(res.x), False, thread_mm
    if opacity > 0.995:
        def loss_w(wd: float) -> float:
            return float(np.sum((sim(1.0, wd) - measured) ** 2))

        r2 = minimize_scalar(loss_w, bounds=(thread_mm, 6.0 * thread_mm), method="bounded",
                             options={"xatol": 1e-4 * thread_mm})
        if r2.fun < res.fun:
            opacity, width_fitted, width = 1.0, True, float(r2.x)
    simulated = sim(opacity, width)
    rms = float(np.sqrt(np.mean((simulated - measured) ** 2)))
    if rms > 0.04:
        warnings.append(f"the rings match the model poorly (rms {rms:.3f}): check the photo is sharp, "
                        f"square-on and evenly lit, and that the pattern was wound as listed")
    if not width_fitted and opacity < 0.05:
        warnings.append("hardly any thread was seen in the rings: is the pattern wound?")
    return CalibrationFit(opacity=opacity, thread_mm=width, equivalent_thread_mm=opacity * width,
                          width_fitted=width_fitted, rms=rms, radii=radii, measured=measured, simulated=simulated,
                          corners=corners, warnings=warnings)


# ------------------------------------------------------------------------------------- synthetic photos
def _strip_pixels(a, b, half: float, shape) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the pixels whose centres lie within ``half`` of the line through ``a`` and ``b``
    (x, y), between them along its major axis: the strip of a thread ``2 * half`` px wide."""
    (ax, ay), (bx, by) = a, b
    swap = abs(by - ay) > abs(bx - ax)  # walk the major axis
    if swap:
        ax, ay, bx, by = ay, ax, by, bx
    if bx < ax:
        ax, ay, bx, by = bx, by, ax, ay
    major = np.arange(int(np.ceil(ax - 0.5)), int(np.floor(bx - 0.5)) + 1)
    centre = ay + (by - ay) * (major + 0.5 - ax) / max(bx - ax, 1e-12)
    reach = half * np.hypot(bx - ax, by - ay) / max(bx - ax, 1e-12)
    lo = np.ceil(centre - reach - 0.5).astype(np.int64)
    hi = np.floor(centre + reach - 0.5).astype(np.int64)
    n = np.maximum(hi - lo + 1, 0)
    minor = np.repeat(lo, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    major = np.repeat(major, n)
    rows, cols = (major, minor) if swap else (minor, major)
    ok = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    return rows[ok], cols[ok]


def synthetic_photo(opacity: float = 0.8, *, thread_mm: float = 0.2, px_per_mm: float = 5.0,
                    size: tuple[int, int] = (1000, 1100), warp: float = 0.05, noise: float = 0.02,
                    light: float = 0.25, paper: float = 0.92, background: float = 0.3, rng=0,
                    threads: str = "table") -> np.ndarray:
    """A photo of the wound sheet, made up.

    The pattern is drawn at ``px_per_mm``: ``threads="table"`` with the shared renderer at ``opacity``;
    ``"strips"`` independently of it, each thread a strip of its width, 4x supersampled, each pass through
    a fine pixel letting ``1 - opacity`` of the light through, box-averaged. The printed marks and pins are
    added, the sheet is set on a ``background`` by a random perspective warp of its corners by up to
    ``warp`` of its size, lit by a gradient losing up to ``light`` across the photo, with Gaussian noise
    ``noise``. Returns (H, W) float32 in [0, 1], ``size = (H, W)``.
    """
    from PIL import Image, ImageDraw
    from scipy import ndimage

    gen = np.random.default_rng(rng)
    sol = pattern_solution(px_per_mm=px_per_mm, thread_mm=thread_mm, opacity=opacity)
    canvas = sol.problem.layout.canvas
    if threads == "table":
        sheet = render_pattern(sol)
    elif threads == "strips":
        k = 4
        count = np.zeros((canvas * k, canvas * k), np.int16)
        pos = sol.problem.layout.positions * k
        half = thread_mm * px_per_mm * k / 2
        for a, b in zip(pos[sol.path[:-1]], pos[sol.path[1:]]):
            rr, cc = _strip_pixels(a, b, half, count.shape)
            count[rr, cc] += 1
        fine = np.power(np.float32(1.0 - opacity), count.astype(np.float32))
        sheet = fine.reshape(canvas, k, canvas, k).mean(axis=(1, 3)).astype(np.float32)
    else:
        raise InputError(f"threads must be 'table' or 'strips', got {threads!r}")
    ink = Image.new("L", (canvas, canvas), 255)
    d = ImageDraw.Draw(ink)
    for x, y in fiducial_centres_mm() * px_per_mm:
        half = FID_MM / 2 * px_per_mm
        d.rectangle([x - half, y - half, x + half, y + half], fill=10)
    r = 0.75 * px_per_mm
    for x, y in sol.problem.layout.positions:
        d.ellipse([x - r, y - r, x + r, y + r], outline=0, width=1)
    sheet = paper * sheet * (np.asarray(ink, np.float32) / 255.0)
    h, w = size
    side = 0.8 * min(h, w)
    x0, y0 = (w - side) / 2, (h - side) / 2
    dst = np.array([[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side]])
    dst = dst + gen.uniform(-warp, warp, size=(4, 2)) * side
    src = np.array([[0, 0], [canvas, 0], [canvas, canvas], [0, canvas]], dtype=np.float64)
    hmat = homography(dst, src)  # photo -> sheet pixels
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    s = apply_homography(hmat, np.c_[xx.ravel(), yy.ravel()])
    inside = (s[:, 0] >= 0) & (s[:, 0] < canvas) & (s[:, 1] >= 0) & (s[:, 1] < canvas)
    vals = ndimage.map_coordinates(sheet, [s[:, 1] - 0.5, s[:, 0] - 0.5], order=1, mode="nearest")
    photo = np.where(inside, vals, background).reshape(h, w)
    gx, gy = xx / w, yy / h
    photo = photo * (1.0 - light * (0.6 * gx + 0.4 * gy * gy))
    photo = photo + gen.normal(0.0, noise, size=photo.shape)
    return np.clip(photo, 0.0, 1.0).astype(np.float32)
