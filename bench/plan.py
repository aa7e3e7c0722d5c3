"""Planning a study: its settings resolved and checked, and the runs of its grid.

:func:`plan_study` turns the arguments of :func:`bench.harness.run_study` into
a :class:`Study`: every input checked before any work, and one
:class:`RunSpec` (plain data: it pickles to a worker process or a Dask worker)
per (solver, image, line count, replicate). Each run gets a seed derived from
the master seed, the image, the line count and the replicate
(:func:`derive_seed`; not the solver: every solver sees the same seeds).
Deterministic solvers (``stochastic = False``) run one replicate only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import zlib
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from rendering import BUILTIN_IMAGES, InputError, ThreadModel
from rendering.errors import check_int
from solvers import Problem, get_entry, make_solver, solver_names
from rendering.fileio import json_default

#: The default study (``bench run`` with no arguments): every registered solver on these.
DEFAULT_STUDY = dict(images=tuple(BUILTIN_IMAGES), pins=288, canvas=512, lines=(1000, 2000, 3000, 4000), seeds=2)
#: The smoke study (``bench run --quick``): tiny sizes and each solver's ``quick_options``.
QUICK_STUDY = dict(images=("camera",), pins=288, canvas=128, lines=(100, 200), seeds=1)
#: The colour built-ins: the images of a colour study (``bench run --colors auto:4``) unless others are named.
COLOUR_IMAGES = ("astronaut", "coffee", "chelsea", "rocket")


def study_solvers(colors=None, board=None) -> list[str]:
    """The solvers of a study that names none: every solver available here that can draw the threads asked
    for (``Solver.colours`` for threads other than one black thread on white); the ``colour`` family is left
    to studies with ``--colors``, so the default study is the one-thread comparison.

    >>> "greedy-view" in study_solvers() and "colour-greedy" not in study_solvers()
    True
    """
    draws = _drawing(colors, board)
    return [n for n in solver_names(available=True)
            if draws(get_entry(n).cls) and (get_entry(n).cls.family != "colour" or draws is not _any)]


def _any(cls) -> bool:
    return True


def _drawing(colors=None, board=None):
    """Whether a solver class can draw the threads a study asks for: any can draw one black thread on white;
    other threads need ``Solver.colours``."""
    from rendering.colour import threads_for

    return _any if threads_for(colors, board) is None else (lambda cls: cls.colours)

#: Image file suffixes picked up from a folder.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".avif", ".heic", ".heif")

#: Named image suites (``bench images`` lists them; ``bench run --images NAME`` takes one). Every default of the
#: toolkit that was tuned on built-in pictures was tuned on the ``tuning`` suite only (``Solver.tuned_on``; a test
#: checks), so the ``test`` suite is pictures no default has seen.
SUITES = {
    "builtin": tuple(BUILTIN_IMAGES),
    "tuning": ("camera", "moon", "coins", "rocket"),
    "test": ("astronaut", "grace_hopper", "coffee", "chelsea"),
    "colour": COLOUR_IMAGES,
    "portraits": ("astronaut", "camera", "grace_hopper"),
}
SUITE_NOTES = {
    "builtin": "every built-in picture (the default study)",
    "tuning": "the built-ins the defaults were tuned on (the SSIM refiner's tone weight; ae+greedy's guide)",
    "test": "the built-ins no default was tuned on",
    "colour": "the colour built-ins (the images of a study with --colors)",
    "portraits": "the built-ins with a face",
}


@dataclasses.dataclass(frozen=True)
class ImageSource:
    """An image of the study: its label in the table, where it is loaded from, and whether it was found in a
    folder (such a file that cannot be read fails its runs, with a warning; a file named itself is bad input)."""

    label: str
    source: str
    in_folder: bool = False


def resolve_images(images: Iterable[str | os.PathLike]) -> list[ImageSource]:
    """Built-in names, suite names (:data:`SUITES`), image files and folders (every image file inside, sorted)
    -> :class:`ImageSource`.

    Labels are built-in names or file stems; two images with one label are refused.
    """
    out: list[ImageSource] = []
    for item in images:
        text = str(item)
        if isinstance(item, str) and text in SUITES and not Path(text).exists():
            out.extend(ImageSource(name, name) for name in SUITES[text])
            continue
        if isinstance(item, str) and text in BUILTIN_IMAGES:
            out.append(ImageSource(text, text))
            continue
        path = Path(text).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise InputError(f"folder '{path}' holds no image files ({', '.join(IMAGE_SUFFIXES)}); "
                                 f"pass a folder with pictures, files, or built-in names")
            out.extend(ImageSource(p.stem, str(p.resolve()), in_folder=True) for p in files)
        elif path.is_file():
            out.append(ImageSource(path.stem, str(path.resolve())))
        else:
            raise InputError(f"image '{text}' is neither a built-in name, a suite, a file nor a folder; built-ins: "
                             f"{', '.join(BUILTIN_IMAGES)}; suites: {', '.join(SUITES)} (see bench images)")
    if not out:
        raise InputError("no images given; pass built-in names (see `bench images`), files or a folder")
    seen: dict[str, str] = {}
    for im in out:
        if im.label in seen and seen[im.label] != im.source:
            raise InputError(f"two images share the name '{im.label}' ({seen[im.label]} and {im.source}); "
                             f"rename one of the files")
        seen[im.label] = im.source
    named = {im.label for im in out if not im.in_folder}  # a file named itself is checked as such
    return [dataclasses.replace(im, in_folder=im.in_folder and im.label not in named)
            for im in {im.label: im for im in out}.values()]


def derive_seed(master_seed: int, image: str, lines: int, replicate: int) -> int:
    """The seed of one run: the same for every solver at one (image, lines, replicate).

    >>> derive_seed(0, "camera", 1000, 0) == derive_seed(0, "camera", 1000, 0)
    True
    >>> derive_seed(0, "camera", 1000, 0) != derive_seed(0, "camera", 1000, 1)
    True
    """
    ss = np.random.SeedSequence([int(master_seed), int(replicate), int(lines), zlib.crc32(image.encode())])
    return int(ss.generate_state(1, np.uint32)[0])


def config_json(config: dict) -> str:
    """A solver config as canonical JSON (sorted keys), the ``config`` column."""
    return json.dumps(config, sort_keys=True, default=json_default, separators=(",", ":"))


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", text)


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of the grid. Plain data, so it pickles to a process or a Dask worker."""

    solver: str
    options: dict
    config: str
    image: str
    source: str
    pins: int
    lines: int
    canvas: int
    min_gap: int | None
    seed: int
    replicate: int
    master_seed: int
    quick: bool
    problem_options: dict

    @property
    def run_id(self) -> str:
        """A stable hash of everything that defines the run (the resume key)."""
        key = json.dumps([self.solver, self.config, self.image, self.pins, self.lines, self.canvas, self.min_gap,
                          self.seed, sorted(self.problem_options.items())], default=str)
        return hashlib.sha1(key.encode()).hexdigest()[:16]

    @property
    def pin_file(self) -> str:
        """Path of the run's pin file, relative to the study folder."""
        h = hashlib.sha1(self.config.encode()).hexdigest()[:6]
        return (f"pins/{_safe(self.solver)}/{_safe(self.image)}-P{self.pins}-C{self.canvas}-L{self.lines}"
                f"-s{self.seed}-{h}.txt")


