"""The learned solvers and the projection baseline, registered with :mod:`solvers`.

Loaded through the ``stringart.solvers`` entry point (``learned = "learned.solvers"``
in pyproject.toml), so :mod:`solvers` never imports :mod:`learned`. This module
only declares the solvers (names, configs, capability flags, the steps of the
composed ones) and imports no torch: the work is in :mod:`learned.inference`,
imported when a learned solver prepares or runs, so listing solvers stays light.
Solvers that need torch say so (``requires = ("torch",)``): without the
``learned`` extra they are listed as unavailable.

The composed ones (:func:`solvers.compose`) are a *lead* step and a registered
solver: ``ae+greedy`` is :class:`ChordNetLead` (a :class:`~solvers.guide.ChordGuide`
hint) then ``greedy``; ``ae-target+greedy`` is :class:`FrontNetLead` (an edited
problem) then ``greedy-view``.

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
from solvers import Handoff, Hint, Lead, Output, Problem, Solver, compose, register
from solvers import greedy as _greedy, view as _view  # noqa: F401  (register greedy and greedy-view, composed below)
from solvers.guide import check_guide_options

TORCH = ("torch",)


def _prepare_torch() -> None:
    from .inference import set_threads

    set_threads()


class _LearnedBase(Solver):
    """A solver with a trained model: :meth:`prepare` loads it (outside the timed solve)."""

    family: ClassVar[str] = "learned"
    continuous: ClassVar[bool] = True
    stochastic: ClassVar[bool] = False
    requires: ClassVar[tuple] = TORCH
    kind: ClassVar[str] = ""

    def model(self, problem: Problem):
        """The model of this solver's checkpoint for the problem's pin count (loaded once per process)."""
        from .inference import get_model

        return get_model(self.kind, self.config.checkpoint, problem.layout.n_pins)

    def prepare(self, problem: Problem) -> None:
        _prepare_torch()
        self.model(problem)
        super().prepare(problem)

    def seen_pictures(self, problem: Problem) -> tuple:
        from .inference import checkpoint_pictures

        return checkpoint_pictures(self.kind, self.config.checkpoint, problem.layout.n_pins)


@dataclass(frozen=True, kw_only=True)
class ProjectionOptions:
    """The projection's scores, refined by ``refine_steps`` plain normalised gradient steps (step ``refine_lr``)."""

    refine_steps: int = 0
    refine_lr: float = 1.0

    def __post_init__(self):
        check_int("refine_steps", self.refine_steps, low=0, hint="e.g. 2, or 0 for the plain baseline")
        check_float("refine_lr", self.refine_lr, low=0.0, low_open=True)


@register("projection", description="not learned: chords scored by mean darkness along them, decoded to one thread")
class ProjectionSolver(Solver):
    """Each chord scored by the mean target darkness along it, decoded as ``ae-chords`` decodes.

    ``refine_steps`` > 0 refines the scores by plain normalised gradient steps
    (:func:`learned.models.refine_scores` at a quarter of the canvas): what
    ``ae-chords``' refinement is before training, the ablation that shows what
    the learning adds.
    """

    family: ClassVar[str] = "learned"
    continuous: ClassVar[bool] = True
    stochastic: ClassVar[bool] = False
    requires: ClassVar[tuple] = TORCH
    Config = ProjectionOptions

    def run(self, problem: Problem, rng: np.random.Generator, hint: Hint | None = None) -> Output:
        from .decode import decode_path
        from .inference import refined_projection_scores

        scores = refined_projection_scores(problem, steps=self.config.refine_steps, lr=self.config.refine_lr)
        return Output(path=decode_path(problem.chords, scores, problem.n_lines, allow_repeats=problem.allow_repeats))


register("projection+refine", ProjectionSolver, defaults=dict(refine_steps=2),
         description="not learned: projection plus two plain gradient steps through the renderer (ae-chords' "
                     "refinement untrained: its ablation)")


@dataclass(frozen=True, kw_only=True)
class ChordNetOptions:
    """Which ChordNet to run: a checkpoint (empty: the shipped one) and its refinement steps."""

    checkpoint: str = ""
    refine_steps: int | None = None

    def __post_init__(self):
        if self.refine_steps is not None:
            check_int("refine_steps", self.refine_steps, low=0, hint="e.g. 2, or leave unset for the model's")


