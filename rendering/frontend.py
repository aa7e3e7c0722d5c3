"""The front end: what the solvers are asked to draw, made from the photo.

The measured gains of classical string-art pipelines come from what greedy is
fed as much as from greedy itself. These are the usual steps, each a pure
function of a (canvas, canvas) gray image in [0, 1] (1 = white):

* :func:`repair_exposure` -- only for a badly exposed photo (washed out, too
  dark or too bright): a percentile level stretch, then a gamma that moves the
  median toward mid-grey. A well exposed photo is returned unchanged.
* :func:`clahe` -- local contrast (scikit-image's CLAHE), optional.
* :func:`importance_map` -- per-pixel weights of the error from edges
  (Sobel magnitude) and/or saliency (spectral residual, Hou & Zhang 2007),
  1 where nothing stands out, up to ``1 + strength`` on what does.
* :func:`mask_importance` -- a user's own mask (a picture: white = important).

:func:`rendering.load_target` applies the tone steps and keeps the untouched
picture in ``Target.original``: results are scored against it, so a front end
is judged by how much closer the thread gets to the photo, not to its own edit.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError, check_float

EXPOSURE_MODES = ("auto", "off", "force")
IMPORTANCE_MODES = ("edges", "saliency", "both")


def exposure_problem(image: np.ndarray) -> str | None:
    """Why a picture counts as badly exposed (``"washed out"``, ``"too dark"``, ``"too bright"``), or None.

    Washed out: the 1st to 99th percentile spans less than 0.6 of the range.
    Too dark or too bright: the median is below 0.2 or above 0.8.
    """
    lo, med, hi = np.percentile(np.asarray(image, dtype=np.float64), (1, 50, 99))
    if hi - lo < 0.6:
        return "washed out"
    if med < 0.2:
        return "too dark"
    if med > 0.8:
        return "too bright"
    return None


def repair_exposure(image: np.ndarray, *, mode: str = "auto") -> np.ndarray:
    """Exposure repair: a 0.5th-99.5th percentile stretch, then a gamma taking the median halfway to 0.5.

    Parameters
    ----------
    image : (H, W) float in [0, 1]
    mode : ``"auto"`` (only when :func:`exposure_problem` finds a problem), ``"force"``, ``"off"``

    Returns
    -------
    (H, W) float32 in [0, 1]

    >>> flat = np.linspace(0.4, 0.7, 64 * 64).reshape(64, 64)   # washed out
    >>> out = repair_exposure(flat)
    >>> round(float(out.min()), 2), round(float(out.max()), 2)
    (0.0, 1.0)
    >>> good = np.linspace(0.0, 1.0, 64 * 64).reshape(64, 64)
    >>> bool(np.array_equal(repair_exposure(good), good.astype(np.float32)))
    True
    """
    if mode not in EXPOSURE_MODES:
        raise InputError(f"exposure must be one of {', '.join(EXPOSURE_MODES)}, got {mode!r}")
    img = np.asarray(image, dtype=np.float32)
    if mode == "off" or (mode == "auto" and exposure_problem(img) is None):
        return img
    lo, hi = np.percentile(img, (0.5, 99.5))
    if hi - lo < 1e-6:
        return img
    out = np.clip((img - lo) / (hi - lo), 0.0, 1.0)
    med = float(np.median(out))
    if 0.0 < med < 1.0:
        goal = 0.5 * (med + 0.5)  # halfway to mid-grey: a photo keeps its key
        out = out ** (np.log(goal) / np.log(med))
    return out.astype(np.float32)


def clahe(image: np.ndarray, *, clip: float = 0.01) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation (``skimage.exposure.equalize_adapthist``)."""
    from skimage.exposure import equalize_adapthist

    clip = check_float("clahe clip", clip, low=0.0, high=1.0, low_open=True, hint="e.g. 0.01")
    return equalize_adapthist(np.clip(np.asarray(image, dtype=np.float64), 0, 1), clip_limit=clip).astype(np.float32)


def _normalised(m: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    ref = m[mask] if mask is not None and mask.any() else m
    top = float(np.percentile(ref, 99)) if ref.size else 0.0
    return np.clip(m / top, 0.0, 1.0) if top > 0 else np.zeros_like(m)


def saliency(image: np.ndarray) -> np.ndarray:
    """Spectral-residual saliency (Hou & Zhang, CVPR 2007) at 64 px, blurred and resized back; in [0, 1]."""
    from skimage.filters import gaussian
    from skimage.transform import resize

    img = np.asarray(image, dtype=np.float64)
    small = resize(img, (64, 64), anti_aliasing=True)
    f = np.fft.fft2(small)
    log_amp = np.log(np.abs(f) + 1e-9)
    phase = np.angle(f)
    kernel = np.ones((3, 3)) / 9.0
    from scipy.ndimage import convolve

    residual = log_amp - convolve(log_amp, kernel, mode="wrap")
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * phase))) ** 2
    sal = gaussian(sal, sigma=2.5)
    sal = resize(sal, img.shape, order=1)
    return _normalised(sal, None).astype(np.float32)


def importance_map(image: np.ndarray, *, mode: str = "both", strength: float = 2.0,
                   mask: np.ndarray | None = None) -> np.ndarray:
    """Per-pixel weights of the error: ``1 + strength * map``, the map from edges and/or saliency in [0, 1].

    Parameters
    ----------
    image : (canvas, canvas) float in [0, 1]
    mode : ``"edges"`` (Sobel magnitude, blurred), ``"saliency"`` (:func:`saliency`) or ``"both"`` (their mean)
    strength : float >= 0, how much more an important pixel counts
    mask : optional (canvas, canvas) bool, the frame (the map is normalised inside it)

    Returns
    -------
    (canvas, canvas) float32 >= 1
    """
    from skimage.filters import gaussian, sobel

    if mode not in IMPORTANCE_MODES:
        raise InputError(f"importance must be one of {', '.join(IMPORTANCE_MODES)} or a mask file, got {mode!r}")
    strength = check_float("importance strength", strength, low=0.0, hint="e.g. 2")
    img = np.asarray(image, dtype=np.float64)
    maps = []
    if mode in ("edges", "both"):
        edges = gaussian(sobel(img), sigma=max(1.0, img.shape[0] / 256))
        maps.append(_normalised(edges, mask))
    if mode in ("saliency", "both"):
        maps.append(saliency(img))
    m = np.mean(maps, axis=0)
    return (1.0 + strength * m).astype(np.float32)


def mask_importance(mask_image: np.ndarray, *, strength: float = 2.0) -> np.ndarray:
    """Weights from a user's mask (gray in [0, 1], white = important): ``1 + strength * mask``."""
    strength = check_float("importance strength", strength, low=0.0, hint="e.g. 2")
    m = np.clip(np.asarray(mask_image, dtype=np.float32), 0.0, 1.0)
    return (1.0 + strength * m).astype(np.float32)
