"""Chord scores to one continuous thread.

Shared by ``projection``, ``ae-seed`` and ``ae-chords`` so that they differ only
in their scores. Scores become chord *weights* -- ``sigmoid((score + shift) / T)``
with the shift that makes them sum to the line budget, the same soft choice
:func:`learned.models.budget_weights` makes in training -- and the weights are a
:class:`solvers.guide.ChordGuide`: the thread walks from pin to pin along the
open chord with the most wanted density left, the density blurred over
neighbouring pin pairs (``sigma`` pins). Drawing a chord lowers what is wanted
near it, so the thread reproduces the weights' *density* (what the training
renderer draws) instead of piling onto the ``n`` best chords, which all cross
the darkest region.

Before this, the decoder took the ``n`` best-scoring chords as fixed targets;
on the held-out images that made the pictures too dark where scores are high
and too light elsewhere (see ``results/learned/README.md``).
"""

from __future__ import annotations

import numpy as np
import torch

from rendering import InputError
from solvers.guide import ChordGuide, follow_guide

#: The blur of the decoder's density over pin offsets, in pins.
SIGMA = 1.0


def score_weights(scores, n_lines: int, *, temperature: float = 1.0) -> np.ndarray:
    """(n_chords,) float64 chord weights in (0, 1) summing to ``n_lines``: :func:`learned.models.budget_weights`."""
    from .models import budget_weights

    s = np.asarray(scores, dtype=np.float64)
    k = min(float(n_lines), 0.999 * s.size)
    with torch.no_grad():
        w = budget_weights(torch.from_numpy(s)[None], torch.tensor([k], dtype=torch.float64),
                           temperature=temperature, iters=40)[0]
    return w.numpy()


def scores_guide(chords, scores, n_lines: int, *, temperature: float = 1.0, sigma: float = SIGMA,
                 candidates: int = 16, lead: int | None = None) -> ChordGuide:
    """The :class:`~solvers.guide.ChordGuide` of chord scores (checked: one finite score per chord)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (chords.n_chords,) or not np.isfinite(scores).all():
        raise InputError(f"scores must be {chords.n_chords} finite numbers, got shape {scores.shape}")
    return ChordGuide(score_weights(scores, n_lines, temperature=temperature), sigma=sigma, candidates=candidates,
                      lead=lead)


def decode_path(chords, scores, n_lines: int, *, allow_repeats: bool = False, temperature: float = 1.0,
                sigma: float = SIGMA, start: int | None = None) -> np.ndarray:
    """One continuous thread of ``n_lines`` chords from chord scores.

    Parameters
    ----------
    chords : rendering.ChordSet
    scores : (n_chords,) float, higher = more wanted (logits of the chord weights)
    n_lines : int >= 1
    allow_repeats : bool
    temperature : float, of the weights (a model's own, for learned scores)
    sigma : float, pins, the density's blur
    start : optional start pin, default the pin with the most weight

    Returns
    -------
    (n_lines + 1,) int32 pin sequence

    Examples
    --------
    >>> from rendering import ChordSet, PinLayout
    >>> cs = ChordSet.build(PinLayout(n_pins=8, canvas=32), min_gap=2)
    >>> path = decode_path(cs, np.arange(cs.n_chords, dtype=float), 3)
    >>> len(path), len(set(cs.path_to_chords(path).tolist()))
    (4, 3)
    """
    guide = scores_guide(chords, scores, n_lines, temperature=temperature, sigma=sigma)
    return follow_guide(chords, guide, n_lines, allow_repeats=allow_repeats, start=start)
