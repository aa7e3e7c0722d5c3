"""Differentiable renderers for training.

* :func:`chord_render` -- chord weights to an image on the shared
  :class:`~rendering.ChordTable`. It computes exactly
  :func:`rendering.torch_render.render_torch` (the same log-transmittance matrix
  from :func:`rendering.torch_render.log_transmittance`), with a hand-written
  backward pass that multiplies by the table's chord-major CSR (the transpose)
  instead of letting autograd transpose the sparse matrix, which on CPU is ~80x
  slower (0.8 s vs 0.01 s per batch of 16 at 128 px, 288 pins).
* :func:`chord_means` -- the coverage-weighted mean of image channels along
  every chord (the "projection" of an image onto chord space), differentiable
  in the image.
* :func:`soft_lines` -- the seed model's renderer. Its threads have
  *continuous* endpoints (fractions of the way round the frame) produced by a
  network, so they are not chords of any table: a table only knows the
  ``n_chords`` pin-to-pin segments, and its coverage has no derivative with
  respect to an endpoint's position. This renderer therefore draws each line
  analytically from the distance of every pixel centre to the segment, with a
  Gaussian cross-section whose integral is the thread width (so one line's
  darkening matches the table's area coverage), and combines lines with the
  same multiplicative thread model. It is differentiable in the endpoints.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from rendering import ChordTable, InputError
from rendering.torch_render import log_transmittance

_MAX_DARKENING = 1.0 - 1e-6


def _chord_major(table: ChordTable, *, log: bool, opacity: float, dtype, device):
    """Sparse CSR (n_chords, n_pixels) of the table's coverage (or log transmittance); cached on the table."""
    key = ("learned-chord-major", log, float(opacity), str(dtype), str(device))
    if key not in table._torch:
        import scipy.sparse as sp

        m = sp.csr_matrix((table.coverage.astype(np.float64), table.pixel.copy(), table.indptr.copy()),
                          shape=(table.n_chords, table.n_pixels))
        m.sort_indices()
        vals = m.data
        if log:
            vals = np.log1p(-np.minimum(opacity * vals, _MAX_DARKENING))
        with warnings.catch_warnings():  # "sparse CSR support is in beta": known, and what we need
            warnings.simplefilter("ignore", UserWarning)
            t = torch.sparse_csr_tensor(torch.from_numpy(m.indptr.astype(np.int64)),
                                        torch.from_numpy(m.indices.astype(np.int64)),
                                        torch.from_numpy(vals).to(dtype), size=m.shape, check_invariants=False)
        table._torch[key] = t.to(device) if device is not None else t
    return table._torch[key]


def frame_mask_tensor(table: ChordTable, device=None) -> torch.Tensor:
    """(canvas, canvas) bool tensor: the table's frame mask (cached on the table, per device)."""
    key = ("learned-mask", str(device))
    if key not in table._torch:
        table._torch[key] = torch.from_numpy(np.array(table.layout.frame_mask)).to(device)
    return table._torch[key]


def _compact(table: ChordTable, *, pixel_major: bool, log: bool, opacity: float):
    """The table as compact NumPy CSR arrays (int32 offsets, 16/32-bit ids, float32 values); cached on the table.

    ``pixel_major``: rows are pixels (the shared pixel-major table of :func:`solvers.greedy.pixel_table`),
    else chords. ``log``: values ``log(1 - opacity * coverage)``, else the coverage.
    """
    key = ("learned-compact", pixel_major, log, float(opacity))
    if key not in table._torch:
        if pixel_major:
            from solvers.greedy import pixel_table

            pt = pixel_table(table)
            indptr, index, cov = pt.indptr, pt.chord, pt.coverage
        else:
            indptr, index, cov = table.indptr, table.pixel, table.coverage
        vals = np.log1p(-np.minimum(opacity * cov.astype(np.float64), _MAX_DARKENING)) if log else cov
        table._torch[key] = (indptr, index, np.ascontiguousarray(vals, dtype=np.float32))
    return table._torch[key]


