"""Learning what greedy should chase: the front end's settings, searched per image and predicted.

The measured gains of classical pipelines come from what greedy is fed. Here
the front end is four numbers per picture, :class:`FrontParams`:

* ``local`` -- local contrast: the target is blended with its CLAHE
  (:func:`rendering.frontend.clahe`, clip 0.01) by this fraction;
* ``gamma`` -- a tone curve on the target greedy chases (``target ** gamma``);
* ``opacity`` -- the thread opacity greedy *assumes*, as a fraction of the
  real thread's (the thread is the real
  one when the result is drawn and scored: assuming a lighter thread makes
  greedy lay more of it where the picture is dark);
* ``strength`` -- how much more the error counts on edges
  (:func:`rendering.frontend.importance_map`, ``1 + strength * edges``: the
  per-pixel map is the picture's own edge map, scaled).

The solver is the classical default, ``greedy-view``, run once on the edited
problem; its thread is returned for the original problem, so it is rendered
with the real thread and scored against the untouched photo.

* :func:`search` -- a coordinate search of the four with the solver in the
  loop, maximising the viewing-scale SSIM against the photo while the L1 stays
  within :data:`L1_SLACK` of the plain solve's (``search+greedy``: slow, the
  ceiling, and the teacher).
* :class:`FrontNet` -- a small network that predicts them from the
  picture's tone statistics and a 4 x 4 brightness layout (``ae-target+greedy``), trained
  on the search's labels (:func:`train_front`: ``bench train ae-target``).
  Why labels rather than end to end: the four numbers act through one exact
  greedy run, which has no useful gradient, and a relaxation of greedy trains
  a different solver than the one that runs; 4 numbers per picture are cheap
  to learn from a few hundred searched crops.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rendering import InputError

#: what the solve behind every front end is
SOLVER = "greedy-view"
#: the search keeps the L1 within this of the plain solve's
L1_SLACK = 0.005
#: the values the coordinate search tries for each parameter
GRID = {"local": (0.0, 0.2, 0.35, 0.5, 0.7), "gamma": (0.8, 0.9, 1.0, 1.15), "opacity": (0.7, 0.8, 0.9, 1.0),
        "strength": (0.0, 1.0)}
#: the range of each (the network's outputs are squashed into it)
BOUNDS = {"local": (0.0, 1.0), "gamma": (0.6, 1.6), "opacity": (0.5, 1.0), "strength": (0.0, 3.0)}


@dataclass(frozen=True)
class FrontParams:
    """What greedy is fed: local contrast, a tone curve, the thread opacity it assumes, the weight of edges."""

    local: float = 0.0
    gamma: float = 1.0
    opacity: float = 1.0
    strength: float = 0.0

    def __post_init__(self):
        for name, (lo, hi) in BOUNDS.items():
            v = getattr(self, name)
            if not (lo <= float(v) <= hi):
                raise InputError(f"front-end {name} must be in [{lo}, {hi}], got {v}")

    def as_array(self) -> np.ndarray:
        return np.array([getattr(self, k) for k in BOUNDS], dtype=np.float64)

    @classmethod
    def from_array(cls, a) -> "FrontParams":
        a = [float(np.clip(v, *BOUNDS[k])) for k, v in zip(BOUNDS, a)]
        return cls(*a)


def front_problem(problem, params: FrontParams, *, equalised: np.ndarray | None = None):
    """The problem the solver is asked to solve: the edited target, the assumed thread, the edge weights.

    ``equalised``: the photo's CLAHE when already computed (:func:`search` reuses it).
    """
    import dataclasses as dc

    from rendering import ThreadModel
    from rendering.frontend import clahe, importance_map
    from rendering.target import Target

    t = problem.target
    img = np.clip(t.original, 0.0, 1.0)
    if params.local > 0:
        eq = clahe(img, clip=0.01) if equalised is None else equalised
        img = (1.0 - params.local) * img + params.local * eq
    weights = t.weights
    if params.strength > 0:
        weights = importance_map(t.original, mode="edges", strength=params.strength, mask=problem.mask)
        if t.weights is not None:
            weights = weights * t.weights
    edited = Target(np.ascontiguousarray(np.clip(img, 0.0, 1.0) ** params.gamma, dtype=np.float32), t.name,
                    t.original, t.edits + (f"front {params}",), weights=weights)
    thread = ThreadModel(frame_mm=problem.thread.frame_mm, thread_mm=problem.thread.thread_mm,
                         opacity=problem.thread.opacity * params.opacity)
    return dc.replace(problem, target=edited, thread=thread)


def solve_front(problem, params: FrontParams, *, solver=SOLVER, equalised=None) -> np.ndarray:
    """One run of ``solver`` (a registered name, or a prepared solver whose ``run`` is called) on
    :func:`front_problem`; the pin path, for the original problem."""
    from solvers import make_solver
    from solvers.progress import quiet

    edited = front_problem(problem, params, equalised=equalised)
    if isinstance(solver, str):
        return make_solver(solver).solve(edited, rng=0).path
    with quiet():  # a search's trial runs are not the solve's progress
        return solver.run(edited, np.random.default_rng(0)).path


def evaluate(problem, path) -> dict:
    """Viewing-scale scores of a path drawn with the problem's real thread, against its photo."""
    from rendering.metrics import score
    from rendering import render

    chords = problem.chords.path_to_chords(path) if len(path) >= 2 else np.zeros(0, dtype=np.int32)
    preview = render(problem.table, chords, opacity=problem.thread.opacity)
    return score(preview, problem.target.original, problem.mask)


