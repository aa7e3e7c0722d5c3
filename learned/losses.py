"""Training losses: L1 and SSIM inside the frame at a viewing scale, as :mod:`rendering.metrics` scores.

:func:`ssim_map` computes SSIM as scikit-image does (uniform window, data range
1, sample covariance), so the loss and the benchmark's metric agree.
"""

from __future__ import annotations

import torch


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean |pred - target| over the mask; (B, 1, H, W) inputs, (H, W) bool mask."""
    m = mask.to(pred.dtype)
    return ((pred - target).abs() * m).sum() / (m.sum() * pred.shape[0])


def ssim_map(x: torch.Tensor, y: torch.Tensor, win: int = 7) -> torch.Tensor:
    """SSIM map as scikit-image computes it (uniform ``win`` window, data range 1, sample covariance).

    (B, 1, H, W) inputs; output (B, 1, H, W) (border pixels use reflect padding).
    """
    import torch.nn.functional as F

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    pad = win // 2
    def f(z):
        return F.avg_pool2d(F.pad(z, (pad, pad, pad, pad), mode="reflect"), win, stride=1)
    mx, my = f(x), f(y)
    n = win * win
    cov = n / (n - 1.0)
    vx = cov * (f(x * x) - mx * mx)
    vy = cov * (f(y * y) - my * my)
    vxy = cov * (f(x * y) - mx * my)
    return ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))


def view_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, *, factor: int = 1,
              w_l1: float = 1.0, w_ssim: float = 1.0) -> tuple[torch.Tensor, dict]:
    """``w_l1 * L1 + w_ssim * (1 - SSIM)`` inside the frame at a viewing scale.

    Outside the frame both images are set to white first, as :mod:`rendering.metrics` does.

    Parameters
    ----------
    pred, target : (B, 1, H, W) in [0, 1]
    mask : (H, W) bool tensor
    factor : int, box-average factor before comparing (1: compare as given)
    """
    import torch.nn.functional as F

    m = mask.to(pred.dtype)[None, None]
    p = pred * m + (1 - m)
    t = target * m + (1 - m)
    if factor > 1:
        p, t = F.avg_pool2d(p, factor), F.avg_pool2d(t, factor)
        m = F.avg_pool2d(m, factor) >= 0.5
    else:
        m = m > 0.5
    mm = m.to(p.dtype).expand_as(p)
    l1 = ((p - t).abs() * mm).sum() / mm.sum()
    ssim = (ssim_map(p, t) * mm).sum() / mm.sum()
    return w_l1 * l1 + w_ssim * (1 - ssim), {"l1": float(l1.detach()), "ssim": float(ssim.detach())}
