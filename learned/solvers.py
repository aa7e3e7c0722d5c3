"""The learned solvers and the projection baseline, registered with :mod:`solvers`.

Loaded through the ``stringart.solvers`` entry point (``learned = "learned.solvers"``
in pyproject.toml), so :mod:`solvers` never imports :mod:`learned`.

* ``projection`` -- not learned: each chord scored by the mean target darkness
  along it, decoded into one thread by :func:`learned.decode.decode_path`.
* ``ae-seed`` -- the seed's autoencoder: its K continuous thread endpoints are
  snapped to pins; chords score by how close they lie to the predicted threads
  (a kernel density in pin-pair space whose peaks are the snapped chords), and
  the scores are decoded like every other learned solver.
* ``ae-chords`` -- :class:`learned.models.ChordNet`'s chord scores, decoded.
* ``ae+greedy`` -- greedy warm-started by ChordNet: the scores as a prior on
  greedy's gain, and greedy's candidates cut to each pin's top-m partners.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from rendering import InputError
from rendering.errors import check_float, check_int
from solvers import Problem, RngLike, Solution, Solver, register

from .decode import decode_path
from .models import check_spec, default_checkpoint, load_checkpoint, to_input

_models: dict = {}
_lock = threading.Lock()
_THREADS = 2


def set_threads(n: int | None = None) -> None:
    """``torch.set_num_threads``: ``n`` or min(2, cores) (the benchmark runs solvers in parallel)."""
    import os

    torch.set_num_threads(int(n or max(1, min(_THREADS, os.cpu_count() or 1))))


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


def target_tensor(problem: Problem) -> torch.Tensor:
    """(1, 1, canvas, canvas) float32: the problem's target, white outside the frame."""
    img = np.where(problem.mask, problem.target.image, 1.0).astype(np.float32)
    return torch.from_numpy(img)[None, None]


def projection_scores(problem: Problem) -> np.ndarray:
    """(n_chords,) float64: mean target darkness along each chord (coverage-weighted), on the problem's table."""
    import scipy.sparse as sp

    table = problem.table
    dark = 1.0 - np.where(problem.mask, problem.target.image, 1.0).astype(np.float64).ravel()
    m = sp.csr_matrix((table.coverage, table.pixel, table.indptr), shape=(table.n_chords, table.n_pixels))
    return (m @ dark) / np.maximum(table.coverage_sums(), 1e-12)


def chordnet_scores(model, problem: Problem) -> np.ndarray:
    """(n_chords,) float64: the ChordNet scores of the problem's target (checks the setup first)."""
    check_spec(model.spec, problem, where="the ae-chords checkpoint")
    with torch.inference_mode():
        x = to_input(target_tensor(problem), model.spec.input_size)
        s = model(x, torch.tensor([float(problem.n_lines)]))[0]
    return s.double().numpy()


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


class _LearnedBase(Solver):
    continuous: ClassVar[bool] = True
    stochastic: ClassVar[bool] = False
    kind: ClassVar[str] = ""


@register("projection", description="not learned: chords scored by mean darkness along them, decoded to one thread")
class ProjectionSolver(Solver):
    """Each chord scored by the mean target darkness along it, decoded as ``ae-chords`` decodes."""

    continuous: ClassVar[bool] = True
    stochastic: ClassVar[bool] = False

    @dataclass(frozen=True, kw_only=True)
    class Config:
        pass

    def solve(self, problem: Problem, *, rng: RngLike = None) -> Solution:
        start = time.perf_counter()
        scores = projection_scores(problem)
        path = decode_path(problem.chords, scores, problem.n_lines, allow_repeats=problem.allow_repeats)
        return self._solution(problem, path=path, seed=rng if isinstance(rng, int) else None, start=start)


@register("ae-chords", description="learned: ChordNet scores every chord through the chord table; decoded to one thread")
class AEChordsSolver(_LearnedBase):
    """ChordNet's chord scores decoded into one thread (shipped checkpoint for 288 pins)."""

    kind = "ae-chords"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        checkpoint: str = ""

    def solve(self, problem: Problem, *, rng: RngLike = None) -> Solution:
        set_threads()
        model = get_model(self.kind, self.config.checkpoint, problem.layout.n_pins)
        start = time.perf_counter()
        scores = chordnet_scores(model, problem)
        path = decode_path(problem.chords, scores, problem.n_lines, allow_repeats=problem.allow_repeats)
        return self._solution(problem, path=path, seed=rng if isinstance(rng, int) else None, start=start)