def search(problem, *, rounds: int = 2, solver=SOLVER, log=None) -> tuple[FrontParams, np.ndarray, dict]:
    """Coordinate search of :class:`FrontParams` with the solver in the loop.

    Maximises the viewing-scale SSIM against the photo, among settings whose L1
    is at most the plain solve's plus :data:`L1_SLACK`. Each round tries every
    value of :data:`GRID` for one parameter at a time, the others fixed at the
    best so far. About 20-25 solves (~12 s at 288 pins, 4000 lines, 512 px).

    Returns
    -------
    (best params, its path, info: ``evaluations``, ``base`` and ``best`` scores, ``trace``)
    """
    from rendering.frontend import clahe

    cache: dict = {}
    equalised = clahe(np.clip(problem.target.original, 0.0, 1.0), clip=0.01)

    def run(p: FrontParams):
        key = tuple(np.round(p.as_array(), 6))
        if key not in cache:
            path = solve_front(problem, p, solver=solver, equalised=equalised)
            cache[key] = (path, evaluate(problem, path))
        return cache[key]

    best = FrontParams()
    path, base = run(best)
    limit = base["l1"] + L1_SLACK
    best_m = base
    trace = [(dataclasses.asdict(best), base["ssim"], base["l1"])]
    for _ in range(rounds):
        moved = False
        for name in GRID:
            for v in GRID[name]:
                cand = dataclasses.replace(best, **{name: v})
                p, m = run(cand)
                trace.append((dataclasses.asdict(cand), m["ssim"], m["l1"]))
                if m["l1"] <= limit and m["ssim"] > best_m["ssim"] + 1e-9:
                    best, path, best_m, moved = cand, p, m, True
            if log:
                log(f"search {name}: best {best} ssim {best_m['ssim']:.4f} l1 {best_m['l1']:.4f}")
        if not moved:
            break
    return best, path, dict(evaluations=len(cache), base=base, best=best_m, trace=trace)


# ---------------------------------------------------------------------------- the network
THUMB = 32


