"""Numba kernels of the training renderers (private; see :mod:`learned.render`)."""

from __future__ import annotations

from numba import njit, prange


@njit(cache=True, parallel=True)
def _csr_dense(indptr, index, values, x, out):  # pragma: no cover - compiled
    """``out = A @ x`` for a CSR matrix ``A`` (rows in parallel); ``x`` (n_cols, B), ``out`` (n_rows, B)."""
    B = x.shape[1]
    for r in prange(indptr.shape[0] - 1):
        for b in range(B):
            out[r, b] = 0.0
        for t in range(indptr[r], indptr[r + 1]):
            v = values[t]
            c = index[t]
            for b in range(B):
                out[r, b] += v * x[c, b]
