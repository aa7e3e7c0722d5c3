"""Training data for the learned solvers: image folders, an offline default, augmentation.

Two sources of pictures:

* :class:`ImageFolder` -- any folder of images, searched recursively (PNG, JPEG,
  BMP, TIFF, WebP, GIF). Files Pillow cannot read are skipped, counted and
  listed in :attr:`ImageFolder.skipped` (the anime-face set of the seed works
  as it is: ``bench train ae-chords --data path/to/anime-faces``).
* :func:`builtin_pool` -- the offline default: pictures that installed packages
  ship (scikit-image's data, its ``lfw_subset`` faces, matplotlib's sample
  images). The benchmark's built-in images (:data:`HELD_OUT`) are never in it,
  so ``bench run`` scores the learned solvers on pictures they never saw.

Samples are square crops resized to the training canvas, grayscale float32 in
[0, 1] (1 = white). Augmentation is a mirror flip and a rotation by a whole
number of pin steps; both map the pins onto themselves, so they are a
permutation of the chord labels (:func:`chord_permutation`).
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rendering import BUILTIN_IMAGES, InputError, read_image
from rendering.errors import check_int

#: File suffixes :class:`ImageFolder` picks up (lower case).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm", ".ppm")

#: Pictures never used for training: every built-in benchmark image. scikit-image's
#: ``cat`` is the same picture as ``chelsea``, so it is held out too.
HELD_OUT = tuple(BUILTIN_IMAGES) + ("cat",)

#: scikit-image pictures in the offline training pool (all shipped inside the wheel).
SKIMAGE_TRAIN = ("brick", "cell", "clock", "grass", "gravel", "horse", "hubble_deep_field",
                 "immunohistochemistry", "logo", "microaneurysms", "page", "retina", "text",
                 "shepp_logan_phantom", "colorwheel")
#: matplotlib sample images in the offline training pool.
MATPLOTLIB_TRAIN = ("Minduka_Present_Blue_Pack.png", "logo2.png")
#: Every ``VAL_EVERY``-th face of ``lfw_subset`` (and the pictures in ``VAL_SKIMAGE``)
#: form the validation split; the rest is trained on.
VAL_EVERY = 10
VAL_SKIMAGE = ("clock", "retina")


# ---------------------------------------------------------------------- gray conversion
def to_gray(arr: np.ndarray) -> np.ndarray:
    """(H, W) float32 in [0, 1] from a uint8/bool/float gray, RGB or RGBA array (alpha over white)."""
    arr = np.asarray(arr)
    if arr.dtype == bool:
        arr = arr.astype(np.float32)
    elif np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float32) / (255.0 if arr.max(initial=0) <= 255 else 65535.0)
    else:
        arr = np.clip(np.nan_to_num(arr.astype(np.float32)), 0.0, 1.0)
    if arr.ndim == 3 and arr.shape[2] == 4:
        a = arr[..., 3:4]
        arr = arr[..., :3] * a + (1.0 - a)
    if arr.ndim == 3 and arr.shape[2] >= 3:
        arr = arr[..., :3] @ np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)
    elif arr.ndim == 3:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise InputError(f"expected a gray or colour picture, got an array of shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def _read_image(path: Path) -> np.ndarray:
    """:func:`rendering.read_image`, with Pillow's warnings (truncated files, huge images) silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_image(path)


