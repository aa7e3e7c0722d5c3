"""The ``bench`` command line: a thin layer over functions scripts can call.

User errors print one line (``error: ...``) and exit with status 2.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from rendering import BUILTIN_IMAGES, InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="String art: solvers, learned models and the benchmark that compares them.")

# shared option types
Pins = Annotated[int, typer.Option("--pins", help="Number of pins around the frame.")]
Lines = Annotated[int, typer.Option("--lines", help="Number of lines (chords) to draw.")]
Canvas = Annotated[int, typer.Option("--canvas", help="Canvas side in pixels.")]
MinGap = Annotated[Optional[int], typer.Option("--min-gap", help="Min pin distance of a chord [default: 20 at 288 pins, scaled].")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same result.")]


Device = Annotated[str, typer.Option("--device", help="auto|cpu|cuda for solvers that have a device option; "
                                                    "auto picks CUDA when present.")]


def parse_value(text: str):
    """An option value: JSON when it parses (numbers, true/false, null, lists), else the text itself."""
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_key_values(values: list[str] | None) -> dict:
    """``["refine=true", "shortlist=16"]`` -> ``{"refine": True, "shortlist": 16}``."""
    out = {}
    for v in values or []:
        key, eq, value = str(v).partition("=")
        if not eq or not key.strip():
            raise InputError(f"--option takes KEY=VALUE, got '{v}'; e.g. --option refine=true")
        out[key.strip()] = parse_value(value)
    return out


def with_device(solver: str, options: dict, device: str) -> dict:
    """Add ``device`` to a solver's options when its config has that field (CPU-only solvers ignore it)."""
    import dataclasses

    from solvers import get_entry

    fields = {f.name for f in dataclasses.fields(get_entry(solver).cls.Config)}
    if "device" in fields and "device" not in options:
        from rendering.device import resolve_device

        # resolved here, so that probing for a GPU is not counted in the solver's seconds
        return {**options, "device": resolve_device(device)}
    if device == "cuda" and "device" not in fields:
        raise InputError(f"solver {solver} runs on the CPU only, got --device cuda; use --device auto or cpu")
    return options


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def user_errors(fn):
    """Turn InputError (and other ValueErrors from checks) into one line and exit 2."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (InputError, ValueError) as e:
            if os.environ.get("STRINGART_DEBUG"):
                raise
            fail(str(e).splitlines()[0] if str(e) else type(e).__name__)

    return wrapper


@app.command("solve")
@user_errors
def solve_cmd(
    image: Annotated[str, typer.Argument(help="Image file, or a built-in name (see `bench images`).")],
    solver: Annotated[str, typer.Option("--solver", "-s", help="Solver name (see `bench solvers`).")] = "greedy",
    pins: Pins = 288, lines: Lines = 4000, canvas: Canvas = 512, min_gap: MinGap = None, seed: Seed = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
    shape: Annotated[str, typer.Option(help="Frame shape: circle or rect.")] = "circle",
    jitter: Annotated[float, typer.Option(help="Angular pin jitter, fraction of the pin spacing.")] = 0.0,
    frame_mm: Annotated[float, typer.Option("--frame-mm", help="Frame diameter (or side) in mm.")] = 600.0,
    thread_mm: Annotated[float, typer.Option("--thread-mm", help="Thread diameter in mm.")] = 0.2,
    opacity: Annotated[float, typer.Option(help="Darkening of one full-coverage pass, (0, 1].")] = 1.0,
    contrast: Annotated[bool, typer.Option(help="Stretch the target's contrast first.")] = False,
    gamma: Annotated[float, typer.Option(help="Gamma applied to the target (>1 darkens mid-tones).")] = 1.0,
    option: Annotated[Optional[list[str]], typer.Option(
        "--option", "-O", help="Solver option KEY=VALUE (repeatable), e.g. -O refine_sweeps=2.")] = None,
    device: Device = "auto",
):
    """Turn one image into string art; write preview PNG, pins TXT/CSV/JSON and SVG."""
    from solvers import get_entry

    from .solve import solve

    get_entry(solver)  # unknown names fail before any work
    if device not in ("auto", "cpu", "cuda"):
        raise InputError(f"--device must be auto, cpu or cuda, got '{device}'")
    options = with_device(solver, parse_key_values(option), device)
    res = solve(image, solver=solver, pins=pins, lines=lines, canvas=canvas, min_gap=min_gap, seed=seed,
                shape=shape, jitter=jitter, frame_mm=frame_mm, thread_mm=thread_mm, opacity=opacity,
                contrast=contrast, gamma=gamma, out=out, solver_options=options,
                progress=lambda m: typer.echo(f"... {m}", err=True))
    sol = res.solution
    typer.echo(f"{solver}: {sol.n_lines} lines, {pins} pins, {canvas} px, {sol.seconds:.3f} s, "
               f"thread {sol.thread_length_m():.1f} m")
    typer.echo(f"{'':10s} {'SSIM':>7s} {'L1':>7s} {'PSNR':>7s}   (viewing scale; full resolution: SSIM L1)")
    rows = [(solver, res.metrics), ("blank", res.references["blank"]), ("flat", res.references["flat"])]
    for name, m in rows:
        typer.echo(f"{name:10s} {m['ssim']:7.4f} {m['l1']:7.4f} {m['psnr']:7.2f}   "
                   f"{m['ssim_full']:.4f} {m['l1_full']:.4f}")
    for path in res.files.values():
        typer.echo(f"wrote {path}")


@app.command("images")
def images_cmd():
    """List the built-in images (shipped inside installed packages)."""
    for name, (_, desc) in BUILTIN_IMAGES.items():
        typer.echo(f"{name:14s} {desc}")


@app.command("solvers")
def solvers_cmd():
    """List the registered solvers."""
    from solvers import get_entry, solver_names

    names = solver_names()
    width = max(map(len, names), default=0)
    for name in names:
        typer.echo(f"{name:{width}s}  {get_entry(name).description}")


# Command groups that live in their own modules register on `app` when imported here
# (one import line per module, e.g. `from . import run_cmd  # noqa: E402,F401`).
# -- command modules --
from . import run_cmd  # noqa: E402,F401
from . import train_cmd  # noqa: E402,F401


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
