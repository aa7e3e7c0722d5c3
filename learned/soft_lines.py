"""The seed model's renderer: lines with continuous endpoints, drawn differentiably.

The seed's autoencoder (``ae-seed``) outputs thread endpoints as fractions of
the way round the frame, so its threads are not chords of any table: a table
only knows the ``n_chords`` pin-to-pin segments, and its coverage has no
derivative with respect to an endpoint's position. :func:`soft_lines`
therefore draws each line analytically from the distance of every pixel centre
to the segment, with a Gaussian cross-section whose integral is the thread
width (so one line's darkening matches the table's area coverage), and
combines lines with the same multiplicative thread model. It is
differentiable in the endpoints. Chord weights on the shared table are drawn by
:func:`rendering.torch_render.chord_render`.
"""

from __future__ import annotations

import math

import torch

from rendering import InputError

_MAX_DARKENING = 1.0 - 1e-6


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


