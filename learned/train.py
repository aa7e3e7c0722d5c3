"""Training of the learned models: a function scripts can call (``bench train`` wraps it).

:func:`train` builds the data (:mod:`learned.data`), the model
(:mod:`learned.models`), runs epochs with validation after each, and writes
into ``out``:

* ``{kind}.pt`` -- the slim checkpoint of the best validation epoch (what the
  solvers load; float16 weights),
* ``last.pt`` -- model, optimiser, epoch, RNG states and history, for ``resume``,
* ``history.json`` and ``loss.png`` -- the training curves.

Losses
------
``ae-seed`` (faithful to the seed): ``w_dec * MSE(decoder, input) + w_art *
L1(soft-line string art, input)`` at the 64 px input.

``ae-chords``: the network's chord scores go through its ``refine_steps``
learned refinement steps (:meth:`learned.models.ChordNet.refine`, as at
inference), their weights
``sigmoid(score + shift)`` (the shift meets a line budget per picture exactly;
see :func:`learned.models.budget_weights`) are rendered by the shared chord
table at the training canvas (128 px for a 512 px problem is the benchmark's
viewing scale), and compared with the picture by ``w_l1 * L1 + w_ssim * (1 -
SSIM)`` inside the frame. With ``w_distill > 0`` the network's own weights are
also pulled toward a teacher's (:func:`teacher_weights`: the weights that many
refinement steps find for that picture, computed once before training and
cached in ``out``) by binary cross-entropy.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from rendering import InputError
from rendering.errors import check_float, check_int
from rendering.torch_render import chord_render, frame_mask_tensor

from .data import CropDataset, chord_permutation, load_pool, picture_records
from .losses import view_loss
from .models import MODELS, Spec, budget_weights, build_model, refine_scores, save_checkpoint
from .soft_lines import soft_lines


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Options of :func:`train`.

    Parameters
    ----------
    kind : {"ae-seed", "ae-chords"}
    epochs : int >= 1
    batch_size : int >= 1
    lr : float > 0, Adam learning rate
    n_train, n_val : int, crops per split (drawn once from the pool)
    lines : (int, int), line budgets drawn uniformly per picture (ae-chords)
    val_lines : int, the budget of validation (ae-chords)
    pins, min_gap, canvas, input_size : the setup (see :class:`learned.models.Spec`);
        canvas = the training canvas of the renderer
    max_minutes : float or None, stop after the epoch that passes this wall time
    model : dict, the model config (see the model's Config)
    """

    kind: str = "ae-chords"
    epochs: int = 8
    batch_size: int = 16
    lr: float = 2e-3
    n_train: int = 1200
    n_val: int = 48
    lines: tuple = (1000, 4000)
    val_lines: int = 2500
    pins: int = 288
    min_gap: int | None = None
    canvas: int | None = None
    input_size: int = 64
    max_minutes: float | None = None
    model: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in MODELS:
            raise InputError(f"unknown model {self.kind!r}; choose one of: {', '.join(MODELS)}")
        for name in ("epochs", "batch_size", "n_train", "n_val", "val_lines"):
            check_int(name, getattr(self, name), low=1)
        check_float("lr", self.lr, low=0.0, low_open=True)
        lo, hi = self.lines
        if not (1 <= lo <= hi):
            raise InputError(f"lines must be (low, high) with 1 <= low <= high, got {self.lines}")
        if self.max_minutes is not None:
            check_float("max_minutes", self.max_minutes, low=0.0, low_open=True)

    def spec(self) -> Spec:
        from rendering import default_min_gap

        canvas = self.canvas or (self.input_size if self.kind == "ae-seed" else 128)
        gap = default_min_gap(self.pins) if self.min_gap is None else self.min_gap
        return Spec(n_pins=self.pins, min_gap=gap, train_canvas=canvas, input_size=self.input_size)


@dataclass
class TrainResult:
    checkpoint: Path
    last: Path
    figure: Path | None
    history: list
    seconds: float


