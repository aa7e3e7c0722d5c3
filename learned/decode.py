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


def decode_paths(chords, scores: torch.Tensor, n_lines, *, temperature: float = 1.0, sigma: float = SIGMA,
                 allow_repeats: bool = False, workers: int | None = None) -> list[np.ndarray]:
    """:func:`decode_path` of a batch: the weights of every row at once on ``scores``' device, then the
    threads followed in parallel on the CPU (the walk releases the GIL).

    What training decodes every step (``hard_forward``): on a GPU the weights stay on the device, and the
    walks use every core instead of one. The weights are those of :func:`decode_path` up to float rounding
    (batched reductions sum in another order), so a path can differ where two chords tie.

    Parameters
    ----------
    chords : rendering.ChordSet
    scores : (B, n_chords) tensor (any device)
    n_lines : (B,) ints or a tensor
    workers : threads for the walks (default: the CPUs)

    Returns
    -------
    list of B (n_lines_b + 1,) int32 pin sequences
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    from .models import budget_weights

    if scores.ndim != 2 or scores.shape[1] != chords.n_chords:
        raise InputError(f"scores must be (B, {chords.n_chords}), got {tuple(scores.shape)}")
    n = torch.as_tensor(n_lines, dtype=torch.float64, device=scores.device).reshape(-1)
    k = torch.clamp(n, max=0.999 * scores.shape[1])
    with torch.no_grad():
        w = budget_weights(scores.detach().double(), k, temperature=temperature, iters=40).cpu().numpy()
    lines = [int(x) for x in n.cpu().tolist()]

    def walk(i: int) -> np.ndarray:
        return follow_guide(chords, ChordGuide(w[i], sigma=sigma), lines[i], allow_repeats=allow_repeats)

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        return list(pool.map(walk, range(w.shape[0])))