def _spmm(table: ChordTable, x: torch.Tensor, *, pixel_major: bool, log: bool, opacity: float,
          fallback) -> torch.Tensor:
    """``A @ x`` for the table's CSR ``A`` (see :func:`_compact`): a parallel Numba kernel over compact
    arrays for float32 on the CPU (torch's CPU sparse product is serial and reads 64-bit indices), else
    ``torch.sparse.mm(fallback(), x)`` (float64, e.g. gradcheck, and GPUs)."""
    if x.device.type != "cpu" or x.dtype != torch.float32:
        return torch.sparse.mm(fallback(), x)
    from ._kernels import _csr_dense

    indptr, index, vals = _compact(table, pixel_major=pixel_major, log=log, opacity=opacity)
    xn = np.ascontiguousarray(x.detach().numpy())
    out = np.empty((indptr.shape[0] - 1, xn.shape[1]), dtype=np.float32)
    _csr_dense(indptr, index, vals, xn, out)
    return torch.from_numpy(out)


class _ChordRender(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weights, table, opacity):
        img = torch.exp(_spmm(table, weights.T.contiguous(), pixel_major=True, log=True, opacity=opacity,
                              fallback=lambda: log_transmittance(table, opacity=opacity, dtype=weights.dtype,
                                                                 device=weights.device)))  # (n_pixels, B)
        ctx.save_for_backward(img)
        ctx.table, ctx.opacity = table, opacity
        return img

    @staticmethod
    def backward(ctx, grad_img):
        (img,) = ctx.saved_tensors
        grad_w = _spmm(ctx.table, (grad_img * img).contiguous(), pixel_major=False, log=True, opacity=ctx.opacity,
                       fallback=lambda: _chord_major(ctx.table, log=True, opacity=ctx.opacity, dtype=img.dtype,
                                                     device=img.device))  # (n_chords, B)
        return grad_w.T, None, None


def chord_render(table: ChordTable, weights: torch.Tensor, *, opacity: float = 1.0) -> torch.Tensor:
    """Render chord weights differentiably (same values as ``render_torch``, fast backward).

    Parameters
    ----------
    table : ChordTable
    weights : (B, n_chords) tensor >= 0 (1 = one thread)
    opacity : float in (0, 1]

    Returns
    -------
    (B, 1, canvas, canvas) tensor in [0, 1], 1 = white
    """
    if weights.ndim != 2 or weights.shape[1] != table.n_chords:
        raise InputError(f"weights must have shape (B, {table.n_chords}), got {tuple(weights.shape)}")
    H, W = table.shape
    out = _ChordRender.apply(weights, table, float(opacity))
    return out.T.reshape(weights.shape[0], 1, H, W)


class _ChordMeans(torch.autograd.Function):
    @staticmethod
    def forward(ctx, flat, table, norm):
        ctx.table, ctx.norm = table, norm
        out = _spmm(table, flat, pixel_major=False, log=False, opacity=1.0,
                    fallback=lambda: _chord_major(table, log=False, opacity=1.0, dtype=flat.dtype, device=flat.device))
        return out / norm[:, None]  # (n_chords, B*K)

    @staticmethod
    def backward(ctx, grad):
        g = (grad / ctx.norm[:, None]).contiguous()
        return _spmm(ctx.table, g, pixel_major=True, log=False, opacity=1.0,
                     fallback=lambda: ctx.table.to_torch(dtype=grad.dtype, device=grad.device)), None, None


