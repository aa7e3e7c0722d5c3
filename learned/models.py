"""The learned models and their checkpoints.

* :class:`AESeed` -- the seed's autoencoder: 3-layer CNN encoder to ``2K``
  numbers (``K`` threads as pairs of continuous positions on the frame), a
  symmetric 3-layer decoder to a 64x64 reconstruction; the string art is drawn
  from the endpoints by :func:`learned.soft_lines.soft_lines`.
* :class:`ChordNet` -- the model behind ``ae-chords``: a small convolutional
  U-Net turns the picture into ``K`` feature maps, every chord reads the mean
  of each map along itself (:func:`rendering.torch_render.chord_means`, on the shared
  chord table) and a per-chord MLP turns those means, the raw darkness along the
  chord, the chord's length and the line budget into a score. Reading features
  *along* chords makes the chord space's geometry exact and rotating the
  picture by whole pin steps shifts the scores with it (the per-chord part is
  equivariant; the image part learns it from augmentation). The score starts
  as the projection baseline (standardised mean darkness along the chord, times
  a learned scale) and the network learns a correction that is zero at
  initialisation. Then come ``refine_steps`` *learned refinement steps*
  (:meth:`ChordNet.refine`): each takes the gradient of the rendered picture's
  loss in the scores and moves them by a learned step size times that gradient
  plus a per-chord MLP's correction -- plain normalised gradient descent
  (:func:`refine_scores`) at initialisation, a learned optimiser after
  training. Trained end to end on the picture of the *decoded* thread
  (straight-through), so what it learns is what the solver draws.

Checkpoints (:func:`save_checkpoint`, :func:`load_checkpoint`) record the
setup (pins, min gap, frame shape, training canvas, input size, thread model)
and the model config; :func:`check_spec` refuses a problem that does not match.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from rendering import InputError, PinLayout, ThreadModel, get_chord_table
from rendering.errors import check_float, check_int

CHECKPOINT_VERSION = 1
#: Where the shipped checkpoints live (package data).
CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"


# ---------------------------------------------------------------------- setup spec
@dataclass(frozen=True, kw_only=True)
class Spec:
    """The setup a model is trained for; recorded in its checkpoint.

    Parameters
    ----------
    n_pins : int, pins on a circular frame without jitter
    min_gap : int, chord min gap (the chord set depends only on pins and min gap)
    train_canvas : int, px, canvas of the differentiable renderer during training
    input_size : int, px, the model's input picture side
    frame_mm, thread_mm, opacity : the thread model (see :class:`rendering.ThreadModel`), by default its
        defaults: a model trained with them fits a problem with the default thread
    """

    n_pins: int = 288
    min_gap: int = 20
    train_canvas: int = 128
    input_size: int = 64
    frame_mm: float = ThreadModel.frame_mm
    thread_mm: float = ThreadModel.thread_mm
    opacity: float = ThreadModel.opacity

    def __post_init__(self):
        check_int("pins", self.n_pins, low=8, hint="train for 8 or more pins, e.g. --pins 288")
        check_int("min_gap", self.min_gap, low=1, high=self.n_pins // 2)
        check_int("train canvas", self.train_canvas, low=32, hint="e.g. --canvas 128")
        check_int("input size", self.input_size, low=16)
        if self.input_size % 8:
            raise InputError(f"input size must be a multiple of 8, got {self.input_size}; use e.g. 64")
        ThreadModel(frame_mm=self.frame_mm, thread_mm=self.thread_mm, opacity=self.opacity)

    @property
    def thread(self) -> ThreadModel:
        return ThreadModel(frame_mm=self.frame_mm, thread_mm=self.thread_mm, opacity=self.opacity)

    def layout(self, canvas: int) -> PinLayout:
        return PinLayout(n_pins=self.n_pins, canvas=canvas)

    def table(self, canvas: int):
        """The shared chord table of this setup at ``canvas`` px."""
        lay = self.layout(canvas)
        return get_chord_table(lay, self.min_gap, self.thread.width_px(lay.span_px))


def check_spec(spec: Spec, problem, *, where: str = "checkpoint") -> None:
    """Raise a one-line :class:`InputError` when ``problem`` does not fit ``spec``."""
    lay = problem.layout
    fix = "train a model for this setup with `bench train` (see --pins) or solve with the trained setup"
    if lay.n_pins != spec.n_pins:
        raise InputError(f"{where} was trained for {spec.n_pins} pins, the problem has {lay.n_pins}; {fix}")
    if problem.min_gap != spec.min_gap:
        raise InputError(f"{where} was trained for min_gap {spec.min_gap}, the problem has {problem.min_gap}; {fix}")
    if lay.shape != "circle" or lay.jitter != 0:
        raise InputError(f"{where} was trained for a circular frame without jitter, the problem has "
                         f"shape={lay.shape}, jitter={lay.jitter:g}; {fix}")
    t = problem.thread
    if (t.frame_mm, t.thread_mm, t.opacity) != (spec.frame_mm, spec.thread_mm, spec.opacity):
        raise InputError(f"{where} was trained for a {spec.thread_mm:g} mm thread on a {spec.frame_mm:g} mm frame "
                         f"(opacity {spec.opacity:g}), the problem has {t.thread_mm:g} mm on {t.frame_mm:g} mm "
                         f"(opacity {t.opacity:g}); {fix}")


def to_input(images: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 1, H, W) pictures to the model input: area-resized to ``size`` (1 = white)."""
    if images.shape[-1] == size:
        return images
    return F.adaptive_avg_pool2d(images, size) if images.shape[-1] > size else \
        F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)


