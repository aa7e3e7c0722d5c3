"""``bench kit`` (the maker's build kit), ``bench wind`` (the winding assistant) and ``bench calibrate``.

A thin layer over :mod:`kit`. Heavy imports (matplotlib, the solvers) happen inside the
commands, so ``bench --help`` stays fast.
"""

import functools
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from rendering import InputError

from .cli_common import user_errors

#: the kit's option names as the library says them -> as typed
KIT_OPTION_NAMES = {"pin_mm": "--pin-mm", "overlap_mm": "--overlap-mm", "frames": "--frames",
                    "replay_px": "--replay-px", "real_px_per_mm": "--real-px-per-mm", "thread_mm": "--thread-mm",
                    "line": "--line", "board colour": "--board", "thread colour": "--thread-colour"}

PinMm = Annotated[float, typer.Option("--pin-mm", help="Pin (nail) diameter in mm; the kit refuses pins wider than "
                                                       "their spacing.")]
Paper = Annotated[str, typer.Option("--paper", help="Paper of the PDFs: A4, Letter, A3, Legal or WIDTHxHEIGHT in mm.")]


def kit_errors(fn):
    """One line naming the option (the kit's own names first), exit 2: :func:`bench.cli_common.user_errors`."""
    return user_errors(fn, KIT_OPTION_NAMES)


def _parse_stages(text: Optional[str]):
    if not text:
        return None
    try:
        values = tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise InputError(f"--stages takes line counts separated by commas, got {text!r}; e.g. "
                         f"--stages 500,1000,2000,4000") from None
    if not values or min(values) < 1:
        raise InputError(f"--stages takes positive line counts, got {text!r}; e.g. --stages 500,1000,2000,4000")
    return values


