"""Inference of the learned solvers: models, chord scores, decoding (imports torch).

:mod:`learned.solvers` registers the solvers without importing this module,
so that listing or looking up solvers never loads torch; a learned solver
imports it when it prepares or runs.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import torch

from rendering import VIEW_SCALE, InputError
from solvers import Output, Problem

from .decode import scores_guide
from .models import check_spec, default_checkpoint, load_checkpoint, refine_scores, to_input

_models: dict = {}
_lock = threading.Lock()


def set_threads() -> None:
    """The toolkit's thread policy before a learned solve (:func:`rendering.jit.set_threads`): torch on one
    thread, numba's pool as the process has it."""
    from rendering.jit import set_threads as policy

    policy()


def get_model(kind: str, checkpoint: str | Path | None, n_pins: int):
    """The model of a checkpoint (the shipped one for ``n_pins`` when ``checkpoint`` is empty), cached."""
    path = Path(checkpoint) if checkpoint else default_checkpoint(kind, n_pins)
    if not checkpoint and not path.is_file():
        raise InputError(f"no shipped {kind} checkpoint for {n_pins} pins (looked for {path.name}); train one with "
                         f"`bench train {kind} --pins {n_pins} --out DIR` and pass checkpoint=DIR/{kind}.pt")
    key = (kind, str(path.resolve()), path.stat().st_mtime if path.is_file() else 0)
    with _lock:
        if key not in _models:
            _models[key] = load_checkpoint(path, kind=kind)[0]
        return _models[key]


def checkpoint_pictures(kind: str, checkpoint: str | Path | None, n_pins: int) -> tuple:
    """The pictures a checkpoint's training read (``extra["trained_on"]``: :func:`learned.data.picture_records`),
    read once per process; () for a checkpoint written before they were recorded."""
    get_model(kind, checkpoint, n_pins)  # the same checks and one-line errors
    path = Path(checkpoint) if checkpoint else default_checkpoint(kind, n_pins)
    key = ("pictures", kind, str(path.resolve()), path.stat().st_mtime)
    with _lock:
        if key not in _models:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            _models[key] = tuple((blob.get("extra") or {}).get("trained_on") or ())
        return _models[key]


def target_tensor(problem: Problem) -> torch.Tensor:
    """(1, 1, canvas, canvas) float32: the problem's target, white outside the frame."""
    img = np.where(problem.mask, problem.target.image, 1.0).astype(np.float32)
    return torch.from_numpy(img)[None, None]


def projection_scores(problem: Problem) -> np.ndarray:
    """(n_chords,) float64: mean target darkness along each chord (coverage-weighted), on the problem's table."""
    from rendering import chord_means

    return chord_means(problem.table, 1.0 - np.where(problem.mask, problem.target.image, 1.0))


def standardise(scores: np.ndarray) -> np.ndarray:
    """``(s - mean) / std``: the projection term of an untrained ChordNet's score."""
    return (scores - scores.mean()) / max(float(scores.std()), 1e-6)


def chordnet_scores(model, problem: Problem, *, refine_steps: int | None = None) -> np.ndarray:
    """(n_chords,) float64: the ChordNet scores of the problem's target (checks the setup first).

    The network's scores are refined by ``refine_steps`` of its learned steps
    (:meth:`learned.models.ChordNet.refine`, at the model's training canvas; default:
    the number it was trained with).
    """
    check_spec(model.spec, problem, where="the ae-chords checkpoint")
    n = torch.tensor([float(problem.n_lines)])
    with torch.no_grad():
        s = model.scores(to_input(target_tensor(problem), model.spec.train_canvas), n, steps=refine_steps)
    return s[0].double().numpy()


