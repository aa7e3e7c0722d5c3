"""Differentiable renderer in torch on the shared chord table.

A chord weight ``x_c >= 0`` is how many times chord ``c`` is drawn (``x_c`` in
[0, 1] reads as a soft, "maybe" thread). Under the multiplicative thread model,

    brightness_p = prod_c (1 - opacity * coverage_pc) ** x_c
                 = exp( sum_c x_c * log(1 - opacity * coverage_pc) ),

so for integer weights this equals :func:`rendering.render` exactly, and it is
smooth in ``x``. The sum is one sparse-dense product with the table's
log-transmittance matrix (pixels x chords).
"""

from __future__ import annotations

import torch
from torch import nn

from .chords import ChordTable
from .errors import InputError

_MAX_DARKENING = 1.0 - 1e-6  # keeps log finite where opacity * coverage == 1


def log_transmittance(table: ChordTable, *, opacity: float = 1.0, dtype=torch.float32, device=None):
    """Sparse CSR (n_pixels, n_chords): ``log(1 - opacity * coverage)``; cached on the table."""
    key = ("logT", float(opacity), str(dtype), str(device))
    if key not in table._torch:
        cov = table.to_torch(dtype=torch.float64)
        vals = torch.log1p(-(opacity * cov.values()).clamp(max=_MAX_DARKENING))
        t = torch.sparse_csr_tensor(cov.crow_indices(), cov.col_indices(), vals.to(dtype), size=cov.shape,
                                    check_invariants=False)
        table._torch[key] = t.to(device) if device is not None else t
    return table._torch[key]


def render_torch(table: ChordTable, weights: torch.Tensor, *, opacity: float = 1.0) -> torch.Tensor:
    """Render chord weights differentiably.

    Parameters
    ----------
    table : ChordTable
    weights : (n_chords,) or (B, n_chords) tensor, >= 0 (1 = one thread)
    opacity : float in (0, 1]

    Returns
    -------
    image : (canvas, canvas) or (B, 1, canvas, canvas), in [0, 1], 1 = white;
        device and dtype follow ``weights``.
    """
    if weights.ndim not in (1, 2) or weights.shape[-1] != table.n_chords:
        raise InputError(f"weights must have shape (n_chords,) or (B, n_chords) with n_chords={table.n_chords}, "
                         f"got {tuple(weights.shape)}")
    L = log_transmittance(table, opacity=opacity, dtype=weights.dtype, device=weights.device)
    H, W = table.shape
    if weights.ndim == 1:
        return torch.exp(torch.sparse.mm(L, weights[:, None])).reshape(H, W)
    out = torch.exp(torch.sparse.mm(L, weights.T))  # (n_pixels, B)
    return out.T.reshape(weights.shape[0], 1, H, W)


class StringRenderer(nn.Module):
    """:func:`render_torch` as a module (holds the table; no parameters)."""

    def __init__(self, table: ChordTable, *, opacity: float = 1.0):
        super().__init__()
        self.table = table
        self.opacity = float(opacity)

    def forward(self, weights: torch.Tensor) -> torch.Tensor:
        return render_torch(self.table, weights, opacity=self.opacity)