def chordnet(options: ChordNetOptions, problem: Problem) -> tuple[np.ndarray, float]:
    """ChordNet's chord scores for the problem and the model's temperature."""
    from .inference import chordnet_scores, get_model

    _prepare_torch()
    model = get_model("ae-chords", options.checkpoint, problem.layout.n_pins)
    return chordnet_scores(model, problem, refine_steps=options.refine_steps), model.config.temperature


@register("ae-chords", description="learned: ChordNet scores every chord through the chord table; "
                                   "decoded to one thread")
class AEChordsSolver(_LearnedBase):
    """ChordNet's chord scores decoded into one thread (shipped checkpoint for 288 pins)."""

    kind = "ae-chords"
    Config = ChordNetOptions

    def run(self, problem: Problem, rng: np.random.Generator, hint: Hint | None = None) -> Output:
        from .decode import decode_path

        scores, temperature = chordnet(self.config, problem)
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

    def run(self, problem: Problem, rng: np.random.Generator, hint: Hint | None = None) -> Output:
        from .inference import aeseed_path

        _prepare_torch()
        path, snapped = aeseed_path(self.model(problem), problem, sigma_pins=self.config.sigma_pins)
        return Output(path=path, extra=dict(snapped=snapped))


# ---------------------------------------------------------------------- leads: ae+greedy, projection+greedy
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


def _guide_handoff(problem: Problem, config: GuidedConfig, scores: np.ndarray, temperature: float) -> Handoff:
    from .decode import scores_guide

    guide = scores_guide(problem.chords, scores, problem.n_lines, temperature=temperature, sigma=config.sigma,
                         candidates=config.candidates, lead=config.lead)
    return Handoff(problem, hint=guide)


class ChordNetLead(Lead):
    """ChordNet's chord weights (as ``ae-chords`` decodes them) as a :class:`~solvers.guide.ChordGuide`: for
    the first ``lead`` lines greedy scores exactly only the guide's ``candidates`` most wanted open partners
    of the current pin (the speed-up; the model lays out where thread goes), then every candidate (greedy
    sets the tone). The guide also hands over early when none of its candidates lowers the error.
    ``lead=None``: the whole thread is led; ``lead=0``: plain greedy."""

    title = "ChordNet guide"
    requires = TORCH
    #: GUIDE_SIGMA, GUIDE_CANDIDATES, GUIDE_LEAD were chosen on these
    tuned_on = ("moon", "coins", "rocket")

    @dataclass(frozen=True, kw_only=True)
    class Config(GuidedConfig, ChordNetOptions):
        def __post_init__(self):
            GuidedConfig.__post_init__(self)
            ChordNetOptions.__post_init__(self)

    def prepare(self, problem: Problem) -> None:
        from .inference import get_model

        _prepare_torch()
        get_model("ae-chords", self.config.checkpoint, problem.layout.n_pins)

    def seen_pictures(self, problem: Problem) -> tuple:
        from .inference import checkpoint_pictures

        return checkpoint_pictures("ae-chords", self.config.checkpoint, problem.layout.n_pins)

    def lead(self, problem: Problem, rng: np.random.Generator, solver: Solver) -> Handoff:
        scores, temperature = chordnet(self.config, problem)
        return _guide_handoff(problem, self.config, scores, temperature)


class ProjectionLead(Lead):
    """``projection+refine``'s scores as the guide, in place of the model's: ``ae+greedy``'s ablation."""

    title = "projection guide"
    requires = TORCH
    tuned_on = ("moon", "coins", "rocket")  # ae+greedy's guide defaults

    @dataclass(frozen=True, kw_only=True)
    class Config(GuidedConfig):
        refine_steps: int = 2
        refine_lr: float = 1.0

        def __post_init__(self):
            super().__post_init__()
            check_int("refine_steps", self.refine_steps, low=0, hint="e.g. 2, or 0 for the plain projection")
            check_float("refine_lr", self.refine_lr, low=0.0, low_open=True)

    def lead(self, problem: Problem, rng: np.random.Generator, solver: Solver) -> Handoff:
        from .inference import refined_projection_scores

        scores = refined_projection_scores(problem, steps=self.config.refine_steps, lr=self.config.refine_lr)
        return _guide_handoff(problem, self.config, scores, 1.0)



