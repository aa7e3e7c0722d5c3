"""Differentiable rendering in torch on the shared chord table: the one renderer training uses.

A chord weight ``x_c >= 0`` is how many times chord ``c`` is drawn (``x_c`` in
[0, 1] reads as a soft, "maybe" thread). Under the multiplicative thread model,

    brightness_p = prod_c (1 - opacity * coverage_pc) ** x_c
                 = exp( sum_c x_c * log(1 - opacity * coverage_pc) ),

so for integer weights this equals :func:`rendering.render` exactly, and it is
smooth in ``x``. The sum is one sparse-dense product with the table's
log-transmittance matrix (pixels x chords).

* :func:`render_torch` -- the reference: that product with ``torch.sparse``,
  differentiated by autograd (``torch.autograd.gradcheck``'d in the tests).
* :func:`chord_render` -- the same values, fast: float32 products on the CPU
  run in a parallel Numba kernel over compact CSR arrays (torch's CPU sparse
  product is serial and reads 64-bit indices), and the backward pass multiplies
  by the table's chord-major CSR (the transpose) instead of letting autograd
  transpose the sparse matrix, which on the CPU is ~80x slower (0.8 s vs 0.01 s
  per batch of 16 at 128 px, 288 pins). Float64 and GPU tensors use
  ``torch.sparse``. The tests hold it equal to :func:`render_torch`.
* :func:`chord_means` -- the coverage-weighted mean of image channels along
  every chord (the "projection" of an image onto chord space), differentiable
  in the image; the torch twin of :func:`rendering.chord_means`.

Every tensor and array built from a table is kept in its memo
(:meth:`rendering.ChordTable.derived`), per dtype and device.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import _kernels
from .chords import ChordTable
from .derived import pixel_table
from .errors import InputError
from .torch_env import pin

pin()  # torch's numerics the same on every x86-64 CPU (see rendering.torch_env), before torch is imported

import torch  # noqa: E402  (after pin())
from torch import nn  # noqa: E402  (after pin())

_MAX_DARKENING = 1.0 - 1e-6  # keeps log finite where opacity * coverage == 1


def _log_values(values: np.ndarray, opacity: float) -> np.ndarray:
    """``log(1 - opacity * coverage)`` in float64, clamped away from ``log(0)``."""
    return np.log1p(-np.minimum(opacity * values.astype(np.float64), _MAX_DARKENING))


def log_transmittance(table: ChordTable, *, opacity: float = 1.0, dtype=torch.float32, device=None):
    """Sparse CSR (n_pixels, n_chords): ``log(1 - opacity * coverage)``; kept on the table."""

    def build(t: ChordTable):
        cov = t.to_torch(dtype=torch.float64)
        vals = torch.log1p(-(opacity * cov.values()).clamp(max=_MAX_DARKENING))
        m = torch.sparse_csr_tensor(cov.crow_indices(), cov.col_indices(), vals.to(dtype), size=cov.shape,
                                    check_invariants=False)
        return m.to(device) if device is not None else m

    return table.derived(("torch-log-transmittance", float(opacity), str(dtype), str(device)), build)


def render_torch(table: ChordTable, weights: torch.Tensor, *, opacity: float = 1.0) -> torch.Tensor:
    """Render chord weights differentiably (the reference; see :func:`chord_render` for training).

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


# ---------------------------------------------------------------------------- the fast renderer
def _chord_major(table: ChordTable, *, log: bool, opacity: float, dtype, device):
    """Sparse CSR (n_chords, n_pixels) of the table's coverage (or log transmittance); kept on the table."""

    def build(t: ChordTable):
        import scipy.sparse as sp

        m = sp.csr_matrix((t.coverage.astype(np.float64), t.pixel.copy(), t.indptr.copy()),
                          shape=(t.n_chords, t.n_pixels))
        m.sort_indices()
        vals = _log_values(m.data, opacity) if log else m.data
        with warnings.catch_warnings():  # "sparse CSR support is in beta": known, and what we need
            warnings.simplefilter("ignore", UserWarning)
            c = torch.sparse_csr_tensor(torch.from_numpy(m.indptr.astype(np.int64)),
                                        torch.from_numpy(m.indices.astype(np.int64)),
                                        torch.from_numpy(vals).to(dtype), size=m.shape, check_invariants=False)
        return c.to(device) if device is not None else c

    return table.derived(("torch-chord-major", log, float(opacity), str(dtype), str(device)), build)


