"""The whole kit from one Solution: every file made in memory, then written at once.

Example (``tests/kit`` runs the same)::

    from solvers import Problem, make_solver
    from kit import KitOptions, build_kit

    sol = make_solver("greedy").solve(Problem.create("camera", pins=288, lines=4000), rng=0)
    build_kit(sol, "kit/", KitOptions(paper="Letter", pin_mm=1.2))

Nothing is written until everything is made (:func:`rendering.fileio.write_files_atomically`), so bad
input or a failure leaves no partial kit. :func:`check_kit` checks what can be checked before a solve
(the pin spacing, the paper), so ``bench solve --kit`` refuses bad options before the long work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rendering import InputError
from rendering.errors import check_float, check_int

from .geometry import DEFAULT_PIN_MM, Geometry, check_pin_mm, check_pin_spacing
from .pages import parse_paper

#: every file of a kit; ``replay.mp4`` only where an encoder is installed
KIT_FILES = ("template.svg", "template.pdf", "instructions.pdf", "instructions.txt", "replay.gif", "replay.mp4",
             "stages.png", "preview.png", "preview_real.png")


@dataclass(frozen=True, kw_only=True)
class KitOptions:
    """What a kit is made with.

    Parameters
    ----------
    paper : "A4", "Letter", "A3", "Legal" or "WIDTHxHEIGHT" (mm), for both PDFs
    pin_mm : pin (nail) diameter, mm
    overlap_mm : overlap of neighbouring template tiles, mm
    frames : the replay's frames at most
    replay_px : the replay's picture side at most, px
    stages : line counts of the stages grid (None: 500/1000/2000/4000 where there are that many)
    real_px_per_mm : resolution of the realistic preview (None: 4 px/mm, lower for large frames)
    board, thread_colour : ``#rrggbb`` in place of the palette's board and thread colours in the realistic
        preview (None: the palette's)
    mp4 : write ``replay.mp4`` where an encoder is installed
    """

    paper: str = "A4"
    pin_mm: float = DEFAULT_PIN_MM
    overlap_mm: float = 15.0
    frames: int = 120
    replay_px: int = 256
    stages: tuple | None = None
    real_px_per_mm: float | None = None
    board: str | None = None
    thread_colour: str | None = None
    mp4: bool = True

    def __post_init__(self):
        parse_paper(self.paper)
        check_pin_mm(self.pin_mm)
        check_float("overlap_mm", self.overlap_mm, low=0.0, high=50.0, hint="the tiles' overlap in mm, e.g. 15")
        check_int("frames", self.frames, low=2, high=2000, hint="the replay's frames, e.g. 120")
        check_int("replay_px", self.replay_px, low=32, high=4096, hint="the replay's side in px, e.g. 256")
        if self.real_px_per_mm is not None:
            check_float("real_px_per_mm", self.real_px_per_mm, low=0.0, low_open=True)
        from .preview import parse_colour

        for what, value in (("board colour", self.board), ("thread colour", self.thread_colour)):
            if value:  # an override of the palette's
                parse_colour(value, what)


@dataclass
class KitResult:
    """What :func:`build_kit` wrote: ``files`` (name -> path), ``notes`` (one line each: a file not made,
    and why), ``seconds`` per part."""

    files: dict
    notes: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)


#: the most pages a template may take: past this no one prints it (a 4 m frame on A4; larger paper takes fewer)
MAX_TEMPLATE_PAGES = 400


def check_kit(layout, thread, options: KitOptions | None = None) -> None:
    """Refuse, before any work, a kit that cannot be made: pins wider than their spacing, paper too small, a
    template of more than :data:`MAX_TEMPLATE_PAGES` pages (which also bounds its time and memory)."""
    from .template import BORDER_MM, INFO_MM, plan_tiles

    options = options or KitOptions()
    check_pin_spacing(layout, thread, options.pin_mm)
    f = thread.frame_mm
    plan = plan_tiles(f + 2 * BORDER_MM, f + 2 * BORDER_MM + INFO_MM, options.paper, overlap=options.overlap_mm)
    pages = plan.rows * plan.cols
    if pages > MAX_TEMPLATE_PAGES:
        side = f / (pages / MAX_TEMPLATE_PAGES) ** 0.5
        raise InputError(f"frame_mm {f:g} needs a drill template of {pages} pages on {plan.paper}; the kit prints "
                         f"at most {MAX_TEMPLATE_PAGES}: use a smaller --frame-mm (about {side:.0f} mm or less on "
                         f"{plan.paper}) or larger --paper (e.g. --paper A3, or WIDTHxHEIGHT in mm)")


def kit_files(solution, options: KitOptions | None = None, *, title: str = "",
              seconds: dict | None = None) -> tuple[dict, list]:
    """Every kit file as ``{name: bytes}``, and the notes (one line each) of files not made.

    Parameters
    ----------
    solution : Solution (any solver's; its problem gives the layout and thread model)
    options : KitOptions
    title : a short title printed on the pages (default: the image, solver and line count)
    seconds : optional dict, filled with the seconds each part took
    """
    from rendering.fileio import png_bytes

    from . import instructions, replay, template
    from .preview import real_preview

    options = options or KitOptions()
    clock = seconds if seconds is not None else {}
    p = solution.problem
    check_kit(p.layout, p.thread, options)
    if solution.n_lines < 1:
        raise InputError("the solution has no line; nothing to build a kit from")
    title = title or " · ".join(x for x in (p.target.name, solution.solver, f"{solution.n_lines} lines") if x)
    geo = Geometry.from_solution(solution, options.pin_mm)
    files: dict[str, bytes] = {}
    notes: list[str] = []

    t = time.perf_counter()
    sheet = template.template_items(geo, title=title, budget=geo.budget())
    files["template.svg"] = template.template_svg(sheet, title=title)
    plan = template.plan_tiles(sheet.width, sheet.height, options.paper, overlap=options.overlap_mm)
    files["template.pdf"] = template.template_pdf(sheet, plan, title=title, geo=geo)
    clock["template"] = time.perf_counter() - t

    t = time.perf_counter()
    preview = solution.render()
    files["preview.png"] = png_bytes(preview)
    clock["preview"] = time.perf_counter() - t

    t = time.perf_counter()
    files["instructions.txt"] = instructions.instructions_txt(geo, title=title)
    files["instructions.pdf"] = instructions.instructions_pdf(geo, paper=options.paper, title=title,
                                                              preview=preview)
    clock["instructions"] = time.perf_counter() - t

    t = time.perf_counter()
    frames, _, _ = replay.replay_frames(solution, frames=options.frames, size=options.replay_px)
    files["replay.gif"] = replay.gif_bytes(frames)
    files["stages.png"] = replay.stages_png(solution, stages=options.stages)
    clock["replay"] = time.perf_counter() - t
    if options.mp4:
        why = replay.mp4_encoder()
        if why is None:
            t = time.perf_counter()
            files["replay.mp4"] = replay.mp4_bytes(frames)
            clock["mp4"] = time.perf_counter() - t
        else:
            notes.append(why)

    t = time.perf_counter()
    files["preview_real.png"], _ = real_preview(geo, px_per_mm=options.real_px_per_mm, board=options.board,
                                                thread=options.thread_colour)
    clock["preview_real"] = time.perf_counter() - t
    return files, notes


def build_kit(solution, out_dir, options: KitOptions | None = None, *, title: str = "") -> KitResult:
    """Make the kit of ``solution`` and write it into ``out_dir`` (created if needed), all files at once."""
    from rendering.fileio import check_out_dir, prepare_out_dir, write_files_atomically

    check_out_dir(out_dir)
    seconds: dict = {}
    files, notes = kit_files(solution, options, title=title, seconds=seconds)
    t = time.perf_counter()
    written = write_files_atomically(prepare_out_dir(out_dir), files)
    seconds["write"] = time.perf_counter() - t
    return KitResult(files=written, notes=notes, seconds=seconds)
