"""``bench solve`` (one image, one solver), ``bench images`` and ``bench solvers`` (what there is).

A thin layer over :func:`bench.solve.solve` and the solver registry.
"""


import contextlib
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

_IMPORTED = time.perf_counter()

import typer  # noqa: E402  (timed after this module starts)

from .cli_common import (  # noqa: E402  (timed after this module starts)
    Board, Canvas, Colors, Device, MinGap, Pins, Seed, parse_key_values, user_errors, with_device)


@user_errors
def solve_cmd(
    image: Annotated[str, typer.Argument(help="Image file, or a built-in name (see `bench images`).")],
    solver: Annotated[Optional[str], typer.Option(
        "--solver", "-s", help="Solver name (see `bench solvers`)  [default: greedy-view, the best solver within "
                               "0.5 s at 288 pins, 4000 lines, 512 px (solvers.DEFAULT_SOLVER)].")] = None,
    pins: Pins = 288,
    lines: Annotated[str, typer.Option("--lines", help="Number of lines (chords) to draw, or auto: draw until no "
                                                     "line lowers the error (greedy family).")] = "4000",
    canvas: Canvas = 512, min_gap: MinGap = None, seed: Seed = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
    shape: Annotated[str, typer.Option(help="Frame shape: circle, or square (also called rect).")] = "circle",
    jitter: Annotated[float, typer.Option(help="Angular pin jitter, fraction of the pin spacing.")] = 0.0,
    frame_mm: Annotated[float, typer.Option("--frame-mm", help="Frame diameter (or side) in mm.")] = 600.0,
    thread_mm: Annotated[float, typer.Option("--thread-mm", help="Thread diameter in mm.")] = 0.2,
    opacity: Annotated[float, typer.Option(help="Darkening of one full-coverage pass, (0, 1].")] = 1.0,
    contrast: Annotated[bool, typer.Option(help="Stretch the target's contrast first.")] = False,
    gamma: Annotated[float, typer.Option(help="Gamma applied to the target (>1 darkens mid-tones).")] = 1.0,
    exposure: Annotated[str, typer.Option(help="Exposure repair: off, auto (only for a badly exposed photo) or "
                                               "force.")] = "off",
    clahe: Annotated[bool, typer.Option("--clahe", help="Local contrast (CLAHE) on the target.  [default: off]")]
    = False,
    crop: Annotated[str, typer.Option(help="The square taken from the picture: center, fit (all of it, padded "
                                           "white), auto (a face as head and shoulders, else the salient subject; "
                                           "prints the crop it chose) or LEFT,TOP,SIZE in its pixels.")] = "center",
    faces: Annotated[str, typer.Option("--faces", help="Weigh the error more on faces, most on eyes and mouth: "
                                                       "auto (when a face is found and the faces extra is "
                                                       "installed), on, or off.")] = "auto",
    importance: Annotated[Optional[str], typer.Option(
        "--importance", help="Weight the error: edges, saliency, both, or a mask picture (white = important)  "
                             "[default: even].")] = None,
    importance_strength: Annotated[float, typer.Option("--importance-strength", help="How much more an important "
                                                       "pixel counts (1 + strength).")] = 2.0,
    option: Annotated[Optional[list[str]], typer.Option(
        "--option", "-O", help="Solver option KEY=VALUE (repeatable), e.g. -O refine_sweeps=2.")] = None,
    device: Device = "auto",
    timings: Annotated[bool, typer.Option("--timings", help="Print the seconds of each phase (start-up, image, "
                                                          "table, prepare, solve, score, write).  [default: off]")]
    = False,
    kit: Annotated[bool, typer.Option("--kit", help="Also write the maker's kit (template, instructions, replay, "
                                                  "previews; see `bench kit`) into --out.  [default: off]")] = False,
    colors: Colors = None,
    board: Board = None,
    pin_mm: Annotated[float, typer.Option("--pin-mm", help="With --kit: the pin (nail) diameter in mm; the kit "
                                                           "refuses pins wider than their spacing.")] = 1.5,
    paper: Annotated[str, typer.Option("--paper", help="With --kit: paper of the PDFs: A4, Letter, A3, Legal or "
                                                       "WIDTHxHEIGHT in mm.")] = "A4",
):
    """Turn one image into string art; write preview PNG, pins TXT/CSV/JSON and SVG."""
    from solvers import get_entry

    from .single import default_solver, solve

    solver = solver or default_solver(colors, board)

    get_entry(solver)  # unknown names fail before any work
    from rendering.derived import map_pixel_tables

    map_pixel_tables()  # one solve in this process: mapping greedy's copy beats reading it in (0.05 s vs 0.25 s)
    options = with_device(solver, parse_key_values(option), device)
    from solvers import Cancelled, Progress

    listener = Progress()  # no callback: only a cancel flag, which Ctrl-C sets (the kernels read it per line)
    try:
        with _cancel_on_interrupt(listener):
            res = solve(image, solver=solver, pins=pins, lines=_lines(lines), canvas=canvas, min_gap=min_gap,
                        seed=seed, shape=shape, jitter=jitter, frame_mm=frame_mm, thread_mm=thread_mm,
                        opacity=opacity, contrast=contrast, gamma=gamma, exposure=exposure, clahe=clahe, crop=crop,
                        importance=importance, importance_strength=importance_strength, out=out,
                        solver_options=options, progress=lambda m: typer.echo(f"... {m}", err=True),
                        kit=_kit_options(kit, pin_mm, paper), colors=colors, board=board, faces=faces,
                        listener=listener)
    except (KeyboardInterrupt, Cancelled):
        typer.echo("\ninterrupted; nothing was written", err=True)
        raise typer.Exit(130) from None
    for note in ([res.note] if res.note else []) + res.notes:
        typer.echo(f"note: {note}", err=True)
    for note in res.kit_notes:
        typer.echo(f"note: {note}", err=True)
    _print_result(solver, res, pins, canvas)
    for path in res.files.values():
        typer.echo(f"wrote {path}")
    if timings:
        parts = {"start-up": _since_process_start() - sum(res.timings.values()), **res.timings}
        typer.echo("timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items() if v is not None)
                   + f", total {_since_process_start():.2f} s", err=True)


