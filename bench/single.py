"""One image, one solver: the function behind ``bench solve``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from kit.results import FORMATS
from rendering import ThreadModel
from rendering.fileio import check_out_dir
from solvers import DEFAULT_SOLVER, Problem, Solution, get_entry, make_solver


@dataclass
class SolveResult:
    """What :func:`solve` returns.

    Attributes
    ----------
    solution : Solution
    metrics : dict, the solution's scores (:meth:`solvers.Solution.scores`)
    references : dict, the bare board's and the flat-tone canvas's scores (:meth:`solvers.Problem.references`)
    files : dict, format -> path of each file written
    timings : dict, seconds per phase (``image``, ``table``, ``prepare``, ``solve``, ``score``, ``write``, ``kit``)
    note : str or None, one line when fewer lines were drawn than asked (:meth:`Solution.shortfall`)
    kit_notes : list of str, one line for each kit file not made (e.g. no MP4 encoder)
    notes : list of str, other lines worth saying (a thread of the palette that drew no line)
    """

    solution: Solution
    metrics: dict
    references: dict
    files: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    note: str | None = None
    kit_notes: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def default_solver(colors=None, board=None) -> str:
    """The solver used when none is named: :data:`solvers.DEFAULT_SOLVER` for one black thread on white,
    :data:`solvers.DEFAULT_COLOUR_SOLVER` for any other threads (``colors``, or a ``board`` that needs them)."""
    from rendering.colour import threads_for
    from solvers import DEFAULT_COLOUR_SOLVER

    return DEFAULT_SOLVER if threads_for(colors, board) is None else DEFAULT_COLOUR_SOLVER


def _precompile_elsewhere(solver: str, options: dict, problem):
    """Start a second process compiling ``solver``'s kernels (:meth:`solvers.Solver.precompile`) while this one
    builds the chord table: a first run compiles on both cores. Its errors are ignored (``prepare`` compiles
    whatever it left)."""
    import json
    import subprocess
    import sys

    t = problem.thread
    code = ("import json, sys\n"
            "from rendering import ThreadModel\n"
            "from solvers import make_solver\n"
            "a = json.loads(sys.argv[1])\n"
            "make_solver(a['solver'], **a['options']).precompile(pins=a['pins'], min_gap=a['min_gap'], "
            "shape=a['shape'], thread=ThreadModel(**a['thread']))\n")
    arg = json.dumps(dict(solver=solver, options=options, pins=problem.layout.n_pins, min_gap=problem.min_gap,
                          shape=problem.layout.shape,
                          thread=dict(frame_mm=t.frame_mm, thread_mm=t.thread_mm, opacity=t.opacity)))
    try:
        return subprocess.Popen([sys.executable, "-c", code, arg], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return None


#: ``lines="auto"``: the most lines a thread may draw before it stops where no line lowers the error
AUTO_LINES = 12000


def _auto_problem(image, *, pins, canvas, min_gap, lines=None, **kw) -> Problem:
    """A problem for ``--lines auto``: the budget is :data:`AUTO_LINES`, or every chord (in each colour) when there
    are fewer."""
    from rendering import default_min_gap, get_chord_set
    from rendering.colour import check_palette_spec, threads_for
    from rendering.layout import PinLayout

    gap = default_min_gap(pins) if min_gap is None else min_gap
    n = get_chord_set(PinLayout(n_pins=pins, canvas=canvas, shape=kw.get("shape", "circle"),
                                jitter=kw.get("jitter", 0.0)), gap).n_chords
    n *= check_palette_spec(threads_for(kw.get("colors"), kw.get("board")) or "black", kw.get("board"))[0]
    return Problem.create(image, pins=pins, lines=min(AUTO_LINES, n), canvas=canvas, min_gap=min_gap, **kw)


def solve(image, *, solver: str = DEFAULT_SOLVER, pins: int = 288, lines: int | str = 4000, canvas: int = 512,
          min_gap: int | None = None, seed: int | None = 0, shape: str = "circle", jitter: float = 0.0,
          frame_mm: float = 600.0, thread_mm: float = 0.2, opacity: float = 1.0, contrast: bool = False,
          gamma: float = 1.0, exposure: str = "off", clahe: bool = False, crop: str = "center", importance=None,
          importance_strength: float = 2.0, out: str | Path | None = None, formats=FORMATS,
          solver_options: dict | None = None, progress=None, kit=False, colors=None, board=None,
          listener=None, faces: str = "off", on_problem=None) -> SolveResult:
    """Solve one image with one registered solver, score it, and optionally write the result (and the kit).

    Threads: ``colors`` (``"auto:K"`` or ``"black,red,#1e90ff"``) on ``board`` (``"white"``, ``"black"``,
    ``#rrggbb``; see :meth:`solvers.Problem.create`) need a solver of any threads (``colour-greedy``,
    ``colour-dither``); the metrics then add CIEDE2000 beside the luminance's.

    ``lines="auto"``: the solver (one with an ``early_stop`` option: the greedy
    family) draws until no line lowers its error, at most :data:`AUTO_LINES`.
    The front end (``exposure``, ``clahe``, ``crop``, ``importance``) is
    :meth:`solvers.Problem.create`'s; the scores are against the photo.

    The output folder is checked before any work but created only when the
    files are written (atomically), so bad input or an interrupted solve leaves
    nothing behind. ``progress`` (optional) is called with a line before each
    slow phase: loading or building the chord table, compiling kernels on a
    first run, preparing and running the solver. ``listener``: a
    :class:`solvers.Progress` that hears the lines as the solver chooses them (and can cancel).
    ``faces`` (``"off"``, ``"auto"``, ``"on"``; :meth:`rendering.Target.with_faces`) weighs the error on
    faces; they are looked for in a thread while the solver gets ready, so ``auto`` costs little time.
    ``kit`` (True or a :class:`kit.KitOptions`) also writes the maker's kit into ``out``
    (checked before the solve, made before anything is written). The solution is rendered once: its
    scores, its preview and its kit share the render. ``on_problem`` (optional) is called with the
    :class:`solvers.Problem` once it is made, before the chord table (the page draws its frame from it).
    """
    from rendering import InputError, is_cached, needs_compiling
    from rendering.faces import check_available, check_faces_mode

    if check_faces_mode(faces) == "on" or crop == "auto":
        check_available()  # the faces extra, before any work

    say = progress or (lambda _m: None)
    clock = {}
    out_dir = check_out_dir(out) if out is not None else None  # checked before the long work
    thread = ThreadModel(frame_mm=frame_mm, thread_mm=thread_mm, opacity=opacity)
    options = dict(solver_options or {})
    asked = lines
    if lines == "auto":
        import dataclasses

        fields = {f.name for f in dataclasses.fields(get_entry(solver).cls.Config)}
        if "early_stop" not in fields:
            raise InputError(f"--lines auto needs a solver that can stop where no line helps (the greedy family), "
                             f"not {solver}; give a number of lines")
        options["early_stop"] = True
        lines = AUTO_LINES
    solver_obj = make_solver(solver, **options)
    kit_options = None
    if kit and out_dir is not None:
        from kit import KitOptions, check_kit

        kit_options = kit if isinstance(kit, KitOptions) else KitOptions()
        # pins too wide, paper too small, a template no one can print: before the picture is loaded
        check_kit(_layout_for(pins, canvas, shape, jitter), thread, kit_options)
    t = time.perf_counter()
    make = Problem.create if asked != "auto" else _auto_problem
    problem = make(image, pins=pins, lines=lines, canvas=canvas, min_gap=min_gap, shape=shape, jitter=jitter,
                   thread=thread, contrast=contrast, gamma=gamma, exposure=exposure, clahe=clahe, crop=crop,
                   importance=importance, importance_strength=importance_strength, colors=colors, board=board)
    solver_obj.check(problem)  # a solver that cannot draw these threads: before the table is built
    clock["image"] = time.perf_counter() - t
    looking = None
    if check_faces_mode(faces) != "off":  # faces are found while the table loads and the solver gets ready
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(1, thread_name_prefix="faces")
        looking = pool.submit(problem.target.with_faces, faces, mask=problem.mask)
        pool.shutdown(wait=False)
    if on_problem is not None:
        on_problem(problem)
    cached = is_cached(problem.layout, problem.min_gap, problem.width_px)
    helper = None
    kernels = solver_obj.jit_kernels()
    if needs_compiling(*kernels, build_table=not cached, invert_table=not cached and bool(kernels)):
        say("compiling kernels: first run of this solver after install only, 10-30 s")
        helper = _precompile_elsewhere(solver, solver_options or {}, problem) if not cached else None
    try:
        say(f"{'loading' if cached else 'building'} the chord table for {pins} pins at {canvas} px"
            + ("" if cached else " (first time for these settings; then cached)"))
        t = time.perf_counter()
        problem.table  # noqa: B018  (build or load the table before timing the solver)
        clock["table"] = time.perf_counter() - t
        say(f"preparing {solver}")
        t = time.perf_counter()
        if helper is not None:
            helper.wait(timeout=600)  # the solver's kernels, compiled meanwhile by the helper: loaded from the cache
        solver_obj.prepare(problem)
        clock["prepare"] = time.perf_counter() - t
    finally:
        if helper is not None and helper.poll() is None:
            helper.kill()
    if looking is not None:
        t = time.perf_counter()
        import dataclasses

        problem = dataclasses.replace(problem, target=looking.result())
        clock["faces"] = time.perf_counter() - t
    say(f"solving with {solver}")
    solution = solver_obj.solve(problem, rng=seed, progress=listener)
    clock["solve"] = solution.seconds
    t = time.perf_counter()
    metrics = solution.scores()
    refs = problem.references()
    clock["score"] = time.perf_counter() - t
    files = {}
    kit_notes: list = []
    if out_dir is not None:
        kit_files = None
        if kit_options is not None:
            from kit import kit_files as make_kit_files

            t = time.perf_counter()
            say("making the kit")
            kit_files, kit_notes = make_kit_files(solution, kit_options)  # all in memory before anything is written
            clock["kit"] = time.perf_counter() - t
        t = time.perf_counter()
        from kit.results import write_result

        stem = f"{Path(problem.target.name).stem}-{solver}-{asked}"  # named by what was asked
        files = write_result(solution, out_dir, stem=stem, formats=formats, scores=metrics, references=refs,
                             extra_files=kit_files)
        clock["write"] = time.perf_counter() - t
    note = solution.shortfall()
    if asked == "auto":
        note = (f"--lines auto: {solver} drew {solution.n_lines} lines and stopped where no further line lowers its "
                f"error" if solution.extra.get("stop") == "no gain" else note)
    pal = problem.palette
    unused = [n for n, k in zip(pal.names, solution.lines_per_colour()) if k == 0]
    notes = list(problem.target.notes) + [
        f"thread {n} drew no line: no line of it lowers the error where the others are; it is left out of the kit "
        f"and its instructions (drop it from --colors)" for n in unused]
    return SolveResult(solution, metrics, refs, files, clock, note, kit_notes, notes)


def _layout_for(pins: int, canvas: int, shape: str, jitter: float):
    """The pin layout of a solve, built before its picture is loaded (its checks: one line each)."""
    from rendering import PinLayout

    return PinLayout(n_pins=pins, canvas=canvas, shape=shape, jitter=jitter)