def aeseed_scores(model, problem: Problem, *, sigma_pins: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Chord scores of the seed model: snapped chords and a kernel density around its threads.

    Returns
    -------
    scores : (n_chords,) float64, sum over predicted threads of a circular Gaussian
        (``sigma_pins`` pins) in both endpoints
    snapped : (n_snapped,) int64 unique chord ids of the threads snapped to the
        nearest pins (threads whose snapped pins are closer than min_gap are dropped)
    """
    check_spec(model.spec, problem, where="the ae-seed checkpoint")
    n = problem.layout.n_pins
    cs = problem.chords
    with torch.inference_mode():
        x = to_input(target_tensor(problem), model.spec.input_size)
        u, v, _ = model(x)
    pu = u[0].double().numpy() * n
    pv = v[0].double().numpy() * n
    ia, ib = np.rint(pu).astype(np.int64) % n, np.rint(pv).astype(np.int64) % n
    ids = cs.id_of[ia, ib]
    snapped = np.unique(ids[ids >= 0])
    pins = np.arange(n, dtype=np.float64)

    def g(p):  # (n, K) circular Gaussian weights of each pin around positions p
        d = np.abs(pins[:, None] - p[None, :]) % n
        d = np.minimum(d, n - d)
        return np.exp(-0.5 * (d / sigma_pins) ** 2)

    ga, gb = g(pu), g(pv)
    dens = ga @ gb.T
    dens = dens + dens.T
    return dens[cs.pin_a, cs.pin_b], snapped


#: The refinement canvas of a problem without a model: its canvas over the benchmark's viewing scale.
REFINE_FACTOR = VIEW_SCALE


def aeseed_path(model, problem: Problem, *, sigma_pins: float = 1.0) -> tuple[np.ndarray, int]:
    """The seed model's thread: the density of its snapped threads, scaled to the line budget and followed.

    Returns the pin path and how many distinct chords the model's threads snap to.
    """
    from solvers import ChordGuide, follow_guide

    from .decode import SIGMA

    dens, snapped = aeseed_scores(model, problem, sigma_pins=sigma_pins)
    guide = ChordGuide(dens * (problem.n_lines / max(float(dens.sum()), 1e-12)), sigma=SIGMA)
    path = follow_guide(problem.chords, guide, problem.n_lines, allow_repeats=problem.allow_repeats)
    return path, int(snapped.size)


def refine_table(problem: Problem):
    """The problem's chord table at ``canvas // REFINE_FACTOR`` px (at least 32): where scores are refined."""
    import dataclasses

    from rendering import get_chord_table

    lay = dataclasses.replace(problem.layout, canvas=max(32, problem.layout.canvas // REFINE_FACTOR))
    return get_chord_table(lay, problem.min_gap, problem.thread.width_px(lay.span_px))


def refined_projection_scores(problem: Problem, *, steps: int, lr: float = 1.0) -> np.ndarray:
    """(n_chords,) float64: the standardised projection scores after ``steps`` plain normalised gradient steps
    (:func:`learned.models.refine_scores` at a quarter of the canvas; 0 steps: the projection itself)."""
    scores = standardise(projection_scores(problem))
    if not steps:
        return scores
    set_threads()
    table = refine_table(problem)
    with torch.no_grad():
        t = to_input(target_tensor(problem), table.layout.canvas)
        return refine_scores(torch.from_numpy(scores)[None].float(), t, table, torch.tensor([float(problem.n_lines)]),
                             steps=steps, lr=lr, opacity=problem.thread.opacity)[0].double().numpy()


def guided_greedy(config, problem: Problem, scores: np.ndarray, *, temperature: float) -> Output:
    """Greedy led by chord scores (:func:`solvers.greedy.greedy_thread` with a guide): a guided solver's run.

    ``config`` has the :class:`learned.solvers.GuidedConfig` fields ``sigma``, ``candidates`` and ``lead``.
    """
    from solvers.greedy import GreedySolver, greedy_thread

    guide = scores_guide(problem.chords, scores, problem.n_lines, temperature=temperature, sigma=config.sigma,
                         candidates=config.candidates, lead=config.lead)
    return greedy_thread(problem, GreedySolver.Config(), guide=guide)