def _print_result(solver: str, res, pins: int, canvas: int) -> None:
    """The result: lines, time and thread (per spool when there are several), then the metrics beside the bare
    board and the flat mean picture (CIEDE2000 first where it was measured: threads other than black on white)."""
    sol = res.solution
    pal = sol.problem.palette
    head = (f"{solver}: {sol.n_lines} lines, {pins} pins, {canvas} px, {sol.seconds:.3f} s, thread "
            f"{sol.thread_length_m():.1f} m; {pal.describe()}")
    if pal.n > 1:
        per = ", ".join(f"{n} {k} lines {m:.1f} m"
                        for n, k, m in zip(pal.names, sol.lines_per_colour(), sol.thread_lengths_m()))
        head += f": {per}; {max(0, len(sol.threads) - 1)} spool switches"
    typer.echo(head)
    cols = [(k, t, f) for k, t, f in (("de2000", "dE2000", "7.2f"), ("ssim", "SSIM", "7.4f"), ("l1", "L1", "7.4f"),
                                        ("psnr", "PSNR", "7.2f")) if k in res.metrics]
    full = [k for k in ("de2000_full", "ssim_full", "l1_full") if k in res.metrics][:2]
    typer.echo(f"{'':14s} " + " ".join(f"{t:>7s}" for _, t, _ in cols) + "   (viewing scale; full resolution: "
               + " ".join(k[:-5] for k in full) + ")")
    rows = [(solver, res.metrics), ("bare board", res.references["blank"]), ("flat picture", res.references["flat"])]
    for name, m in rows:
        typer.echo(f"{name:14s} " + " ".join(f"{m[k]:{f}}" for k, _, f in cols) + "   "
                   + " ".join(f"{m[k]:.4f}" for k in full))


@contextlib.contextmanager
def _cancel_on_interrupt(listener):
    """While the block runs, a Ctrl-C (SIGINT) also sets ``listener``'s cancel flag at once: a numba kernel runs
    without returning to Python, so the KeyboardInterrupt alone would wait for the whole solve. A thread reads
    the signal's wake-up byte (:func:`signal.set_wakeup_fd`) and cancels; the kernel stops at its next line,
    and the KeyboardInterrupt follows. Outside the main thread (where signals do not go), it does nothing."""
    import os
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    r, w = os.pipe()
    os.set_blocking(w, False)
    old = signal.set_wakeup_fd(w, warn_on_full_buffer=False)

    def watch():
        while data := os.read(r, 64):
            if signal.SIGINT in data:
                listener.cancel()

    watcher = threading.Thread(target=watch, name="cancel-on-ctrl-c", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(old)
        os.close(w)  # the watcher reads the end and leaves
        watcher.join(timeout=1.0)
        os.close(r)


def _since_process_start() -> float:
    """Seconds since this process started (Linux: from /proc), else since this module was imported; in a warm
    process (:mod:`bench.warm`), since the command that it serves started."""
    import os

    warm = sys.modules.get("bench.warm")
    if warm is not None and warm.REQUEST_STARTED:
        return time.time() - warm.REQUEST_STARTED[0]
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        start = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19]) / ticks
        return float(open("/proc/uptime").read().split()[0]) - start
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _IMPORTED


def _kit_options(kit: bool, pin_mm: float, paper: str):
    """``--kit`` with its options (checked before the solve), or False."""
    if not kit:
        return False
    from kit import KitOptions

    return KitOptions(pin_mm=pin_mm, paper=paper)


def _lines(text: str):
    """``--lines``: a whole number or ``auto``."""
    from rendering import InputError

    if str(text).strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise InputError(f"--lines takes a whole number or auto, got '{text}'; e.g. --lines 4000") from None


def images_cmd():
    """List the built-in images (shipped inside installed packages) and the named image suites."""
    from rendering import BUILTIN_IMAGES

    from .plan import SUITE_NOTES, SUITES

    for name, (_, desc) in BUILTIN_IMAGES.items():
        typer.echo(f"{name:14s} {desc}")
    typer.echo("\nsuites (bench run --images NAME):")
    for name, members in SUITES.items():
        typer.echo(f"{name:14s} {', '.join(members)}: {SUITE_NOTES[name]}")


def solvers_cmd():
    """List the registered solvers, by family, and those this install cannot run (with what they need)."""
    from solvers import get_entry, solver_names

    names = solver_names()
    width = max(map(len, names), default=0)
    for name in names:
        e = get_entry(name)
        steps = getattr(e.cls, "composition", ())
        line = f"{name:{width}s}  [{e.cls.family}] {e.description}"
        if len(steps) > 1:
            line += f" (steps: {' -> '.join(steps)})"
        if e.unavailable:
            line += f"  -- unavailable here: {e.unavailable}"
        typer.echo(line)