def teacher_weights(images: np.ndarray, spec: Spec, budgets: np.ndarray, *, steps: int, lr: float,
                    temperature: float = 1.0, batch_size: int = 16, log: Callable | None = None) -> np.ndarray:
    """The distillation target of ``ae-chords``: chord weights optimised for each picture.

    Start from the projection baseline's scores (standardised mean darkness
    along each chord, what an untrained ChordNet scores), run ``steps`` steps of
    :func:`learned.models.refine_scores` on the picture at the training canvas,
    and take the budget's weights. No learning: it is the slow per-picture
    optimisation that the network learns to shortcut.

    Parameters
    ----------
    images : (n, canvas, canvas) float32 in [0, 1] at the training canvas
    spec : the setup
    budgets : (n,) line budget of each picture

    Returns
    -------
    (n, n_chords) float16 weights in [0, 1], row ``i`` summing to ``budgets[i]``
    """
    from rendering.torch_render import chord_means

    table = spec.table(spec.train_canvas)
    if images.shape[-1] != table.layout.canvas:
        raise InputError(f"teacher pictures must be {table.layout.canvas} px, got {images.shape[-1]}")
    out = np.empty((len(images), table.n_chords), dtype=np.float16)
    t0 = time.perf_counter()
    for s in range(0, len(images), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(images[s:s + batch_size]))[:, None]
        n = torch.from_numpy(np.asarray(budgets[s:s + batch_size], dtype=np.float32))
        with torch.no_grad():
            proj = chord_means(table, 1.0 - x)[:, 0]
            z = (proj - proj.mean(1, keepdim=True)) / proj.std(1, keepdim=True).clamp_min(1e-6)
            z = refine_scores(z, x, table, n, steps=steps, lr=lr, temperature=temperature, opacity=spec.opacity)
            out[s:s + len(x)] = budget_weights(z, n, temperature=temperature).numpy().astype(np.float16)
        if log and (s // batch_size + 1) % 10 == 0:
            log(f"teacher targets: {s + len(x)}/{len(images)} ({time.perf_counter() - t0:.0f} s)")
    return out


def pick_device(device: str) -> torch.device:
    """``"cpu"``, ``"cuda"`` or ``"auto"`` (cuda when available)."""
    from rendering.device import check_device

    device = check_device(device, name="--device")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked but no CUDA GPU is visible to torch; use --device cpu or auto")
    return torch.device(device)


class _Step:
    """Loss of one batch for a model kind."""

    def __init__(self, model, cfg: TrainConfig, spec: Spec, device):
        self.model, self.cfg, self.spec, self.device = model, cfg, spec, device
        self.table = spec.table(spec.train_canvas)
        self.width = spec.thread.width_px(self.table.layout.span_px)
        self.mask = frame_mask_tensor(self.table, device)
        self.in_mask = torch.from_numpy(np.array(spec.layout(spec.input_size).frame_mask)).to(device)

    def __call__(self, batch: torch.Tensor, n_lines: torch.Tensor, teacher: torch.Tensor | None = None):
        """batch (B, 1, canvas, canvas) pictures, teacher (B, n_chords) target weights or None;
        returns (loss, metrics dict)."""
        import torch.nn.functional as F

        from .models import to_input

        m, mc = self.model, self.model.config
        x = to_input(batch, self.spec.input_size)
        if m.kind == "ae-seed":
            u, v, recon = m(x)
            art = soft_lines(u, v, self.spec.input_size, self.spec.thread.width_px(self.spec.input_size - 2.0),
                             sigma=mc.sigma, opacity=self.spec.opacity)
            mk = self.in_mask.to(x.dtype)[None, None]
            l_dec = F.mse_loss(recon, x)
            l_art = ((art - x).abs() * mk).sum() / (mk.sum() * x.shape[0])
            loss = mc.w_dec * l_dec + mc.w_art * l_art
            return loss, {"dec_mse": float(l_dec.detach()), "art_l1": float(l_art.detach())}
        raw = m(x, n_lines)
        loss = raw.new_zeros(())
        info = {}
        if mc.w_l1 > 0 or mc.w_ssim > 0:  # the picture the solver will decode: after the refinement
            scores = m.refine(raw, batch, n_lines, mask=self.mask)
            w = budget_weights(scores, n_lines, temperature=mc.temperature)
            if mc.hard_forward:  # the picture of the decoded thread, with the soft weights' gradient
                w = w + (self.decoded(scores, n_lines) - w).detach()
            img = chord_render(self.table, w, opacity=self.spec.opacity)
            loss, info = view_loss(img, batch, self.mask, w_l1=mc.w_l1, w_ssim=mc.w_ssim)
        if teacher is not None and mc.w_distill > 0:  # the network's own weights toward the teacher's
            w = budget_weights(raw, n_lines, temperature=mc.temperature)
            bce = F.binary_cross_entropy(w.clamp(1e-6, 1 - 1e-6), teacher.to(w.dtype))
            loss = loss + mc.w_distill * bce
            info["distill_bce"] = float(bce.detach())
        return loss, info

    @torch.no_grad()
    def decoded(self, scores: torch.Tensor, n_lines: torch.Tensor) -> torch.Tensor:
        """(B, n_chords) how often the solver's decoder draws each chord from these scores."""
        from .decode import decode_paths

        cs = self.table.chords
        out = torch.zeros_like(scores)
        paths = decode_paths(cs, scores, n_lines, temperature=self.model.config.temperature)
        for i, path in enumerate(paths):
            ids = torch.from_numpy(cs.path_to_chords(path).astype(np.int64)).to(scores.device)
            out[i].index_put_((ids,), torch.ones(ids.numel(), dtype=out.dtype, device=out.device), accumulate=True)
        return out

    @torch.no_grad()
    def hard(self, batch: torch.Tensor, n_lines: torch.Tensor) -> dict:
        """Validation with hard choices: the decoded thread (ae-chords) or snapped threads (ae-seed)."""
        from .models import to_input

        x = to_input(batch, self.spec.input_size)
        B = batch.shape[0]
        w = torch.zeros(B, self.table.n_chords, device=batch.device)
        if self.model.kind == "ae-seed":
            u, v, _ = self.model(x)
            n = self.spec.n_pins
            ids = torch.from_numpy(np.array(self.table.chords.id_of)).to(batch.device).long()
            a = torch.round(u * n).long() % n
            b = torch.round(v * n).long() % n
            c = ids[a, b]
            for i in range(B):
                ok = c[i][c[i] >= 0]
                w[i, ok] = 1.0
        else:  # the solver's decoder: one thread following the weights' density
            w = self.decoded(self.model.scores(batch, n_lines), n_lines)
        img = chord_render(self.table, w, opacity=self.spec.opacity)
        _, info = view_loss(img, batch, self.mask)
        return {"hard_l1": info["l1"], "hard_ssim": info["ssim"]}


def plot_history(history: list, path: Path) -> Path | None:
    """Write the loss curves (train and validation per epoch) to ``path``."""
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    keys = [k for k in ("hard_ssim", "hard_l1") if k in history[0]]
    fig, axes = plt.subplots(1, 1 + bool(keys), figsize=(9 if keys else 5, 3.4))
    axes = np.atleast_1d(axes)
    axes[0].plot(ep, [h["train_loss"] for h in history], "o-", label="train")
    axes[0].plot(ep, [h["val_loss"] for h in history], "s-", label="validation")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("loss")
    axes[0].legend()
    axes[0].set_title("loss")
    if keys:
        for k in keys:
            axes[1].plot(ep, [h[k] for h in history], "o-", label=k.replace("hard_", "val "))
        axes[1].set_xlabel("epoch")
        axes[1].set_title("validation, hard choice (training canvas)")
        axes[1].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def train(cfg: TrainConfig, *, data=None, out="runs/train", device: str = "auto", seed: int = 0,
          resume: bool = False, progress: Callable | None = None, log: Callable[[str], None] | None = None,
          threads: int | None = None) -> TrainResult:
    """Train a model; see the module docstring for what lands in ``out``.

    Parameters
    ----------
    cfg : TrainConfig
    data : folder of images or None for the offline pool
    out : folder for checkpoints and curves
    device : {"cpu", "cuda", "auto"}
    seed : int, seeds the data crops, the augmentation, the budgets and the weights
    resume : continue from ``out/last.pt`` (its config must match)
    progress : optional ``progress(total_batches)`` -> context manager with ``.update(n)``
        (e.g. ``typer.progressbar``); None: no bar
    log : optional ``log(line)`` for one line per epoch
    threads : torch CPU threads (default: all cores, at most 2)
    """
    t_start = time.perf_counter()
    log = log or (lambda s: None)
    check_int("seed", seed, low=0)
    dev = pick_device(device)
    torch.set_num_threads(int(threads or max(1, min(2, os.cpu_count() or 1))))
    out = Path(out)
    spec = cfg.spec()
    images, names, report = load_pool(data)
    log(report)
    ds = CropDataset(images, names, size=spec.train_canvas, n_train=cfg.n_train, n_val=cfg.n_val, seed=seed,
                     n_pins=spec.n_pins)
    log(ds.describe())
    seen = picture_records(images, names)  # recorded in the checkpoint: a study flags scores on these
    torch.manual_seed(seed)
    model = build_model(cfg.kind, spec, **cfg.model).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(seed)
    np_rng = np.random.default_rng(seed)
    history: list = []
    first_epoch = 0
    best = math.inf
    last_path = out / "last.pt"
    if resume:
        if not last_path.is_file():
            raise InputError(f"nothing to resume: '{last_path}' not found; run without --resume first")
        state = torch.load(last_path, map_location="cpu", weights_only=False)
        if state["train_config"] != _cfg_dict(cfg):
            raise InputError(f"'{last_path}' was trained with other options; resume with the same options "
                             f"or pick another --out")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history = state["history"]
        first_epoch = state["epoch"] + 1
        best = state["best"]
        gen.set_state(state["torch_rng"])
        np_rng.bit_generator.state = state["np_rng"]
        log(f"resumed from epoch {first_epoch}")
    step = _Step(model, cfg, spec, dev)
    cap = max(1, step.table.n_chords // 2)  # budgets beyond half the chords make no sense (small setups)
    lo, hi = min(cfg.lines[0], cap), min(cfg.lines[1], cap)
    val_budget = float(min(cfg.val_lines, cap))
    teach_train = teach_val = budgets = None
    if cfg.kind == "ae-chords" and model.config.w_distill > 0:
        mc = model.config
        # each training crop keeps one budget (drawn once), so that its teacher can be computed once
        budgets = np.random.default_rng([seed, 1]).integers(lo, hi + 1, len(ds.train)).astype(np.float32)
        teach_path = out / "teacher_targets.npz"
        key = json.dumps(dict(seed=seed, data=str(data), n_train=cfg.n_train, n_val=cfg.n_val, lines=[lo, hi],
                              val=val_budget, steps=mc.teacher_steps, lr=mc.teacher_lr, t=mc.temperature,
                              spec=asdict(spec)), sort_keys=True)
        cached = None
        if teach_path.is_file():  # the same crops, budgets and setup: reuse the teacher's answers
            with np.load(teach_path) as z:
                if str(z["key"]) == key:
                    cached = z["train"], z["val"]
        if cached is not None:
            teach_train, teach_val = cached
            log(f"teacher targets reused from {teach_path}")
        else:
            log(f"teacher targets for {len(ds.train) + len(ds.val)} crops ({mc.teacher_steps} refinement steps each)")
            kw = dict(steps=mc.teacher_steps, lr=mc.teacher_lr, temperature=mc.temperature)
            teach_train = teacher_weights(ds.train, spec, budgets, log=log, **kw)
            teach_val = teacher_weights(ds.val, spec, np.full(len(ds.val), val_budget), **kw)
            out.mkdir(parents=True, exist_ok=True)
            np.savez(teach_path, train=teach_train, val=teach_val, key=np.array(key))
        perm_cache: dict = {}
    val = torch.from_numpy(ds.val)[:, None].to(dev)
    val_lines = torch.full((val.shape[0],), val_budget, device=dev)
    n_batches = math.ceil(len(ds.train) / cfg.batch_size)
    ckpt_path = out / f"{cfg.kind}.pt"
    for epoch in range(first_epoch, cfg.epochs):
        t0 = time.perf_counter()
        model.train()
        losses = []
        bar = progress(n_batches) if progress else None
        ctx = bar if bar is not None else _Null()
        with ctx as b:
            for batch, idx, ks, flips in ds.train_batches(cfg.batch_size, np_rng, with_params=True):
                x = torch.from_numpy(batch)[:, None].to(dev)
                n_lines = torch.randint(lo, hi + 1, (x.shape[0],), generator=gen).float().to(dev)
                r = None
                if teach_train is not None:
                    n_lines = torch.from_numpy(budgets[idx]).to(dev)
                    r = np.empty((len(idx), teach_train.shape[1]), dtype=np.float32)
                    for t, (i, k, f) in enumerate(zip(idx, ks, flips)):
                        key = (int(k), bool(f))
                        if key not in perm_cache:
                            perm_cache[key] = chord_permutation(step.table.chords, int(k), bool(f))
                        r[t, perm_cache[key]] = teach_train[i]
                    r = torch.from_numpy(r).to(dev)
                loss, _ = step(x, n_lines, r)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
                if b is not None:
                    b.update(1)
        model.eval()
        with torch.no_grad():
            vloss, vinfo = [], {}
            for s in range(0, val.shape[0], cfg.batch_size):
                rv = (None if teach_val is None
                      else torch.from_numpy(teach_val[s:s + cfg.batch_size].astype(np.float32)).to(dev))
                lv, info = step(val[s:s + cfg.batch_size], val_lines[s:s + cfg.batch_size], rv)
                vloss.append(float(lv))
                for k, v in {**info, **step.hard(val[s:s + cfg.batch_size], val_lines[s:s + cfg.batch_size])}.items():
                    vinfo.setdefault(k, []).append(v)
        row = dict(epoch=epoch + 1, train_loss=float(np.mean(losses)), val_loss=float(np.mean(vloss)),
                   seconds=time.perf_counter() - t0, **{k: float(np.mean(v)) for k, v in vinfo.items()})
        history.append(row)
        log("epoch {epoch}: train {train_loss:.4f}  val {val_loss:.4f}  ".format(**row)
            + "  ".join(f"{k} {v:.4f}" for k, v in row.items()
                        if k.startswith("hard") or k in ("dec_mse", "art_l1", "distill_bce"))
            + f"  ({row['seconds']:.0f} s)")
        if row["val_loss"] < best:
            best = row["val_loss"]
            save_checkpoint(ckpt_path, model, history=history,
                            extra=dict(seed=seed, data=str(data) if data else "offline", epoch=epoch + 1,
                                       train_config=_cfg_dict(cfg), trained_on=seen))
        torch.save(dict(model=model.state_dict(), optimizer=opt.state_dict(), epoch=epoch, best=best,
                        history=history, torch_rng=gen.get_state(), np_rng=np_rng.bit_generator.state,
                        train_config=_cfg_dict(cfg)), last_path)
        (out / "history.json").write_text(json.dumps(history, indent=1))
        if cfg.max_minutes is not None and time.perf_counter() - t_start > 60 * cfg.max_minutes:
            log(f"stopping after epoch {epoch + 1}: the {cfg.max_minutes:g} min limit is reached")
            break
    if not ckpt_path.is_file():  # resumed past the end without a better epoch
        save_checkpoint(ckpt_path, model, history=history)
    fig = plot_history(history, out / "loss.png")
    return TrainResult(ckpt_path, last_path, fig, history, time.perf_counter() - t_start)


def _cfg_dict(cfg: TrainConfig) -> dict:
    d = asdict(cfg)
    d["lines"] = list(d["lines"])
    d.pop("epochs")
    d.pop("max_minutes")
    return d


class _Null:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False