def chord_means(table: ChordTable, maps: torch.Tensor) -> torch.Tensor:
    """Coverage-weighted mean of each channel along every chord.

    Parameters
    ----------
    table : ChordTable on the maps' canvas
    maps : (B, K, canvas, canvas) tensor

    Returns
    -------
    (B, K, n_chords) tensor
    """
    B, K, H, W = maps.shape
    if (H, W) != table.shape:
        raise InputError(f"maps are {H}x{W} but the chord table's canvas is {table.shape[0]} px")
    key = ("learned-coverage-sum", str(maps.dtype), str(maps.device))
    if key not in table._torch:
        table._torch[key] = torch.from_numpy(np.maximum(table.coverage_sums(), 1e-6)).to(maps.dtype).to(maps.device)
    norm = table._torch[key]
    flat = maps.reshape(B * K, H * W).T.contiguous()  # (n_pixels, B*K)
    out = _ChordMeans.apply(flat, table, norm)  # (n_chords, B*K)
    return out.T.reshape(B, K, -1)


# ---------------------------------------------------------------------- soft lines (ae-seed)
def frame_points(u: torch.Tensor, canvas: int, margin: float = 1.0) -> torch.Tensor:
    """Points on the circular frame at fraction ``u`` of the way round, clockwise from 12 o'clock.

    Parameters
    ----------
    u : (...) tensor, any real (taken modulo 1)

    Returns
    -------
    (..., 2) tensor of (x, y) pixel coordinates (same convention as :class:`rendering.PinLayout`)
    """
    c = canvas / 2.0
    r = canvas / 2.0 - margin
    ang = 2.0 * math.pi * u
    return torch.stack([c + r * torch.sin(ang), c - r * torch.cos(ang)], dim=-1)


def soft_lines(u: torch.Tensor, v: torch.Tensor, canvas: int, width_px: float, *, sigma: float = 0.7,
               opacity: float = 1.0, margin: float = 1.0) -> torch.Tensor:
    """Render lines with continuous endpoints, differentiably.

    Each line darkens pixel ``p`` by ``coverage = width_px * N(d; sigma)`` where
    ``d`` is the distance from the pixel centre to the segment and ``N`` the
    normal density, so the coverage integrated across the line is
    ``width_px`` (the table's area coverage of a thin thread); passes combine
    multiplicatively as in :mod:`rendering.thread`.

    Parameters
    ----------
    u, v : (B, K) tensors, endpoints as fractions of the way round the frame
    canvas : int, side in px
    width_px : float > 0, thread width in px at this canvas
    sigma : float > 0, px, softness of the cross-section (gradients reach ~3 sigma)

    Returns
    -------
    (B, 1, canvas, canvas) tensor in (0, 1], 1 = white
    """
    if u.shape != v.shape or u.ndim != 2:
        raise InputError(f"u and v must both have shape (B, K), got {tuple(u.shape)} and {tuple(v.shape)}")
    p1 = frame_points(u, canvas, margin)[:, :, None, :]  # (B, K, 1, 2)
    p2 = frame_points(v, canvas, margin)[:, :, None, :]
    ys, xs = torch.meshgrid(torch.arange(canvas, dtype=u.dtype, device=u.device) + 0.5,
                            torch.arange(canvas, dtype=u.dtype, device=u.device) + 0.5, indexing="ij")
    q = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1)[None, None]  # (1, 1, P, 2)
    d = p2 - p1
    t = (((q - p1) * d).sum(-1) / (d * d).sum(-1).clamp_min(1e-6)).clamp(0.0, 1.0)  # (B, K, P)
    dist2 = ((q - p1 - t[..., None] * d) ** 2).sum(-1)
    cov = (width_px / (math.sqrt(2.0 * math.pi) * sigma)) * torch.exp(-0.5 * dist2 / (sigma * sigma))
    logt = torch.log1p(-(opacity * cov).clamp(max=_MAX_DARKENING)).sum(1)  # (B, P)
    return torch.exp(logt).reshape(u.shape[0], 1, canvas, canvas)


# ---------------------------------------------------------------------- losses
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

    Outside the frame both images are set to white first, as :mod:`bench.metrics` does.

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