# ---------------------------------------------------------------------- ae-seed
@dataclass(frozen=True, kw_only=True)
class AESeedConfig:
    """Config of :class:`AESeed`.

    Parameters
    ----------
    n_threads : int, K, threads in the latent code (the seed: 1000)
    channels : int, width of the first conv layer (doubled, then kept)
    bottleneck : int, channels before the linear layer to 2K numbers
    sigma : float, px, softness of the soft-line renderer at the training canvas
    w_dec, w_art : float, loss weights (the seed: 1 and 1; its proposal 0.3 and 0.7)
    """

    n_threads: int = 1000
    channels: int = 32
    bottleneck: int = 16
    sigma: float = 0.7
    w_dec: float = 1.0
    w_art: float = 1.0

    def __post_init__(self):
        check_int("n_threads", self.n_threads, low=1)
        check_int("channels", self.channels, low=1)
        check_int("bottleneck", self.bottleneck, low=1)
        check_float("sigma", self.sigma, low=0.0, low_open=True)
        check_float("w_dec", self.w_dec, low=0.0)
        check_float("w_art", self.w_art, low=0.0)
        if self.w_dec + self.w_art <= 0:
            raise InputError("w_dec + w_art must be positive, got both 0")


class AESeed(nn.Module):
    """The seed's autoencoder (see module docstring).

    ``forward(x)`` takes (B, 1, S, S) pictures in [0, 1] (1 = white) and returns
    ``(u, v, recon)``: endpoint fractions (B, K) in (0, 1) and the decoder's
    (B, 1, S, S) reconstruction.
    """

    kind = "ae-seed"

    def __init__(self, config: AESeedConfig, spec: Spec):
        super().__init__()
        self.config, self.spec = config, spec
        c, b, s = config.channels, config.bottleneck, spec.input_size // 8
        self.enc = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(2 * c, b, 4, 2, 1), nn.ReLU())
        self.to_code = nn.Linear(b * s * s, 2 * config.n_threads)
        self.from_code = nn.Linear(2 * config.n_threads, b * s * s)
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(b, 2 * c, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(c, 1, 4, 2, 1))
        self._s, self._b = s, b

    def forward(self, x):
        h = self.enc(x - 0.5).flatten(1)
        code = torch.sigmoid(self.to_code(h))  # (B, 2K) in (0, 1)
        u, v = code[:, 0::2], code[:, 1::2]
        z = F.relu(self.from_code(code)).reshape(-1, self._b, self._s, self._s)
        recon = torch.sigmoid(self.dec(z))
        return u, v, recon