# ---------------------------------------------------------------------- the learned front end
@dataclass(frozen=True, kw_only=True)
class FrontOptions:
    """Which front-end model to run: a checkpoint (empty: the shipped one); ``predict_opacity``: also use the
    thread opacity it predicts greedy should assume (off: greedy assumes the real thread; on the held-out images
    the predicted opacity raised the L1 past the default's + 0.005 at 4000 lines, camera +0.013, and lowered the
    SSIM at 2000)."""

    checkpoint: str = ""
    predict_opacity: bool = False


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


class SearchLead(Lead):
    """A coordinate search of the front end's settings with the solver in the loop (:func:`learned.front.search`):
    the best viewing-scale SSIM against the photo with the L1 within 0.005 of the plain solve's. About 20 runs
    of the solver; the best one's thread is the result."""

    title = "front-end search"
    quick_options: ClassVar[dict] = {"rounds": 1}

    @dataclass(frozen=True, kw_only=True)
    class Config:
        rounds: int = 2

        def __post_init__(self):
            check_int("rounds", self.rounds, low=1, hint="e.g. 2")

    def lead(self, problem: Problem, rng: np.random.Generator, solver: Solver) -> Handoff:
        from .front import search

        best, path, info = search(problem, rounds=self.config.rounds, solver=solver)
        return Handoff(problem, output=Output(path=path),
                       extra=dict(front=dataclasses.asdict(best), evaluations=info["evaluations"],
                                  search_ssim=info["best"]["ssim"], base_ssim=info["base"]["ssim"]))


class FrontNetLead(Lead):
    """:class:`learned.front.FrontModel` predicts the front-end settings from the photo's tone statistics and a
    4 x 4 brightness layout (trained on ``search+greedy``'s labels); the solver solves the edited problem once."""

    title = "FrontNet"
    requires = TORCH
    average: ClassVar[bool] = False
    Config = FrontOptions

    def prepare(self, problem: Problem) -> None:
        _prepare_torch()
        _front_model(self.config.checkpoint, problem.layout.n_pins)

    def seen_pictures(self, problem: Problem) -> tuple:
        return tuple(_front_model(self.config.checkpoint, problem.layout.n_pins).info.get("trained_on") or ())

    def params(self, problem: Problem):
        model = _front_model(self.config.checkpoint, problem.layout.n_pins)
        p = model.average if self.average else model.predict(problem.target.original)
        return p if self.config.predict_opacity else dataclasses.replace(p, opacity=1.0)

    def lead(self, problem: Problem, rng: np.random.Generator, solver: Solver) -> Handoff:
        from .front import front_problem

        params = self.params(problem)
        return Handoff(front_problem(problem, params), extra=dict(front=dataclasses.asdict(params)))


class FrontAverageLead(FrontNetLead):
    """The same front end with the network replaced by a constant, the mean of its training labels: whether the
    per-picture decision or the average setting helps."""

    title = "FrontNet average"
    average = True


# ---------------------------------------------------------------------- the registered learned solvers
for _name, _solver, _lead, _about in (
    ("ae+greedy", "greedy", ChordNetLead,
     "greedy led by ChordNet: for the first lines only the model's top candidates are scored, then plain "
     "greedy finishes"),
    ("projection+greedy", "greedy", ProjectionLead,
     "not learned: greedy led by projection+refine's scores as ae+greedy is led by the model (its "
     "ablation)"),
    ("search+greedy", "greedy-view", SearchLead,
     "the front end searched per picture with greedy-view in the loop (local contrast, tone curve, assumed"
     " opacity, edge weight): slow, the ceiling of ae-target+greedy"),
    ("ae-target+greedy", "greedy-view", FrontNetLead,
     "learned: a small network picks the front end (local contrast, tone curve, edge weight) from the "
     "photo; one greedy-view run"),
    ("ae-target-avg+greedy", "greedy-view", FrontAverageLead,
     "not per-picture: ae-target+greedy with the training labels' mean settings for every picture (its "
     "ablation)"),
):
    compose(_name, _solver, lead=_lead, family="learned", description=_about)
