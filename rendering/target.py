"""Targets: the grayscale picture a solver tries to reproduce."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import InputError, check_float, check_int

MIN_IMAGE_SIDE = 8


def _skimage(name: str) -> Callable[[], np.ndarray]:
    """The loader of a scikit-image sample: its file read with Pillow when the package ships it (the same
    pixels as ``skimage.data.<name>()``, a test checks, without importing skimage.io), else skimage.data."""

    def load():
        from importlib.util import find_spec

        spec = find_spec("skimage")
        if spec is not None and spec.origin:
            from PIL import Image

            for ext in (".png", ".jpg"):
                path = Path(spec.origin).parent / "data" / f"{name}{ext}"
                if path.is_file():
                    with Image.open(path) as im:
                        return np.asarray(im)
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _matplotlib(fname: str) -> Callable[[], np.ndarray]:
    def load():
        import matplotlib.cbook
        from PIL import Image

        with matplotlib.cbook.get_sample_data(fname) as f, Image.open(f) as im:
            return np.asarray(im.convert("RGB"))

    return load


#: Built-in images, all shipped inside installed packages (no download).
BUILTIN_IMAGES: dict[str, tuple[Callable[[], np.ndarray], str]] = {
    "camera": (_skimage("camera"), "scikit-image: a man with a camera (512x512)"),
    "astronaut": (_skimage("astronaut"), "scikit-image: Eileen Collins, portrait (512x512)"),
    "coffee": (_skimage("coffee"), "scikit-image: a cup of coffee (400x600)"),
    "chelsea": (_skimage("chelsea"), "scikit-image: Chelsea the cat (300x451)"),
    "moon": (_skimage("moon"), "scikit-image: lunar surface (512x512)"),
    "coins": (_skimage("coins"), "scikit-image: Greek coins (303x384)"),
    "rocket": (_skimage("rocket"), "scikit-image: a rocket launch (427x640)"),
    "grace_hopper": (_matplotlib("grace_hopper.jpg"), "matplotlib: Grace Hopper, portrait (600x512)"),
}


@dataclass(frozen=True, eq=False)
class Target:
    """A preprocessed target.

    Attributes
    ----------
    image : (canvas, canvas) float32 in [0, 1], 1 = white: what the solvers are asked to draw (the luminance)
    name : str, where it came from (built-in name, file name or ``"array"``)
    original : (canvas, canvas) float32, the photo cropped and resized but not edited (exposure repair,
        CLAHE, contrast, gamma): what results are scored against. Defaults to ``image``.
    edits : tuple of str, the tone edits applied (e.g. ``("exposure: washed out",)``)
    rgb : (canvas, canvas, 3) float32 sRGB in [0, 1]: the colour picture, kept when colour threads were asked
        for (``load_target(..., colour=True)``: no tone edit is applied to it); else the grey picture's three
        equal channels (a read-only view of ``image``)
    weights : optional (canvas, canvas) float32 >= 0, the per-pixel weight of every solver's error (the
        front end's importance map, the face weights); None: every pixel counts the same
    notes : tuple of str, what reading the picture did that a person should know (the first frame of an
        animation, the crop ``--crop auto`` chose, the faces found, ...)
    source : the picture as read, before the crop (grey (H, W) or colour (H, W, 3) in [0, 1]): what faces are
        found on
    crop : the crop that was taken, as ``--crop`` takes it (``"center"``, ``"fit"`` or ``"LEFT,TOP,SIZE"``)
    faces : tuple of :class:`rendering.faces.Face` found on :attr:`source` (in its pixels), when they were
        looked for
    """

    image: np.ndarray
    name: str
    original: np.ndarray | None = None
    edits: tuple = ()
    rgb: np.ndarray | None = None
    weights: np.ndarray | None = None
    notes: tuple = ()
    source: np.ndarray | None = None
    crop: str = "center"
    faces: tuple = ()

    def __post_init__(self):
        if self.original is None:
            object.__setattr__(self, "original", self.image)
        shape = (*np.shape(self.image), 3)
        rgb = np.broadcast_to(self.image[..., None], shape) if self.rgb is None else \
            np.ascontiguousarray(self.rgb, dtype=np.float32)
        if rgb.shape != shape:
            raise InputError(f"rgb must be {shape} (the image's shape and 3 channels), got {rgb.shape}")
        object.__setattr__(self, "rgb", rgb)
        if self.weights is not None:
            w = np.ascontiguousarray(self.weights, dtype=np.float32)
            if w.shape != self.image.shape or not np.isfinite(w).all() or (w < 0).any():
                raise InputError(f"weights must be a finite, non-negative {self.image.shape} array, got shape "
                                 f"{w.shape}")
            object.__setattr__(self, "weights", w)

    @property
    def canvas(self) -> int:
        return int(self.image.shape[0])

    @property
    def colour(self) -> np.ndarray:
        """(canvas, canvas, 3) float32 sRGB: :attr:`rgb`, the picture colour threads chase and are scored against
        (no tone edit is ever applied to it)."""
        return self.rgb  # type: ignore[return-value]  # never None: __post_init__ fills it from the grey image

    @property
    def weight_map(self) -> np.ndarray:
        """(canvas, canvas) float32: :attr:`weights`, or ones."""
        return self.weights if self.weights is not None else np.ones(self.image.shape, np.float32)

    def with_weights(self, weights) -> "Target":
        """The same target with other per-pixel error weights (None: even)."""
        return replace(self, weights=weights)

    def with_faces(self, mode: str = "auto", *, mask: np.ndarray | None = None) -> "Target":
        """The target with its faces weighted (:func:`rendering.faces.face_weights`, on top of any weights).

        ``mode``: ``"off"`` (unchanged), ``"auto"`` (weighted when a face is found; without the ``faces`` extra,
        unchanged) or ``"on"`` (the extra is needed: one line saying what to install; a note when no face is
        found). Faces already found (``--crop auto``) are not looked for again. Without a face the target is
        unchanged, bit for bit.
        """
        from . import faces as F

        mode = F.check_faces_mode(mode)
        if mode == "off" or self.source is None:
            return self
        found = self.faces
        if not found:
            try:
                found = tuple(F.detect_faces(self.source))
            except InputError:
                if mode == "on":
                    raise
                return self  # auto without the extra: as without faces
        if not found:
            note = "--faces on: no face found; the error is weighted evenly" if mode == "on" else None
            return replace(self, notes=self.notes + ((note,) if note else ()))
        on_canvas = F.faces_on_canvas(found, self.source.shape, self.canvas, self.crop)
        w = F.face_weights(on_canvas, self.canvas, mask=mask)
        if w is None:
            return replace(self, faces=found)
        weights = w if self.weights is None else w * self.weights
        big = on_canvas[0]
        note = (f"faces: {len(found)} found; the error weighs the face more, its eyes and mouth most "
                f"(the largest at {int(big.box[0])},{int(big.box[1])}-{int(big.box[2])},{int(big.box[3])} on the "
                f"canvas); --faces off for an even weight")
        return replace(self, weights=weights, faces=found, notes=self.notes + (note,))


def builtin_names() -> list[str]:
    return list(BUILTIN_IMAGES)


#: file suffixes of photos Pillow reads only through the pillow-heif plugin
HEIF_SUFFIXES = (".heic", ".heif", ".hif")
#: the most pixels a picture may have (a decompression bomb stops here: 100 megapixels, e.g. 10000 x 10000)
MAX_PIXELS = 100_000_000
#: Pillow modes whose samples are 16 or 32 bits (integers) or floats: read as numbers, not squeezed to 8 bits
_WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def _open_heif_plugin(path: Path) -> None:
    """Register pillow-heif for a HEIC/HEIF photo, or one line saying how to read it."""
    try:
        import pillow_heif
    except ImportError:
        raise InputError(f"'{path}' is a HEIC photo, which needs the pillow-heif plugin: pip install "
                         f"'stringart-bench[heic]' (or convert it to JPEG or PNG first)") from None
    pillow_heif.register_heif_opener()


def _wide_to_unit(arr: np.ndarray, mode: str) -> np.ndarray:
    """16-bit, 32-bit or float samples as float32 in [0, 1]: 16-bit by 65535; 32-bit integers by 65535 when they
    fit 16 bits (Pillow reads 16-bit PNGs as ``I``), else by their maximum; floats as they are, clipped."""
    a = arr.astype(np.float64)
    if mode == "F":
        top = 1.0 if a.size == 0 or np.nanmax(a) <= 1.0 else float(np.nanmax(a))
    elif mode == "I" and a.size and a.max() > 65535:
        top = float(a.max())
    else:
        top = 65535.0
    return np.clip(np.nan_to_num(a / top), 0.0, 1.0).astype(np.float32)


def read_picture(path, *, background=(1.0, 1.0, 1.0)) -> tuple[np.ndarray, np.ndarray, tuple]:
    """An image file as its grey and colour pictures, whatever mode Pillow hands back.

    * 8-bit pictures (L, P, RGB, CMYK, YCbCr, LAB, HSV, 1-bit): grey is Pillow's ``L`` conversion (the toolkit's
      grey of a file since the start), colour its ``RGB`` (a CMYK JPEG's inks converted by Pillow).
    * 16-bit grey (PNG, TIFF: ``I;16``, ``I``) and float TIFFs (``F``): read as numbers (16 bits over 65535),
      not clipped to white; 16-bit RGB files, which Pillow reads as 8-bit RGB, keep their 8 upper bits.
    * Transparency (an alpha channel, a palette's transparent index): composited over ``background``, the
      board's colour (white by default): what a maker sees where the picture is see-through.
    * An animated GIF, WebP or APNG: the first frame, and a note saying so.
    * HEIC/HEIF through the pillow-heif plugin when installed (one line saying what to install otherwise);
      AVIF through Pillow itself.
    * EXIF orientation applied; more than :data:`MAX_PIXELS` pixels refused (a decompression bomb).

    Returns
    -------
    grey : (H, W) float32 in [0, 1], 1 = white
    rgb : (H, W, 3) float32 sRGB in [0, 1]
    notes : tuple of str, what was done that a person should know (e.g. the first frame of an animation)

    Raises :class:`InputError` with one line for a missing file, a folder, or a file that is not an image.
    """
    path = Path(path)
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not path.exists():
        raise InputError(f"image file '{path}' not found; pass an existing file or a built-in name "
                         f"({', '.join(BUILTIN_IMAGES)})")
    if path.is_dir():
        raise InputError(f"'{path}' is a folder, expected an image file (PNG, JPEG, ...)")
    if path.suffix.lower() in HEIF_SUFFIXES:
        _open_heif_plugin(path)
    notes: list[str] = []
    bg = tuple(int(round(255 * float(v))) for v in background)
    im: Image.Image  # an ImageFile as opened, a plain Image once transposed or converted
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_PIXELS:
                raise InputError(f"'{path}' is {im.width} x {im.height} pixels, more than the "
                                 f"{MAX_PIXELS // 1_000_000} megapixels a picture may have; scale it down first")
            frames = int(getattr(im, "n_frames", 1) or 1)
            if frames > 1:
                im.seek(0)
                notes.append(f"'{path.name}' is an animation of {frames} frames: its first frame is used")
            im = ImageOps.exif_transpose(im)
            im.load()
            if im.mode in _WIDE_MODES:
                wide = _wide_to_unit(np.asarray(im), im.mode)
                return wide, np.repeat(wide[..., None], 3, axis=2), tuple(notes)
            if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
                im = im.convert("RGBA")
                board = Image.new("RGBA", im.size, (*bg, 255))
                im = Image.alpha_composite(board, im)
            rgb = im.convert("RGB")
            grey = (im if im.mode in ("L", "1", "P", "RGB", "RGBA") else rgb).convert("L")
            return (np.asarray(grey, dtype=np.float32) / 255.0, np.asarray(rgb, dtype=np.float32) / 255.0,
                    tuple(notes))
    except UnidentifiedImageError:
        hint = ("; a HEIC photo needs pillow-heif: pip install 'stringart-bench[heic]' (or convert it to JPEG)"
                if path.suffix.lower() in HEIF_SUFFIXES else "")
        raise InputError(f"'{path}' is not an image Pillow can read; expected PNG, JPEG, WebP, AVIF, TIFF, BMP, "
                         f"GIF, ...{hint}") from None
    except Image.DecompressionBombError:
        raise InputError(f"'{path}' is too large to read safely (a decompression bomb?); scale it down "
                         f"first") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InputError(f"could not read image '{path}' ({e}); expected a valid image file") from None


def _read(path, mode: str) -> np.ndarray:
    """:func:`read_picture`'s grey (``mode="L"``) or colour (``"RGB"``) picture."""
    grey, rgb, _ = read_picture(path)
    return grey if mode == "L" else rgb


def read_image(path) -> np.ndarray:
    """Read an image file as (H, W) float32 gray in [0, 1] (EXIF orientation applied, transparency on white).

    Raises :class:`InputError` with one line for a missing file, a folder, or a file that is not an image.
    """
    return _read(path, "L")


def _to_gray(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.dtype == bool:
        arr = arr.astype(np.float32)
    elif np.issubdtype(arr.dtype, np.integer):
        top = 255.0 if arr.max(initial=0) <= 255 else 65535.0
        arr = arr.astype(np.float32) / top
    elif np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
        if not np.isfinite(arr).all():
            raise InputError(f"image '{name}' has NaN or infinite values; expected finite numbers in [0, 1]")
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise InputError(f"float image '{name}' has values in [{arr.min():g}, {arr.max():g}]; "
                             f"expected [0, 1] (divide uint8 data by 255)")
    else:
        raise InputError(f"image '{name}' has dtype {arr.dtype}; expected numbers (uint8 or float in [0, 1])")
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        if arr.shape[2] == 4:  # composite onto white
            alpha = arr[..., 3:4]
            arr = arr[..., :3] * alpha + (1.0 - alpha)
        from skimage.color import rgb2gray

        arr = rgb2gray(arr).astype(np.float32)
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise InputError(f"image '{name}' has shape {arr.shape}; expected (H, W) gray or (H, W, 3|4) colour")
    return arr


def read_image_rgb(path) -> np.ndarray:
    """Read an image file as (H, W, 3) float32 sRGB in [0, 1] (EXIF orientation applied, transparency on white).

    The colour twin of :func:`read_image`, with its one-line errors.
    """
    return _read(path, "RGB")


def _to_rgb(arr: np.ndarray, name: str) -> np.ndarray:
    """(H, W) gray or (H, W, 3|4) colour, uint or float in [0, 1] -> (H, W, 3) float32 sRGB (alpha on white)."""
    _to_gray(arr, name)  # the same checks and one-line errors
    if arr.dtype == bool:
        arr = arr.astype(np.float32)
    elif np.issubdtype(arr.dtype, np.integer):
        top = 255.0 if arr.max(initial=0) <= 255 else 65535.0
        arr = arr.astype(np.float32) / top
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[2] == 4:
        alpha = arr[..., 3:4]
        arr = arr[..., :3] * alpha + (1.0 - alpha)
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return arr


def crop_square(gray: np.ndarray, crop: str = "center", *, name: str = "array") -> np.ndarray:
    """A square of the picture: ``"center"``, ``"fit"`` (all of it, padded with white) or ``"LEFT,TOP,SIZE"``."""
    h, w = gray.shape
    if crop == "center":
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        return gray[top:top + s, left:left + s]
    if crop == "fit":
        s = max(h, w)
        out = np.ones((s, s), dtype=gray.dtype)
        top, left = (s - h) // 2, (s - w) // 2
        out[top:top + h, left:left + w] = gray
        return out
    try:
        left, top, s = (int(v) for v in str(crop).split(","))
    except ValueError:
        raise InputError(f"crop must be center, fit, auto or LEFT,TOP,SIZE in the picture's pixels, got {crop!r}; "
                         f"e.g. --crop 100,0,600") from None
    if left < 0 or top < 0 or s < MIN_IMAGE_SIDE or left + s > w or top + s > h:
        raise InputError(f"crop {left},{top},{s} does not fit image '{name}' of {w}x{h} pixels; choose a square "
                         f"of at least {MIN_IMAGE_SIDE} px inside it")
    return gray[top:top + s, left:left + s]


def prepare_image(gray: np.ndarray, canvas: int, *, contrast: bool = False, gamma: float = 1.0,
                  name: str = "array", crop: str = "center") -> np.ndarray:
    """Crop to a square (:func:`crop_square`), resize to ``canvas``, then optional contrast stretch and gamma.

    Returns
    -------
    (canvas, canvas) float32 in [0, 1], 1 = white
    """
    h, w = gray.shape
    if min(h, w) < MIN_IMAGE_SIDE:
        raise InputError(f"image '{name}' is {w}x{h} pixels; expected at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}, "
                         f"use a larger picture")
    sq = crop_square(gray, crop, name=name)
    s = sq.shape[0]
    if s == canvas and sq.dtype == np.float32:
        img = sq  # what resize returns at the same size, without loading scipy.ndimage (~0.2 s)
    else:
        from skimage.transform import resize

        img = resize(sq, (canvas, canvas), order=1, anti_aliasing=s > canvas, preserve_range=True)
    img = np.clip(img, 0.0, 1.0)
    if contrast:
        from skimage.exposure import rescale_intensity

        lo, hi = np.percentile(img, (1, 99))
        if hi > lo:
            img = rescale_intensity(img, in_range=(lo, hi), out_range=(0.0, 1.0))
    if gamma != 1.0:
        img = img ** gamma
    return np.ascontiguousarray(img, dtype=np.float32)


#: side of a :func:`thumbprint` (pixels) and the mean difference (of 255) under which two are one picture
THUMB_SIDE, THUMB_TOLERANCE = 16, 3.0


def thumbprint(picture: np.ndarray) -> str:
    """A picture's centred square as a 16 x 16 grey thumbnail (8 bits a pixel, 512 hex digits): what a learned
    model's checkpoint records of each picture it was trained on, so that a study can tell when it scores the
    model on one of them (:func:`same_picture`). Re-encoding, resizing or a colour picture's own grey give the
    same print within :data:`THUMB_TOLERANCE`; a crop of another part of the picture does not.

    ``picture``: (H, W) grey or (H, W, 3) sRGB, floats in [0, 1].
    """
    from PIL import Image

    a = np.asarray(picture, np.float32)
    if a.ndim == 3:
        from .colour import luminance

        a = luminance(a[..., :3]).astype(np.float32)
    sq = Image.fromarray(np.clip(crop_square(a, "center"), 0.0, 1.0), "F")
    # through 64 px first (bilinear, anti-aliased when shrinking): a 25 px picture and the same picture blown
    # up to a 512 px canvas then give one print (a box straight to 16 px differs by ~6 of 255 there)
    R = Image.Resampling
    thumb = sq.resize((4 * THUMB_SIDE, 4 * THUMB_SIDE), R.BILINEAR).resize((THUMB_SIDE, THUMB_SIDE), R.BOX)
    return (np.asarray(thumb) * 255.0 + 0.5).astype(np.uint8).tobytes().hex()


def same_picture(a: str, b: str, tolerance: float = THUMB_TOLERANCE) -> bool:
    """Whether two :func:`thumbprint` prints are one picture: mean absolute difference <= ``tolerance`` of 255."""
    x = np.frombuffer(bytes.fromhex(a), np.uint8).astype(np.int16)
    y = np.frombuffer(bytes.fromhex(b), np.uint8).astype(np.int16)
    return x.shape == y.shape and float(np.abs(x - y).mean()) <= tolerance


def seen_in(records, picture: np.ndarray) -> dict | None:
    """The first of ``records`` (dicts with a ``"print"``: :func:`thumbprint`) that is ``picture``, or None."""
    if not records:
        return None
    mine = thumbprint(picture)
    return next((r for r in records if same_picture(str(r.get("print", "")), mine)), None)


def load_target(source, canvas: int = 512, *, contrast: bool = False, gamma: float = 1.0, exposure: str = "off",
                clahe: bool = False, crop: str = "center", colour: bool = False, background=(1.0, 1.0, 1.0)) -> Target:
    """Load and preprocess a target image.

    Parameters
    ----------
    source : str, path, PIL image or ndarray
        A built-in name (see :data:`BUILTIN_IMAGES`), an image file Pillow can
        read (EXIF orientation applied, transparency composited onto white),
        or an array (H, W) / (H, W, 3|4), uint8 or float in [0, 1].
    canvas : int >= 16, output side in pixels
    contrast : bool, stretch the 1st..99th percentile to [0, 1]
    gamma : float > 0, applied after the stretch (> 1 darkens mid-tones)
    exposure : ``"off"``, ``"auto"`` (repair only a badly exposed photo: :func:`rendering.frontend.repair_exposure`)
        or ``"force"``. Off by default: scored against the photo, the repair lowered SSIM and L1 on every
        picture tried (README, "Front end")
    clahe : bool, local contrast (:func:`rendering.frontend.clahe`)
    crop : ``"center"`` (the largest centred square), ``"fit"`` (the whole picture, padded with white),
        ``"LEFT,TOP,SIZE"`` (a square of the source picture, in its pixels) or ``"auto"`` (framed as a maker would:
        the largest face as head and shoulders, else the most salient subject; :func:`rendering.faces.auto_crop`,
        the ``faces`` extra; the crop chosen is in the target's notes as ``--crop LEFT,TOP,SIZE``)
    colour : also keep the colour picture (``Target.rgb``: each channel cropped and resized as the grey
        image is) for colour threads; no tone edit is applied to it, so ``colour`` refuses them
    background : (r, g, b) in [0, 1], what a see-through picture is composited on: the board's colour
        (white by default); see :func:`read_picture` for every file format and mode

    Returns
    -------
    Target: ``image`` (canvas, canvas) float32 in [0, 1], 1 = white, after the tone edits; ``original`` before
    them (what results are scored against); ``edits`` names what was applied
    """
    canvas = check_int("canvas", canvas, low=16, hint="use a canvas of 16 px or more, e.g. --canvas 512")
    gamma = check_float("gamma", gamma, low=0.0, low_open=True)
    edited = exposure != "off" or clahe or contrast or gamma != 1.0
    if colour and edited:
        raise InputError("colour threads take the picture as it is: --exposure, --clahe, --contrast and --gamma "
                         "are for one black thread; drop them with --colors")
    name, arr, rgb_arr, notes = _source_array(source, background)
    arr = np.asarray(arr)
    if arr.size == 0:
        raise InputError(f"image '{name}' is empty (shape {arr.shape}); expected a picture")
    gray = _to_gray(arr, name)
    seen = arr if rgb_arr is None else rgb_arr  # the picture as read: faces are found on it
    found: tuple = ()
    if crop == "auto":  # framed as a maker would: the largest face as head and shoulders, else the salient subject
        from . import faces as F

        found = tuple(F.detect_faces(seen))
        left, top, size = F.auto_crop(seen, list(found))
        crop = f"{left},{top},{size}"
        what = "the largest face as head and shoulders" if found else "no face: the most salient part"
        notes = tuple(notes) + (f"--crop auto chose --crop {crop} ({what}); pass it to adjust",)
    original = prepare_image(gray, canvas, name=name, crop=crop)
    rgb = _colour_picture(arr if rgb_arr is None else rgb_arr, name, canvas, crop) if colour else None
    from .frontend import clahe as _clahe
    from .frontend import exposure_problem, repair_exposure

    img, edits = original, []
    why = exposure_problem(original) if exposure == "auto" else ("forced" if exposure == "force" else None)
    img = repair_exposure(img, mode=exposure)
    if why and img is not original:
        edits.append(f"exposure: {why}")
    if clahe:
        img = _clahe(img)
        edits.append("clahe")
    if contrast or gamma != 1.0:
        img = prepare_image(img, canvas, contrast=contrast, gamma=gamma, name=name)
        edits += (["contrast"] if contrast else []) + ([f"gamma {gamma:g}"] if gamma != 1.0 else [])
    return Target(np.ascontiguousarray(img, dtype=np.float32), name, original, tuple(edits), rgb=rgb,
                  notes=tuple(notes), source=seen, crop=crop, faces=found)


def _source_array(source, background) -> tuple[str, np.ndarray, np.ndarray | None, tuple]:
    """``(name, grey or array, colour array or None, notes)`` of a built-in name, an image file, a PIL image or an
    array (one-line errors); a file is read once, in grey and colour (:func:`read_picture`)."""
    if isinstance(source, np.ndarray):
        return "array", source, None, ()
    if hasattr(source, "mode") and hasattr(source, "convert"):  # a PIL image
        from PIL import ImageOps

        im = ImageOps.exif_transpose(source)
        return ("pil-image", np.asarray(im.convert("L"), dtype=np.float32) / 255.0,
                np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0, ())
    if isinstance(source, (str, Path)):
        text = str(source)
        if isinstance(source, str) and text in BUILTIN_IMAGES:
            return text, BUILTIN_IMAGES[text][0](), None, ()
        path = Path(text).expanduser()
        if not path.exists() and path.suffix == "" and "/" not in text:
            raise InputError(f"'{text}' is neither a file nor a built-in image; built-ins: {', '.join(BUILTIN_IMAGES)}")
        grey, rgb, notes = read_picture(path, background=background)
        return path.name, grey, rgb, notes
    raise InputError(f"source must be a file path, a built-in name, a PIL image or an array, "
                     f"got {type(source).__name__}")


def _colour_picture(arr: np.ndarray, name: str, canvas: int, crop: str) -> np.ndarray:
    """(canvas, canvas, 3) float32 sRGB: the picture's colour channels, each cropped and resized as the grey
    image is."""
    full = _to_rgb(arr, name)
    return np.stack([prepare_image(np.ascontiguousarray(full[..., i]), canvas, name=name, crop=crop)
                     for i in range(3)], axis=-1)