# ---------------------------------------------------------------------- ae-chords
@dataclass(frozen=True, kw_only=True)
class ChordNetConfig:
    """Config of :class:`ChordNet`.

    Parameters
    ----------
    channels : int, width of the U-Net's first level (x2 per level)
    features : int, K, feature maps read along the chords
    hidden : int, width of the per-chord MLP
    max_lines : int, the budget is fed to the model as ``n_lines / max_lines``
    temperature : float, weights are ``sigmoid((score + shift) / temperature)``
    w_l1, w_ssim : float, loss weights of L1 and 1 - SSIM (at the training canvas = viewing scale)
    w_distill : float, weight of the distillation term: binary cross-entropy between the network's
        chord weights and a teacher's, the weights that ``teacher_steps`` steps of
        :func:`refine_scores` (step ``teacher_lr``) find for the same picture from the projection
        baseline's scores (0 = off; see :func:`learned.train.teacher_weights`)
    proj_scale : float, initial scale of the projection term of the score
    refine_steps : int >= 0, learned refinement steps after the network (see :class:`ChordNet`)
    refine_lr : float, their initial step size (logit units per unit-RMS gradient)
    refine_hidden : int, width of each step's per-chord MLP
    teacher_steps, teacher_lr : the teacher of the distillation term (plain :func:`refine_scores`)
    hard_forward : bool, train on the decoded thread: the render loss is computed on the thread the
        solver would draw (straight-through: its gradient flows to the soft weights as if it were them)
    """

    channels: int = 12
    features: int = 6
    hidden: int = 16
    max_lines: int = 4000
    temperature: float = 1.0
    w_l1: float = 1.0
    w_ssim: float = 1.0
    w_distill: float = 0.0
    proj_scale: float = 1.0
    refine_steps: int = 2
    refine_lr: float = 1.0
    refine_hidden: int = 16
    teacher_steps: int = 20
    teacher_lr: float = 0.5
    hard_forward: bool = True

    def __post_init__(self):
        for name in ("channels", "features", "hidden", "max_lines"):
            check_int(name, getattr(self, name), low=1)
        check_int("refine_steps", self.refine_steps, low=0, hint="e.g. 2, or 0 for the network alone")
        check_int("refine_hidden", self.refine_hidden, low=1)
        check_float("refine_lr", self.refine_lr, low=0.0, low_open=True)
        check_int("teacher_steps", self.teacher_steps, low=1)
        check_float("teacher_lr", self.teacher_lr, low=0.0, low_open=True)
        check_float("temperature", self.temperature, low=0.0, low_open=True)
        for name in ("w_l1", "w_ssim", "w_distill"):
            check_float(name, getattr(self, name), low=0.0)


def _block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())


def _chord_mlp(cin: int, hidden: int) -> nn.Sequential:
    """A per-chord MLP (1x1 convolutions over the chord axis) ``cin -> hidden -> hidden -> 1``, whose output
    starts at zero (last layer zeroed), so what it corrects starts as it was."""
    mlp = nn.Sequential(nn.Conv1d(cin, hidden, 1), nn.ReLU(), nn.Conv1d(hidden, hidden, 1), nn.ReLU(),
                        nn.Conv1d(hidden, 1, 1))
    nn.init.zeros_(mlp[-1].weight)
    nn.init.zeros_(mlp[-1].bias)
    return mlp


