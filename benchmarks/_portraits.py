"""The portrait set shared by ``face_detectors.py`` and ``portraits.py``: the faces this checkout has, their
hand-checked boxes, and synthetic variants made from them (clearly named as such).

Real portraits (shipped inside installed packages; nothing is downloaded):

* ``astronaut`` (scikit-image, 512x512): a frontal face, ~100 px wide, 4 % of the frame.
* ``camera`` (scikit-image, 512x512, grey): a man in three-quarter profile looking into a camera, one eye
  visible, ~75 px wide.
* ``grace_hopper`` (matplotlib, 512 wide x 600 high): a frontal face in glasses, ~200 px wide.

The boxes and landmarks below were read off 3x enlargements of the pictures with a 10 px grid (in the
source picture's pixels, x to the right, y down): the box runs cheek to cheek and brow/forehead to chin.

Synthetic variants of each (``<photo>/<variant>``):

* ``mirror``: flipped left to right.
* ``rot+8`` / ``rot-8``: rotated 8 degrees about the picture's centre (anticlockwise / clockwise), the
  corners filled with the edge's pixels.
* ``small``: the photo shrunk to 40 % and set into a larger scene (scikit-image's ``rocket``, blurred), so
  the face is 2-5 % of the frame's width squared.
* ``dark-eyes``: a smooth band over the eyes darkened to 35 % (a shadow or sunglasses).

``scikit-image``'s ``lfw_subset`` (100 faces, 25x25 px, cropped to the face) is too small to be a string-art
target (a 25 px face upscaled 20x has no structure to draw); ``face_detectors.py`` uses it only for the
detection rate, each face upscaled 4x and padded into a 200 px grey picture.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: source photo -> (face box x0, y0, x1, y1; landmarks name -> (x, y)), read off the pictures by eye
HAND = {
    "astronaut": ((180.0, 75.0, 275.0, 175.0),
                  {"left_eye": (205, 102), "right_eye": (247, 103), "nose": (222, 125),
                   "mouth_left": (207, 142), "mouth_right": (245, 142)}),
    "camera": ((185.0, 110.0, 260.0, 195.0),
               {"right_eye": (243, 143), "nose": (252, 163), "mouth_left": (232, 177), "mouth_right": (244, 176)}),
    "grace_hopper": ((165.0, 140.0, 365.0, 330.0),
                     {"left_eye": (220, 190), "right_eye": (305, 187), "nose": (262, 242),
                      "mouth_left": (227, 277), "mouth_right": (300, 275)}),
}
PHOTOS = tuple(HAND)
VARIANTS = ("mirror", "rot+8", "rot-8", "small", "dark-eyes")
#: the tuning split, by source photo so that no variant of a test face is tuned on: the weights' shape and
#: strength were chosen on astronaut and its five variants only; camera, grace_hopper, their variants and any
#: ``--images`` folder are the test split
TUNING_PHOTOS = ("astronaut",)


@dataclass(frozen=True)
class Portrait:
    """One picture with a face.

    Attributes
    ----------
    name : str, ``photo`` or ``photo/variant``
    rgb : (H, W, 3) uint8
    box : (x0, y0, x1, y1) the hand-checked face box in this picture's pixels
    landmarks : dict name -> (x, y), the hand-checked points that are visible
    synthetic : bool, a variant made here rather than a photo
    """

    name: str
    rgb: np.ndarray = field(repr=False)
    box: tuple
    landmarks: dict = field(repr=False)
    synthetic: bool = False

    @property
    def split(self) -> str:
        return "tuning" if self.name.split("/")[0] in TUNING_PHOTOS else "test"


def _load(name: str) -> np.ndarray:
    from rendering import BUILTIN_IMAGES

    a = np.asarray(BUILTIN_IMAGES[name][0]())
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    return np.ascontiguousarray(a[..., :3]).astype(np.uint8)


def _map(box, lms, fn):
    """A box and landmarks through a point map ``fn(x, y) -> (x, y)``: the box keeps its size, its centre moves."""
    x0, y0, x1, y1 = box
    cx, cy = fn((x0 + x1) / 2, (y0 + y1) / 2)
    w, h = x1 - x0, y1 - y0
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), {k: fn(*p) for k, p in lms.items()}


def _scaled(box, lms, s, dx, dy):
    x0, y0, x1, y1 = box
    return ((x0 * s + dx, y0 * s + dy, x1 * s + dx, y1 * s + dy),
            {k: (x * s + dx, y * s + dy) for k, (x, y) in lms.items()})


def variant(photo: str, kind: str, rgb: np.ndarray | None = None) -> Portrait:
    """The synthetic ``kind`` of ``photo`` (see the module notes)."""
    from skimage.transform import rotate

    rgb = _load(photo) if rgb is None else rgb
    box, lms = HAND[photo]
    h, w = rgb.shape[:2]
    if kind == "mirror":
        out = rgb[:, ::-1]
        box, lms = _map(box, lms, lambda x, y: (w - x, y))
        lms = {_SWAP.get(k, k): p for k, p in lms.items()}
    elif kind in ("rot+8", "rot-8"):
        deg = 8.0 if kind == "rot+8" else -8.0
        out = (rotate(rgb / 255.0, deg, mode="edge", order=1) * 255 + 0.5).astype(np.uint8)
        cx, cy = w / 2 - 0.5, h / 2 - 0.5
        t = np.deg2rad(deg)  # skimage rotates anticlockwise on screen: (x, y) -> centre + R(-t) (x - c, y - c)
        c, s = np.cos(t), np.sin(t)
        box, lms = _map(box, lms, lambda x, y: (cx + c * (x - cx) + s * (y - cy), cy - s * (x - cx) + c * (y - cy)))
    elif kind == "small":
        from skimage.filters import gaussian
        from skimage.transform import resize

        scene = _load("rocket")  # 427 x 640
        big = resize(scene / 255.0, (640, 960), order=1, anti_aliasing=False)
        big = gaussian(big, sigma=3, channel_axis=-1)
        s = 0.4
        small = resize(rgb / 255.0, (round(h * s), round(w * s)), anti_aliasing=True)
        top, left = 640 - small.shape[0] - 40, 300
        big[top:top + small.shape[0], left:left + small.shape[1]] = small
        out = (np.clip(big, 0, 1) * 255 + 0.5).astype(np.uint8)
        box, lms = _scaled(box, lms, s, left, top)
    elif kind == "dark-eyes":
        eyes = [p for k, p in lms.items() if k.endswith("eye")]
        ey = float(np.mean([p[1] for p in eyes]))
        x0, _, x1, y1 = box
        half = 0.12 * (y1 - box[1])
        yy, xx = np.mgrid[0:h, 0:w]
        band = (np.clip(1 - np.abs(yy - ey) / half, 0, 1) ** 0.5) * (np.clip((xx - x0) / 6, 0, 1)
                                                                      * np.clip((x1 - xx) / 6, 0, 1))
        out = (rgb * (1 - 0.65 * band[..., None]) + 0.5).astype(np.uint8)
    else:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {kind!r}")
    return Portrait(f"{photo}/{kind}", np.ascontiguousarray(out), tuple(float(v) for v in box), lms, True)


_SWAP = {"left_eye": "right_eye", "right_eye": "left_eye", "mouth_left": "mouth_right", "mouth_right": "mouth_left"}


def portraits(*, variants: bool = True, folder: str | None = None) -> list[Portrait]:
    """The real portraits, then (``variants``) their synthetic variants, then the pictures of ``folder`` (no hand
    box: ``box`` is None, and they join the test split)."""
    out = []
    for photo in PHOTOS:
        rgb = _load(photo)
        out.append(Portrait(photo, rgb, HAND[photo][0], HAND[photo][1]))
    if variants:
        for photo in PHOTOS:
            rgb = _load(photo)
            out += [variant(photo, k, rgb) for k in VARIANTS]
    if folder:
        from PIL import Image

        for p in sorted(Path(folder).expanduser().iterdir()):
            if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"):
                with Image.open(p) as im:
                    out.append(Portrait(f"file:{p.name}", np.asarray(im.convert("RGB")), None, {}))
    return out


def lfw_faces() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's ``lfw_subset``: (100 faces, 100 non-faces), each 25x25 float in [0, 1]."""
    import skimage.data

    data = skimage.data.lfw_subset()
    return data[:100], data[100:]


def padded(tile: np.ndarray, *, scale: int = 4, side: int = 200) -> tuple[np.ndarray, tuple]:
    """A 25 px tile upscaled ``scale`` times into the middle of a ``side`` px mid-grey RGB uint8 picture, and
    the tile's box there."""
    from skimage.transform import resize

    t = resize(tile, (tile.shape[0] * scale, tile.shape[1] * scale), order=1)
    out = np.full((side, side), 0.5)
    top = (side - t.shape[0]) // 2
    out[top:top + t.shape[0], top:top + t.shape[1]] = t
    rgb = np.repeat((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)[..., None], 3, axis=2)
    return rgb, (top, top, top + t.shape[1], top + t.shape[0])


def iou(a, b) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1).

    >>> iou((0, 0, 2, 2), (1, 0, 3, 2))
    0.3333333333333333
    """
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