# ---------------------------------------------------------------------- sources
@dataclass
class ImageFolder:
    """Every readable image under a folder (recursive).

    Parameters
    ----------
    root : path of a folder
    min_side : int, smaller pictures are skipped (counted in ``too_small``)

    Attributes
    ----------
    images : list of (H, W) float32 in [0, 1], 1 = white
    names : list of str, paths relative to ``root``
    skipped : list of str, files with an image suffix that could not be read
    too_small : int, readable pictures below ``min_side``
    """

    root: Path
    min_side: int = 16
    images: list = field(default_factory=list, repr=False)
    names: list = field(default_factory=list, repr=False)
    skipped: list = field(default_factory=list, repr=False)
    too_small: int = 0

    def __post_init__(self):
        self.root = Path(self.root).expanduser()
        if not self.root.is_dir():
            raise InputError(f"--data must be a folder of images, got '{self.root}' "
                             f"({'a file' if self.root.exists() else 'not found'}); pass a folder")
        for path in sorted(p for p in self.root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
            rel = str(path.relative_to(self.root))
            try:
                img = _read_image(path)
            except Exception:  # noqa: BLE001 -- any unreadable file is skipped and counted
                self.skipped.append(rel)
                continue
            if min(img.shape) < self.min_side:
                self.too_small += 1
                continue
            self.images.append(img)
            self.names.append(rel)
        if not self.images:
            raise InputError(f"no readable images under '{self.root}' ({len(self.skipped)} unreadable); "
                             f"expected PNG/JPEG/... files, searched recursively")

    def report(self) -> str:
        """One line: how many pictures were read, skipped (corrupt) and too small."""
        return (f"{len(self.images)} images from {self.root} ({len(self.skipped)} unreadable skipped, "
                f"{self.too_small} too small)")


def builtin_pool() -> tuple[list[np.ndarray], list[str]]:
    """The offline training pool: scikit-image data, its faces, matplotlib samples.

    Returns
    -------
    images : list of (H, W) float32 in [0, 1]
    names : list of str, e.g. ``"skimage:brick"``, ``"lfw:17"``
    Nothing of :data:`HELD_OUT` is in it.
    """
    import matplotlib.cbook
    import skimage.data

    images, names = [], []
    for name in SKIMAGE_TRAIN:
        assert name not in HELD_OUT
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            images.append(to_gray(getattr(skimage.data, name)()))
        names.append(f"skimage:{name}")
    for k, face in enumerate(skimage.data.lfw_subset()):
        images.append(to_gray(face))
        names.append(f"lfw:{k}")
    for fname in MATPLOTLIB_TRAIN:
        try:
            with matplotlib.cbook.get_sample_data(fname) as f:
                images.append(_read_image(Path(f.name)))
            names.append(f"matplotlib:{fname}")
        except (OSError, ValueError):  # an older matplotlib without this sample
            continue
    return images, names


def picture_records(images, names) -> list[dict]:
    """What a checkpoint records of each picture its training read: ``name``, ``split`` (``train`` or
    ``validation``, :func:`is_validation`) and ``print`` (:func:`rendering.thumbprint`), so that a study can
    flag a score on one of them (:func:`solvers.trained_on`)."""
    from rendering import thumbprint

    return [dict(name=n, split="validation" if is_validation(n) else "train", print=thumbprint(img))
            for img, n in zip(images, names)]


def is_validation(name: str) -> bool:
    """Whether a picture of the pool (or a folder file) belongs to the validation split."""
    if name.startswith("lfw:"):
        return int(name[4:]) % VAL_EVERY == 0
    if name.startswith("skimage:"):
        return name[8:] in VAL_SKIMAGE
    if name.startswith("matplotlib:"):
        return False
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % VAL_EVERY == 0


# ---------------------------------------------------------------------- crops & augmentation
def random_crop(img: np.ndarray, size: int, rng: np.random.Generator, *, min_frac: float = 0.35) -> np.ndarray:
    """A random square crop (side between ``min_frac`` and 1 of the short side) resized to ``size``.

    Returns
    -------
    (size, size) float32 in [0, 1]
    """
    from skimage.transform import resize

    h, w = img.shape
    s_max = min(h, w)
    s = int(rng.integers(max(8, int(min_frac * s_max)), s_max + 1)) if s_max > 8 else s_max
    top = int(rng.integers(0, h - s + 1))
    left = int(rng.integers(0, w - s + 1))
    crop = img[top:top + s, left:left + s]
    out = resize(crop, (size, size), order=1, anti_aliasing=s > size, preserve_range=True)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def center_square(img: np.ndarray, size: int) -> np.ndarray:
    """The centred square of a picture resized to ``size`` (as the benchmark prepares targets)."""
    from rendering import prepare_image

    return prepare_image(img, size)


def rotate_pins(img: np.ndarray, k: int, n_pins: int) -> np.ndarray:
    """Rotate a square picture clockwise by ``k`` pin steps (``360 k / n_pins`` degrees).

    What sat at pin ``i`` then sits at pin ``(i + k) % n_pins``.
    """
    from skimage.transform import rotate

    if k % n_pins == 0:
        return img.copy()
    # skimage rotates counter-clockwise for positive angles (y down, as displayed)
    return rotate(img, -360.0 * k / n_pins, order=1, mode="edge", preserve_range=True).astype(np.float32)


def flip(img: np.ndarray) -> np.ndarray:
    """Mirror left-right: pin ``i`` goes to pin ``(-i) % n_pins``."""
    return np.ascontiguousarray(img[:, ::-1])


def pin_permutation(n_pins: int, k: int = 0, flipped: bool = False) -> np.ndarray:
    """(n_pins,) int64: where each pin goes under a flip (first) then a ``k``-step rotation."""
    i = np.arange(n_pins)
    if flipped:
        i = (-i) % n_pins
    return (i + k) % n_pins


def chord_permutation(chords, k: int = 0, flipped: bool = False) -> np.ndarray:
    """(n_chords,) int64: ``perm[c]`` is the id chord ``c`` becomes after the augmentation.

    Parameters
    ----------
    chords : rendering.ChordSet of a circle layout without jitter
    """
    p = pin_permutation(chords.n_pins, k, flipped)
    return chords.id_of[p[chords.pin_a], p[chords.pin_b]].astype(np.int64)


def augment(img: np.ndarray, rng: np.random.Generator, n_pins: int) -> tuple[np.ndarray, int, bool]:
    """Random flip and whole-pin-step rotation; returns ``(image, k, flipped)``."""
    flipped = bool(rng.integers(2))
    k = int(rng.integers(n_pins))
    out = flip(img) if flipped else img
    return rotate_pins(out, k, n_pins), k, flipped


# ---------------------------------------------------------------------- the dataset
@dataclass
class CropDataset:
    """Fixed random crops of a picture pool, split into train and validation.

    Crops are drawn once (deterministic in ``seed``); the training crops get a
    fresh flip/rotation each epoch (:meth:`train_batches`), validation crops
    never change.

    Parameters
    ----------
    images, names : the pool (see :func:`builtin_pool`, :class:`ImageFolder`)
    size : int, training canvas in px
    n_train, n_val : int, how many crops
    seed : int
    """

    images: list
    names: list
    size: int = 128
    n_train: int = 2000
    n_val: int = 64
    seed: int = 0
    n_pins: int = 288
    train: np.ndarray = field(init=False, repr=False)
    val: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        check_int("size", self.size, low=16)
        check_int("n_train", self.n_train, low=1)
        check_int("n_val", self.n_val, low=1)
        rng = np.random.default_rng(self.seed)
        val_idx = [i for i, n in enumerate(self.names) if is_validation(n)]
        train_idx = [i for i, n in enumerate(self.names) if not is_validation(n)]
        if not train_idx or not val_idx:  # tiny folders: split by position
            idx = list(range(len(self.images)))
            val_idx, train_idx = idx[:1], (idx[1:] or idx[:1])
        self.train = self._crops(train_idx, self.n_train, rng)
        self.val = self._crops(val_idx, self.n_val, rng)

    def _crops(self, idx: list[int], n: int, rng: np.random.Generator) -> np.ndarray:
        # whole pictures count (faces are already crops), then random crops of large pictures
        out = np.empty((n, self.size, self.size), dtype=np.float32)
        picks = rng.choice(np.asarray(idx), size=n, replace=True)
        for t, i in enumerate(picks):
            img = self.images[i]
            if min(img.shape) < 2 * self.size // 3 or rng.random() < 0.25:
                out[t] = center_square(img, self.size)
            else:
                out[t] = random_crop(img, self.size, rng)
        return out

    def train_batches(self, batch_size: int, rng: np.random.Generator, *, augment_data: bool = True,
                      with_params: bool = False):
        """Yield (B, size, size) float32 augmented training batches, one epoch.

        With ``with_params``, yield ``(batch, idx, ks, flips)``: the crops' indices
        and each one's rotation (pin steps) and flip, to permute chord labels alike
        (:func:`chord_permutation`).
        """
        order = rng.permutation(len(self.train))
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            batch = self.train[idx]
            ks = np.zeros(len(idx), dtype=np.int64)
            flips = np.zeros(len(idx), dtype=bool)
            if augment_data:
                out = [augment(b, rng, self.n_pins) for b in batch]
                batch = np.stack([o[0] for o in out])
                ks[:] = [o[1] for o in out]
                flips[:] = [o[2] for o in out]
            yield (batch, idx, ks, flips) if with_params else batch

    def describe(self) -> str:
        return f"{len(self.images)} pictures -> {len(self.train)} train / {len(self.val)} val crops at {self.size} px"


def load_pool(data: str | Path | None) -> tuple[list[np.ndarray], list[str], str]:
    """The picture pool for training: a folder (``data``) or the offline default.

    Returns ``(images, names, report line)``.
    """
    if data is None:
        images, names = builtin_pool()
        return images, names, (f"offline pool: {len(images)} pictures (scikit-image, lfw faces, matplotlib); "
                               f"held out: {', '.join(HELD_OUT)}")
    folder = ImageFolder(Path(data))
    return folder.images, folder.names, folder.report()