class ChordNet(nn.Module):
    """Scores every allowed chord of the spec's setup (see module docstring).

    ``forward(x, n_lines)``: x (B, 1, S, S) in [0, 1] (1 = white), n_lines (B,)
    float; returns scores (B, n_chords) (logits, higher = more wanted).
    """

    kind = "ae-chords"

    def __init__(self, config: ChordNetConfig, spec: Spec):
        super().__init__()
        self.config, self.spec = config, spec
        c, k = config.channels, config.features
        self.b1 = _block(2, c)
        self.b2 = _block(c, 2 * c)
        self.b3 = _block(2 * c, 4 * c)
        self.u2 = _block(4 * c + 2 * c, 2 * c)
        self.u1 = _block(2 * c + c, c)
        self.out = nn.Conv2d(c, k, 1)
        # the score starts as the projection baseline (standardised mean darkness along the chord,
        # times a learned scale); the network learns a correction, zero at initialisation
        self.mlp = _chord_mlp(k + 3, config.hidden)
        self.proj_scale = nn.Parameter(torch.tensor(float(config.proj_scale)))
        # learned refinement: step t moves the scores by step_size[t] * (the render loss's gradient at
        # unit RMS) plus a per-chord MLP's correction (zero at initialisation: plain normalised descent)
        self.step_size = nn.Parameter(torch.full((config.refine_steps,), float(config.refine_lr)))
        self.steps = nn.ModuleList()
        for _ in range(config.refine_steps):
            self.steps.append(_chord_mlp(5, config.refine_hidden))
        self._refine_table = None
        table = spec.table(spec.input_size)
        self._table = table
        length = table.lengths_px() / table.layout.span_px
        self.register_buffer("length", torch.from_numpy(length.astype(np.float32)), persistent=False)

    @property
    def table(self):
        return self._table

    def forward(self, x, n_lines):
        B = x.shape[0]
        budget = (n_lines.to(x.dtype) / self.config.max_lines).reshape(B, 1, 1, 1)
        dark = 1.0 - x
        h1 = self.b1(torch.cat([dark, budget.expand_as(dark)], 1))
        h2 = self.b2(F.max_pool2d(h1, 2))
        h3 = self.b3(F.max_pool2d(h2, 2))
        g2 = self.u2(torch.cat([F.interpolate(h3, scale_factor=2.0), h2], 1))
        g1 = self.u1(torch.cat([F.interpolate(g2, scale_factor=2.0), h1], 1))
        maps = torch.cat([self.out(g1), dark], 1)  # (B, K+1, S, S)
        feats = chord_means_fn(self._table, maps)  # (B, K+1, n_chords)
        n = feats.shape[-1]
        extra = torch.stack([self.length.expand(B, n), budget.reshape(B, 1).expand(B, n)], 1)
        proj = feats[:, -1]  # mean darkness along each chord: the projection baseline
        z = (proj - proj.mean(1, keepdim=True)) / proj.std(1, keepdim=True).clamp_min(1e-6)
        return self.proj_scale * z + self.mlp(torch.cat([feats, extra], 1))[:, 0]  # (B, n_chords)


    @property
    def refine_table(self):
        """The chord table at the training canvas, where the refinement renders."""
        if self._refine_table is None:
            self._refine_table = self.spec.table(self.spec.train_canvas)
        return self._refine_table

    def scores(self, picture: torch.Tensor, n_lines: torch.Tensor, *, steps: int | None = None) -> torch.Tensor:
        """The network's scores, then the learned refinement: what the solvers decode.

        Parameters
        ----------
        picture : (B, 1, C, C) in [0, 1] at the training canvas ``C`` (1 = white)
        n_lines : (B,) float budgets
        steps : refinement steps, default the trained number; steps beyond it reuse the last one

        Returns
        -------
        (B, n_chords) logits
        """
        s = self(to_input(picture, self.spec.input_size), n_lines)
        return self.refine(s, picture, n_lines, steps=steps)

    def refine(self, scores, picture, n_lines, *, steps: int | None = None, mask=None):
        """Learned refinement: ``steps`` moves along the render loss's gradient, each corrected per chord.

        At step ``t`` the gradient ``g`` of ``L1 + 1 - SSIM`` between the
        rendered weights (training canvas) and ``picture`` is taken without a
        graph (no second derivatives) and scaled to unit RMS per picture; the
        scores move by ``-step_size[t] * g`` minus an MLP of (g, standardised
        score, weight, chord length, budget), so the network learns how far and
        where to trust the gradient. Its parameters get their gradient through
        the picture rendered after the last step.
        """
        T = self.config.refine_steps if steps is None else int(steps)
        if T <= 0 or len(self.steps) == 0:
            return scores
        cfg = self.config
        table = self.refine_table
        B, n = scores.shape
        budget = (n_lines.to(scores.dtype) / cfg.max_lines).reshape(B, 1).expand(B, n)
        length = self.length.to(scores.dtype).expand(B, n)
        s = scores
        for t in range(T):
            k = min(t, len(self.steps) - 1)
            g, w = loss_gradient(s, picture, table, n_lines, temperature=cfg.temperature, opacity=self.spec.opacity,
                                 mask=mask, weights=True)
            g = unit_rms(g)
            if torch.is_grad_enabled() and s.requires_grad:  # training: the feature keeps its graph
                w = budget_weights(s, n_lines, temperature=cfg.temperature)
            z = (s - s.mean(1, keepdim=True)) / s.std(1, keepdim=True).clamp_min(1e-6)
            feats = torch.stack([g, z, w, length, budget], 1)
            s = s - self.step_size[k] * g - self.steps[k](feats)[:, 0]
        return s