@kit_errors
def kit_cmd(
    result: Annotated[Path, typer.Argument(help="An output folder of `bench solve`, or its result .json (or .txt).")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output folder [default: the result's folder].")]
    = None,
    paper: Paper = "A4",
    pin_mm: PinMm = 1.5,
    overlap_mm: Annotated[float, typer.Option("--overlap-mm", help="Overlap of neighbouring template pages, mm.")]
    = 15.0,
    frames: Annotated[int, typer.Option("--frames", help="Frames of the replay at most.")] = 120,
    stages: Annotated[Optional[str], typer.Option("--stages", help="Line counts of stages.png, e.g. 500,1000,2000,4000 "
                                                                  "[default: those up to the line count].")] = None,
    board: Annotated[Optional[str], typer.Option("--board", help="Board colour of preview_real.png (#rrggbb) "
                                                                "[default: the result's board].")] = None,
    mp4: Annotated[bool, typer.Option("--mp4/--no-mp4", help="Write replay.mp4 where an encoder is installed.")]
    = True,
):
    """Build the maker's kit of a result: template (SVG, tiled PDF), instructions (PDF, TXT), replay (GIF, MP4),
    stages.png, preview.png and preview_real.png."""
    import time

    from kit import KitOptions, build_kit, load_solution
    from rendering.fileio import check_out_dir

    start = time.perf_counter()
    options = KitOptions(paper=paper, pin_mm=pin_mm, overlap_mm=overlap_mm, frames=frames,
                         stages=_parse_stages(stages), board=board, mp4=mp4)
    loaded = load_solution(result)
    out_dir = out if out is not None else loaded.folder
    check_out_dir(out_dir)
    try:
        res = build_kit(loaded.solution, out_dir, options, title=loaded.title)
    except KeyboardInterrupt:
        typer.echo("\ninterrupted; nothing was written", err=True)
        raise typer.Exit(130) from None
    for note in res.notes:
        typer.echo(f"note: {note}", err=True)
    for path in res.files.values():
        typer.echo(f"wrote {path}")
    typer.echo(f"kit of {loaded.title}: {len(res.files)} files in {time.perf_counter() - start:.1f} s")


@kit_errors
def wind_cmd(
    result: Annotated[Path, typer.Argument(help="An output folder of `bench solve`, or its result .json.")],
    restart: Annotated[bool, typer.Option("--restart", help="Start again from line 1 (forget the saved place).")]
    = False,
    line: Annotated[Optional[int], typer.Option("--line", help="Go to this line (1-based) first [default: where "
                                                              "you stopped].")] = None,
    pin_mm: PinMm = 1.5,
    ascii_only: Annotated[bool, typer.Option("--ascii", help="Draw the big numbers with '#' (no Unicode).")] = False,
):
    """Wind step by step in the terminal: the next pin large, the block, the progress and the thread used.

    Enter or space: next line; b: back; q: quit. The place is saved in the result's folder after every key,
    and the next `bench wind` resumes there.
    """
    from kit import load_solution
    from kit.geometry import Geometry
    from kit.wind import Winder, progress_path

    loaded = load_solution(result)
    geo = Geometry.from_solution(loaded.solution, pin_mm, check=False)
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    winder = Winder(geo, progress_path(loaded.json_path), title=loaded.title,
                    ascii_only=ascii_only or not encoding.startswith("utf"))
    winder.check_writable()
    if not restart:
        winder.load()
    if line is not None:
        winder.go(line)
    # a terminal: one key at a time (raw mode); piped or scripted input: each character is a key
    getkey = _getchar if sys.stdin.isatty() else functools.partial(sys.stdin.read, 1)
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    outcome = winder.run(getkey, lambda text: typer.echo(text), clear=_clear if tty else None)
    where = winder.progress_file.name
    if outcome == "finished":
        typer.echo(f"finished: all {winder.n} lines wound (saved in {where})")
    else:
        typer.echo(f"saved: {winder.done} of {winder.n} lines wound, in {where}; `bench wind {result}` goes on "
                   f"from line {min(winder.done + 1, winder.n)}")


def _getchar() -> str:
    """One key from the terminal, in raw mode (an arrow's escape sequence arrives whole; Ctrl-C is ``\x03``)."""
    import os
    import termios
    import tty

    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        return os.read(fd, 32).decode(errors="replace")
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


def _clear() -> None:
    sys.stdout.write("\x1b[2J\x1b[H")
    sys.stdout.flush()


calibrate_app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                            help="Thread calibration: print a test pattern, wind it, fit a photo of it.")


@calibrate_app.command("sheet")
@kit_errors
def calibrate_sheet_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("calibration"),
    paper: Paper = "A4",
    thread_mm: Annotated[float, typer.Option("--thread-mm", help="Your thread's diameter in mm (for the lengths).")]
    = 0.2,
    pin_mm: PinMm = 1.5,
):
    """Write the calibration sheet: a 1:1 template with four corner marks, its winding list and a preview."""
    from kit.calibrate import calibration_sheet
    from rendering.fileio import check_out_dir, prepare_out_dir, write_files_atomically

    check_out_dir(out)
    files = calibration_sheet(paper=paper, thread_mm=thread_mm, pin_mm=pin_mm)
    written = write_files_atomically(prepare_out_dir(out), files)
    for path in written.values():
        typer.echo(f"wrote {path}")
    typer.echo("next: print calibration.pdf at 100 %, glue it on a board, put pins at the crosses, wind the list "
               "in calibration-instructions.pdf, photograph it square-on, then `bench calibrate fit PHOTO`")


@calibrate_app.command("fit")
@kit_errors
def calibrate_fit_cmd(
    photo: Annotated[Path, typer.Argument(help="Photo of the wound calibration sheet (all four corner marks in "
                                               "view).")],
    thread_mm: Annotated[float, typer.Option("--thread-mm", help="Your thread's diameter in mm.")] = 0.2,
    bare: Annotated[Optional[Path], typer.Option("--bare", help="Photo of the bare sheet (before winding), same "
                                                               "light, to divide by [default: none: the light is "
                                                               "fitted to the bare board in the photo].")] = None,
):
    """Fit the thread's opacity (or width) to a photo of the wound calibration sheet; print the options to use."""
    from kit.calibrate import fit_photo

    fit = fit_photo(photo, thread_mm=thread_mm, bare=bare)
    for line in fit.advice():
        typer.echo(line)
