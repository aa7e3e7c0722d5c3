"""Numba CPU kernel of the colour thread model. Private: contiguous arrays in, inputs trusted.

The public wrappers are :func:`rendering.colour.render_colour` and :func:`rendering.colour.colour_snapshots`.
"""

from __future__ import annotations

from numba import njit

from .jit import guard_cache

guard_cache()  # before the first @njit: stale caches of other kernel modules never load


@njit(cache=True)
def _render_colour(indptr, pixel, coverage, chords, colours, palette, opacity, out):
    """``out[p] = out[p] (1 - a) + c a`` for each pass, ``a = opacity * coverage`` (float32, as the grey
    kernel's), each pass in float64 and rounded to float32; ``out`` is (n_pixels, channels) float32 and
    starts at the board's colour, ``palette`` (n_colours, channels) float64.

    For ``c = 0`` each channel is ``out * (1 - a) + 0.0``: the grey kernel's ``out *= 1 - a``, bit for bit.
    """
    nch = out.shape[1]
    for k in range(chords.shape[0]):
        c = chords[k]
        col = colours[k]
        for t in range(indptr[c], indptr[c + 1]):
            p = pixel[t]
            a = opacity * coverage[t]
            for ch in range(nch):
                out[p, ch] = out[p, ch] * (1.0 - a) + palette[col, ch] * a