def loss_gradient(scores, picture, table, n_lines, *, temperature: float = 1.0, opacity: float = 1.0, mask=None,
                  w_l1: float = 1.0, w_ssim: float = 1.0, weights: bool = False):
    """(B, n_chords): each picture's gradient of ``L1 + 1 - SSIM`` (rendered weights vs ``picture``) in its
    scores, computed without a graph (a constant for autograd); with ``weights=True`` also the (detached)
    chord weights it rendered, as ``(gradient, weights)``."""
    from rendering.torch_render import chord_render, frame_mask_tensor

    from .losses import view_loss

    if mask is None:
        mask = frame_mask_tensor(table, scores.device)
    with torch.enable_grad():
        x = scores.detach().clone().requires_grad_(True)
        w = budget_weights(x, n_lines, temperature=temperature)
        img = chord_render(table, w, opacity=opacity)
        loss, _ = view_loss(img, picture, mask, w_l1=w_l1, w_ssim=w_ssim)
        (g,) = torch.autograd.grad(loss * x.shape[0], x)
    return (g, w.detach()) if weights else g


def unit_rms(g: torch.Tensor) -> torch.Tensor:
    """Each row of ``g`` scaled to unit root-mean-square: the step direction of the refinement."""
    return g / g.pow(2).mean(1, keepdim=True).sqrt().clamp_min(1e-20)


def chord_means_fn(table, maps):
    from rendering.torch_render import chord_means

    return chord_means(table, maps)


def budget_weights(scores: torch.Tensor, n_lines: torch.Tensor, *, temperature: float = 1.0,
                   iters: int = 30) -> torch.Tensor:
    """Chord weights ``sigmoid((scores + shift) / T)`` whose sum is ``n_lines`` per row.

    The line budget is met exactly: ``shift`` (one per row) is found by
    bisection, and its gradient comes from the implicit function theorem
    (raising one score lowers the shift so the sum stays ``n_lines``), so the
    weights are a differentiable soft choice of exactly ``n_lines`` chords.

    Parameters
    ----------
    scores : (B, n_chords)
    n_lines : (B,) float

    Returns
    -------
    (B, n_chords) in (0, 1), rows summing to ~n_lines
    """
    with torch.no_grad():
        lo = -scores.max(1).values - 30 * temperature
        hi = -scores.min(1).values + 30 * temperature
        target = n_lines.to(scores.dtype)
        for _ in range(iters):
            mid = (lo + hi) / 2
            s = torch.sigmoid((scores + mid[:, None]) / temperature).sum(1)
            big = s > target
            hi = torch.where(big, mid, hi)
            lo = torch.where(big, lo, mid)
        shift = (lo + hi) / 2
        d = torch.sigmoid((scores + shift[:, None]) / temperature)
        d = d * (1 - d)  # the sigmoid's slope at each chord
        d = d / d.sum(1, keepdim=True).clamp_min(1e-12)
    # the shift depends on the scores through sum(w) = n: d shift / d s_k = -slope_k / sum(slope)
    # (implicit function theorem); this term is zero in value and gives the shift that gradient
    shift = shift[:, None] - (d * (scores - scores.detach())).sum(1, keepdim=True)
    return torch.sigmoid((scores + shift) / temperature)


