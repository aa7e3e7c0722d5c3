"""The learned solvers and the projection baseline, registered with :mod:`solvers`.

Loaded through the ``stringart.solvers`` entry point (``learned = "learned.solvers"``
in pyproject.toml), so :mod:`solvers` never imports :mod:`learned`.

* ``projection`` -- not learned: each chord scored by the mean target darkness
  along it (standardised), decoded into one thread by
  :func:`learned.decode.decode_path`: what an untrained ChordNet scores.
* ``projection+refine`` -- the same scores refined by two plain normalised
  gradient steps through the differentiable renderer: ``ae-chords``'
  refinement before training, its ablation.
* ``ae-seed`` -- the seed's autoencoder: its K continuous thread endpoints are
  snapped to pins; the wanted density is a kernel density of the predicted
  threads in pin-pair space, scaled to the line budget and followed by the
  same decoder.
* ``ae-chords`` -- :class:`learned.models.ChordNet`'s chord scores, decoded.
* ``ae+greedy`` -- greedy led by ChordNet: for its first ``lead`` lines
  greedy scores exactly only the ``candidates`` open partners of the current
  pin that the model's density (updated as chords are drawn) wants most
  (:class:`solvers.guide.ChordGuide`), which is where its speed-up comes
  from; plain greedy finishes the thread.
* ``projection+greedy`` -- not learned: ``ae+greedy`` led by
  ``projection+refine``'s scores, its ablation.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from rendering import VIEW_SCALE, InputError
from rendering.errors import check_float, check_int
from solvers import ChordGuide, Output, Problem, Solver, follow_guide, register
from solvers.guide import check_guide_options

from .decode import SIGMA, decode_path, scores_guide
from .models import check_spec, default_checkpoint, load_checkpoint, refine_scores, to_input

_models: dict = {}
_lock = threading.Lock()
_THREADS = 2


def set_threads(n: int | None = None) -> None:
    """``torch.set_num_threads(n)``; without ``n``, cap torch's threads at 2 but never raise them.

    Never raising matters in ``bench run``: its parallel workers set one thread each
    (``bench.harness``), and a solver must not take more behind the harness's back.
    """
    torch.set_num_threads(int(n) if n else max(1, min(_THREADS, torch.get_num_threads())))


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


class _LearnedBase(Solver):
    """A solver with a trained model: :meth:`prepare` loads it (outside the timed solve)."""

    continuous: ClassVar[bool] = True
    stochastic: ClassVar[bool] = False
    kind: ClassVar[str] = ""

    def model(self, problem: Problem):
        """The model of this solver's checkpoint for the problem's pin count (loaded once per process)."""
        return get_model(self.kind, self.config.checkpoint, problem.layout.n_pins)

    def prepare(self, problem: Problem) -> None:
        set_threads()
        self.model(problem)
        super().prepare(problem)


#: The refinement canvas of a problem without a model: its canvas over the benchmark's viewing scale.
REFINE_FACTOR = VIEW_SCALE


def refine_table(problem: Problem):
    """The problem's chord table at ``canvas // REFINE_FACTOR`` px (at least 32): where scores are refined."""
    import dataclasses

    from rendering import get_chord_table

    lay = dataclasses.replace(problem.layout, canvas=max(32, problem.layout.canvas // REFINE_FACTOR))
    return get_chord_table(lay, problem.min_gap, problem.thread.width_px(lay.span_px))


@register("projection", description="not learned: chords scored by mean darkness along them, decoded to one thread")
class ProjectionSolver(Solver):
    """Each chord scored by the mean target darkness along it, decoded as ``ae-chords`` decodes.

    ``refine_steps`` > 0 refines the scores by plain normalised gradient steps
    (:func:`learned.models.refine_scores` at a quarter of the canvas): what
    ``ae-chords``' refinement is before training, the ablation that shows what
    the learning adds.
    """

    continuous: ClassVar[bool] = True
    stochastic: ClassVar[bool] = False

    @dataclass(frozen=True, kw_only=True)
    class Config:
        refine_steps: int = 0
        refine_lr: float = 1.0

        def __post_init__(self):
            check_int("refine_steps", self.refine_steps, low=0, hint="e.g. 2, or 0 for the plain baseline")
            check_float("refine_lr", self.refine_lr, low=0.0, low_open=True)

    def run(self, problem: Problem, rng: np.random.Generator) -> Output:
        scores = refined_projection_scores(problem, steps=self.config.refine_steps, lr=self.config.refine_lr)
        return Output(path=decode_path(problem.chords, scores, problem.n_lines, allow_repeats=problem.allow_repeats))


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


@register("projection+refine", description="not learned: projection plus two plain gradient steps through the "
                                            "renderer (ae-chords' refinement untrained: its ablation)")
class ProjectionRefineSolver(ProjectionSolver):
    """``projection`` with ``refine_steps=2``: exactly what ``ae-chords``' two refinement steps do before training,
    started from the projection's scores. The row that shows what the learning adds."""

    @dataclass(frozen=True, kw_only=True)
    class Config(ProjectionSolver.Config):
        refine_steps: int = 2


@register("ae-chords", description="learned: ChordNet scores every chord through the chord table; decoded to one thread")
class AEChordsSolver(_LearnedBase):
    """ChordNet's chord scores decoded into one thread (shipped checkpoint for 288 pins)."""

    kind = "ae-chords"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        checkpoint: str = ""
        refine_steps: int | None = None

        def __post_init__(self):
            if self.refine_steps is not None:
                check_int("refine_steps", self.refine_steps, low=0, hint="e.g. 2, or leave unset for the model's")

    def run(self, problem: Problem, rng: np.random.Generator) -> Output:
        set_threads()
        model = self.model(problem)
        scores = chordnet_scores(model, problem, refine_steps=self.config.refine_steps)
        return Output(path=decode_path(problem.chords, scores, problem.n_lines, allow_repeats=problem.allow_repeats,
                                       temperature=model.config.temperature))


@register("ae-seed", description="learned: the seed's autoencoder (continuous endpoints snapped to pins), decoded")
class AESeedSolver(_LearnedBase):
    """The seed's autoencoder: the density of its K predicted threads, scaled to the budget and followed.

    ``extra["snapped"]`` counts the distinct chords the threads snap to.
    """

    kind = "ae-seed"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        checkpoint: str = ""
        sigma_pins: float = 1.0

        def __post_init__(self):
            check_float("sigma_pins", self.sigma_pins, low=0.0, low_open=True)

    def run(self, problem: Problem, rng: np.random.Generator) -> Output:
        set_threads()
        dens, snapped = aeseed_scores(self.model(problem), problem, sigma_pins=self.config.sigma_pins)
        guide = ChordGuide(dens * (problem.n_lines / max(float(dens.sum()), 1e-12)), sigma=SIGMA)
        path = follow_guide(problem.chords, guide, problem.n_lines, allow_repeats=problem.allow_repeats)
        return Output(path=path, extra=dict(snapped=int(snapped.size)))


# ---------------------------------------------------------------------- ae+greedy
#: ae+greedy's defaults, tuned on moon, coins and rocket (not the held-out images) at 288 pins, 512 px:
#: the guide's blur (pins), candidates scored per step, and lines the guide leads before greedy finishes.
GUIDE_SIGMA = 0.5
GUIDE_CANDIDATES = 16
GUIDE_LEAD = 1500


@dataclass(frozen=True, kw_only=True)
class GuidedConfig:
    """How chord scores lead greedy (see :class:`solvers.guide.ChordGuide`)."""

    candidates: int = GUIDE_CANDIDATES
    sigma: float = GUIDE_SIGMA
    lead: int | None = GUIDE_LEAD

    def __post_init__(self):
        check_guide_options(sigma=self.sigma, candidates=self.candidates, lead=self.lead)


def guided_greedy(config: GuidedConfig, problem: Problem, scores: np.ndarray, *, temperature: float) -> Output:
    """Greedy led by chord scores (:func:`solvers.greedy.greedy_thread` with a guide): a guided solver's run."""
    from solvers.greedy import GreedySolver, greedy_thread

    guide = scores_guide(problem.chords, scores, problem.n_lines, temperature=temperature, sigma=config.sigma,
                         candidates=config.candidates, lead=config.lead)
    return greedy_thread(problem, GreedySolver.Config(), guide=guide)


@register("ae+greedy", description="greedy led by ChordNet: for the first lines only the model's top candidates "
                                   "are scored, then plain greedy finishes")
class AEGreedySolver(_LearnedBase):
    """Greedy led by ChordNet for its first ``lead`` lines, then plain greedy.

    The model's chord weights (as ``ae-chords`` decodes them) become a
    :class:`solvers.guide.ChordGuide`: for the first ``lead`` lines greedy
    scores exactly only the guide's ``candidates`` most wanted open partners
    of the current pin (the speed-up; the model lays out where thread goes),
    then scores every candidate for the rest (greedy sets the tone). The
    guide also hands over early when none of its candidates lowers the error.
    ``lead=None``: the whole thread is led; ``lead=0``: plain greedy.
    """

    kind = "ae-chords"

    @dataclass(frozen=True, kw_only=True)
    class Config(GuidedConfig):
        checkpoint: str = ""
        refine_steps: int | None = None

        def __post_init__(self):
            super().__post_init__()
            if self.refine_steps is not None:
                check_int("refine_steps", self.refine_steps, low=0, hint="e.g. 2, or leave unset for the model's")

    def run(self, problem: Problem, rng: np.random.Generator) -> Output:
        set_threads()
        model = self.model(problem)
        scores = chordnet_scores(model, problem, refine_steps=self.config.refine_steps)
        return guided_greedy(self.config, problem, scores, temperature=model.config.temperature)


@register("projection+greedy", description="not learned: greedy led by projection+refine's scores as ae+greedy "
                                           "is led by the model (its ablation)")
class ProjectionGreedySolver(Solver):
    """``ae+greedy`` with ``projection+refine``'s scores in place of the model's: what the learning adds."""

    continuous: ClassVar[bool] = True
    stochastic: ClassVar[bool] = False

    @dataclass(frozen=True, kw_only=True)
    class Config(GuidedConfig):
        refine_steps: int = 2
        refine_lr: float = 1.0

        def __post_init__(self):
            super().__post_init__()
            check_int("refine_steps", self.refine_steps, low=0, hint="e.g. 2, or 0 for the plain projection")
            check_float("refine_lr", self.refine_lr, low=0.0, low_open=True)

    def run(self, problem: Problem, rng: np.random.Generator) -> Output:
        scores = refined_projection_scores(problem, steps=self.config.refine_steps, lr=self.config.refine_lr)
        return guided_greedy(self.config, problem, scores, temperature=1.0)
