"""Metrics between a rendered preview and its target, inside the frame only.

String art is seen from a distance. At full resolution a thread is a one-pixel
texture the photo does not have, so a blank white canvas scores a higher SSIM
than real string art. The headline metrics (``ssim``, ``l1``, ``psnr``) are
therefore taken at the *viewing scale*: both images box-averaged
:data:`VIEW_SCALE` times down (512 px -> 128 px), as the eye averages threads
from a metre or two. Full-resolution figures sit beside them (``*_full``).

Outside the frame both images are set to white before averaging, so pixels
near the rim compare like with like, and only pixels inside the frame count.
SSIM is scikit-image's (7x7 uniform window, data range 1), averaged over the
frame; L1 is the mean absolute difference; PSNR is ``10 log10(1 / MSE)``.
"""

from __future__ import annotations

import numpy as np

from rendering import VIEW_SCALE, InputError, view_scale

METRICS = ("ssim", "l1", "psnr", "ssim_full", "l1_full", "psnr_full")


def _effective_factor(canvas: int, factor: int) -> int:
    """The view factor, reduced on tiny canvases so the viewed image keeps >= 7 px."""
    return int(max(1, min(factor, canvas // 7)))


def _scores(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> tuple[float, float, float]:
    from skimage.metrics import structural_similarity

    side = min(pred.shape)
    win = min(7, side if side % 2 else side - 1)
    _, smap = structural_similarity(target, pred, data_range=1.0, full=True, win_size=max(win, 3))
    diff = pred[mask] - target[mask]
    l1 = float(np.mean(np.abs(diff)))
    if np.all(diff == 0):
        psnr = float("inf")
    else:
        # scikit-image's peak_signal_noise_ratio, written out: importing it loads scipy.stats (~0.4 s)
        psnr = float(10.0 * np.log10(1.0 / np.mean((target[mask] - pred[mask]) ** 2, dtype=np.float64)))
    return float(smap[mask].mean()), l1, psnr


def score(preview: np.ndarray, target: np.ndarray, mask: np.ndarray, *, factor: int = VIEW_SCALE) -> dict:
    """SSIM (higher is better), L1 and PSNR at the viewing scale and at full resolution.

    Parameters
    ----------
    preview, target : (H, W) float in [0, 1], 1 = white
    mask : (H, W) bool, the inside of the frame
    factor : int, the viewing scale (box-average factor)

    Returns
    -------
    dict with keys :data:`METRICS`
    """
    preview = np.asarray(preview, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if preview.shape != target.shape or mask.shape != target.shape:
        raise InputError(f"preview {preview.shape}, target {target.shape} and mask {mask.shape} must have one shape")
    if not mask.any():
        raise InputError("the frame mask is empty; nothing to compare")
    p = np.where(mask, preview, 1.0)
    t = np.where(mask, target, 1.0)
    ssim_f, l1_f, psnr_f = _scores(p, t, mask)
    k = _effective_factor(min(mask.shape), factor)
    pv = view_scale(p, k).astype(np.float64)
    tv = view_scale(t, k).astype(np.float64)
    mv = view_scale(mask.astype(np.float32), k) >= 0.5
    ssim_v, l1_v, psnr_v = _scores(pv, tv, mv)
    return dict(ssim=ssim_v, l1=l1_v, psnr=psnr_v, ssim_full=ssim_f, l1_full=l1_f, psnr_full=psnr_f)


def reference_scores(target: np.ndarray, mask: np.ndarray, *, factor: int = VIEW_SCALE) -> dict[str, dict]:
    """Scores of the two reference canvases: ``blank`` (white) and ``flat`` (the target's mean tone in the frame)."""
    target = np.asarray(target, dtype=np.float64)
    blank = np.ones_like(target)
    flat = np.full_like(target, float(target[mask].mean()))
    return {"blank": score(blank, target, mask, factor=factor), "flat": score(flat, target, mask, factor=factor)}


def score_solution(solution, *, factor: int = VIEW_SCALE) -> dict:
    """:func:`score` of a Solution's preview against its problem's photo (``target.original``: before any tone edit)."""
    p = solution.problem
    return score(solution.render(), p.target.original, p.mask, factor=factor)