def refine_scores(scores: torch.Tensor, target: torch.Tensor, table, n_lines: torch.Tensor, *, steps: int,
                  lr: float, temperature: float = 1.0, opacity: float = 1.0, mask=None) -> torch.Tensor:
    """Plain refinement (no learning): ``steps`` steps of normalised gradient descent on the logits.

    Each step moves every picture's scores by ``-lr * g / rms(g)``, ``g`` the
    gradient of ``L1 + 1 - SSIM`` between the rendered chord weights
    (:func:`budget_weights` drawn by :func:`rendering.torch_render.chord_render` on
    ``table``, the viewing scale of a 512 px problem at 128 px) and ``target``
    inside the frame. It is :meth:`ChordNet.refine` before training, and what
    the ``projection`` ablation and the distillation teacher run. The steps are
    constants for autograd: the output's gradient in ``scores`` is the identity.

    Parameters
    ----------
    scores : (B, n_chords) logits
    target : (B, 1, canvas, canvas) pictures at the table's canvas, 1 = white
    table : rendering.ChordTable at that canvas
    n_lines : (B,) float budgets
    steps : int >= 0
    lr : float > 0
    mask : (canvas, canvas) bool tensor, default the table's frame mask

    Returns
    -------
    (B, n_chords) refined logits (``scores`` itself when ``steps == 0``)
    """
    if steps <= 0:
        return scores
    s = scores.detach().clone()
    for _ in range(int(steps)):
        g = loss_gradient(s, target, table, n_lines, temperature=temperature, opacity=opacity, mask=mask)
        s = s - lr * unit_rms(g)
    return scores + (s - scores.detach())


# ---------------------------------------------------------------------- checkpoints
MODELS = {"ae-seed": (AESeed, AESeedConfig), "ae-chords": (ChordNet, ChordNetConfig)}


def build_model(kind: str, spec: Spec, **config) -> nn.Module:
    """A fresh model of ``kind`` (``"ae-seed"`` or ``"ae-chords"``)."""
    if kind not in MODELS:
        raise InputError(f"unknown model {kind!r}; choose one of: {', '.join(MODELS)}")
    cls, cfg = MODELS[kind]
    try:
        return cls(cfg(**config), spec)
    except TypeError as e:
        names = ", ".join(f.name for f in dataclasses.fields(cfg))
        raise InputError(f"bad option for model {kind}: {e}; its options are: {names}") from None


def save_blob(blob: dict, path) -> Path:
    """``torch.save`` a checkpoint's dict to ``path`` atomically (a temporary file beside it, then a rename; its
    folder made): a reader never sees half a checkpoint."""
    import os
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(blob, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_checkpoint(path, model: nn.Module, *, history: list | None = None, extra: dict | None = None,
                    half: bool = True) -> Path:
    """Write a checkpoint (atomically): kind, spec, model config, weights, training history.

    ``half`` stores floating-point weights as float16 (loaded back as float32),
    which halves the file.
    """
    state = {k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu())
             for k, v in model.state_dict().items()}
    blob = dict(version=CHECKPOINT_VERSION, kind=model.kind, spec=dataclasses.asdict(model.spec),
                config=dataclasses.asdict(model.config), state=state, history=list(history or []),
                extra=dict(extra or {}))
    return save_blob(blob, path)


def load_checkpoint(path, *, kind: str | None = None, device="cpu") -> tuple[nn.Module, dict]:
    """Load a checkpoint; returns ``(model in eval mode, the raw dict)``.

    Raises :class:`InputError` (one line) when the file is missing, unreadable,
    or of another model kind than ``kind``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint '{path}' not found; train one with `bench train {kind or 'ae-chords'}` "
                         f"or pass an existing file")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        spec = Spec(**blob["spec"])
        found = blob["kind"]
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 -- any unreadable file is one user error
        raise InputError(f"'{path}' is not a readable checkpoint ({type(e).__name__}); pass a file written by "
                         f"`bench train`") from None
    if kind is not None and found != kind:
        raise InputError(f"checkpoint '{path.name}' holds a {found} model, expected {kind}; pass a {kind} checkpoint")
    model = build_model(found, spec, **blob["config"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state"].items()})
    model.to(device).eval()
    return model, blob


def default_checkpoint(kind: str, n_pins: int = 288) -> Path:
    """The shipped checkpoint's path for ``kind`` (``learned/checkpoints/{kind}-{n_pins}.pt``)."""
    return CHECKPOINT_DIR / f"{kind}-{n_pins}.pt"


def count_parameters(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))