@dataclasses.dataclass
class Study:
    """A planned study: resolved settings and the runs of its grid."""

    name: str
    out: Path
    solvers: list[str]
    images: list[ImageSource]
    pins: int
    canvas: int
    lines: list[int]
    seeds: int
    master_seed: int
    min_gap: int | None
    quick: bool
    runs: list[RunSpec]
    problem_options: dict = dataclasses.field(default_factory=dict)
    #: Images found in a folder that cannot be read, ``{label: error}``: their runs fail (set by ``run_study``).
    unreadable: dict = dataclasses.field(default_factory=dict)

    def settings(self) -> dict:
        """The study's settings, as ``meta.json`` records them: ``images`` are the pictures it could read (the
        report's gallery picks the first), ``unreadable_images`` the others, when there are any."""
        images = {i.label: i.source for i in self.images if i.label not in self.unreadable}
        extra = ({"unreadable_images": {i.label: i.source for i in self.images if i.label in self.unreadable}}
                 if self.unreadable else {})
        return dict(study=self.name, solvers=self.solvers, images=images, **extra,
                    pins=self.pins, canvas=self.canvas, lines=self.lines, seeds=self.seeds,
                    master_seed=self.master_seed, min_gap=self.min_gap, quick=self.quick,
                    problem_options=self.problem_options, n_runs=len(self.runs))

    def target_file(self, image: ImageSource) -> str:
        """Path of an image's preprocessed target, relative to the study folder (for the gallery)."""
        return f"targets/{_safe(image.label)}-{self.canvas}.png"

    def table_order(self) -> list[RunSpec]:
        """The runs by solver, image (both in study order), lines and replicate: the order of the returned table."""
        s_rank = {n: i for i, n in enumerate(self.solvers)}
        i_rank = {im.label: i for i, im in enumerate(self.images)}
        return sorted(self.runs, key=lambda s: (s_rank[s.solver], i_rank[s.image], s.lines, s.replicate))


