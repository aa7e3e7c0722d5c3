"""``bench train MODEL``: train a learned model (a thin layer over :func:`learned.train.train`)."""


from pathlib import Path
from typing import Annotated, Optional

import typer

from .cli_common import Pins, Seed, parse_key_values, user_errors


@user_errors
def train_cmd(
    model: Annotated[str, typer.Argument(help="Model to train: ae-target (the learned front end) or a name in "
                                              "learned.models.MODELS, e.g. ae-chords (an unknown name lists them).")],
    data: Annotated[Optional[Path], typer.Option("--data", help="Folder of training images (recursive)  "
                                                 "[default: the offline pool of packaged images].")] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="Number of epochs.")] = 8,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda or auto.")] = "auto",
    seed: Seed = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (checkpoints, history, loss.png).")]
    = Path("runs/train"),
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/last.pt.  "
                                                         "[default: start afresh]")] = False,
    pins: Pins = 288,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Pictures per batch.")] = 16,
    train_crops: Annotated[Optional[int], typer.Option("--train-crops", help="Training crops drawn from the pool  "
                                                        "[default: 1200; ae-target: 200 searched crops].")] = None,
    lines: Annotated[int, typer.Option("--lines", help="ae-target: lines of the searched solves.")] = 4000,
    workers: Annotated[int, typer.Option("--workers", help="ae-target: processes searching labels.")] = 2,
    val_crops: Annotated[int, typer.Option("--val-crops", help="Validation crops.")] = 48,
    lr: Annotated[float, typer.Option("--lr", help="Adam learning rate.")] = 2e-3,
    canvas: Annotated[Optional[int], typer.Option("--canvas", help="Training canvas in px [default: 128 for "
                                                   "ae-chords, 64 for ae-seed].")] = None,
    max_minutes: Annotated[Optional[float], typer.Option("--max-minutes", help="Stop after the epoch that "
                                                          "passes this wall time  [default: no limit].")] = None,
    w_dec: Annotated[Optional[float], typer.Option("--w-dec", help="ae-seed: decoder loss weight  "
                                                   "[default: 1, the seed's].")]
    = None,
    w_art: Annotated[Optional[float], typer.Option("--w-art", help="ae-seed: string-art loss weight  "
                                                   "[default: 1, the seed's].")]
    = None,
    threads: Annotated[Optional[int], typer.Option("--threads", help="torch CPU threads [default: <= 2].")] = None,
    model_opt: Annotated[Optional[list[str]], typer.Option("--model-opt", help="Model config KEY=VALUE "
                                                           "(repeatable), e.g. w_distill=1  [default: none].")] = None,
):
    """Train a learned model; writes OUT/MODEL.pt (best epoch), OUT/last.pt (resume), loss.png."""
    from learned.models import MODELS

    if model == "ae-target":
        return _train_front(data=data, out=out, n=train_crops or 200, canvas=canvas or 512, pins=pins, lines=lines,
                            workers=workers, seed=seed)
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of: {', '.join(sorted([*MODELS, 'ae-target']))}")
    from learned.train import TrainConfig, train
    train_crops = 1200 if train_crops is None else train_crops
    mcfg = {}
    if model == "ae-seed":
        if w_dec is not None:
            mcfg["w_dec"] = w_dec
        if w_art is not None:
            mcfg["w_art"] = w_art
    elif w_dec is not None or w_art is not None:
        raise ValueError(f"--w-dec/--w-art apply to ae-seed only; drop them for {model}")
    mcfg.update(parse_key_values(model_opt, option="--model-opt", example="w_distill=1"))
    cfg = TrainConfig(kind=model, epochs=epochs, batch_size=batch_size, lr=lr, n_train=train_crops,
                      n_val=val_crops, pins=pins, canvas=canvas, max_minutes=max_minutes, model=mcfg)

    def bar(n):
        return typer.progressbar(length=n, label="training", file=None)

    res = train(cfg, data=data, out=out, device=device, seed=seed, resume=resume, progress=bar,
                log=lambda s: typer.echo(s), threads=threads)
    typer.echo(f"trained {model} in {res.seconds:.0f} s")
    typer.echo(f"wrote {res.checkpoint}")
    typer.echo(f"wrote {res.last}")
    if res.figure:
        typer.echo(f"wrote {res.figure}")


def _train_front(*, data, out, n, canvas, pins, lines, workers, seed):
    """``bench train ae-target``: label crops by search (reused from OUT/labels.json), fit, write OUT/ae-target.pt."""
    import time

    from learned.front import train_front

    t0 = time.perf_counter()
    path = train_front(data=data, out=out, n=n, canvas=canvas, pins=pins, lines=lines, workers=workers, seed=seed,
                       log=lambda s: typer.echo(s))
    typer.echo(f"trained ae-target in {time.perf_counter() - t0:.0f} s")
    typer.echo(f"wrote {path}")
    typer.echo(f"wrote {Path(out) / 'fit.png'} (the training curve)")
    typer.echo(f"labels in {Path(out) / 'labels.json'} (reused by the next run with the same settings)")
