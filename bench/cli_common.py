"""What the ``bench`` commands share: option types, option parsers and the one-line user errors.

The command modules (:mod:`bench.solve_cmd`, :mod:`bench.run_cmd`,
:mod:`bench.train_cmd`) import this and nothing else of the CLI;
:mod:`bench.cli` builds the app from them. Kept light: no heavy import here.
"""


import os
from typing import Annotated, Optional

import typer

from rendering import InputError

# shared option types
Pins = Annotated[int, typer.Option("--pins", help="Number of pins around the frame.")]
Lines = Annotated[int, typer.Option("--lines", help="Number of lines (chords) to draw.")]
Canvas = Annotated[int, typer.Option("--canvas", help="Canvas side in pixels.")]
MinGap = Annotated[Optional[int], typer.Option("--min-gap", help="Min pin distance of a chord "
                                                                 "[default: 20 at 288 pins, scaled].")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same result.")]


Device = Annotated[str, typer.Option("--device", help="auto|cpu|cuda for solvers that have a device option; "
                                                    "auto picks CUDA when present.")]
Colors = Annotated[Optional[str], typer.Option(
    "--colors", "--colours", help="Colour threads: auto:K (K threads chosen for the picture from the thread table) or "
                                  "a list like black,red,#1e90ff  [default: one black thread].")]
Board = Annotated[Optional[str], typer.Option(
    "--board", help="The board's colour: white, black, a thread name or #rrggbb; without --colors a thread that "
                    "shows on it (black, or white on a dark board)  [default: white].")]


def parse_value(text: str):
    """An option value: JSON when it parses (numbers, true/false, null, lists), else the text itself."""
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_key_values(values: list[str] | None, *, option: str = "--option", example: str = "refine=true") -> dict:
    """``["refine=true", "shortlist=16"]`` -> ``{"refine": True, "shortlist": 16}`` (values read as JSON, else text).

    ``option`` and ``example`` name the command-line option in the error for an item without ``=``.

    >>> parse_key_values(["refine=true", "shortlist=16", "name=x"])
    {'refine': True, 'shortlist': 16, 'name': 'x'}
    """
    out = {}
    for v in values or []:
        key, eq, value = str(v).partition("=")
        if not eq or not key.strip():
            raise InputError(f"{option} takes KEY=VALUE, got '{v}'; e.g. {option} {example}")
        out[key.strip()] = parse_value(value)
    return out


def with_device(solver: str, options: dict, device: str) -> dict:
    """Add ``device`` to a solver's options when its config has that field (CPU-only solvers ignore it)."""
    import dataclasses

    from rendering.device import check_device
    from solvers import get_entry

    device = check_device(device, name="--device")
    fields = {f.name for f in dataclasses.fields(get_entry(solver).cls.Config)}
    if "device" in fields and "device" not in options:
        from rendering.device import auto_fallback_notice, resolve_device

        # resolved here, so that probing for a GPU is not counted in the solver's seconds
        resolved = resolve_device(device)
        if device == "auto" and resolved == "cpu" and (notice := auto_fallback_notice()):
            typer.echo(f"note: {notice}", err=True)
        return {**options, "device": resolved}
    if device == "cuda" and "device" not in fields:
        raise InputError(f"solver {solver} runs on the CPU only, got --device cuda; use --device auto or cpu")
    return options


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


#: The library's names for what the user typed as options: an error that starts with one names the option.
OPTION_NAMES = {"n_pins": "--pins", "pins": "--pins", "lines": "--lines", "canvas": "--canvas",
                "min_gap": "--min-gap", "thread width": "--thread-mm (the thread width)", "thread_mm": "--thread-mm",
                "frame_mm": "--frame-mm", "opacity": "--opacity", "gamma": "--gamma", "jitter": "--jitter",
                "shape": "--shape", "seed": "--seed", "seeds": "--seeds", "workers": "--workers",
                "timeout": "--timeout", "pin_mm": "--pin-mm"}


def as_option_error(message: str, names: dict | None = None) -> str:
    """An error message with its subject renamed to the option the user typed (``names``, a command's own, first).

    >>> as_option_error("n_pins must be at most 4096, got 5000; use 3 to 4096 pins, e.g. --pins 288")
    '--pins must be at most 4096, got 5000; use 3 to 4096 pins, e.g. --pins 288'
    """
    for table in (names or {}, OPTION_NAMES):
        for name in sorted(table, key=len, reverse=True):
            if message.startswith(name + " "):
                return table[name] + message[len(name):]
    return message


def error_line(error: BaseException, names: dict | None = None) -> str:
    """The one line a user sees for a bad input: the error's first line with its subject renamed to the option
    typed (:func:`as_option_error`). The CLI prints it (:func:`user_errors`), the page's API returns it
    (``bench serve``: ``{"error": ...}``), so both say the same.

    >>> error_line(ValueError("n_pins must be at least 3, got 2; e.g. --pins 288"))
    '--pins must be at least 3, got 2; e.g. --pins 288'
    """
    text = str(error)
    return as_option_error(text.splitlines()[0], names) if text else type(error).__name__


def user_errors(fn, names: dict | None = None):
    """Turn InputError (and other ValueErrors from checks) into one line naming the option, and exit 2.

    ``names`` adds a command's own option names (checked before :data:`OPTION_NAMES`).
    """
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (InputError, ValueError) as e:
            if os.environ.get("STRINGART_DEBUG"):
                raise
            fail(error_line(e, names))

    return wrapper