def _compact(table: ChordTable, *, pixel_major: bool, log: bool, opacity: float):
    """The table as compact NumPy CSR arrays (int32 offsets, 16/32-bit ids, float32 values); kept on the table.

    ``pixel_major``: rows are pixels (:func:`rendering.derived.pixel_table`), else chords.
    ``log``: values ``log(1 - opacity * coverage)``, else the coverage.
    """

    def build(t: ChordTable):
        if pixel_major:
            pt = pixel_table(t)
            indptr, index, cov = pt.indptr, pt.chord, pt.coverage
        else:
            indptr, index, cov = t.indptr, t.pixel, t.coverage
        vals = _log_values(cov, opacity) if log else cov
        return indptr, index, np.ascontiguousarray(vals, dtype=np.float32)

    return table.derived(("compact-csr", pixel_major, log, float(opacity)), build)


def _spmm(table: ChordTable, x: torch.Tensor, *, pixel_major: bool, log: bool, opacity: float,
          fallback) -> torch.Tensor:
    """``A @ x`` for the table's CSR ``A`` (see :func:`_compact`): a parallel Numba kernel over compact
    arrays for float32 on the CPU, else ``torch.sparse.mm(fallback(), x)`` (float64, e.g. gradcheck, and GPUs)."""
    if x.device.type != "cpu" or x.dtype != torch.float32:
        return torch.sparse.mm(fallback(), x)
    indptr, index, vals = _compact(table, pixel_major=pixel_major, log=log, opacity=opacity)
    xn = np.ascontiguousarray(x.detach().numpy())
    out = np.empty((indptr.shape[0] - 1, xn.shape[1]), dtype=np.float32)
    _kernels._csr_dense(indptr, index, vals, xn, out)
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
    """Render chord weights differentiably (the values of :func:`render_torch`, a fast backward).

    Parameters
    ----------
    table : ChordTable
    weights : (B, n_chords) tensor >= 0 (1 = one thread)
    opacity : float in (0, 1]

    Returns
    -------
    (B, 1, canvas, canvas) tensor in [0, 1], 1 = white; device and dtype follow ``weights``

    Examples
    --------
    >>> from rendering import PinLayout, get_chord_table, render
    >>> t = get_chord_table(PinLayout(n_pins=16, canvas=32), 2, 0.5, disk_cache=False)
    >>> w = torch.zeros(1, t.n_chords); w[0, [3, 7]] = 1.0
    >>> bool(np.allclose(chord_render(t, w)[0, 0].numpy(), render(t, [3, 7]), atol=1e-6))
    True
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
    """Coverage-weighted mean of each channel along every chord, differentiable in ``maps``.

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
    norm = table.derived(("torch-coverage-sum", str(maps.dtype), str(maps.device)),
                         lambda t: torch.from_numpy(np.maximum(t.coverage_sums(), 1e-6)).to(maps.dtype)
                         .to(maps.device))
    flat = maps.reshape(B * K, H * W).T.contiguous()  # (n_pixels, B*K)
    out = _ChordMeans.apply(flat, table, norm)  # (n_chords, B*K)
    return out.T.reshape(B, K, -1)


def frame_mask_tensor(table: ChordTable, device=None) -> torch.Tensor:
    """(canvas, canvas) bool tensor: the table's frame mask (kept on the table, per device)."""
    return table.derived(("torch-frame-mask", str(device)),
                         lambda t: torch.from_numpy(np.array(t.layout.frame_mask)).to(device))