@register("ae-seed", description="learned: the seed's autoencoder (continuous endpoints snapped to pins), decoded")
class AESeedSolver(_LearnedBase):
    """The seed's autoencoder: K predicted threads snapped to pins, then decoded into one thread.

    With ``n_lines`` at most the number of snapped chords, the thread's wanted
    chords are the snapped ones with the highest density; beyond, the next
    densest chords (neighbours of the predicted threads) fill the budget.
    """

    kind = "ae-seed"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        checkpoint: str = ""
        sigma_pins: float = 1.0

        def __post_init__(self):
            check_float("sigma_pins", self.sigma_pins, low=0.0, low_open=True)

    def solve(self, problem: Problem, *, rng: RngLike = None) -> Solution:
        set_threads()
        model = get_model(self.kind, self.config.checkpoint, problem.layout.n_pins)
        start = time.perf_counter()
        scores, snapped = aeseed_scores(model, problem, sigma_pins=self.config.sigma_pins)
        # snapped chords first (by density), then the densest others
        pri = scores.copy()
        pri[snapped] += scores.max() + 1.0
        path = decode_path(problem.chords, pri, problem.n_lines, allow_repeats=problem.allow_repeats)
        return self._solution(problem, path=path, seed=rng if isinstance(rng, int) else None, start=start,
                              snapped=int(snapped.size))


# ---------------------------------------------------------------------- ae+greedy
def top_partners(chords, scores: np.ndarray, m: int) -> np.ndarray:
    """(n_pins, m) int32: each pin's ``m`` best-scoring partner pins (-1 padded).

    Parameters
    ----------
    chords : rendering.ChordSet
    scores : (n_chords,) float
    m : int >= 1
    """
    n = chords.n_pins
    ids = chords.id_of
    s = np.where(ids >= 0, np.asarray(scores, dtype=np.float64)[np.maximum(ids, 0)], -np.inf)
    m = min(int(m), n)
    order = np.argsort(-s, axis=1, kind="stable")[:, :m]
    ok = np.take_along_axis(s, order, axis=1) > -np.inf
    return np.where(ok, order, -1).astype(np.int32)


def _register_ae_greedy():
    try:
        from solvers.greedy import solve_greedy  # noqa: F401
    except ImportError:  # greedy not built yet: ae+greedy is simply not offered
        return

    @register("ae+greedy", description="greedy warm-started by ChordNet: scores as a prior, top-m partners per pin")
    class AEGreedySolver(_LearnedBase):
        """Greedy with ChordNet's scores added to its gain and candidates cut to each pin's top-m partners.

        ``prior_weight`` scales the standardised scores (mean 0, std 1) relative
        to the median positive gain of a single chord on the target (see
        :func:`prior_scale`); ``partners`` = 0 keeps every candidate.
        """

        kind = "ae-chords"
        quick_options: ClassVar[dict] = {}

        @dataclass(frozen=True, kw_only=True)
        class Config:
            checkpoint: str = ""
            prior_weight: float = 0.0
            partners: int = 128

            def __post_init__(self):
                check_float("prior_weight", self.prior_weight, low=0.0)
                check_int("partners", self.partners, low=0, hint="0 keeps every candidate")

        def solve(self, problem: Problem, *, rng: RngLike = None) -> Solution:
            from solvers.greedy import solve_greedy

            set_threads()
            model = get_model(self.kind, self.config.checkpoint, problem.layout.n_pins)
            start = time.perf_counter()
            scores = chordnet_scores(model, problem)
            prior = None
            if self.config.prior_weight > 0:
                z = (scores - scores.mean()) / max(scores.std(), 1e-12)
                prior = (self.config.prior_weight * prior_scale(problem) * z).astype(np.float32)
            partners = top_partners(problem.chords, scores, self.config.partners) if self.config.partners else None
            sol = solve_greedy(problem, rng=rng, prior=prior, partners=partners)
            seconds = time.perf_counter() - start
            return Solution(problem=problem, chords=sol.chords, path=sol.path, solver=self.name,
                            config=self.config_dict(), seed=sol.seed, seconds=seconds, history=sol.history,
                            extra=dict(sol.extra))

    return AEGreedySolver


def prior_scale(problem: Problem) -> float:
    """A gain scale: squared-error decrease of one average thread on a mid-gray pixel line.

    One chord of ``L`` px at width ``w`` darkens ``~ w L`` px-area by up to 1, so the
    gain on the target is of order ``w * L * 0.25``; this uses the mean chord length.
    """
    table = problem.table
    return float(problem.width_px * table.lengths_px().mean() * 0.25)


AEGreedySolver = _register_ae_greedy()
