"""Colour threads: real thread colours, palettes, the colour thread model, and a palette chosen for a picture.

The colour thread model
-----------------------
Each pass of a thread of colour ``c`` over a pixel composites it over what is there::

    C <- C (1 - a) + c a,     a = opacity * coverage,

per channel, on the board's colour to start with. Black thread (``c = 0``) on a white board is
today's grey model exactly (``C <- C (1 - a)``; the same float arithmetic, so the same bits: a test
checks every channel). White thread on a black board is ``C <- C + (1 - C) a``.

**Which space.** Colours are sRGB values in [0, 1] (the numbers of an 8-bit picture over 255, gamma
encoded), composited as if they were linear: "linear-ish sRGB". That is the space the grey model has
always worked in (a grey target is the picture's luma of those values, and a pass multiplies it), so
black on white stays bit for bit the grey model, the calibration (``bench calibrate``, which fits the
opacity of a photographed thread in the same space) carries over, and the targets, the renders and the
metrics (``skimage.color.rgb2lab`` reads sRGB) share one space. Physically the eye averages *linear*
light, so thin threads of two colours mix a little lighter than this model says (a 50 % cover of black
on white: 0.50 here, 0.74 in linear light re-encoded); the grey model makes the same approximation, and
fitting the opacity absorbs most of it. Every compositing step is affine, so the model is the same in
any linear transform of these values.

Palettes
--------
:data:`THREAD_COLOURS` is a table of common thread colours (name -> sRGB hex). A :class:`Palette` is
the thread colours of one picture plus the board's colour. :func:`parse_palette` reads
``"black,red,#1e90ff"`` (names from the table or ``#rrggbb``) or ``"auto:K"`` (:func:`auto_palette`).

How ``auto:K`` chooses
----------------------
Any colour the threads can make on the board is a mixture: compositing keeps the pixel inside the convex
hull of the board's colour and the thread colours, and layers of the threads at the right coverages reach
any point of that hull (seen at the viewing scale). So a palette is judged by how far the picture's
colours lie from the hull of ``{board} + palette``: the weighted sum of squared distances (in the
solvers' space, sRGB values), over the picture's colours inside the frame at the viewing scale
(quantized to 1/32, weighted by how many pixels have each). :func:`auto_palette` adds the table colour
that lowers that sum most, K times (forward selection), then swaps a chosen colour for another while a
swap lowers it. The distance to a hull of at most a dozen points is exact: the least over every simplex
of up to 4 of its vertices (Carathéodory) of the distance to that simplex's affine hull where the
projection falls inside it (:func:`hull_distance2`). Unlike k-means followed by snapping to the nearest
thread, this picks the threads whose *mixtures* cover the picture: a grey thread adds nothing next to
black on a white board, and a yellow one is chosen for a yellow-orange picture even when no pixel is
yellow, because orange lies between it and red.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

from .errors import InputError, check_int

#: Common thread colours (embroidery and craft threads), name -> sRGB. Black and white are exact
#: (black on white is the grey model).
THREAD_COLOURS: dict[str, str] = {
    "black": "#000000",
    "white": "#ffffff",
    "dark-grey": "#4a4a4a",
    "grey": "#8c8c8c",
    "light-grey": "#c8c8c8",
    "red": "#d0202e",
    "crimson": "#9b1b30",
    "orange": "#f26b1d",
    "yellow": "#ffd83a",
    "gold": "#d4a017",
    "green": "#2e9a48",
    "dark-green": "#0f4d2c",
    "lime": "#9ccc3c",
    "teal": "#00818a",
    "blue": "#2255c4",
    "navy": "#1b2856",
    "sky-blue": "#64b5e8",
    "purple": "#6b2d8e",
    "pink": "#f29ab8",
    "magenta": "#c21878",
    "brown": "#6b3e22",
    "tan": "#c08a5a",
    "beige": "#e3cfa8",
    "skin": "#f0c8a8",
}
#: other spellings of a table name
_ALIASES = {"gray": "grey", "darkgray": "dark-grey", "darkgrey": "dark-grey", "lightgray": "light-grey",
            "lightgrey": "light-grey", "darkgreen": "dark-green", "skyblue": "sky-blue"}
#: Rec. 709 luma of sRGB values: :func:`skimage.color.rgb2gray`'s weights (the grey targets' luminance)
LUMA = np.array([0.2125, 0.7154, 0.0721])
#: CIELAB as a linear map of sRGB values: ``Lab ~ LAB_FIT @ rgb + const``, the least-squares fit over a
#: 17^3 grid of the sRGB cube (:func:`fit_lab_matrix` recomputes it; rms misfit 4.8 / 8.3 / 7.8 in L*, a*, b*).
#: Squared distances after it approximate CIE76 colour differences (Delta E^2), yet compositing, affine in
#: sRGB, stays affine after it: the colour greedy's error space (``space="lab"``).
LAB_FIT = np.array([[23.062, 62.672, 8.704],
                    [68.163, -121.662, 44.0],
                    [34.959, 82.192, -121.968]])
#: the most colours a palette may hold
MAX_COLOURS = 16
#: two colours closer than this (max channel difference, 8-bit steps) are the same colour
_SAME = 1.5 / 255.0


def _key(text: str) -> str:
    k = re.sub(r"[\s_\-]+", "", str(text).strip().lower())
    return _ALIASES.get(k, k)


_BY_KEY = {_key(n): n for n in THREAD_COLOURS}


def hex_of(rgb) -> str:
    """``(r, g, b)`` in [0, 1] -> ``#rrggbb``.

    >>> hex_of((1.0, 0.5, 0.0))
    '#ff8000'
    """
    return "#" + "".join(f"{int(round(float(v) * 255.0)):02x}" for v in rgb)


def parse_colour(text, what: str = "colour") -> tuple[str, tuple[float, float, float]]:
    """A colour by table name (``dark green``, ``dark-grey``, ``gray``) or ``#rrggbb`` / ``#rgb``.

    Returns
    -------
    (name, (r, g, b)): the table's name (or the hex text, lower case), sRGB in [0, 1]

    >>> parse_colour("Sky Blue")[0], parse_colour("#1E90FF")
    ('sky-blue', ('#1e90ff', (0.11764705882352941, 0.5647058823529412, 1.0)))
    """
    s = str(text).strip()
    h = s.lstrip("#")
    if s.startswith("#") or re.fullmatch(r"[0-9a-fA-F]{6}", s):
        if re.fullmatch(r"[0-9a-fA-F]{3}", h):
            h = "".join(ch * 2 for ch in h)
        if re.fullmatch(r"[0-9a-fA-F]{6}", h):
            rgb = tuple(int(h[i:i + 2], 16) / 255.0 for i in (0, 2, 4))
            return "#" + h.lower(), rgb  # type: ignore[return-value]  # three floats: r, g, b
        raise InputError(f"{what} '{s}' is not a colour: expected #rrggbb (e.g. #1e90ff) or a thread name "
                         f"({', '.join(THREAD_COLOURS)})")
    name = _BY_KEY.get(_key(s))
    if name is None:
        raise InputError(f"unknown {what} '{s}'; use a thread name ({', '.join(THREAD_COLOURS)}) or #rrggbb")
    h = THREAD_COLOURS[name].lstrip("#")
    return name, tuple(int(h[i:i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]  # r, g, b


def _same(a, b) -> bool:
    return bool(np.max(np.abs(np.asarray(a, float) - np.asarray(b, float))) < _SAME)


@dataclass(frozen=True)
class Palette:
    """Thread colours and the board's colour (sRGB in [0, 1]).

    Attributes
    ----------
    names : tuple of str, one per thread colour (a table name or ``#rrggbb``)
    rgb : tuple of (r, g, b), the thread colours
    board_name : str
    board_rgb : (r, g, b)
    """

    names: tuple
    rgb: tuple
    board_name: str = "white"
    board_rgb: tuple = (1.0, 1.0, 1.0)

    def __post_init__(self):
        if len(self.names) != len(self.rgb) or not self.names:
            raise InputError("a palette needs at least one thread colour (and one name per colour)")
        if len(self.names) > MAX_COLOURS:
            raise InputError(f"a palette holds at most {MAX_COLOURS} colours, got {len(self.names)}; choose fewer")
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))
        object.__setattr__(self, "rgb", tuple(tuple(float(v) for v in c) for c in self.rgb))
        object.__setattr__(self, "board_rgb", tuple(float(v) for v in self.board_rgb))
        for c in (*self.rgb, self.board_rgb):
            if len(c) != 3 or not all(0.0 <= v <= 1.0 for v in c):
                raise InputError(f"colours must be (r, g, b) in [0, 1], got {c}")
        for i, (n, c) in enumerate(zip(self.names, self.rgb)):
            if _same(c, self.board_rgb):
                raise InputError(f"thread colour {n} is the board's colour ({self.board_name}): it would draw "
                                 f"nothing; drop it or choose another --board")
            for m, d in zip(self.names[:i], self.rgb[:i]):
                if _same(c, d):
                    raise InputError(f"colour {n} is given twice (as {m} and {n}); list each thread once")

    @classmethod
    def default(cls) -> "Palette":
        """One black thread on a white board: the grey problem."""
        return _BLACK_ON_WHITE

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def colours(self) -> np.ndarray:
        """(n, 3) float64 thread colours."""
        return np.array(self.rgb, dtype=np.float64)

    @property
    def board(self) -> np.ndarray:
        """(3,) float64 board colour."""
        return np.array(self.board_rgb, dtype=np.float64)

    @property
    def spec(self) -> str:
        """The thread colours as ``--colors`` takes them, e.g. ``"black,red,#1e90ff"``."""
        return ",".join(self.names)

    def hex(self, i: int) -> str:
        return hex_of(self.rgb[i])

    @property
    def board_hex(self) -> str:
        return hex_of(self.board_rgb)

    @property
    def grey(self) -> bool:
        """Every thread and the board are grey (r = g = b): one channel describes every render."""
        return all(c[0] == c[1] == c[2] for c in (*self.rgb, self.board_rgb))

    @property
    def plain(self) -> bool:
        """Black thread on a white board: the grey model."""
        return self.n == 1 and self.rgb[0] == (0.0, 0.0, 0.0) and self.board_rgb == (1.0, 1.0, 1.0)

    def describe(self) -> str:
        """e.g. ``"black, red, #1e90ff on white"``."""
        return f"{', '.join(self.names)} on {self.board_name}"


_BLACK_ON_WHITE = Palette(names=("black",), rgb=((0.0, 0.0, 0.0),))


def parse_board(board) -> tuple[str, tuple[float, float, float]]:
    """``--board``: ``white`` (default), ``black``, a table name or ``#rrggbb``."""
    return parse_colour("white" if board is None else board, "board colour")


def auto_count(spec) -> int | None:
    """K of ``"auto:K"`` (checked: 1 <= K <= :data:`MAX_COLOURS`), or None for a list of colours.

    >>> auto_count("auto:4"), auto_count("black,red")
    (4, None)
    """
    s = str(spec).strip().lower()
    if not s.startswith("auto"):
        return None
    m = re.fullmatch(r"auto(?::\s*(-?\d+))?", s)
    if not m:
        raise InputError(f"--colors auto takes a count, e.g. auto:4, got '{spec}'")
    k = int(m.group(1)) if m.group(1) is not None else 4
    return check_int("auto:K colours", k, low=1, high=MAX_COLOURS, hint="e.g. --colors auto:4")


def check_palette_spec(spec, board=None) -> tuple[int, str]:
    """Check a ``--colors`` value and ``--board`` before any work (no picture needed).

    Returns ``(number of colours, board name)``; raises :class:`InputError` (one line) for an unknown
    colour, ``auto:0``, a colour given twice or a thread of the board's colour.
    """
    board_name, board_rgb = parse_board(board)
    if isinstance(spec, Palette):
        return spec.n, spec.board_name
    k = auto_count(spec)
    if k is not None:
        candidates = [n for n in THREAD_COLOURS if not _same(parse_colour(n)[1], board_rgb)]
        if k > len(candidates):
            raise InputError(f"auto:{k} asks for more colours than the table has besides the board "
                             f"({len(candidates)}); ask for fewer")
        return k, board_name
    names, rgbs = _parse_list(spec)
    Palette(names=tuple(names), rgb=tuple(rgbs), board_name=board_name, board_rgb=board_rgb)
    return len(names), board_name


def _parse_list(spec) -> tuple[list, list]:
    items = spec if isinstance(spec, (list, tuple)) else [s for s in str(spec).split(",")]
    items = [str(s).strip() for s in items]
    if not items or any(not s for s in items):
        raise InputError(f"--colors takes colours separated by commas (e.g. black,red,#1e90ff) or auto:K, "
                         f"got '{spec}'")
    got = [parse_colour(s, "thread colour") for s in items]
    return [g[0] for g in got], [g[1] for g in got]


def parse_palette(spec, board=None, *, image=None, mask=None) -> Palette:
    """A :class:`Palette` from ``--colors`` and ``--board``.

    Parameters
    ----------
    spec : ``"auto:K"``, ``"black,red,#1e90ff"``, a list of colours, or a Palette (its board replaced when
        ``board`` is given)
    board : ``"white"`` (default), ``"black"``, a table name or ``#rrggbb``
    image : (H, W, 3) sRGB target in [0, 1], needed for ``auto:K``
    mask : (H, W) bool, the inside of the frame (``auto:K`` looks there only)
    """
    board_name, board_rgb = parse_board(board)
    if isinstance(spec, Palette):
        if board is None:
            return spec
        return Palette(names=spec.names, rgb=spec.rgb, board_name=board_name, board_rgb=board_rgb)
    k = auto_count(spec)
    if k is not None:
        if image is None:
            raise InputError("auto:K chooses colours for a picture; give the picture")
        return auto_palette(image, k, board=board, mask=mask)
    names, rgbs = _parse_list(spec)
    return Palette(names=tuple(names), rgb=tuple(rgbs), board_name=board_name, board_rgb=board_rgb)


def threads_for(colors=None, board=None):
    """The ``--colors`` spec that ``colors`` and ``board`` ask for, or None for one black thread on white.

    A board given without colours gets one thread that shows on it (:func:`default_thread`); a white
    board without colours is the default.

    >>> threads_for(), threads_for(board="black"), threads_for("auto:4")
    (None, 'white', 'auto:4')
    """
    if colors is None and board is not None and parse_board(board)[1] != (1.0, 1.0, 1.0):
        return default_thread(board)
    return colors


def default_thread(board=None) -> str:
    """The thread for a board given without colours: black on a light board, white on a dark one."""
    _, rgb = parse_board(board)
    return "black" if float(np.dot(LUMA, rgb)) >= 0.5 else "white"


# ---------------------------------------------------------------------------- reachable colours
def hull_distance2(points, vertices, *, containing: int | None = None) -> np.ndarray:
    """Squared distance of each point to the convex hull of ``vertices`` (exact).

    Parameters
    ----------
    points : (M, 3) float
    vertices : (V, 3) float
    containing : only the simplices with this vertex (to update a distance when one vertex is added)

    Returns
    -------
    (M,) float64

    >>> v = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    >>> hull_distance2(np.array([[0.1, 0.1, 0.1], [1.0, 1.0, 1.0], [-1.0, 0, 0]]), v).round(4).tolist()
    [0.0, 1.3333, 1.0]
    """
    P = np.asarray(points, dtype=np.float64)
    V = np.asarray(vertices, dtype=np.float64)
    best = np.full(P.shape[0], np.inf)
    nv = V.shape[0]
    for size in range(1, min(4, nv) + 1):
        for S in itertools.combinations(range(nv), size):
            if containing is not None and containing not in S:
                continue
            v0 = V[S[0]]
            D = P - v0
            if size == 1:
                np.minimum(best, np.einsum("ij,ij->i", D, D), out=best)
                continue
            E = V[list(S[1:])] - v0  # (m, 3)
            G = E @ E.T
            scale = float(np.trace(G))
            if scale <= 0 or abs(np.linalg.det(G)) <= 1e-12 * scale ** (size - 1):
                continue  # degenerate (collinear, coplanar): its faces are other simplices
            lam = np.linalg.solve(G, (D @ E.T).T).T  # (M, m) barycentric coordinates past v0
            ok = (lam >= -1e-12).all(axis=1) & (lam.sum(axis=1) <= 1.0 + 1e-12)
            if not ok.any():
                continue
            R = D[ok] - lam[ok] @ E
            best[ok] = np.minimum(best[ok], np.einsum("ij,ij->i", R, R))
    return best


def picture_colours(image, mask=None, *, factor: int = 4, step: float = 1.0 / 32.0):
    """The picture's colours as the palette sees them: ``(colours (M, 3), weights (M,))``.

    The picture inside the frame, box-averaged ``factor`` times (the viewing scale), quantized to
    ``step`` and counted.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 3 or img.shape[2] != 3:
        raise InputError(f"a palette is chosen for an (H, W, 3) colour picture, got shape {img.shape}")
    m = np.ones(img.shape[:2], bool) if mask is None else np.asarray(mask, bool)
    h, w = img.shape[0] // factor * factor, img.shape[1] // factor * factor
    if factor > 1 and h and w:
        img = img[:h, :w].reshape(h // factor, factor, w // factor, factor, 3).mean(axis=(1, 3))
        m = m[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3)) >= 0.5
    pts = img[m]
    if pts.size == 0:
        raise InputError("the frame holds no pixel of the picture; nothing to choose colours for")
    q = np.round(pts / step).astype(np.int64)
    uniq, counts = np.unique(q, axis=0, return_counts=True)
    return uniq * step, counts.astype(np.float64)


def palette_cost(colours, weights, board, threads) -> float:
    """Weighted sum of squared distances of ``colours`` to the hull of ``board`` and ``threads``."""
    verts = np.vstack([np.asarray(board, float)[None], np.asarray(threads, float).reshape(-1, 3)])
    return float(np.dot(weights, hull_distance2(colours, verts)))


def _with_colour(pts, wts, B, C, kept: list[int], i: int, dist) -> tuple[float, np.ndarray]:
    """The weighted cost and the squared distances of ``pts`` to the hull of the board ``B`` and the colours
    ``C[kept + [i]]``, given ``dist``, their distances to the hull without ``C[i]`` (only the simplices
    through the added colour are measured)."""
    verts = np.vstack([B[None], C[kept + [i]]])
    d = np.minimum(dist, hull_distance2(pts, verts, containing=verts.shape[0] - 1))
    return float(np.dot(wts, d)), d


def auto_palette(image, k: int, *, board=None, mask=None, candidates=None) -> Palette:
    """Choose ``k`` thread colours from :data:`THREAD_COLOURS` whose mixtures on the board reach the picture.

    Forward selection then swaps on :func:`palette_cost` (see the module's docstring). Colours equal to the
    board's are never chosen. Ties go to the table's order. The palette lists the chosen colours in the
    table's order.

    Parameters
    ----------
    image : (H, W, 3) sRGB in [0, 1]
    k : int, 1 <= k <= the candidates
    board : the board's colour (``--board``)
    mask : (H, W) bool, where the picture counts (the frame)
    candidates : names to choose from (default: the whole table)
    """
    board_name, board_rgb = parse_board(board)
    names = list(candidates or THREAD_COLOURS)
    table = [(n, parse_colour(n)[1]) for n in names]
    table = [(n, c) for n, c in table if not _same(c, board_rgb)]
    k = check_int("auto:K colours", k, low=1, high=min(MAX_COLOURS, len(table)), hint="ask for fewer colours")
    pts, wts = picture_colours(image, mask)
    B = np.asarray(board_rgb, float)
    C = np.array([c for _, c in table], float)
    base = hull_distance2(pts, B[None])
    chosen: list[int] = []
    dist = base
    for _ in range(k):
        best, best_i, best_d = np.inf, -1, None
        for i in range(len(table)):
            if i in chosen:
                continue
            cost, d = _with_colour(pts, wts, B, C, chosen, i, dist)
            if cost < best - 1e-12:
                best, best_i, best_d = cost, i, d
        chosen.append(best_i)
        dist = best_d  # type: ignore[assignment]  # set: k is checked against the candidates above
    cost = float(np.dot(wts, dist))
    for _ in range(4):  # swaps while one lowers the cost
        improved = False
        for a in range(len(chosen)):
            rest = chosen[:a] + chosen[a + 1:]
            without = hull_distance2(pts, np.vstack([B[None], C[rest]]))  # the hull without chosen[a]
            for i in range(len(table)):
                if i in chosen:
                    continue
                c, _ = _with_colour(pts, wts, B, C, rest, i, without)
                if c < cost - 1e-9 * max(1.0, cost):  # chosen[a] becomes i (the rest, and ``without``, stay)
                    chosen, cost, improved = rest[:a] + [i] + rest[a:], c, True
        if not improved:
            break
    chosen.sort()
    return Palette(names=tuple(table[i][0] for i in chosen), rgb=tuple(table[i][1] for i in chosen),
                   board_name=board_name, board_rgb=board_rgb)


def fit_lab_matrix(steps: int = 17) -> np.ndarray:
    """The least-squares linear fit of CIELAB (:func:`skimage.color.rgb2lab`) to sRGB values on a
    ``steps^3`` grid of the cube, without its constant: :data:`LAB_FIT` to 3 decimals."""
    from skimage.color import rgb2lab

    g = np.linspace(0.0, 1.0, steps)
    rgb = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    X = np.hstack([rgb, np.ones((rgb.shape[0], 1))])
    return np.linalg.lstsq(X, rgb2lab(rgb), rcond=None)[0][:3].T


# ---------------------------------------------------------------------------- rendering
def luminance(rgb) -> np.ndarray:
    """(H, W) luma of (H, W, 3) sRGB values (:func:`skimage.color.rgb2gray`'s weights, in float64)."""
    return np.asarray(rgb, dtype=np.float64) @ LUMA


def render_colour(table, chords, colours, palette: Palette, *, opacity: float = 1.0) -> np.ndarray:
    """Render chords of several colours, in order, with the colour thread model (Numba, CPU).

    Parameters
    ----------
    table : ChordTable
    chords : (n,) int chord ids in build order
    colours : (n,) int, the palette index of each chord's thread
    palette : Palette (thread colours and the board)
    opacity : float in (0, 1]

    Returns
    -------
    image : (canvas, canvas, 3) float32 sRGB in [0, 1]; black on white equals :func:`rendering.render`
    in every channel, bit for bit

    Examples
    --------
    >>> from rendering import PinLayout, get_chord_table, render
    >>> t = get_chord_table(PinLayout(n_pins=8, canvas=16), 2, 1.0, disk_cache=False)
    >>> black = Palette(names=("black",), rgb=((0.0, 0.0, 0.0),))
    >>> img = render_colour(t, [0, 3], [0, 0], black)
    >>> img.shape, bool((img == render(t, [0, 3])[..., None]).all())
    ((16, 16, 3), True)
    """
    from .errors import check_float
    from .raster import _as_chord_ids

    chords = _as_chord_ids(chords, table.n_chords)
    cols = np.ascontiguousarray(np.asarray(colours).ravel(), dtype=np.int64)
    if cols.shape != chords.shape:
        raise InputError(f"colours must give one palette index per chord ({chords.size}), got {cols.size}")
    if cols.size and (cols.min() < 0 or cols.max() >= palette.n):
        raise InputError(f"colour indices must be in [0, {palette.n - 1}], got [{cols.min()}, {cols.max()}]")
    opacity = check_float("opacity", opacity, low=0.0, high=1.0, low_open=True)
    out = np.empty((table.n_pixels, 3), dtype=np.float32)
    out[:] = np.asarray(palette.board_rgb, dtype=np.float32)
    from . import _colour_kernels  # numba: loaded on first use

    _colour_kernels._render_colour(table.indptr, table.pixel, table.coverage, chords, cols,
                                   np.ascontiguousarray(palette.colours), np.float32(opacity), out)
    return out.reshape(*table.shape, 3)


def colour_snapshots(table, chords, colours, palette: Palette, counts, *, opacity: float = 1.0):
    """(canvas, canvas, 3) float32 renders after each of ``counts`` lines (ascending), drawn incrementally
    with :func:`render_colour`'s arithmetic (the one after the last line equals it bit for bit)."""
    from .raster import _as_chord_ids

    chords = _as_chord_ids(chords, table.n_chords)
    cols = np.ascontiguousarray(np.asarray(colours).ravel(), dtype=np.int64)
    out = np.empty((table.n_pixels, 3), dtype=np.float32)
    out[:] = np.asarray(palette.board_rgb, dtype=np.float32)
    from . import _colour_kernels

    done, shots = 0, []
    pal = np.ascontiguousarray(palette.colours)
    for k in counts:
        k = int(k)
        if k > done:
            _colour_kernels._render_colour(table.indptr, table.pixel, table.coverage, chords[done:k],
                                           cols[done:k], pal, np.float32(opacity), out)
            done = k
        shots.append(out.reshape(*table.shape, 3).copy())
    return shots