def _folder_name(out: str | os.PathLike) -> str:
    """A study's label from its output folder: ``results/mine`` -> ``mine``."""
    return Path(os.path.abspath(Path(out).expanduser())).name


def _as_list(value, name: str) -> list:
    if isinstance(value, (str, bytes, os.PathLike)) or not isinstance(value, Iterable):
        value = [value]
    value = list(value)
    if not value:
        raise InputError(f"{name} is empty; give at least one")
    return value


def plan_study(*, solvers: Sequence[str] | None = None, images: Sequence[str] | None = None,
               pins: int | None = None, lines: Sequence[int] | int | None = None, canvas: int | None = None,
               seeds: int | None = None, master_seed: int = 0, min_gap: int | None = None,
               solver_options: dict[str, dict] | None = None, quick: bool = False, study: str | None = None,
               out: str | os.PathLike | None = None, thread: ThreadModel | None = None, colors=None,
               board=None) -> Study:
    """Resolve a study's settings and list its runs; checks every input before any work.

    Settings left ``None`` take :data:`DEFAULT_STUDY` (or :data:`QUICK_STUDY`
    when ``quick``); ``solvers=None`` means :func:`study_solvers`. A study of other threads than one black
    thread on white (``colors``: ``"auto:K"`` or a list of threads, see :func:`rendering.parse_palette`, on
    ``board``) takes the solvers of any threads and the colour built-ins (:data:`COLOUR_IMAGES`) unless others
    are named; its runs record the colours and the board in their problem options. With
    ``quick`` each solver starts from its ``quick_options``; ``solver_options``
    (``{solver: {option: value}}``) override both. The study's name is ``study``, else the name of the
    ``out`` folder, else ``default`` (``quick`` with ``quick``); the folder is ``out``, else
    ``results/<name>``.
    """
    from rendering.colour import check_palette_spec, parse_board, threads_for

    base = QUICK_STUDY if quick else DEFAULT_STUDY
    if isinstance(colors, (list, tuple)):
        colors = ",".join(str(c) for c in colors)
    spec = threads_for(colors, board)  # None: one black thread on white
    k, _ = check_palette_spec(spec or "black", board)  # unknown colours, auto:0, a thread of the board's colour
    names = study_solvers(colors, board) if solvers is None else [str(s) for s in _as_list(solvers, "solvers")]
    for n in names:
        get_entry(n)  # unknown names fail here, with the list of known ones
        make_solver(n)  # and one this install cannot run, naming what to install
    names = list(dict.fromkeys(names))
    cannot = [n for n in names if not _drawing(colors, board)(get_entry(n).cls)]
    if cannot:
        raise InputError(f"solver {cannot[0]} draws one black thread on white; a study of other threads (--colors, "
                         f"--board) takes solvers of any threads ({', '.join(study_solvers(colors, board))})")
    solver_options = dict(solver_options or {})
    for n in solver_options:
        if n not in names:
            raise InputError(f"options given for solver '{n}', which is not in the study ({', '.join(names)}); "
                             f"add it with --solver {n} or drop its options")
    default_images = COLOUR_IMAGES if spec is not None and not quick else base["images"]
    ims = resolve_images(default_images if images is None else _as_list(images, "images"))
    pins = check_int("pins", base["pins"] if pins is None else pins, low=3, hint="use e.g. --pins 288")
    canvas = check_int("canvas", base["canvas"] if canvas is None else canvas, low=16, hint="use e.g. --canvas 512")
    line_list = [check_int("lines", x, low=1, hint="use e.g. --lines 1000,2000")
                 for x in _as_list(base["lines"] if lines is None else lines, "lines")]
    line_list = sorted(set(line_list))
    seeds = check_int("seeds", base["seeds"] if seeds is None else seeds, low=1, hint="use e.g. --seeds 3")
    master_seed = check_int("seed", master_seed, low=0, hint="use a non-negative master seed, e.g. --seed 0")
    if min_gap is not None:
        min_gap = check_int("min_gap", min_gap, low=1, hint="use e.g. --min-gap 20")
    thread = thread or ThreadModel()
    problem_options = dict(frame_mm=thread.frame_mm, thread_mm=thread.thread_mm, opacity=thread.opacity)
    if spec is not None:  # a grey study's runs keep the ids they had
        problem_options.update(colors=str(spec), board=parse_board(board)[0])
    # the geometry is checked once, at the largest budget, before any run starts (and the colours at the smallest)
    Problem.create(np.ones((canvas, canvas), np.float32), pins=pins, lines=max(line_list), canvas=canvas,
                   min_gap=min_gap, thread=thread)
    if k > min(line_list):
        raise InputError(f"{k} colours need at least {k} lines, got --lines {min(line_list)}; ask for more "
                         f"lines or fewer colours")

    configs = {}
    for n in names:
        entry = get_entry(n)
        opts = {**(dict(entry.cls.quick_options) if quick else {}), **solver_options.get(n, {})}
        configs[n] = (opts, config_json(make_solver(n, **opts).config_dict()), bool(entry.cls.stochastic))
    name = study or (_folder_name(out) if out is not None else None) or ("quick" if quick else "default")
    out_path = Path(out) if out is not None else Path("results") / _safe(name)
    runs = []
    # longest budgets first: the pool's makespan is shorter when the big runs start early
    for n_lines in sorted(line_list, reverse=True):
        for im in ims:
            for n in names:
                opts, cfg, stochastic = configs[n]
                for rep in range(seeds if stochastic else 1):
                    runs.append(RunSpec(solver=n, options=opts, config=cfg, image=im.label, source=im.source,
                                        pins=pins, lines=n_lines, canvas=canvas, min_gap=min_gap,
                                        seed=derive_seed(master_seed, im.label, n_lines, rep), replicate=rep,
                                        master_seed=master_seed, quick=quick, problem_options=problem_options))
    return Study(name=name, out=out_path, solvers=names, images=ims, pins=pins, canvas=canvas, lines=line_list,
                 seeds=seeds, master_seed=master_seed, min_gap=min_gap, quick=quick, runs=runs,
                 problem_options=problem_options)
