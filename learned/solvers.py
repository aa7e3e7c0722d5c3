"""The learned solvers and the projection baseline, registered with :mod:`solvers`.

Loaded through the ``stringart.solvers`` entry point (``learned = "learned.solvers"``
in pyproject.toml), so :mod:`solvers` never imports :mod:`learned`. This module
only declares the solvers (names, configs, capability flags) and imports no
torch: the work is in :mod:`learned.inference`, imported when a learned solver
prepares or runs, so listing solvers stays light.

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

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from rendering.errors import check_float, check_int
from solvers import Output, Problem, Solver, register
from solvers.guide import check_guide_options

class _LearnedBase(Solver):
    """A solver with a trained model: :meth:`prepare` loads it (outside the timed solve)."""

    continuous: ClassVar[bool] = True
    stochastic: ClassVar[bool] = False
    kind: ClassVar[str] = ""

    def model(self, problem: Problem):
        """The model of this solver's checkpoint for the problem's pin count (loaded once per process)."""
        from .inference import get_model

        return get_model(self.kind, self.config.checkpoint, problem.layout.n_pins)

    def prepare(self, problem: Problem) -> None:
        from .inference import set_threads

        set_threads()
        self.model(problem)
        super().prepare(problem)


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
        from .decode import decode_path
        from .inference import refined_projection_scores

        scores = refined_projection_scores(problem, steps=self.config.refine_steps, lr=self.config.refine_lr)
        return Output(path=decode_path(problem.chords, scores, problem.n_lines, allow_repeats=problem.allow_repeats))


@register("projection+refine", description="not learned: projection plus two plain gradient steps through the "
                                            "renderer (ae-chords' refinement untrained: its ablation)")
class ProjectionRefineSolver(ProjectionSolver):
    """``projection`` with ``refine_steps=2``: exactly what ``ae-chords``' two refinement steps do before training,
    started from the projection's scores. The row that shows what the learning adds."""

    @dataclass(frozen=True, kw_only=True)
    class Config(ProjectionSolver.Config):
        refine_steps: int = 2


@dataclass(frozen=True, kw_only=True)
class ChordNetOptions:
    """Which ChordNet to run: a checkpoint (empty: the shipped one) and its refinement steps."""

    checkpoint: str = ""
    refine_steps: int | None = None

    def __post_init__(self):
        if self.refine_steps is not None:
            check_int("refine_steps", self.refine_steps, low=0, hint="e.g. 2, or leave unset for the model's")


class _ChordNetBase(_LearnedBase):
    """A solver led by ChordNet's chord scores."""

    kind = "ae-chords"

    def chordnet(self, problem: Problem) -> tuple[np.ndarray, float]:
        """ChordNet's chord scores for the problem and the model's temperature."""
        from .inference import chordnet_scores, set_threads

        set_threads()
        model = self.model(problem)
        return chordnet_scores(model, problem, refine_steps=self.config.refine_steps), model.config.temperature


@register("ae-chords", description="learned: ChordNet scores every chord through the chord table; decoded to one thread")
class AEChordsSolver(_ChordNetBase):
    """ChordNet's chord scores decoded into one thread (shipped checkpoint for 288 pins)."""

    @dataclass(frozen=True, kw_only=True)
    class Config(ChordNetOptions):
        pass

    def run(self, problem: Problem, rng: np.random.Generator) -> Output:
        from .decode import decode_path

        scores, temperature = self.chordnet(problem)
        return Output(path=decode_path(problem.chords, scores, problem.n_lines, allow_repeats=problem.allow_repeats,
                                       temperature=temperature))


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
        from .inference import aeseed_path, set_threads

        set_threads()
        path, snapped = aeseed_path(self.model(problem), problem, sigma_pins=self.config.sigma_pins)
        return Output(path=path, extra=dict(snapped=snapped))


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


@register("ae+greedy", description="greedy led by ChordNet: for the first lines only the model's top candidates "
                                   "are scored, then plain greedy finishes")
class AEGreedySolver(_ChordNetBase):
    """Greedy led by ChordNet for its first ``lead`` lines, then plain greedy.

    The model's chord weights (as ``ae-chords`` decodes them) become a
    :class:`solvers.guide.ChordGuide`: for the first ``lead`` lines greedy
    scores exactly only the guide's ``candidates`` most wanted open partners
    of the current pin (the speed-up; the model lays out where thread goes),
    then scores every candidate for the rest (greedy sets the tone). The
    guide also hands over early when none of its candidates lowers the error.
    ``lead=None``: the whole thread is led; ``lead=0``: plain greedy.
    """

    @dataclass(frozen=True, kw_only=True)
    class Config(GuidedConfig, ChordNetOptions):
        def __post_init__(self):
            GuidedConfig.__post_init__(self)
            ChordNetOptions.__post_init__(self)

    def run(self, problem: Problem, rng: np.random.Generator) -> Output:
        from .inference import guided_greedy

        scores, temperature = self.chordnet(problem)
        return guided_greedy(self.config, problem, scores, temperature=temperature)


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
        from .inference import guided_greedy, refined_projection_scores

        scores = refined_projection_scores(problem, steps=self.config.refine_steps, lr=self.config.refine_lr)
        return guided_greedy(self.config, problem, scores, temperature=1.0)


