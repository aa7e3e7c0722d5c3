"""``bench train MODEL``: train a learned model (a thin layer over :func:`learned.train.train`)."""


from pathlib import Path
from typing import Annotated, Optional

import typer

from .cli_common import Pins, Seed, parse_key_values, user_errors


@user_errors
def train_cmd(
    model: Annotated[str, typer.Argument(help="Model to train: a name in learned.models.MODELS, e.g. ae-chords "
                                              "(an unknown name lists them).")],
    data: Annotated[Optional[Path], typer.Option("--data", help="Folder of training images (recursive)  "
                                                 "[default: the offline pool of packaged images].")] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="Number of epochs.")] = 8,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda or auto.")] = "auto",
    seed: Seed = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (checkpoints, history, loss.png).")]
    = Path("runs/train"),
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/last.pt.  [default: start afresh]")] = False,
    pins: Pins = 288,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Pictures per batch.")] = 16,
    train_crops: Annotated[int, typer.Option("--train-crops", help="Training crops drawn from the pool.")] = 1200,
    val_crops: Annotated[int, typer.Option("--val-crops", help="Validation crops.")] = 48,
    lr: Annotated[float, typer.Option("--lr", help="Adam learning rate.")] = 2e-3,
    canvas: Annotated[Optional[int], typer.Option("--canvas", help="Training canvas in px [default: 128 for "
                                                   "ae-chords, 64 for ae-seed].")] = None,
    max_minutes: Annotated[Optional[float], typer.Option("--max-minutes", help="Stop after the epoch that "
                                                          "passes this wall time  [default: no limit].")] = None,
    w_dec: Annotated[Optional[float], typer.Option("--w-dec", help="ae-seed: decoder loss weight  [default: 1, the seed's].")]
    = None,
    w_art: Annotated[Optional[float], typer.Option("--w-art", help="ae-seed: string-art loss weight  [default: 1, the seed's].")]
    = None,
    threads: Annotated[Optional[int], typer.Option("--threads", help="torch CPU threads [default: <= 2].")] = None,
    model_opt: Annotated[Optional[list[str]], typer.Option("--model-opt", help="Model config KEY=VALUE "
                                                           "(repeatable), e.g. w_distill=1  [default: none].")] = None,
):
    """Train a learned model; writes OUT/MODEL.pt (best epoch), OUT/last.pt (resume), loss.png."""
    from learned.models import MODELS
    from learned.train import TrainConfig, train

    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of: {', '.join(sorted(MODELS))}")
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