def features(image: np.ndarray) -> np.ndarray:
    """What is kept of a picture: a 32 px thumbnail inside the frame (1024) and tone statistics (20).

    ``image`` is the photo, (canvas, canvas) in [0, 1]; outside the frame's disk counts as white. The
    network reads :func:`model_inputs` of it; labels keep all of it, so another input can be tried on the
    same labels.
    """
    from rendering.raster import view_scale

    img = np.asarray(image, dtype=np.float32)
    n = img.shape[0]
    yy, xx = np.mgrid[0:n, 0:n] + 0.5
    disk = np.hypot(xx - n / 2, yy - n / 2) <= n / 2
    img = np.where(disk, img, 1.0)
    thumb = view_scale(img[: n // THUMB * THUMB, : n // THUMB * THUMB], n // THUMB).ravel()
    inside = img[disk]
    hist = np.histogram(inside, bins=12, range=(0, 1))[0] / inside.size
    gy, gx = np.gradient(img)
    edge = np.hypot(gx, gy)[disk]
    stats = [inside.mean(), inside.std(), *np.percentile(inside, (5, 25, 50, 75, 95)), edge.mean() * n / 64]
    return np.concatenate([thumb, hist, stats]).astype(np.float32)


def model_inputs(feats: np.ndarray) -> np.ndarray:
    """The network's input from :func:`features`: the 20 tone statistics and a 4 x 4 brightness layout (36).

    The 32 px thumbnail itself over-fits a few hundred labels (5-fold validation on the shipped labels:
    ridge regression on all 1044 numbers never beat the 36, and at small regularisation did worse than
    predicting the mean setting).
    """
    f = np.asarray(feats, dtype=np.float32)
    thumb = f[..., : THUMB * THUMB].reshape(*f.shape[:-1], 4, THUMB // 4, 4, THUMB // 4).mean(axis=(-3, -1))
    return np.concatenate([f[..., THUMB * THUMB:], thumb.reshape(*f.shape[:-1], 16)], axis=-1)


def _net(n_in: int):
    import torch
    from torch import nn

    class FrontNet(nn.Module):
        """A thumbnail and tone statistics to the four front-end settings (squashed into their bounds)."""

        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(n_in, 32), nn.GELU(), nn.Linear(32, len(BOUNDS)))
            lo = torch.tensor([BOUNDS[k][0] for k in BOUNDS])
            hi = torch.tensor([BOUNDS[k][1] for k in BOUNDS])
            self.register_buffer("lo", lo)
            self.register_buffer("hi", hi)

        def forward(self, x):
            return self.lo + (self.hi - self.lo) * torch.sigmoid(self.body(x))

    return FrontNet()


@dataclass
class FrontModel:
    """A trained :class:`FrontNet` with its input normalisation and the training labels' mean (the ablation)."""

    net: object
    mean: np.ndarray
    std: np.ndarray
    average: FrontParams
    info: dict

    def predict(self, image: np.ndarray) -> FrontParams:
        import torch

        x = (model_inputs(features(image)) - self.mean) / self.std
        with torch.no_grad():
            y = self.net(torch.from_numpy(x[None].astype(np.float32)))[0].numpy()
        return FrontParams.from_array(y)

    def save(self, path) -> Path:
        from .models import save_blob

        blob = {"kind": "ae-target", "state": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
                "mean": self.mean.tolist(), "std": self.std.tolist(), "average": dataclasses.asdict(self.average),
                "info": self.info}
        return save_blob(blob, path)

    @classmethod
    def load(cls, path) -> "FrontModel":
        import torch

        path = Path(path)
        if not path.is_file():
            raise InputError(f"checkpoint '{path}' not found; train one with `bench train ae-target`")
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            if blob.get("kind") != "ae-target":
                raise KeyError("kind")
        except Exception as e:  # noqa: BLE001
            raise InputError(f"'{path}' is not an ae-target checkpoint ({type(e).__name__}); "
                             f"train one with `bench train ae-target`") from None
        mean = np.asarray(blob["mean"], dtype=np.float32)
        net = _net(mean.size)
        net.load_state_dict(blob["state"])
        net.eval()
        return cls(net, mean, np.asarray(blob["std"], dtype=np.float32), FrontParams(**blob["average"]),
                   dict(blob["info"]))


def label_crops(images, names, *, n: int, canvas: int, pins: int, lines: int, seed: int = 0, workers: int = 2,
                log=None) -> list[dict]:
    """Search labels for ``n`` random crops of a picture pool (``workers`` processes; 1: in this one)."""
    from .data import random_crop

    rng = np.random.default_rng(seed)
    jobs = []
    for k in range(n):
        i = int(rng.integers(len(images)))
        crop = random_crop(images[i], canvas, rng)
        jobs.append((k, names[i], crop, canvas, pins, lines))
    out = []
    t0 = time.perf_counter()

    def note(row):
        out.append(row)
        if log:
            log(f"label {len(out)}/{n} ({row['name']}): {FrontParams(**row['params'])} ssim {row['base_ssim']:.3f} -> "
                f"{row['ssim']:.3f} ({time.perf_counter() - t0:.0f} s)")

    if workers <= 1:
        for job in jobs:
            note(_label_one(job, threads=False))
        return out
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        for row in pool.map(_label_one, jobs):
            note(row)
    return out


def _label_one(job, threads: bool = True) -> dict:
    k, name, crop, canvas, pins, lines = job
    from solvers import Problem

    if threads:  # a worker process: one thread each
        from rendering.jit import set_threads

        set_threads(1)
    problem = Problem.create(crop, pins=pins, lines=lines, canvas=canvas)
    best, _, info = search(problem)
    return dict(index=k, name=name, params=dataclasses.asdict(best), features=features(problem.target.original),
                ssim=info["best"]["ssim"], l1=info["best"]["l1"], base_ssim=info["base"]["ssim"],
                base_l1=info["base"]["l1"], evaluations=info["evaluations"])


def _targets(labels) -> tuple[np.ndarray, np.ndarray]:
    X = model_inputs(np.stack([np.asarray(r["features"], dtype=np.float32) for r in labels]))
    Y = np.stack([FrontParams(**r["params"]).as_array() for r in labels]).astype(np.float32)
    return X, Y


def fit_front(labels: list[dict], *, epochs: int = 1000, seed: int = 0, val_fraction: float = 0.2,
              log=None) -> FrontModel:
    """Train :class:`FrontNet` on search labels (mean squared error in units of each parameter's range).

    A ``val_fraction`` of the labels is held out to choose the epoch (the
    weights of the best validation loss are kept) and to compare with the
    constant answer, the training labels' mean (``info["val_loss"]`` against
    ``info["val_loss_mean"]``): below it, the network predicts something per
    picture; at it, only the average setting.
    """
    import copy

    import torch

    if len(labels) < 2:
        raise InputError(f"ae-target needs at least 2 labels to fit, got {len(labels)}; ask for more with "
                         f"--train-crops")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    n_val = max(1, int(round(len(labels) * val_fraction)))
    val, tr = order[:n_val], order[n_val:]
    X, Y = _targets(labels)
    mean, std = X[tr].mean(0), X[tr].std(0) + 1e-3
    net = _net(X.shape[1])
    span = torch.tensor([BOUNDS[k][1] - BOUNDS[k][0] for k in BOUNDS])
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-3)
    xt = torch.from_numpy((X - mean) / std)
    yt = torch.from_numpy(Y)

    def loss_of(pred, idx):
        return float((((pred[idx] - yt[idx]) / span) ** 2).mean())

    average = torch.from_numpy(Y[tr].mean(0))
    val_mean = float((((average - yt[val]) / span) ** 2).mean())
    history, best = [], (np.inf, None, 0)
    for epoch in range(epochs):
        net.train()
        opt.zero_grad()
        loss = (((net(xt[tr]) - yt[tr]) / span) ** 2).mean()
        loss.backward()
        opt.step()
        net.eval()
        with torch.no_grad():
            v = loss_of(net(xt), val)
        history.append((float(loss.detach()), v))
        if v < best[0]:
            best = (v, copy.deepcopy(net.state_dict()), epoch + 1)
        if log and (epoch + 1) % 200 == 0:
            log(f"epoch {epoch + 1}: train {float(loss.detach()):.4f} val {v:.4f} (the mean setting: {val_mean:.4f})")
    net.load_state_dict(best[1])
    net.eval()
    info = dict(n_labels=len(labels), n_train=len(tr), n_val=len(val), epochs=epochs, best_epoch=best[2],
                val_loss=best[0], val_loss_mean=val_mean, history=[list(h) for h in history],
                label_mean=Y[tr].mean(0).tolist(),
                label_std=Y[tr].std(0).tolist(), label_names=sorted({r["name"] for r in labels}),
                search_gain=float(np.mean([r["ssim"] - r["base_ssim"] for r in labels])))
    return FrontModel(net, mean, std, FrontParams.from_array(Y[tr].mean(0)), info)


def plot_fit(info: dict, path) -> Path:
    """The training curve (train and validation loss per epoch, and the constant answer's validation loss)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = np.asarray(info["history"])
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    ax.plot(np.arange(1, len(h) + 1), h[:, 0], color="#0072B2", label="train")
    ax.plot(np.arange(1, len(h) + 1), h[:, 1], color="#D55E00", label="validation")
    ax.axhline(info["val_loss_mean"], color="#555555", ls="--", label="validation, the mean setting")
    ax.axvline(info["best_epoch"], color="#999999", ls=":", lw=1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("squared error (range units)")
    ax.set_title(f"ae-target: {info['n_train']} train / {info['n_val']} validation labels", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def train_front(*, data=None, out="runs/ae-target", n: int = 200, canvas: int = 512, pins: int = 288,
                lines: int = 4000, workers: int = 2, seed: int = 0, log=print) -> Path:
    """``bench train ae-target``: search labels for ``n`` crops of the pool (kept in ``out/labels.json`` and
    reused when the settings match), fit the network, write ``out/ae-target.pt`` and ``out/fit.png``."""
    from rendering.errors import check_int

    from .data import load_pool, picture_records

    n = check_int("--train-crops", n, low=2, hint="e.g. 200")
    workers = check_int("--workers", workers, low=1, hint="e.g. 2")
    out = Path(out)
    images, names, report = load_pool(data)
    log(report)
    out.mkdir(parents=True, exist_ok=True)
    lf = out / "labels.json"
    setting = dict(canvas=canvas, pins=pins, lines=lines, seed=seed, data=str(data) if data else "offline pool",
                   grid={k: list(v) for k, v in GRID.items()}, l1_slack=L1_SLACK)
    labels = []
    if lf.is_file():
        saved = json.loads(lf.read_text())
        if saved.get("setting") == setting:
            labels = saved["labels"]
            log(f"reusing {len(labels)} labels from {lf}")
    if len(labels) < n:
        labels += label_crops(images, names, n=n - len(labels), canvas=canvas, pins=pins, lines=lines,
                              seed=seed + 7919 * len(labels), workers=workers, log=log)
        tmp = lf.with_suffix(".tmp")
        tmp.write_text(json.dumps(dict(setting=setting, labels=[dict(r, features=np.asarray(r["features"]).tolist())
                                                                 for r in labels])))
        tmp.replace(lf)
    model = fit_front(labels[:n], seed=seed, log=log)
    model.info.update(setting)
    model.info["trained_on"] = picture_records(images, names)  # a study flags scores on these
    plot_fit(model.info, out / "fit.png")
    return model.save(out / "ae-target.pt")