# ---------------------------------------------------------------------- the learned front end
@dataclass(frozen=True, kw_only=True)
class FrontOptions:
    """Which front-end model to run: a checkpoint (empty: the shipped one); ``predict_opacity``: also use the
    thread opacity it predicts greedy should assume (off: greedy assumes the real thread; on the held-out images
    the predicted opacity raised the L1 past the default's + 0.005 at 4000 lines, camera +0.013, and lowered the
    SSIM at 2000)."""

    checkpoint: str = ""
    predict_opacity: bool = False


class _FrontBase(Solver):
    """Greedy-view on a problem edited by front-end settings (:mod:`learned.front`); the thread is drawn with the
    real thread and scored against the photo."""

    continuous: ClassVar[bool] = True
    stochastic: ClassVar[bool] = False

    def params(self, problem: Problem):
        raise NotImplementedError

    def run(self, problem: Problem, rng: np.random.Generator) -> Output:
        from .front import solve_front

        params = self.params(problem)
        return Output(path=solve_front(problem, params), extra=dict(front=dataclasses.asdict(params)))


def _front_model(checkpoint: str, n_pins: int):
    from pathlib import Path

    from .front import FrontModel
    from .inference import _lock, _models
    from .models import default_checkpoint

    path = Path(checkpoint) if checkpoint else default_checkpoint("ae-target", n_pins)
    key = ("ae-target", str(path.resolve()), path.stat().st_mtime if path.is_file() else 0)
    with _lock:
        if key not in _models:
            _models[key] = FrontModel.load(path)
        return _models[key]


@register("search+greedy", description="the front end searched per picture with greedy-view in the loop (local "
                                       "contrast, tone curve, assumed opacity, edge weight): slow, the ceiling "
                                       "of ae-target+greedy")
class SearchGreedySolver(_FrontBase):
    """A coordinate search of the front end's settings with the solver in the loop (:func:`learned.front.search`):
    the best viewing-scale SSIM against the photo with the L1 within 0.005 of greedy-view's. About 20 solves."""

    quick_options: ClassVar[dict] = {"rounds": 1}

    @dataclass(frozen=True, kw_only=True)
    class Config:
        rounds: int = 2

        def __post_init__(self):
            check_int("rounds", self.rounds, low=1, hint="e.g. 2")

    def run(self, problem: Problem, rng: np.random.Generator) -> Output:
        from .front import search

        best, path, info = search(problem, rounds=self.config.rounds)
        return Output(path=path, extra=dict(front=dataclasses.asdict(best), evaluations=info["evaluations"],
                                            search_ssim=info["best"]["ssim"], base_ssim=info["base"]["ssim"]))


@register("ae-target+greedy", description="learned: a small network picks the front end (local contrast, tone "
                                          "curve, edge weight) from the photo; one greedy-view run")
class AETargetGreedySolver(_FrontBase):
    """:class:`learned.front.FrontModel` predicts the front-end settings from the photo's tone statistics and a
    4 x 4 brightness layout (trained on ``search+greedy``'s labels); greedy-view solves once."""

    @dataclass(frozen=True, kw_only=True)
    class Config(FrontOptions):
        pass

    def prepare(self, problem: Problem) -> None:
        from .inference import set_threads

        set_threads()
        _front_model(self.config.checkpoint, problem.layout.n_pins)
        super().prepare(problem)

    def params(self, problem: Problem):
        p = _front_model(self.config.checkpoint, problem.layout.n_pins).predict(problem.target.original)
        return p if self.config.predict_opacity else dataclasses.replace(p, opacity=1.0)


@register("ae-target-avg+greedy", description="not per-picture: ae-target+greedy with the training labels' mean "
                                              "settings for every picture (its ablation)")
class AETargetAverageSolver(AETargetGreedySolver):
    """The same front end with the network replaced by a constant, the mean of its training labels: whether the
    per-picture decision or the average setting helps."""

    def params(self, problem: Problem):
        p = _front_model(self.config.checkpoint, problem.layout.n_pins).average
        return p if self.config.predict_opacity else dataclasses.replace(p, opacity=1.0)
