"""Numba CUDA kernels of the rasterizer. Private: contiguous device arrays in, inputs trusted.

The public, validating wrappers live in :mod:`rendering.device`.

Nothing here imports :mod:`numba.cuda` at module import: :func:`kernels`
compiles the kernels on first use, once per block size. That keeps the CPU
path free of CUDA, and lets the tests switch numba's CUDA simulator on
(``NUMBA_ENABLE_CUDASIM=1``) before :mod:`numba.cuda` is first imported.

Threads and determinism
-----------------------
A chord's CSR entries name distinct pixels, so one block can update all of
them at once without atomics. Chords that follow one another are separated by
``syncthreads``, so every pixel sees its passes in list order -- the order of
the CPU kernels in :mod:`rendering._kernels`, hence the same float32 image
(up to the GPU's fused multiply-adds). Sums over a chord or a canvas use a
fixed tree reduction in shared memory: same input, same bits, every run.

The expressions spell out numba's CPU typing (``float32 * float32`` stays
float32, a Python float promotes to float64) with explicit casts, so the
simulator (which runs plain NumPy scalars) and the GPU compute what the CPU
kernels compute.
"""

from __future__ import annotations

import types

import numpy as np

#: numba.cuda, bound by :func:`kernels` (a module global, so the simulator can swap it inside kernels)
cuda = None

#: default threads per block on a GPU (a power of two)
TPB = 256

_compiled: dict = {}


def _bind_cuda():
    global cuda
    if cuda is None:
        from numba import cuda as _cuda

        cuda = _cuda
    return cuda


def kernels(tpb: int = TPB) -> types.SimpleNamespace:
    """Compile (once per ``tpb``) and return the kernels and block-level device functions.

    Parameters
    ----------
    tpb : int, threads per block, a power of two >= 2 (the shared-memory
        reductions assume it)

    Returns
    -------
    SimpleNamespace with ``render_batch``, ``score_chords``, ``sse_log_batch``
    (kernels), ``block_sum``, ``block_argmax`` (device functions) and ``tpb``.
    """
    if tpb < 2 or tpb & (tpb - 1):
        raise ValueError(f"tpb must be a power of two >= 2, got {tpb}")
    if tpb in _compiled:
        return _compiled[tpb]
    _bind_cuda()
    TPB_ = tpb

    @cuda.jit(device=True)
    def block_sum(sh, tid, value):
        """Sum ``value`` over the block (fixed tree order); every thread gets the total."""
        sh[tid] = value
        cuda.syncthreads()
        s = TPB_ // 2
        while s > 0:
            if tid < s:
                sh[tid] += sh[tid + s]
            cuda.syncthreads()
            s //= 2
        total = sh[0]
        cuda.syncthreads()
        return total

    @cuda.jit(device=True)
    def block_argmax(sval, sidx, tid, value, index):
        """Largest ``value`` over the block, ties to the smallest ``index``; returns (value, index).

        Threads with nothing to offer pass ``-inf`` and a large index.
        """
        sval[tid] = value
        sidx[tid] = index
        cuda.syncthreads()
        s = TPB_ // 2
        while s > 0:
            if tid < s:
                v = sval[tid + s]
                i = sidx[tid + s]
                if v > sval[tid] or (v == sval[tid] and i < sidx[tid]):
                    sval[tid] = v
                    sidx[tid] = i
            cuda.syncthreads()
            s //= 2
        best = sval[0]
        besti = sidx[0]
        cuda.syncthreads()
        return best, besti

    @cuda.jit
    def render_batch(indptr, pixel, coverage, chords, lengths, opacity, out):
        """One block per image: ``out[b]`` (flat float32) = 1, then ``*= 1 - opacity * cov`` per pass.

        ``chords`` (B, n) int64, row ``b`` uses its first ``lengths[b]`` ids.
        """
        tid = cuda.threadIdx.x
        npix = out.shape[1]
        b = cuda.blockIdx.x
        while b < out.shape[0]:
            for p in range(tid, npix, TPB_):
                out[b, p] = np.float32(1.0)
            cuda.syncthreads()
            for k in range(lengths[b]):
                c = chords[b, k]
                for t in range(indptr[c] + tid, indptr[c + 1], TPB_):
                    p = pixel[t]
                    f = 1.0 - np.float64(np.float32(opacity * coverage[t]))
                    out[b, p] = np.float32(np.float64(out[b, p]) * f)
                cuda.syncthreads()
            b += cuda.gridDim.x

    @cuda.jit
    def score_chords(indptr, pixel, coverage, g, h, chords, out):
        """One block per chord: ``out[k] = sum cov * (g[p] - cov * h[p])`` over chord ``chords[k]``.

        ``g``, ``h`` float64; terms and sum in float64, as in the CPU greedy.
        """
        sh = cuda.shared.array(TPB_, np.float64)
        tid = cuda.threadIdx.x
        k = cuda.blockIdx.x
        while k < chords.shape[0]:
            c = chords[k]
            s = 0.0
            for t in range(indptr[c] + tid, indptr[c + 1], TPB_):
                p = pixel[t]
                cv = np.float64(coverage[t])
                s += cv * (g[p] - cv * h[p])
            total = block_sum(sh, tid, s)
            if tid == 0:
                out[k] = total
            k += cuda.gridDim.x

    @cuda.jit
    def sse_batch(indptr, pixel, factor, chords, lengths, target, weight, bright, out):
        """One block per render: ``out[b] = sum w (bright - target)^2``.

        ``bright[b]`` (float64 scratch) starts at 1 and is multiplied by
        ``factor[t]`` (float32, ``1 - o * cov``) over the render's chords, pass
        by pass in list order (as the GA's CPU kernel).
        """
        sh = cuda.shared.array(TPB_, np.float64)
        tid = cuda.threadIdx.x
        npix = bright.shape[1]
        b = cuda.blockIdx.x
        while b < chords.shape[0]:
            for p in range(tid, npix, TPB_):
                bright[b, p] = 1.0
            cuda.syncthreads()
            for k in range(lengths[b]):
                c = chords[b, k]
                for t in range(indptr[c] + tid, indptr[c + 1], TPB_):
                    p = pixel[t]
                    bright[b, p] *= np.float64(factor[t])
                cuda.syncthreads()
            s = 0.0
            for p in range(tid, npix, TPB_):
                d = bright[b, p] - target[p]
                s += weight[p] * d * d
            total = block_sum(sh, tid, s)
            if tid == 0:
                out[b] = total
            b += cuda.gridDim.x

    ns = types.SimpleNamespace(tpb=tpb, block_sum=block_sum, block_argmax=block_argmax,
                               render_batch=render_batch, score_chords=score_chords,
                               sse_batch=sse_batch)
    _compiled[tpb] = ns
    return ns

